//! Carebill's desktop shell: Tauri around the client engine. Commands are one call into
//! `carebill_client::Engine` each (see `commands.rs`); no logic lives here.

#![forbid(unsafe_code)]

pub mod commands;
pub mod config;

use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use carebill_client::{Engine, OsKeyring, SecretStore, SystemClock};
use serde::{Deserialize, Serialize};
use tauri::{Manager, Runtime};
use tauri_specta::Event as _;

pub use config::AppConfig;

/// What every command shares.
pub struct AppState {
    pub engine: Engine,
    pub config: AppConfig,
    pub idle_minutes: Mutex<u32>,
}

/// Everything the engine tells the UI (sync status, session expired, idle warning, lock,
/// resolved payments), on one event.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type, tauri_specta::Event)]
pub struct EngineEvent(pub carebill_client::Event);

static STARTED: OnceLock<Instant> = OnceLock::new();

/// Marks the process start (first thing in `main`).
pub fn mark_process_start() {
    STARTED.get_or_init(Instant::now);
}

/// The screen the startup harness times (`CAREBILL_STARTUP_PROBE=bills`), if any.
pub fn startup_probe_screen() -> Option<String> {
    std::env::var("CAREBILL_STARTUP_PROBE").ok()
}

/// With `CAREBILL_STARTUP_PROBE` set, prints when a screen first painted, for the startup harness.
pub fn startup_probe(screen: &str) {
    if std::env::var_os("CAREBILL_STARTUP_PROBE").is_some() {
        let ms = STARTED.get().map_or(0, |s| s.elapsed().as_millis());
        println!("carebill-ready {screen} {ms}");
    }
}

/// The commands and events, for the invoke handler and the TypeScript bindings.
pub fn specta_builder<R: Runtime>() -> tauri_specta::Builder<R> {
    use commands::*;
    tauri_specta::Builder::<R>::new()
        .commands(tauri_specta::collect_commands![
            startup,
            status,
            record_activity,
            mark_ready,
            sign_in,
            unlock_offline,
            sign_out,
            sign_out_everywhere,
            forget_device,
            lock,
            unlock,
            register,
            verify_email,
            resend_verification,
            request_password_reset,
            confirm_password_reset,
            change_password,
            set_idle_minutes,
            dashboard,
            bills,
            bill,
            payments,
            payment_methods,
            autopay,
            sync_now,
            tokenize_card,
            tokenize_bank_account,
            bank_name,
            prepare_payment,
            submit_payment,
            unresolved,
            add_payment_method,
            remove_payment_method,
            ach_authorization,
            set_autopay,
            turn_off_autopay,
            skip_autopay,
            validate_password,
            validate_email,
            validate_member_id,
            validate_name,
            validate_date_of_birth,
            validate_amount,
            validate_card_number,
            validate_card_expiry,
            validate_card_cvc,
            validate_postal_code,
            validate_routing_number,
            validate_account_number,
        ])
        .events(tauri_specta::collect_events![EngineEvent])
}

/// Where the committed bindings live.
pub const BINDINGS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../ui/src/lib/bindings.ts");

/// The TypeScript the app's bindings should contain.
pub fn typescript() -> specta_typescript::Typescript {
    specta_typescript::Typescript::default().header("// Generated from the Rust commands and types by tauri-specta. Do not edit: `cargo xtask bindings`.\n// @ts-nocheck\n")
}

/// The shell, shared by the app and the command tests.
pub fn app_builder<R: Runtime>(builder: tauri::Builder<R>, state: AppState) -> tauri::Builder<R> {
    let specta = specta_builder::<R>();
    builder
        .manage(state)
        .invoke_handler(specta.invoke_handler())
        .setup(move |app| {
            specta.mount_events(app);
            forward_events(app.handle().clone());
            Ok(())
        })
}

/// Forwards engine events to the UI and runs the idle check.
fn forward_events<R: Runtime>(app: tauri::AppHandle<R>) {
    let engine = app.state::<AppState>().engine.clone();
    let mut events = engine.events();
    let handle = app.clone();
    tauri::async_runtime::spawn(async move {
        while let Ok(event) = events.recv().await {
            let _ = EngineEvent(event).emit(&handle);
        }
    });
    tauri::async_runtime::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(5)).await;
            engine.check_idle().await;
        }
    });
}

/// Builds the engine from the configuration, with the OS keyring.
pub fn make_state(config: AppConfig) -> Result<AppState, String> {
    let keyring: Arc<dyn SecretStore> = Arc::new(OsKeyring::open(&config.keyring_service));
    let engine = Engine::new(config.client_config(), keyring, Arc::new(SystemClock)).map_err(|e| e.message.clone())?;
    Ok(AppState {
        idle_minutes: Mutex::new(config.idle_minutes),
        engine,
        config,
    })
}

/// The app.
pub fn run() {
    mark_process_start();
    let config = AppConfig::load();
    let state = match tauri::async_runtime::block_on(async { make_state(config) }) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("Carebill cannot start: {e}");
            std::process::exit(1);
        }
    };
    let builder = tauri::Builder::default()
        .plugin(tauri_plugin_single_instance::init(|app, _args, _cwd| {
            if let Some(window) = app.get_webview_window("main") {
                let _ = window.unminimize();
                let _ = window.show();
                let _ = window.set_focus();
            }
        }))
        .plugin(
            tauri_plugin_log::Builder::new()
                .targets([tauri_plugin_log::Target::new(tauri_plugin_log::TargetKind::LogDir {
                    file_name: Some("carebill".into()),
                })])
                .rotation_strategy(tauri_plugin_log::RotationStrategy::KeepSome(5))
                .max_file_size(2_000_000)
                .level(log::LevelFilter::Info)
                .build(),
        )
        .plugin(tauri_plugin_window_state::Builder::new().build());
    if let Err(e) = app_builder(builder, state).run(tauri::generate_context!()) {
        eprintln!("Carebill stopped: {e}");
        std::process::exit(1);
    }
}
