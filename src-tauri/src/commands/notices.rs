//! Desktop notices: the app's list (what was announced on this device, newest first), marking
//! them read, and showing the fresh ones on the screen through the OS's notification service.
//!
//! The engine decides what to announce, from the copy, once per event; the shell only shows.
//! Kiosks never show any: the shell keeps no way to show them there (on Linux the app's own
//! D-Bus notifier, elsewhere Tauri's notification plugin), and nothing is shown when it is
//! missing. Where the system asks for permission, it is asked for when there is something to
//! show, never at start; a refusal, or a system without a notification service, leaves the
//! notices in the list, unread, which the app shows at the next start.

use carebill_client::notices::{DesktopNotice, NoticeList, SCREEN_AT_ONCE, many_words};
use tauri::{AppHandle, Manager, Runtime, State};

use crate::AppState;

use super::Result;

/// The app's list of notices, with how many are unread.
#[tauri::command]
#[specta::specta]
pub async fn notices(state: State<'_, AppState>) -> Result<NoticeList> {
    state.engine.notices().await
}

/// Marks these notices read; answers how many are left unread.
#[tauri::command]
#[specta::specta]
pub async fn read_notices(state: State<'_, AppState>, keys: Vec<String>) -> Result<u32> {
    state.engine.read_notices(keys).await
}

/// Shows fresh notices on the screen: each one, or one that counts them when there are many.
/// The words on the screen name no provider and no message text (`screen_body`). Failures are
/// logged by kind only, never with the words. The showing runs off the events' task (it waits on
/// the desktop's service).
pub fn show_on_screen<R: Runtime>(app: &AppHandle<R>, fresh: &[DesktopNotice]) {
    let state = app.state::<AppState>();
    if state.config.kiosk.is_some() || fresh.is_empty() {
        return;
    }
    let words: Vec<(String, String)> = if fresh.len() > SCREEN_AT_ONCE {
        vec![many_words(fresh.len(), state.engine.language())]
    } else {
        fresh.iter().map(|n| (n.title.clone(), n.screen_body.clone())).collect()
    };
    let app = app.clone();
    tauri::async_runtime::spawn_blocking(move || {
        if show(&app, &words).is_err() {
            tracing::info!("a desktop notice could not be shown; it waits in the app's list");
        }
    });
}

/// Linux: through the desktop's notification service on the app's own D-Bus connection
/// (`crate::desktop`), kept by the shell when it is not a kiosk.
#[cfg(target_os = "linux")]
fn show<R: Runtime>(app: &AppHandle<R>, words: &[(String, String)]) -> std::result::Result<(), ()> {
    let Some(screen) = app.try_state::<crate::desktop::ScreenNotices>() else {
        return Ok(());
    };
    words
        .iter()
        .try_for_each(|(title, body)| screen.show(title, body))
        .map_err(|_| ())
}

/// Windows and macOS: through Tauri's notification plugin (not registered on kiosks), asking for
/// the permission the first time there is something to show.
#[cfg(not(target_os = "linux"))]
fn show<R: Runtime>(app: &AppHandle<R>, words: &[(String, String)]) -> std::result::Result<(), ()> {
    use tauri::plugin::PermissionState;
    let Some(plugin) = app.try_state::<tauri_plugin_notification::Notification<R>>() else {
        return Ok(());
    };
    let allowed = match plugin.permission_state() {
        Ok(PermissionState::Granted) => true,
        Ok(PermissionState::Denied) | Err(_) => false,
        Ok(_) => matches!(plugin.request_permission(), Ok(PermissionState::Granted)),
    };
    if !allowed {
        tracing::info!("desktop notices are not allowed by the system; they wait in the app's list");
        return Ok(());
    }
    words
        .iter()
        .try_for_each(|(title, body)| plugin.builder().title(title).body(body).show())
        .map_err(|_| ())
}
