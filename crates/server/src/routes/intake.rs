//! What every payment request goes through before the payment engine, for members and guests:
//! the idempotency key, the allocations' shape, the ACH acceptance, and the answer as a response.

use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use carebill_api::types::*;
use carebill_api::{ErrorCode, IDEMPOTENCY_KEY_HEADER};
use carebill_billing::Money;

use crate::autopay;
use crate::error::{ApiError, ApiResult};
use crate::payments::{self, AchAcceptance, MAX_ALLOCATIONS};

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

pub(super) fn is_key_byte(b: u8) -> bool {
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
    let Some(a) = a else { return Ok(None) };
    match autopay::authorization_text(&a.text_version) {
        Some((AchAuthorizationKind::Single, text)) => Ok(Some(AchAcceptance {
            text: text.to_string(),
            version: a.text_version.clone(),
        })),
        _ => Err(ApiError::new(ErrorCode::AchAuthorizationRequired).at("/ach_authorization/text_version")),
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
