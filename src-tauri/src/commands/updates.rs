//! Updates for members' apps (a kiosk updates itself in the background when clinic IT allows it).

use carebill_client::ClientError;
use tauri::State;

use crate::AppState;
use crate::updates::{self, UpdateError, UpdateInfo};

use super::Result;

/// Looks for a newer version (members' apps; a kiosk updates itself when clinic IT allows it).
/// `None` when there is none, or when this build does not look for updates.
#[tauri::command]
#[specta::specta]
pub async fn update_check(state: State<'_, AppState>) -> Result<Option<UpdateInfo>> {
    if state.config.kiosk.is_some() {
        return Err(UpdateError::Disabled.into());
    }
    let Some(source) = updates::configured_source(&state.config.updates)? else {
        return Ok(None);
    };
    let shell = state
        .shell
        .get()
        .ok_or_else(|| ClientError::internal("the window is not open"))?;
    let found = (shell.check_update)(source).await?;
    let info = found.as_ref().map(updates::info);
    *state.update.lock().await = found;
    Ok(info)
}

/// Downloads, verifies and installs the update found by `update_check`, then restarts into it.
/// A bundle whose signature does not match is refused and nothing changes.
#[tauri::command]
#[specta::specta]
pub async fn update_install(state: State<'_, AppState>) -> Result<()> {
    // Held until the install ends: a second click waits and then finds the app restarting.
    let found = state.update.lock().await;
    let update = found.as_ref().ok_or(UpdateError::NothingToInstall)?;
    updates::download_and_install(update).await?;
    if let Some(shell) = state.shell.get() {
        (shell.restart)();
    }
    Ok(())
}
