//! The member's claims (from the plan's Explanations of Benefits).

use axum::Json;
use axum::extract::{Path, State};
use carebill_api::ErrorCode;
use carebill_api::types::{ClaimDetail, ClaimPage};

use crate::auth::Authed;
use crate::cursor;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ClientAddr, QueryParams};
use crate::state::AppState;
use crate::store::claims::{self, ClaimFilter};

pub async fn list_claims(
    State(state): State<AppState>,
    who: Authed,
    params: QueryParams,
) -> ApiResult<Json<ClaimPage>> {
    let year = match params.0.get("year") {
        None => None,
        Some(y) => Some(
            y.parse::<i32>()
                .ok()
                .filter(|y| claims::year_in_range(*y))
                .ok_or_else(|| ApiError::validation("/year", "year must be a year from 2000 to 2100."))?,
        ),
    };
    let provider = match params.0.get("provider") {
        None => None,
        Some(p) if !p.is_empty() && p.chars().count() <= 100 && !p.chars().any(|c| c.is_ascii_control()) => {
            Some(p.to_string())
        }
        Some(_) => {
            return Err(ApiError::validation(
                "/provider",
                "provider must be 1 to 100 characters of text.",
            ));
        }
    };
    let claim_number = match params.0.get("claim_number") {
        None => None,
        Some(n) if carebill_billing::claims::is_claim_number(n) => Some(n.to_string()),
        Some(_) => {
            return Err(ApiError::validation(
                "/claim_number",
                "claim_number must be 1 to 64 letters, digits or - . _ /.",
            ));
        }
    };
    let limit = params.page_limit()?;
    let filter = ClaimFilter {
        year,
        provider,
        claim_number,
    };
    // A cursor belongs to its member and its filter.
    let context = format!(
        "claims:{}:{:?}:{:?}:{:?}",
        who.member_id, filter.year, filter.provider, filter.claim_number
    );
    let after = params.pair_cursor(&state, &context)?;
    let member_id = who.member_id.clone();
    let (data, has_more) = state
        .db
        .read(move |conn| claims::list(conn, &member_id, &filter, after, limit))
        .await?;
    let next_cursor = match data.last() {
        Some(last) if has_more => {
            let (date, id) = claims::position(last);
            Some(cursor::encode(
                &state.secret,
                &context,
                format!("{date}|{id}").as_bytes(),
            ))
        }
        _ => None,
    };
    Ok(Json(ClaimPage {
        data,
        next_cursor,
        has_more,
    }))
}

pub async fn get_claim(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    who: Authed,
    Path(id): Path<String>,
) -> ApiResult<Json<ClaimDetail>> {
    let member_id = who.member_id.clone();
    let claim_id = id.clone();
    let detail = state
        .db
        .read(move |conn| claims::detail(conn, &member_id, &claim_id))
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::ClaimNotFound))?;
    state.audit(Some(who.account_id), "claim_viewed", Some(&client), Some(id));
    Ok(Json(detail))
}
