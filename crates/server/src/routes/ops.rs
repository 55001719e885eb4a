//! Health and demo-only endpoints.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use carebill_api::ErrorCode;
use carebill_api::types::{BillDetail, DevBillRequest, DevClock, DevClockRequest, Health, Mail};
use chrono::Duration;

use crate::error::{ApiError, ApiResult};
use crate::extract::JsonBody;
use crate::mail;
use crate::state::AppState;
use crate::store::{BUSINESS_OFFSET_KEY, ms, set_setting};
use crate::{scheduler, seed};

pub async fn healthz(State(state): State<AppState>) -> ApiResult<Json<Health>> {
    let needs_review = state.db.read(crate::store::payments::count_held_for_review).await?;
    Ok(Json(Health {
        status: "ok".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        demo: state.config.demo,
        payments_needing_review: needs_review,
        processor: state.config.processor.map_or("none", |p| p.as_str()).into(),
    }))
}

/// The API's contract: the committed OpenAPI document, byte for byte.
pub async fn openapi() -> Response {
    (
        [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        carebill_api::openapi::OPENAPI_JSON,
    )
        .into_response()
}

/// Demo only: the outbox as a mailbox.
pub async fn dev_mailbox(State(state): State<AppState>) -> ApiResult<Json<Vec<Mail>>> {
    if !state.config.demo {
        return Err(ApiError::new(ErrorCode::NotFound));
    }
    let mails = state.db.read(mail::mailbox).await?;
    Ok(Json(mails))
}

fn demo_only(state: &AppState) -> ApiResult<()> {
    if state.config.demo {
        Ok(())
    } else {
        Err(ApiError::new(ErrorCode::NotFound))
    }
}

/// Parses the ISO 8601 durations the demo clock takes: `P3D`, `P2W`, `PT12H`, `P1DT6H30M`.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let rest = s.strip_prefix('P')?;
    let (date, time) = match rest.split_once('T') {
        Some((d, t)) if !t.is_empty() => (d, Some(t)),
        Some(_) => return None,
        None => (rest, None),
    };
    let mut total = Duration::zero();
    let mut parse_part = |part: &str, units: &[(char, i64)]| -> Option<()> {
        let mut number = String::new();
        let mut last_unit = 0;
        for c in part.chars() {
            if c.is_ascii_digit() {
                number.push(c);
                continue;
            }
            let pos = units.iter().position(|(u, _)| *u == c)?;
            if number.is_empty() || pos < last_unit || number.len() > 6 {
                return None;
            }
            last_unit = pos + 1;
            total += Duration::seconds(number.parse::<i64>().ok()? * units[pos].1);
            number.clear();
        }
        number.is_empty().then_some(())
    };
    parse_part(date, &[('W', 7 * 86_400), ('D', 86_400)])?;
    if let Some(t) = time {
        parse_part(t, &[('H', 3_600), ('M', 60), ('S', 1)])?;
    }
    (total > Duration::zero()).then_some(total)
}

/// Demo only: moves the business clock forward, then runs the scheduler once so settlement and
/// autopay catch up at once.
pub async fn dev_clock(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<DevClockRequest>,
) -> ApiResult<Json<DevClock>> {
    demo_only(&state)?;
    let by = parse_duration(&req.advance)
        .filter(|d| *d <= Duration::days(400))
        .ok_or_else(|| {
            ApiError::validation(
                "/advance",
                "Give a positive ISO 8601 duration of at most 400 days, like P3D or PT12H.",
            )
        })?;
    scheduler::refresh_business_offset(&state).await?;
    let offset = state.business.offset() + by;
    state
        .db
        .transaction(move |tx| set_setting(tx, BUSINESS_OFFSET_KEY, &offset.num_milliseconds().to_string()))
        .await?;
    state.business.set_offset(offset);
    scheduler::run_once(&state).await?;
    Ok(Json(DevClock {
        business_date: state.business.today(),
        business_now: state.business.now(),
    }))
}

/// Demo only: issues a new bill (statement today, due in 30 days) to a member.
pub async fn dev_issue_bill(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<DevBillRequest>,
) -> ApiResult<(StatusCode, Json<BillDetail>)> {
    demo_only(&state)?;
    let member_id = req.member_id.unwrap_or_else(|| seed::DEMO_MEMBER_ID.to_string());
    let (today, issued_at, now) = (state.business.today(), ms(state.business.now()), state.now());
    let detail = state
        .db
        .transaction(move |tx| seed::issue_bill(tx, &member_id, today, issued_at, now))
        .await?;
    Ok((StatusCode::CREATED, Json(detail)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_clock_durations() {
        assert_eq!(parse_duration("P3D"), Some(Duration::days(3)));
        assert_eq!(parse_duration("P2W"), Some(Duration::days(14)));
        assert_eq!(parse_duration("PT12H"), Some(Duration::hours(12)));
        assert_eq!(
            parse_duration("P1DT6H30M"),
            Some(Duration::hours(30) + Duration::minutes(30))
        );
        for bad in [
            "",
            "P",
            "PT",
            "3D",
            "P3",
            "PD",
            "P-1D",
            "PT1D",
            "P1H",
            "P1D2W",
            "P0D",
            "P9999999D",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }
}
