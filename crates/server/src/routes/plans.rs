//! Payment plans and scheduled payments: set up, read, change (with `If-Match`), pause, cancel.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use carebill_api::types::*;

use super::intake::check_allocations;
use super::intake::idempotency_key;
use crate::auth::Authed;
use crate::error::ApiResult;
use crate::extract::{ClientAddr, JsonBody};
use crate::plans::Precondition;
use crate::state::AppState;
use crate::{plans, scheduled};

/// The version a change is made against, from `If-Match`.
fn if_match(headers: &HeaderMap) -> Precondition {
    Precondition::parse(headers.get(header::IF_MATCH).map(|v| v.to_str().unwrap_or("")))
}

/// A plan or scheduled payment with its version as the `ETag`.
fn tagged<T: serde::Serialize>(status: StatusCode, version: i32, body: T) -> Response {
    let etag = HeaderValue::from_str(&format!("\"{version}\"")).unwrap_or(HeaderValue::from_static("\"0\""));
    (status, [(header::ETAG, etag)], Json(body)).into_response()
}

fn plan_response(status: StatusCode, plan: PaymentPlan) -> Response {
    let v = plan.version;
    tagged(status, v, plan)
}

fn scheduled_response(status: StatusCode, s: ScheduledPayment) -> Response {
    let v = s.version;
    tagged(status, v, s)
}

pub async fn list_plans(State(state): State<AppState>, who: Authed) -> ApiResult<Json<PaymentPlanList>> {
    let cal = *state.business.calendar();
    let data = state
        .db
        .read(move |conn| plans::list(conn, &who.member_id, &cal))
        .await?;
    Ok(Json(PaymentPlanList { data }))
}

pub async fn get_plan(State(state): State<AppState>, who: Authed, Path(id): Path<String>) -> ApiResult<Response> {
    let cal = *state.business.calendar();
    let plan = state
        .db
        .read(move |conn| plans::get(conn, &who.member_id, &id, &cal))
        .await?;
    Ok(plan_response(StatusCode::OK, plan))
}

pub async fn create_plan(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    who: Authed,
    headers: HeaderMap,
    JsonBody(req): JsonBody<PaymentPlanRequest>,
) -> ApiResult<Response> {
    let key = idempotency_key(&headers)?;
    plans::check_shape(&req)?;
    let (today, cal, now, head) = (
        state.business.today(),
        *state.business.calendar(),
        state.now(),
        state.letterhead(),
    );
    let member_id = who.member_id.clone();
    let (made, plan) = state
        .db
        .transaction(move |tx| plans::create(tx, &head, &member_id, &key, &req, today, &cal, &client, now))
        .await?;
    if !made {
        return Ok(plan_response(StatusCode::OK, plan));
    }
    state.mail_queued();
    state.audit(
        Some(who.account_id),
        "payment_plan_created",
        None,
        Some(plan.number.clone()),
    );
    Ok(plan_response(StatusCode::CREATED, plan))
}

pub async fn put_plan(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    who: Authed,
    Path(id): Path<String>,
    headers: HeaderMap,
    JsonBody(req): JsonBody<PaymentPlanRequest>,
) -> ApiResult<Response> {
    plans::check_shape(&req)?;
    let (today, cal, now, head) = (
        state.business.today(),
        *state.business.calendar(),
        state.now(),
        state.letterhead(),
    );
    let (member_id, version) = (who.member_id.clone(), if_match(&headers));
    let plan = state
        .db
        .transaction(move |tx| plans::update(tx, &head, &member_id, &id, version, &req, today, &cal, &client, now))
        .await?;
    state.mail_queued();
    state.audit(
        Some(who.account_id),
        "payment_plan_changed",
        None,
        Some(plan.number.clone()),
    );
    Ok(plan_response(StatusCode::OK, plan))
}

pub async fn cancel_plan(
    State(state): State<AppState>,
    who: Authed,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let (cal, now, head) = (*state.business.calendar(), state.now(), state.letterhead());
    let (member_id, version) = (who.member_id.clone(), if_match(&headers));
    let plan = state
        .db
        .transaction(move |tx| plans::cancel(tx, &head, &member_id, &id, version, &cal, now))
        .await?;
    state.mail_queued();
    state.audit(
        Some(who.account_id),
        "payment_plan_cancelled",
        None,
        Some(plan.number.clone()),
    );
    Ok(plan_response(StatusCode::OK, plan))
}

pub async fn pause_plan(
    State(state): State<AppState>,
    who: Authed,
    Path(id): Path<String>,
    headers: HeaderMap,
    JsonBody(req): JsonBody<PausePlanRequest>,
) -> ApiResult<Response> {
    let (today, cal, now, head) = (
        state.business.today(),
        *state.business.calendar(),
        state.now(),
        state.letterhead(),
    );
    let (member_id, version) = (who.member_id.clone(), if_match(&headers));
    let plan = state
        .db
        .transaction(move |tx| plans::pause(tx, &head, &member_id, &id, version, req.until, today, &cal, now))
        .await?;
    Ok(plan_response(StatusCode::OK, plan))
}

pub async fn resume_plan(
    State(state): State<AppState>,
    who: Authed,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let (today, cal, now) = (state.business.today(), *state.business.calendar(), state.now());
    let (member_id, version) = (who.member_id.clone(), if_match(&headers));
    let plan = state
        .db
        .transaction(move |tx| plans::resume(tx, &member_id, &id, version, today, &cal, now))
        .await?;
    Ok(plan_response(StatusCode::OK, plan))
}

pub async fn list_scheduled(State(state): State<AppState>, who: Authed) -> ApiResult<Json<ScheduledPaymentList>> {
    let data = state.db.read(move |conn| scheduled::list(conn, &who.member_id)).await?;
    Ok(Json(ScheduledPaymentList { data }))
}

pub async fn get_scheduled(State(state): State<AppState>, who: Authed, Path(id): Path<String>) -> ApiResult<Response> {
    let s = state
        .db
        .read(move |conn| scheduled::get(conn, &who.member_id, &id))
        .await?;
    Ok(scheduled_response(StatusCode::OK, s))
}

pub async fn create_scheduled(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    who: Authed,
    headers: HeaderMap,
    JsonBody(req): JsonBody<ScheduledPaymentRequest>,
) -> ApiResult<Response> {
    let key = idempotency_key(&headers)?;
    check_allocations(&req.allocations)?;
    let (today, now) = (state.business.today(), state.now());
    let (made, s) = state
        .db
        .transaction(move |tx| scheduled::create(tx, &who.member_id, &key, &req, today, &client, now))
        .await?;
    Ok(scheduled_response(
        if made { StatusCode::CREATED } else { StatusCode::OK },
        s,
    ))
}

pub async fn put_scheduled(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    who: Authed,
    Path(id): Path<String>,
    headers: HeaderMap,
    JsonBody(req): JsonBody<ScheduledPaymentRequest>,
) -> ApiResult<Response> {
    check_allocations(&req.allocations)?;
    let (today, now, version) = (state.business.today(), state.now(), if_match(&headers));
    let s = state
        .db
        .transaction(move |tx| scheduled::update(tx, &who.member_id, &id, version, &req, today, &client, now))
        .await?;
    Ok(scheduled_response(StatusCode::OK, s))
}

pub async fn cancel_scheduled(
    State(state): State<AppState>,
    who: Authed,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let (today, now, version) = (state.business.today(), state.now(), if_match(&headers));
    let s = state
        .db
        .transaction(move |tx| scheduled::cancel(tx, &who.member_id, &id, version, today, now))
        .await?;
    Ok(scheduled_response(StatusCode::OK, s))
}
