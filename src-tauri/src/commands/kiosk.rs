//! The clinic kiosk: its window, ending a patient's session, leaving kiosk mode with the admin
//! passcode, and guest pay with its receipts (mail, QR code, printer).

use carebill_api::types::*;
use carebill_client::types::GuestBillView;
use carebill_client::{ClientCode, ClientError, PaymentReview, SubmitOutcome};
use serde::{Deserialize, Serialize};
use tauri::State;

use crate::AppState;

use super::Result;

fn not_a_kiosk() -> ClientError {
    ClientError::of(ClientCode::NotAKiosk)
}

/// The kiosk window as Tauri's window API reports it (for the kiosk's own checks and its tests).
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type)]
pub struct KioskStatus {
    pub kiosk: bool,
    pub fullscreen: bool,
    pub decorated: bool,
    pub resizable: bool,
    pub closable: bool,
    pub always_on_top: bool,
}

#[tauri::command]
#[specta::specta]
pub fn kiosk_status(state: State<'_, AppState>) -> Result<KioskStatus> {
    let shell = state
        .shell
        .get()
        .ok_or_else(|| ClientError::internal("the window is not open yet"))?;
    (shell.window)().map_err(ClientError::internal)
}

/// Ends the patient's session (sign-out, a finished guest payment, "Start over"): every object
/// of theirs is dropped, the web view's storage cleared, and the UI reloads to the welcome screen.
#[tauri::command]
#[specta::specta]
pub async fn kiosk_end_session(state: State<'_, AppState>) -> Result<()> {
    if state.config.kiosk.is_none() {
        return Err(not_a_kiosk());
    }
    state.engine.end_kiosk_session().await;
    Ok(())
}

/// Leaves kiosk mode (closes the app) with the admin passcode; attempts are throttled.
#[tauri::command]
#[specta::specta]
pub async fn kiosk_exit(state: State<'_, AppState>, passcode: String) -> Result<()> {
    let Some(k) = &state.config.kiosk else {
        return Err(not_a_kiosk());
    };
    let hash = k.admin_passcode_hash.clone();
    let guard = &state.exit;
    match guard.check(hash.as_deref(), &passcode) {
        crate::kiosk::ExitCheck::Allowed => {
            state.engine.end_kiosk_session().await;
            state.exiting.store(true, std::sync::atomic::Ordering::SeqCst);
            if let Some(shell) = state.shell.get() {
                (shell.exit)();
            }
            Ok(())
        }
        crate::kiosk::ExitCheck::Wrong { wait_secs } | crate::kiosk::ExitCheck::Waiting { wait_secs } => {
            let mut e = ClientError::of(ClientCode::WrongPasscode).at("/passcode");
            if wait_secs > 0 {
                e.message = format!("That passcode is not right. Try again in {wait_secs} seconds.");
                e.retry_after = Some(wait_secs as u32);
            }
            Err(e)
        }
        crate::kiosk::ExitCheck::NoPasscode => Err(ClientError::of(ClientCode::NoPasscode)),
    }
}

#[tauri::command]
#[specta::specta]
pub async fn guest_lookup(
    state: State<'_, AppState>,
    statement_number: String,
    last_name: String,
    date_of_birth: String,
) -> Result<GuestBillView> {
    if state.config.kiosk.is_none() {
        return Err(not_a_kiosk());
    }
    state
        .engine
        .guest_lookup(GuestLookupRequest {
            statement_number,
            last_name,
            date_of_birth,
        })
        .await
}

#[tauri::command]
#[specta::specta]
pub async fn guest_bill(state: State<'_, AppState>) -> Result<GuestBillView> {
    state.engine.guest_bill().await
}

#[tauri::command]
#[specta::specta]
pub async fn guest_prepare(state: State<'_, AppState>, amount: String, token: ProcessorToken) -> Result<PaymentReview> {
    state.engine.guest_prepare(&amount, token).await
}

#[tauri::command]
#[specta::specta]
pub async fn guest_submit(state: State<'_, AppState>, review_id: String, accept_ach: bool) -> Result<SubmitOutcome> {
    state.engine.guest_submit(&review_id, accept_ach).await
}

#[tauri::command]
#[specta::specta]
pub async fn guest_mail_receipt(state: State<'_, AppState>, confirmation_number: String, email: String) -> Result<()> {
    state.engine.guest_receipt(&confirmation_number, &email).await
}

/// The receipt as a QR code: confirmation number, amount and date, nothing about the care.
#[tauri::command]
#[specta::specta]
pub async fn guest_receipt_qr(state: State<'_, AppState>, confirmation_number: String) -> Result<crate::kiosk::QrCode> {
    if state.config.kiosk.is_none() {
        return Err(not_a_kiosk());
    }
    // Built from the payment the engine recorded for this guest, never from the screen's copy.
    let payment = state.engine.guest_paid(&confirmation_number).await?;
    // Not even the clinic's name: the code may be photographed or scanned by anyone.
    crate::kiosk::qr(&crate::kiosk::receipt_text(
        &payment,
        None,
        None,
        state.engine.language(),
    ))
    .map_err(ClientError::internal)
}

/// Prints the receipt on the kiosk's configured printer, without a dialog.
#[tauri::command]
#[specta::specta]
pub async fn guest_print_receipt(state: State<'_, AppState>, confirmation_number: String) -> Result<()> {
    let k = state.config.kiosk.as_ref().ok_or_else(not_a_kiosk)?;
    let payment = state.engine.guest_paid(&confirmation_number).await?;
    let printer = k
        .receipt_printer
        .clone()
        .ok_or_else(|| ClientError::of(ClientCode::NoPrinter))?;
    // Who to call, from the plan's facts (the engine's copy when the service cannot be reached).
    let plan = state.engine.plan().await.unwrap_or_default();
    let text = crate::kiosk::receipt_text(
        &payment,
        k.clinic_name.as_deref(),
        plan.as_ref(),
        state.engine.language(),
    );
    tokio::task::spawn_blocking(move || crate::kiosk::print(&printer, &text))
        .await
        .map_err(ClientError::internal)?
        .map_err(|m| ClientError::of(ClientCode::PrintFailed).with_message(m))
}
