//! Reading the member's copy, and syncing it now.

use carebill_api::types::*;
use carebill_client::types::{BillQuery, BillView, BillsPage, Dashboard, PaymentQuery, PaymentsPage};
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
