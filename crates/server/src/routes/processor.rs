//! The sandbox processor's endpoints: card and bank tokens, and the bank-name lookup.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use carebill_api::ErrorCode;
use carebill_api::types::*;
use chrono::Duration;

use crate::auth::throttle::address_limit;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ClientAddr, JsonBody};
use crate::processor::ProcessorError;
use crate::state::AppState;

pub(super) fn processor_error(e: ProcessorError, token_field: &str) -> ApiError {
    match e {
        ProcessorError::InvalidToken => ApiError::new(ErrorCode::InvalidPaymentToken).at(token_field),
        ProcessorError::Invalid { field, invalid } => ApiError::invalid(field, invalid),
        ProcessorError::Unavailable(d) => ApiError::new(ErrorCode::ProcessorUnavailable).detail(d),
    }
}

pub(super) async fn blocking<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> ApiResult<R> {
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
    address_limit(&state, "tokens", &client, 60, Duration::minutes(10)).await?;
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
