//! Reading the member's copy, and syncing it now.

use carebill_api::types::*;
use carebill_client::types::{
    BillQuery, BillView, BillsPage, ClaimQuery, ClaimView, ClaimsPage, Dashboard, PaymentQuery, PaymentsPage,
};
use tauri::State;

use crate::AppState;

use super::Result;

#[tauri::command]
#[specta::specta]
pub async fn dashboard(state: State<'_, AppState>) -> Result<Dashboard> {
    state.engine.dashboard().await
}

#[tauri::command]
#[specta::specta]
pub async fn bills(state: State<'_, AppState>, query: BillQuery) -> Result<BillsPage> {
    state.engine.bills(query).await
}

#[tauri::command]
#[specta::specta]
pub async fn bill(state: State<'_, AppState>, id: String) -> Result<BillView> {
    state.engine.bill(&id).await
}

#[tauri::command]
#[specta::specta]
pub async fn payments(state: State<'_, AppState>, query: PaymentQuery) -> Result<PaymentsPage> {
    state.engine.payments(query).await
}

/// A page of the plan's claims from the member's copy.
#[tauri::command]
#[specta::specta]
pub async fn claims(state: State<'_, AppState>, query: ClaimQuery) -> Result<ClaimsPage> {
    state.engine.claims(query).await
}

/// One claim from the member's copy, with the bills for it.
#[tauri::command]
#[specta::specta]
pub async fn claim(state: State<'_, AppState>, id: String) -> Result<ClaimView> {
    state.engine.claim(&id).await
}

/// One payment from the member's copy, for its receipt.
#[tauri::command]
#[specta::specta]
pub async fn payment(state: State<'_, AppState>, id: String) -> Result<Payment> {
    state.engine.payment(&id).await
}

#[tauri::command]
#[specta::specta]
pub async fn payment_methods(state: State<'_, AppState>) -> Result<Vec<PaymentMethod>> {
    state.engine.payment_methods().await
}

#[tauri::command]
#[specta::specta]
pub async fn autopay(state: State<'_, AppState>) -> Result<Option<Autopay>> {
    state.engine.autopay().await
}

#[tauri::command]
#[specta::specta]
pub async fn sync_now(state: State<'_, AppState>) -> Result<()> {
    state.engine.sync().await.map(|_| ())
}

/// The plan's facts (member services phone, hours, TTY, language assistance); `None` only before
/// the service has ever answered on this device.
#[tauri::command]
#[specta::specta]
pub async fn plan(state: State<'_, AppState>) -> Result<Option<PlanInfo>> {
    state.engine.plan().await
}
