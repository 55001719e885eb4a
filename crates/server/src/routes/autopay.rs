//! Autopay: the rule, the upcoming charges, and skipping one.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use carebill_api::ErrorCode;
use carebill_api::types::*;

use crate::auth::Authed;
use crate::autopay;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ClientAddr, JsonBody};
use crate::state::AppState;
use crate::store::lock_member;
use crate::store::methods::load_method;

pub async fn get_autopay(State(state): State<AppState>, who: Authed) -> ApiResult<Json<Autopay>> {
    let (today, cal) = (state.business.today(), *state.business.calendar());
    state
        .db
        .read(move |conn| autopay::view(conn, &who.member_id, today, &cal))
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::new(ErrorCode::AutopayNotFound))
}

pub async fn put_autopay(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    who: Authed,
    JsonBody(req): JsonBody<AutopayRequest>,
) -> ApiResult<Json<Autopay>> {
    let rule = autopay::to_domain(req.amount, req.max_amount, req.timing)?;
    let (today, cal, business_now, now) = (
        state.business.today(),
        *state.business.calendar(),
        state.business.now(),
        state.now(),
    );
    let member_id = who.member_id.clone();
    let view = state
        .db
        .transaction(move |tx| {
            lock_member(tx, &member_id)?;
            let method = load_method(tx, &member_id, &req.payment_method_id)?
                .ok_or_else(|| ApiError::new(ErrorCode::PaymentMethodNotFound).at("/payment_method_id"))?;
            let ach = match (method.kind, &req.ach_authorization) {
                (PaymentMethodType::Card, _) => None,
                (PaymentMethodType::BankAccount, Some(a))
                    if matches!(
                        autopay::authorization_text(&a.text_version),
                        Some((AchAuthorizationKind::Recurring, _))
                    ) =>
                {
                    Some(a.text_version.as_str())
                }
                (PaymentMethodType::BankAccount, _) => {
                    return Err(ApiError::with_message(
                        ErrorCode::AchAuthorizationRequired,
                        "Accept the recurring bank debit authorization to use a bank account for autopay.",
                    )
                    .at("/ach_authorization"));
                }
            };
            autopay::save_rule(
                tx,
                &member_id,
                &method.id,
                &rule,
                ach,
                &client,
                business_now,
                today,
                now,
            )?;
            autopay::view(tx, &member_id, today, &cal)?.ok_or_else(|| ApiError::internal("autopay vanished"))
        })
        .await?;
    state.audit(Some(who.account_id), "autopay_saved", None, None);
    Ok(Json(view))
}

pub async fn delete_autopay(State(state): State<AppState>, who: Authed) -> ApiResult<StatusCode> {
    let now = state.now();
    state
        .db
        .transaction(move |tx| autopay::delete_rule(tx, &who.member_id, now))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn autopay_upcoming(State(state): State<AppState>, who: Authed) -> ApiResult<Json<Vec<UpcomingCharge>>> {
    let (today, cal) = (state.business.today(), *state.business.calendar());
    state
        .db
        .read(move |conn| {
            let stored =
                autopay::load_rule(conn, &who.member_id)?.ok_or_else(|| ApiError::new(ErrorCode::AutopayNotFound))?;
            autopay::upcoming(conn, &stored, today, &cal)
        })
        .await
        .map(Json)
}

pub async fn autopay_skip(
    State(state): State<AppState>,
    who: Authed,
    JsonBody(req): JsonBody<SkipRequest>,
) -> ApiResult<Json<UpcomingCharge>> {
    let (today, cal, now) = (state.business.today(), *state.business.calendar(), state.now());
    let skipped = state
        .db
        .transaction(move |tx| autopay::skip(tx, &who.member_id, &req.bill_id, today, &cal, now))
        .await?;
    Ok(Json(skipped))
}
