//! Statements, receipts and the yearly summary: made by the engine from the encrypted copy (so
//! they work offline) and saved where the member chooses, in a native save dialog opened here.
//! The UI gets no file-system or dialog permission: it asks for a document and hears whether it
//! was saved. Nothing is written to a temporary directory, and nothing at all on a kiosk (kiosks
//! print receipts instead).
//!
//! Debug builds accept `CAREBILL_SAVE_DIR` instead of the dialog (the end-to-end tests drive the
//! app through WebDriver, which cannot reach a native dialog), as they accept
//! `CAREBILL_SYSTEM_CONFIG`; release builds never read it.

use std::path::PathBuf;

use carebill_client::{ClientCode, ClientError, DocumentFile, SummaryFormat, YearlySummary};
use serde::{Deserialize, Serialize};
use tauri::{AppHandle, Manager, Runtime, State};

use crate::state::SaveAsk;

use super::Result;
use crate::AppState;

/// What became of a document the member asked to save.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum SaveOutcome {
    /// Saved under this file name (the folder is the member's choice and is not reported).
    Saved { file_name: String },
    /// The member closed the dialog without saving.
    Cancelled,
}

fn refuse_on_kiosk(state: &AppState) -> Result<()> {
    if state.config.kiosk.is_some() {
        return Err(ClientError::of(ClientCode::KioskNoFiles));
    }
    Ok(())
}

/// A bill's statement as a PDF.
#[tauri::command]
#[specta::specta]
pub async fn save_statement(state: State<'_, AppState>, bill_id: String) -> Result<SaveOutcome> {
    refuse_on_kiosk(&state)?;
    let file = state.engine.statement_pdf(&bill_id).await?;
    save(&state, file).await
}

/// A payment's receipt as a PDF.
#[tauri::command]
#[specta::specta]
pub async fn save_receipt(state: State<'_, AppState>, payment_id: String) -> Result<SaveOutcome> {
    refuse_on_kiosk(&state)?;
    let file = state.engine.receipt_pdf(&payment_id).await?;
    save(&state, file).await
}

/// A year's summary of payments (`null`: this year in the plan's calendar), from the copy.
#[tauri::command]
#[specta::specta]
pub async fn yearly_summary(state: State<'_, AppState>, year: Option<i32>) -> Result<YearlySummary> {
    state.engine.yearly_summary(year).await
}

/// A year's summary as a CSV or a PDF.
#[tauri::command]
#[specta::specta]
pub async fn save_yearly_summary(state: State<'_, AppState>, year: i32, format: SummaryFormat) -> Result<SaveOutcome> {
    refuse_on_kiosk(&state)?;
    let file = state.engine.yearly_summary_file(year, format).await?;
    save(&state, file).await
}

/// The folder debug builds save into without a dialog, when one is set.
fn test_save_dir() -> Option<PathBuf> {
    if cfg!(debug_assertions) {
        std::env::var_os("CAREBILL_SAVE_DIR").map(PathBuf::from)
    } else {
        None
    }
}

/// What the save dialog is asked: the suggested file name and its kind.
pub struct SaveRequest {
    pub file_name: String,
    /// "PDF" or "CSV".
    pub kind: &'static str,
    pub extension: &'static str,
}

async fn save(state: &AppState, file: DocumentFile) -> Result<SaveOutcome> {
    let path = match test_save_dir() {
        Some(dir) => dir.join(&file.file_name),
        None => {
            let ask = state
                .shell
                .get()
                .and_then(|shell| shell.ask_where.as_ref())
                .ok_or_else(|| ClientError::of(ClientCode::FileNotSaved))?;
            let (kind, extension) = match file.media_type {
                "text/csv" => ("CSV", "csv"),
                _ => ("PDF", "pdf"),
            };
            let request = SaveRequest {
                file_name: file.file_name.clone(),
                kind,
                extension,
            };
            match ask(request).await {
                Some(path) => path,
                None => return Ok(SaveOutcome::Cancelled),
            }
        }
    };
    let saved_name = path
        .file_name()
        .map_or_else(|| file.file_name.clone(), |n| n.to_string_lossy().into_owned());
    tokio::task::spawn_blocking(move || std::fs::write(&path, &file.bytes))
        .await
        .map_err(ClientError::internal)?
        .map_err(|e| {
            tracing::info!(kind = ?e.kind(), "a document was not saved");
            ClientError::of(ClientCode::FileNotSaved)
        })?;
    Ok(SaveOutcome::Saved { file_name: saved_name })
}

/// The native save dialog over the main window, opening in the member's Documents folder: the
/// toolkit's own (GTK on Linux), through rfd, built on the main thread as the toolkit requires.
/// `None` when the member closes it or it cannot be shown.
pub fn native_save_dialog<R: Runtime>(app: AppHandle<R>) -> Box<dyn Fn(SaveRequest) -> SaveAsk + Send + Sync> {
    Box::new(move |request: SaveRequest| {
        let app = app.clone();
        Box::pin(async move {
            let (tx, rx) = tokio::sync::oneshot::channel();
            let main = app.clone();
            app.run_on_main_thread(move || {
                let mut dialog = rfd::AsyncFileDialog::new()
                    .set_file_name(&request.file_name)
                    .add_filter(request.kind, &[request.extension]);
                if let Some(window) = main.get_webview_window("main") {
                    dialog = dialog.set_parent(&window);
                }
                if let Some(documents) = dirs::document_dir() {
                    dialog = dialog.set_directory(documents);
                }
                let chosen = dialog.save_file();
                // The answer comes when the member closes the dialog; the main thread goes on.
                std::thread::spawn(move || {
                    let path = tauri::async_runtime::block_on(chosen).map(|file| file.path().to_path_buf());
                    let _ = tx.send(path);
                });
            })
            .ok()?;
            rx.await.ok().flatten()
        })
    })
}
