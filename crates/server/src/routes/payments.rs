//! Payments: make one, list them, find one by id or by idempotency key.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use carebill_api::ErrorCode;
use carebill_api::types::*;
use serde_json::json;

use super::intake::{answer_response, check_allocations, idempotency_key, is_key_byte, single_ach_acceptance};
use crate::auth::Authed;
use crate::cursor;
use crate::error::{ApiError, ApiResult};
use crate::extract::QueryParams;
use crate::extract::{ClientAddr, JsonBody};
use crate::payments::{self, Intent, MethodRef};
use crate::state::AppState;
use crate::store::ms;

pub async fn create_payment(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    who: Authed,
    headers: HeaderMap,
    JsonBody(req): JsonBody<CreatePaymentRequest>,
) -> ApiResult<Response> {
    let key = idempotency_key(&headers)?;
    let method = match (&req.payment_method_id, &req.token) {
        (Some(id), None) => MethodRef::Saved(id.clone()),
        (None, Some(token)) => MethodRef::Token(token.clone()),
        _ => {
            return Err(ApiError::validation(
                "/payment_method_id",
                "Choose a saved payment method or enter new payment details (one, not both).",
            ));
        }
    };
    let allocations = check_allocations(&req.allocations)?;
    let ach = single_ach_acceptance(req.ach_authorization.as_ref())?;
    let normalized = json!({
        "payment_method_id": req.payment_method_id,
        "token": req.token,
        "allocations": allocations.iter().map(|(b, a)| json!({"bill_id": b, "amount": a})).collect::<Vec<_>>(),
        "ach_authorization": ach.as_ref().map(|a| a.version.clone()),
    });
    let intent = Intent {
        member_id: who.member_id.clone(),
        key,
        fingerprint: payments::fingerprint("POST", "/v1/payments", &normalized),
        fingerprint_as_kept: payments::fingerprint_as_kept("POST", "/v1/payments", &normalized),
        source: PaymentSource::Member,
        method,
        allocations,
        ach,
        client: Some(client.clone()),
        autopay_bill: None,
        scheduled: None,
    };
    let answer = payments::submit(&state, intent).await?;
    if !answer.replayed {
        state.audit(
            Some(who.account_id),
            "payment",
            Some(&client),
            Some(format!("status {}", answer.status.as_u16())),
        );
    }
    Ok(answer_response(answer))
}

pub async fn list_payments(
    State(state): State<AppState>,
    who: Authed,
    params: QueryParams,
) -> ApiResult<Json<PaymentPage>> {
    // Every parameter is checked, also when the key alone decides the answer.
    let limit = params.page_limit()?;
    if let Some(key) = params.0.get("idempotency_key") {
        return by_key(&state, &who.member_id, key).await.map(Json);
    }
    let context = format!("payments:{}", who.member_id);
    let before = params.instant_cursor(&state, &context)?;
    let member_id = who.member_id.clone();
    let (data, has_more) = state
        .db
        .read(move |conn| crate::store::payments::list_payments(conn, &member_id, before, limit))
        .await?;
    let next_cursor = match data.last() {
        Some(last) if has_more => Some(cursor::encode(
            &state.secret,
            &context,
            format!("{}|{}", ms(last.created_at), last.id).as_bytes(),
        )),
        _ => None,
    };
    Ok(Json(PaymentPage {
        data,
        next_cursor,
        has_more,
    }))
}

/// `GET /v1/payments?idempotency_key=K`: the member's payment made with key `K` (a page of at
/// most one), so a client can tell "the server never got it" (an empty page) from "it is there"
/// before it tells the member anything. A key whose payment is still being charged answers 409
/// `idempotency_key_in_use`: ask again later.
async fn by_key(state: &AppState, member_id: &str, key: &str) -> ApiResult<PaymentPage> {
    if key.is_empty() || key.len() > 255 || !key.bytes().all(is_key_byte) {
        return Err(ApiError::validation(
            "/idempotency_key",
            "idempotency_key is 1 to 255 letters, digits, '-', '_', '.' or '~'.",
        ));
    }
    let (member, key) = (member_id.to_string(), key.to_string());
    let (payment, in_flight) = state
        .db
        .read(move |conn| {
            Ok((
                crate::store::payments::payment_by_key(conn, &member, &key)?,
                payments::key_in_flight(conn, &member, &key)?,
            ))
        })
        .await?;
    if payment.is_none() && in_flight {
        return Err(ApiError::new(ErrorCode::IdempotencyKeyInUse).retry_after(60));
    }
    Ok(PaymentPage {
        data: payment.into_iter().collect(),
        next_cursor: None,
        has_more: false,
    })
}

pub async fn get_payment(
    State(state): State<AppState>,
    who: Authed,
    Path(id): Path<String>,
) -> ApiResult<Json<Payment>> {
    state
        .db
        .read(move |conn| crate::store::payments::load_payment(conn, &who.member_id, &id))
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::new(ErrorCode::PaymentNotFound))
}

// --- Autopay ------------------------------------------------------------------------------------
