//! What every command shares: the engine, the app's config, the kiosk exit guard, and what the
//! commands need of the running shell (its window, exit, restart, update check, save dialog) without naming its
//! runtime type.

use std::sync::{Mutex, OnceLock};

use carebill_client::Engine;

use crate::config::AppConfig;
use crate::{commands, kiosk, updates};

/// What every command shares.
pub struct AppState {
    pub engine: Engine,
    pub config: AppConfig,
    pub idle_minutes: Mutex<u32>,
    /// Kiosk mode: the exit guard, and whether the admin passcode allowed leaving.
    pub exit: kiosk::ExitGuard,
    pub exiting: std::sync::atomic::AtomicBool,
    /// What commands need of the running shell, without its runtime type.
    pub shell: OnceLock<Shell>,
    /// The update found by the last check, until it is installed.
    pub update: tokio::sync::Mutex<Option<tauri_plugin_updater::Update>>,
    /// The start-up answer begun when the process started, until `startup` takes it.
    pub early: Mutex<Option<commands::startup::Confirming>>,
}

impl AppState {
    pub fn new(engine: Engine, config: AppConfig) -> AppState {
        AppState {
            idle_minutes: Mutex::new(config.idle_minutes),
            engine,
            config,
            exit: kiosk::ExitGuard::default(),
            exiting: std::sync::atomic::AtomicBool::new(false),
            shell: OnceLock::new(),
            update: tokio::sync::Mutex::new(None),
            early: Mutex::new(None),
        }
    }
}

/// Where the member chose to save a document (`None`: they closed the dialog).
pub type SaveAsk = std::pin::Pin<Box<dyn Future<Output = Option<std::path::PathBuf>> + Send>>;

type UpdateCheck =
    std::pin::Pin<Box<dyn Future<Output = Result<Option<tauri_plugin_updater::Update>, updates::UpdateError>> + Send>>;

/// The window's facts, the app's exit and restart, and the update check, set up when the window
/// opens.
pub struct Shell {
    pub window: Box<dyn Fn() -> tauri::Result<commands::kiosk::KioskStatus> + Send + Sync>,
    pub exit: Box<dyn Fn() + Send + Sync>,
    pub restart: Box<dyn Fn() + Send + Sync>,
    pub check_update: Box<dyn Fn(updates::UpdateSource) -> UpdateCheck + Send + Sync>,
    /// The native save dialog over the window, for a suggested file name (`None` on kiosks,
    /// which never save files).
    pub ask_where: Option<Box<dyn Fn(commands::documents::SaveRequest) -> SaveAsk + Send + Sync>>,
}
