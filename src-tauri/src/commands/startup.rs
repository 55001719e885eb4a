//! Starting up: which screen opens, the engine's status, activity for the idle lock, and the
//! startup harness's paint marks.

use carebill_api::types::{Health, Locale};
use carebill_client::types::{EngineStatus, SessionInfo, SyncStatus};
use carebill_client::{ClientResult, KeyringStatus};
use std::sync::PoisonError;

use serde::{Deserialize, Serialize};
use tauri::State;

use crate::AppState;

use super::Result;

/// Where the app opens.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum StartScreen {
    Dashboard,
    SignIn,
    /// The service is unreachable and a copy of the member's data is on this device.
    OfflineUnlock,
    /// The bills list (only for the startup harness: `CAREBILL_STARTUP_PROBE=bills`).
    Bills,
    /// A clinic kiosk's welcome screen: pay as a guest, or sign in.
    Welcome,
}

#[derive(Debug, Clone, Serialize, Deserialize, specta::Type)]
pub struct Startup {
    pub screen: StartScreen,
    pub session: Option<SessionInfo>,
    /// The service is a demo server (its demo sign-in is shown).
    pub demo: bool,
    pub online: bool,
    pub keyring: KeyringStatus,
    pub version: String,
    pub api_url: String,
    pub idle_minutes: u32,
    /// Kiosk mode: what the welcome screen shows.
    pub kiosk: Option<KioskInfo>,
    /// The sync as it stands when the page asks (a remembered session's first sync may have
    /// begun, or ended, before the page was listening for its events).
    pub sync: Option<SyncStatus>,
}

/// The service's health and the remembered session, as the server answered them.
type Confirmation = (ClientResult<Health>, ClientResult<Option<SessionInfo>>);

/// The confirmation on its way.
pub type Confirming = tauri::async_runtime::JoinHandle<Confirmation>;

/// Asks the service, when the process starts, whether it is there and whether the remembered
/// session still holds, so the round trips and the opening of the copy run while WebKit starts
/// and loads the page. Nothing of the member reaches the page before the answer: the copy is
/// opened only for a session the server confirmed (ARCHITECTURE.md, "Painting early"), and the
/// page gets the session from `startup`, which waits for this.
pub fn begin(state: &AppState) {
    let engine = state.engine.clone();
    let confirming = tauri::async_runtime::spawn(async move { confirm(&engine).await });
    *state.early.lock().unwrap_or_else(PoisonError::into_inner) = Some(confirming);
    crate::startup_probe("stage asked");
}

/// The health probe and the remembered session's refresh are independent round trips: both at
/// once. (Offline, the refresh fails without forgetting anything.)
async fn confirm(engine: &carebill_client::Engine) -> Confirmation {
    tokio::join!(engine.service_health(), engine.resume())
}

/// A kiosk's face: clinic name, support text, whether receipts can be printed, the idle time-out.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type)]
pub struct KioskInfo {
    pub clinic_name: Option<String>,
    pub support_text: Option<String>,
    /// The support text in Spanish, when the clinic wrote one.
    pub support_text_es: Option<String>,
    /// The language each patient's session starts in, when the clinic chose one.
    pub language: Option<Locale>,
    pub printer: bool,
    pub idle_seconds: u32,
    /// Whether an admin passcode is set (otherwise the app cannot be left from the screen).
    pub exit_configured: bool,
}

fn kiosk_info(state: &AppState) -> Option<KioskInfo> {
    state.config.kiosk.as_ref().map(|k| KioskInfo {
        clinic_name: k.clinic_name.clone(),
        support_text: k.support_text.clone(),
        support_text_es: k.support_text_es.clone(),
        language: k.language,
        printer: k.receipt_printer.is_some(),
        idle_seconds: k.idle_secs(),
        exit_configured: k.admin_passcode_hash.is_some(),
    })
}

/// Opens a remembered session when there is one; otherwise says which screen to show.
#[tauri::command]
#[specta::specta]
pub async fn startup(state: State<'_, AppState>) -> Result<Startup> {
    crate::startup_probe("stage page-asks");
    // The answer begun at process start, the first time; asked again after a reload of the page.
    let early = state.early.lock().unwrap_or_else(PoisonError::into_inner).take();
    let (health, resumed) = match early {
        Some(confirming) => match confirming.await {
            Ok(answer) => answer,
            Err(_) => confirm(&state.engine).await,
        },
        None => confirm(&state.engine).await,
    };
    let session = resumed.ok().flatten();
    let online = health.is_ok() || session.is_some();
    let demo = health.map(|h| h.demo).unwrap_or(false);
    let has_copy = state
        .config
        .data_dir
        .join("members")
        .read_dir()
        .map(|mut d| d.next().is_some())
        .unwrap_or(false);
    crate::startup_probe("stage confirmed");
    let kiosk = kiosk_info(&state);
    let sync = state.engine.status().await.ok().and_then(|s| s.sync);
    let screen = match (&session, online) {
        _ if kiosk.is_some() => StartScreen::Welcome,
        (Some(_), _) if crate::startup_probe_screen().as_deref() == Some("bills") => StartScreen::Bills,
        (Some(_), _) => StartScreen::Dashboard,
        (None, false) if has_copy => StartScreen::OfflineUnlock,
        _ => StartScreen::SignIn,
    };
    Ok(Startup {
        screen,
        session,
        demo,
        online,
        keyring: state.engine.keyring_status(),
        version: env!("CARGO_PKG_VERSION").into(),
        api_url: state.config.api_url.clone(),
        idle_minutes: *state.idle_minutes.lock().unwrap_or_else(PoisonError::into_inner),
        kiosk,
        sync,
    })
}

#[tauri::command]
#[specta::specta]
pub async fn status(state: State<'_, AppState>) -> Result<EngineStatus> {
    state.engine.status().await
}

/// The UI saw the member do something (typing, clicking): the idle timer starts over.
#[tauri::command]
#[specta::specta]
pub fn record_activity(state: State<'_, AppState>) {
    state.engine.record_activity();
}

/// A screen finished its first paint (timed by the startup harness when asked to).
#[tauri::command]
#[specta::specta]
pub fn mark_ready(screen: String) {
    crate::startup_probe(&screen);
}
