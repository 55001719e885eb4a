//! Paying, saved methods, autopay, payment plans and scheduled payments. Card and bank details
//! live only for the tokenizing call.

use carebill_api::types::*;
use carebill_client::types::{PlanAction, PlanDraft, PlanPreview};
use carebill_client::{PaymentDraft, PaymentReview, SubmitOutcome, UnresolvedIntent};
use tauri::State;

use crate::AppState;

use super::Result;

/// Tokenizes a card at the processor. The number and security code live only for this call.
#[tauri::command]
#[specta::specta]
pub async fn tokenize_card(state: State<'_, AppState>, card: CardDetails) -> Result<ProcessorToken> {
    state.engine.tokenize(TokenRequest::Card(card)).await
}

#[tauri::command]
#[specta::specta]
pub async fn tokenize_bank_account(state: State<'_, AppState>, account: BankAccountDetails) -> Result<ProcessorToken> {
    state.engine.tokenize(TokenRequest::BankAccount(account)).await
}

#[tauri::command]
#[specta::specta]
pub async fn bank_name(state: State<'_, AppState>, routing_number: String) -> Result<Option<String>> {
    state.engine.bank_name(&routing_number).await
}

#[tauri::command]
#[specta::specta]
pub async fn prepare_payment(state: State<'_, AppState>, draft: PaymentDraft) -> Result<PaymentReview> {
    state.engine.prepare_payment(draft).await
}

#[tauri::command]
#[specta::specta]
pub async fn submit_payment(state: State<'_, AppState>, review_id: String, accept_ach: bool) -> Result<SubmitOutcome> {
    state.engine.submit_payment(&review_id, accept_ach).await
}

#[tauri::command]
#[specta::specta]
pub async fn unresolved(state: State<'_, AppState>) -> Result<Vec<UnresolvedIntent>> {
    state.engine.unresolved().await
}

#[tauri::command]
#[specta::specta]
pub async fn add_payment_method(state: State<'_, AppState>, token: String) -> Result<PaymentMethod> {
    state.engine.add_payment_method(&token).await
}

#[tauri::command]
#[specta::specta]
pub async fn remove_payment_method(state: State<'_, AppState>, id: String) -> Result<()> {
    state.engine.remove_payment_method(&id).await
}

#[tauri::command]
#[specta::specta]
pub async fn ach_authorization(state: State<'_, AppState>, recurring: bool) -> Result<AchAuthorization> {
    state.engine.ach_authorization(recurring).await
}

#[tauri::command]
#[specta::specta]
pub async fn set_autopay(state: State<'_, AppState>, request: AutopayRequest) -> Result<Autopay> {
    state.engine.set_autopay(request).await
}

#[tauri::command]
#[specta::specta]
pub async fn turn_off_autopay(state: State<'_, AppState>) -> Result<()> {
    state.engine.turn_off_autopay().await
}

#[tauri::command]
#[specta::specta]
pub async fn skip_autopay(state: State<'_, AppState>, bill_id: String) -> Result<UpcomingCharge> {
    state.engine.skip_autopay(&bill_id).await
}

/// The member's payment plans (ended ones too), newest first, from the copy.
#[tauri::command]
#[specta::specta]
pub async fn payment_plans(state: State<'_, AppState>) -> Result<Vec<PaymentPlan>> {
    state.engine.payment_plans().await
}

/// Every instalment a draft makes, checked with the service's rules, before anything is sent.
#[tauri::command]
#[specta::specta]
pub async fn preview_payment_plan(
    state: State<'_, AppState>,
    draft: PlanDraft,
    plan_id: Option<String>,
) -> Result<PlanPreview> {
    state.engine.preview_payment_plan(draft, plan_id).await
}

#[tauri::command]
#[specta::specta]
pub async fn create_payment_plan(
    state: State<'_, AppState>,
    draft: PlanDraft,
    text_version: String,
) -> Result<PaymentPlan> {
    state.engine.create_payment_plan(draft, text_version).await
}

#[tauri::command]
#[specta::specta]
pub async fn change_payment_plan(
    state: State<'_, AppState>,
    id: String,
    version: i32,
    draft: PlanDraft,
    text_version: String,
) -> Result<PaymentPlan> {
    state
        .engine
        .change_payment_plan(id, i64::from(version), draft, text_version)
        .await
}

#[tauri::command]
#[specta::specta]
pub async fn payment_plan_action(
    state: State<'_, AppState>,
    id: String,
    version: i32,
    action: PlanAction,
) -> Result<PaymentPlan> {
    state.engine.payment_plan_action(id, i64::from(version), action).await
}

/// Payments scheduled for a date (made and cancelled ones too), soonest first, from the copy.
#[tauri::command]
#[specta::specta]
pub async fn scheduled_payments(state: State<'_, AppState>) -> Result<Vec<ScheduledPayment>> {
    state.engine.scheduled_payments().await
}

/// Moves a scheduled payment to another date (`YYYY-MM-DD`), until the day before its date.
#[tauri::command]
#[specta::specta]
pub async fn change_scheduled_payment(
    state: State<'_, AppState>,
    id: String,
    version: i32,
    pay_on: chrono::NaiveDate,
) -> Result<ScheduledPayment> {
    state
        .engine
        .change_scheduled_payment(id, i64::from(version), pay_on)
        .await
}

#[tauri::command]
#[specta::specta]
pub async fn cancel_scheduled_payment(
    state: State<'_, AppState>,
    id: String,
    version: i32,
) -> Result<ScheduledPayment> {
    state.engine.cancel_scheduled_payment(id, i64::from(version)).await
}
