//! Guest pay at enrolled clinic kiosks: look up one bill, read it, pay it, mail a receipt.
//! See [`crate::kiosk`] for devices and guest tokens.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use carebill_api::ErrorCode;
use carebill_api::types::*;
use carebill_billing::validate;
use chrono::{Duration, NaiveDate};
use serde_json::json;

use crate::error::{ApiError, ApiResult};
use crate::extract::{ClientAddr, JsonBody};
use crate::ids::hex;
use crate::kiosk;
use crate::payments::{self, Intent, MethodRef};
use crate::routes::intake::{answer_response, idempotency_key, single_ach_acceptance};
use crate::state::AppState;
use crate::store;

/// Lookups per kiosk, and per statement number (from any kiosk), in [`LOOKUP_WINDOW`].
pub const LOOKUPS_PER_DEVICE: u32 = 30;
pub const LOOKUPS_PER_STATEMENT: u32 = 5;
pub const LOOKUP_WINDOW: Duration = Duration::minutes(10);
/// Receipt mails per guest token.
pub const RECEIPTS_PER_TOKEN: u32 = 3;

async fn limit(state: &AppState, what: &str, key: &str, max: u32, window: Duration) -> ApiResult<()> {
    state
        .throttle
        .rate_limit(&format!("{what}\u{0}{key}"), max, window)
        .await
        .map_err(|retry| ApiError::new(ErrorCode::RateLimited).retry_after(retry))
}

fn statement_number(input: &str) -> ApiResult<String> {
    let s = input.trim().to_uppercase();
    if s.is_empty() || s.len() > 40 || !s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return Err(ApiError::validation(
            "/statement_number",
            "Enter the statement number as printed on the bill (letters and digits).",
        ));
    }
    Ok(s)
}

pub async fn lookup(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    JsonBody(req): JsonBody<GuestLookupRequest>,
) -> ApiResult<(StatusCode, Json<GuestSession>)> {
    let device = kiosk::device(&state, &headers).await?;
    let today = state.business.today();
    let statement = statement_number(&req.statement_number)?;
    let last_name =
        validate::person_name(&req.last_name, "last name").map_err(|e| ApiError::invalid("/last_name", e))?;
    let dob = validate::date_of_birth(&req.date_of_birth, today).map_err(|e| ApiError::invalid("/date_of_birth", e))?;
    // Every attempt counts, matched or not.
    limit(&state, "guest-device", &device.id, LOOKUPS_PER_DEVICE, LOOKUP_WINDOW).await?;
    limit(
        &state,
        "guest-statement",
        &statement,
        LOOKUPS_PER_STATEMENT,
        LOOKUP_WINDOW,
    )
    .await?;
    let now = state.now();
    let d = device.clone();
    let issued = state
        .db
        .transaction(move |tx| {
            let found = store::bills::statement_owner(tx, &statement)?;
            let Some((bill_id, member_id, _, _)) = found.filter(|(_, _, roster_last, roster_dob)| {
                validate::names_match(roster_last, &last_name)
                    && NaiveDate::parse_from_str(roster_dob, "%Y-%m-%d").ok() == Some(dob)
            }) else {
                return Ok(None);
            };
            kiosk::issue(tx, &d, &bill_id, &member_id, now).map(Some)
        })
        .await?;
    let Some((guest_token, expires_at)) = issued else {
        state.audit(None, "guest_lookup_failed", Some(&client), Some(device.id));
        return Err(ApiError::new(ErrorCode::GuestLookupFailed));
    };
    state.audit(None, "guest_lookup", Some(&client), Some(device.id));
    Ok((
        StatusCode::CREATED,
        Json(GuestSession {
            guest_token,
            expires_at,
        }),
    ))
}

/// The request's live grant (for reading and mailing).
async fn live_grant(state: &AppState, headers: &HeaderMap) -> ApiResult<kiosk::Grant> {
    let device = kiosk::device(state, headers).await?;
    let grant = kiosk::grant(state, headers, &device).await?;
    if !grant.live(state.now()) {
        return Err(ApiError::new(ErrorCode::GuestSessionEnded));
    }
    Ok(grant)
}

pub async fn bill(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Json<BillDetail>> {
    let grant = live_grant(&state, &headers).await?;
    let mut detail = state
        .db
        .read(move |conn| store::bill_detail(conn, &grant.member_id, &grant.bill_id))
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::BillNotFound))?;
    // The person at the kiosk knows the statement, not the member's payments (their methods,
    // dates, confirmation numbers): the guest view has none.
    // Nor the member's questions to the billing office.
    detail.payments.clear();
    detail.bill.open_conversation_id = None;
    Ok(Json(detail))
}

pub async fn pay(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    JsonBody(req): JsonBody<GuestPaymentRequest>,
) -> ApiResult<Response> {
    let device = kiosk::device(&state, &headers).await?;
    let key = idempotency_key(&headers)?;
    let grant = kiosk::grant(&state, &headers, &device).await?;
    let amount = validate::payment_amount(&req.amount).map_err(|e| ApiError::invalid("/amount", e))?;
    let token = req.token.trim().to_string();
    if token.is_empty() || token.len() > 200 {
        return Err(ApiError::new(ErrorCode::InvalidPaymentToken).at("/token"));
    }
    let ach = single_ach_acceptance(req.ach_authorization.as_ref())?;
    // Keys are the kiosk's: one kiosk's key can never touch another's payment.
    let key = format!("guest:{}:{key}", device.id);
    if !grant.live(state.now()) {
        // An ended grant still answers the replay of a key it already used, and nothing else.
        let (member, k) = (grant.member_id.clone(), key.clone());
        if !state
            .db
            .read(move |conn| payments::key_known(conn, &member, &k))
            .await?
        {
            return Err(ApiError::new(ErrorCode::GuestSessionEnded));
        }
    }
    let normalized = json!({
        "bill_id": grant.bill_id,
        "amount": amount,
        "token": token,
        "ach_authorization": ach.as_ref().map(|a| a.version.clone()),
    });
    let intent = Intent {
        member_id: grant.member_id.clone(),
        key,
        fingerprint: payments::fingerprint("POST", "/v1/guest/payments", &normalized),
        fingerprint_as_kept: payments::fingerprint_as_kept("POST", "/v1/guest/payments", &normalized),
        source: PaymentSource::Guest,
        method: MethodRef::Token(token),
        allocations: vec![(grant.bill_id.clone(), amount)],
        ach,
        client: Some(client.clone()),
        autopay_bill: None,
        scheduled: None,
    };
    let answer = payments::submit(&state, intent).await?;
    if !answer.replayed {
        if answer.status == StatusCode::PAYMENT_REQUIRED {
            let hash = grant.token_hash.clone();
            state.db.write(move |conn| kiosk::record_decline(conn, &hash)).await?;
        }
        state.audit(
            None,
            "guest_payment",
            Some(&client),
            Some(format!("{} status {}", device.id, answer.status.as_u16())),
        );
    }
    Ok(answer_response(answer))
}

pub async fn receipt(
    State(state): State<AppState>,
    headers: HeaderMap,
    JsonBody(req): JsonBody<GuestReceiptRequest>,
) -> ApiResult<StatusCode> {
    let grant = live_grant(&state, &headers).await?;
    let email = validate::email(&req.email).map_err(|e| ApiError::invalid("/email", e))?;
    let locale = req.locale.unwrap_or_default();
    let number = req.confirmation_number.trim().to_uppercase();
    if number.is_empty() || number.len() > 40 {
        return Err(ApiError::new(ErrorCode::PaymentNotFound).at("/confirmation_number"));
    }
    limit(
        &state,
        "guest-receipt",
        &hex(&grant.token_hash),
        RECEIPTS_PER_TOKEN,
        kiosk::GUEST_TOKEN_TTL,
    )
    .await?;
    let (head, now) = (state.letterhead(), state.now());
    let sent = state
        .db
        .transaction(move |tx| kiosk::send_guest_receipt(tx, &head, locale, &grant, &number, &email, now))
        .await?;
    if !sent {
        return Err(ApiError::new(ErrorCode::PaymentNotFound).at("/confirmation_number"));
    }
    state.mail_queued();
    Ok(StatusCode::ACCEPTED)
}
