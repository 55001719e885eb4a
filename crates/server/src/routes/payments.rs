//! Payment methods, payments, the ACH authorization text, autopay; and the sandbox processor's
//! token endpoint.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use carebill_api::types::*;
use carebill_api::{ErrorCode, IDEMPOTENCY_KEY_HEADER};
use carebill_billing::Money;
use chrono::Duration;
use rusqlite::params;
use serde_json::json;

use crate::auth::Authed;
use crate::autopay::{self, RECURRING_AUTHORIZATION_VERSION, SINGLE_AUTHORIZATION_VERSION};
use crate::cursor;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ClientAddr, JsonBody};
use crate::payments::{self, AchAcceptance, Intent, MAX_ALLOCATIONS, MethodRef};
use crate::processor::ProcessorError;
use crate::routes::accounts::address_limit;
use crate::routes::bills::QueryParams;
use crate::state::AppState;
use crate::store::methods::{list_methods, load_method, save_method};
use crate::store::{ms, touch};

fn processor_error(e: ProcessorError, token_field: &str) -> ApiError {
    match e {
        ProcessorError::InvalidToken => ApiError::new(ErrorCode::InvalidPaymentToken).at(token_field),
        ProcessorError::Invalid { field, invalid } => ApiError::invalid(field, invalid),
        ProcessorError::Unavailable(d) => ApiError::new(ErrorCode::ProcessorUnavailable).detail(d),
    }
}

async fn blocking<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> ApiResult<R> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal(e.to_string()))
}

// --- Processor (sandbox) ------------------------------------------------------------------------

pub async fn create_token(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    JsonBody(req): JsonBody<TokenRequest>,
) -> ApiResult<(StatusCode, Json<ProcessorToken>)> {
    address_limit(&state, "tokens", &client, 60, Duration::minutes(10))?;
    let (processor, today, now) = (state.processor.clone(), state.business.today(), state.now());
    let token = blocking(move || processor.tokenize(&req, today, now))
        .await?
        .map_err(|e| processor_error(e, "/token"))?;
    Ok((StatusCode::CREATED, Json(token)))
}

pub async fn lookup_bank(Path(routing): Path<String>) -> ApiResult<Json<BankLookup>> {
    carebill_billing::validate::routing_number(&routing).map_err(|e| ApiError::invalid("/routing_number", e))?;
    let bank_name = crate::processor::sandbox::bank_name(&routing).map(str::to_string);
    Ok(Json(BankLookup {
        routing_number: routing,
        bank_name,
    }))
}

// --- Payment methods ----------------------------------------------------------------------------

pub async fn create_payment_method(
    State(state): State<AppState>,
    who: Authed,
    JsonBody(req): JsonBody<CreatePaymentMethodRequest>,
) -> ApiResult<(StatusCode, Json<PaymentMethod>)> {
    if req.token.is_empty() || req.token.len() > 200 {
        return Err(ApiError::new(ErrorCode::InvalidPaymentToken).at("/token"));
    }
    let (processor, now) = (state.processor.clone(), state.now());
    let (token, owner) = (req.token.clone(), who.member_id.clone());
    let instrument = blocking(move || processor.attach(&token, &owner, now))
        .await?
        .map_err(|e| processor_error(e, "/token"))?;
    let member_id = who.member_id.clone();
    let (created, method) = state
        .db
        .transaction(move |tx| save_method(tx, &member_id, &instrument, now))
        .await?;
    Ok((if created { StatusCode::CREATED } else { StatusCode::OK }, Json(method)))
}

pub async fn list_payment_methods(State(state): State<AppState>, who: Authed) -> ApiResult<Json<PaymentMethodList>> {
    let data = state.db.read(move |conn| list_methods(conn, &who.member_id)).await?;
    Ok(Json(PaymentMethodList { data }))
}

pub async fn delete_payment_method(
    State(state): State<AppState>,
    who: Authed,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let now = state.now();
    state
        .db
        .transaction(move |tx| {
            if load_method(tx, &who.member_id, &id)?.is_none() {
                return Err(ApiError::new(ErrorCode::PaymentMethodNotFound));
            }
            let used: bool = tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM autopay_rules WHERE member_id = ?1 AND payment_method_id = ?2)",
                params![who.member_id, id],
                |r| r.get(0),
            )?;
            if used {
                return Err(ApiError::new(ErrorCode::InUseByAutopay));
            }
            tx.execute(
                "UPDATE payment_methods SET deleted_at = ?2 WHERE id = ?1",
                params![id, ms(now)],
            )?;
            touch(tx, &who.member_id, SyncEntity::PaymentMethod, &id, SyncOp::Delete, now)
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

// --- Payments -----------------------------------------------------------------------------------

pub async fn ach_authorization(QueryParams(q): QueryParams) -> ApiResult<Json<AchAuthorization>> {
    let kind = match q.get("kind") {
        None => AchAuthorizationKind::default(),
        Some(k) => AchAuthorizationKind::parse(k)
            .ok_or_else(|| ApiError::validation("/kind", "kind must be single or recurring."))?,
    };
    Ok(Json(match kind {
        AchAuthorizationKind::Single => AchAuthorization {
            text: autopay::single_authorization_text(),
            text_version: SINGLE_AUTHORIZATION_VERSION.into(),
        },
        AchAuthorizationKind::Recurring => AchAuthorization {
            text: autopay::recurring_authorization_text(),
            text_version: RECURRING_AUTHORIZATION_VERSION.into(),
        },
    }))
}

/// The Idempotency-Key header: 1 to 255 letters, digits, `-`, `_`, `.` or `~`. Never a `:`, which
/// only the server's own keys (`autopay:…`, `guest:…`) contain: a member or kiosk cannot claim
/// one of them.
pub fn idempotency_key(headers: &HeaderMap) -> ApiResult<String> {
    headers
        .get(IDEMPOTENCY_KEY_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|k| (1..=255).contains(&k.len()) && k.bytes().all(is_key_byte))
        .map(str::to_string)
        .ok_or_else(|| ApiError::new(ErrorCode::IdempotencyKeyMissing))
}

fn is_key_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~')
}

/// Shape checks of a payment request, shared by members and guests. Returns the allocations
/// and the normalized body for the fingerprint.
pub fn check_allocations(allocations: &[AllocationRequest]) -> ApiResult<Vec<(String, Money)>> {
    if allocations.is_empty() || allocations.len() > MAX_ALLOCATIONS {
        return Err(ApiError::validation(
            "/allocations",
            format!("Choose 1 to {MAX_ALLOCATIONS} bills to pay."),
        ));
    }
    let mut out: Vec<(String, Money)> = Vec::with_capacity(allocations.len());
    for (i, a) in allocations.iter().enumerate() {
        let amount = carebill_billing::validate::payment_amount(&a.amount)
            .map_err(|e| ApiError::invalid(&format!("/allocations/{i}/amount"), e))?;
        if a.bill_id.is_empty() || a.bill_id.len() > 64 {
            return Err(ApiError::new(ErrorCode::BillNotFound).at(&format!("/allocations/{i}/bill_id")));
        }
        if out.iter().any(|(b, _)| b == &a.bill_id) {
            return Err(ApiError::new(ErrorCode::DuplicateBill).at(&format!("/allocations/{i}/bill_id")));
        }
        out.push((a.bill_id.clone(), amount));
    }
    Ok(out)
}

/// The acceptance of the current single-payment ACH text, when one was sent (members and guests).
pub fn single_ach_acceptance(a: Option<&AchAuthorizationAcceptance>) -> ApiResult<Option<AchAcceptance>> {
    match a {
        Some(a) if a.text_version == SINGLE_AUTHORIZATION_VERSION => Ok(Some(AchAcceptance {
            text: autopay::single_authorization_text(),
            version: a.text_version.clone(),
        })),
        Some(_) => Err(ApiError::new(ErrorCode::AchAuthorizationRequired).at("/ach_authorization/text_version")),
        None => Ok(None),
    }
}

pub fn answer_response(answer: payments::Answer) -> Response {
    let mut response = (answer.status, answer.body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if answer.replayed {
        response
            .headers_mut()
            .insert("Idempotent-Replayed", HeaderValue::from_static("true"));
    }
    response
}

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
        source: PaymentSource::Member,
        method,
        allocations,
        ach,
        client: Some(client.clone()),
        autopay_bill: None,
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
    let before = match params.pair_cursor(&state, &context)? {
        None => None,
        Some((at, id)) => Some((
            at.parse::<i64>().map_err(|_| ApiError::new(ErrorCode::InvalidCursor))?,
            id,
        )),
    };
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
            let method = load_method(tx, &member_id, &req.payment_method_id)?
                .ok_or_else(|| ApiError::new(ErrorCode::PaymentMethodNotFound).at("/payment_method_id"))?;
            let ach = match (method.kind, &req.ach_authorization) {
                (PaymentMethodType::Card, _) => None,
                (PaymentMethodType::BankAccount, Some(a)) if a.text_version == RECURRING_AUTHORIZATION_VERSION => {
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
        .transaction(move |tx| {
            if tx.execute("DELETE FROM autopay_rules WHERE member_id = ?1", [&who.member_id])? == 0 {
                return Err(ApiError::new(ErrorCode::AutopayNotFound));
            }
            touch(tx, &who.member_id, SyncEntity::Autopay, "autopay", SyncOp::Delete, now)
        })
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
