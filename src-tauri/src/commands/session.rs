//! Accounts and sessions: sign-in and out, the lock, registration, codes, passwords, the idle
//! setting.

use carebill_api::types::*;
use carebill_client::types::SessionInfo;
use carebill_client::{ClientCode, ClientError};
use tauri::State;

use crate::AppState;

use super::Result;

#[tauri::command]
#[specta::specta]
pub async fn sign_in(
    state: State<'_, AppState>,
    login: String,
    password: String,
    remember: bool,
) -> Result<SessionInfo> {
    state.engine.sign_in(&login, &password, remember).await
}

#[tauri::command]
#[specta::specta]
pub async fn unlock_offline(state: State<'_, AppState>, login: String, password: String) -> Result<SessionInfo> {
    state.engine.unlock_offline(&login, &password).await
}

#[tauri::command]
#[specta::specta]
pub async fn sign_out(state: State<'_, AppState>, force: bool) -> Result<()> {
    state.engine.sign_out(force).await
}

#[tauri::command]
#[specta::specta]
pub async fn sign_out_everywhere(state: State<'_, AppState>, force: bool) -> Result<()> {
    state.engine.sign_out_everywhere(force).await
}

#[tauri::command]
#[specta::specta]
pub async fn forget_device(state: State<'_, AppState>, force: bool) -> Result<()> {
    state.engine.forget_device(force).await
}

#[tauri::command]
#[specta::specta]
pub async fn lock(state: State<'_, AppState>) -> Result<()> {
    state.engine.lock().await;
    Ok(())
}

#[tauri::command]
#[specta::specta]
pub async fn unlock(state: State<'_, AppState>, password: String) -> Result<()> {
    state.engine.unlock(&password).await
}

#[tauri::command]
#[specta::specta]
pub async fn register(state: State<'_, AppState>, request: CreateAccountRequest) -> Result<AccountCreated> {
    state.engine.register(request).await
}

/// The UI's language on this device: the mail asked for before sign-in and a kiosk's printed
/// receipt follow it.
#[tauri::command]
#[specta::specta]
pub fn set_language(state: State<'_, AppState>, locale: Locale) {
    state.engine.set_language(locale);
}

/// The language of the signed-in member's mail from now on.
#[tauri::command]
#[specta::specta]
pub async fn set_account_language(state: State<'_, AppState>, locale: Locale) -> Result<Member> {
    state.engine.set_account_language(locale).await
}

/// What the member is told about, and how (readable offline from the copy).
#[tauri::command]
#[specta::specta]
pub async fn notification_preferences(state: State<'_, AppState>) -> Result<NotificationPreferences> {
    state.engine.notification_preferences().await
}

/// Saves every notification switch at once.
#[tauri::command]
#[specta::specta]
pub async fn set_notification_preferences(
    state: State<'_, AppState>,
    preferences: NotificationPreferences,
) -> Result<NotificationPreferences> {
    state.engine.set_notification_preferences(preferences).await
}

#[tauri::command]
#[specta::specta]
pub async fn verify_email(state: State<'_, AppState>, email: String, code: String) -> Result<()> {
    state.engine.verify_email(&email, &code).await
}

#[tauri::command]
#[specta::specta]
pub async fn resend_verification(state: State<'_, AppState>, email: String) -> Result<()> {
    state.engine.resend_verification(&email).await
}

#[tauri::command]
#[specta::specta]
pub async fn request_password_reset(state: State<'_, AppState>, email: String) -> Result<()> {
    state.engine.request_password_reset(&email).await
}

#[tauri::command]
#[specta::specta]
pub async fn confirm_password_reset(
    state: State<'_, AppState>,
    email: String,
    code: String,
    new_password: String,
) -> Result<()> {
    state.engine.confirm_password_reset(&email, &code, &new_password).await
}

#[tauri::command]
#[specta::specta]
pub async fn change_password(state: State<'_, AppState>, current_password: String, new_password: String) -> Result<()> {
    state.engine.change_password(&current_password, &new_password).await
}

/// The idle minutes before Carebill locks (a setting, saved to the config file).
#[tauri::command]
#[specta::specta]
pub fn set_idle_minutes(state: State<'_, AppState>, minutes: u32) -> Result<u32> {
    // A kiosk's time-out is clinic IT's (system config), never the screen's.
    if state.config.kiosk.is_some() {
        return Err(ClientError::of(ClientCode::KioskSetting));
    }
    if !(1..=120).contains(&minutes) {
        return Err(ClientError::of(ClientCode::IdleMinutes).at("/idle_minutes"));
    }
    state
        .engine
        .set_idle_lock_after(std::time::Duration::from_secs(u64::from(minutes) * 60));
    *state
        .idle_minutes
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = minutes;
    if let Err(e) = state.config.save_idle_minutes(minutes) {
        tracing::warn!(error = %e, "could not save the idle setting");
    }
    Ok(minutes)
}
