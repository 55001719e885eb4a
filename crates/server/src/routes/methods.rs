//! Saved payment methods and the ACH authorization text.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use carebill_api::ErrorCode;
use carebill_api::types::*;

use super::processor::{blocking, processor_error};
use crate::auth::Authed;
use crate::autopay;
use crate::error::{ApiError, ApiResult};
use crate::extract::JsonBody;
use crate::extract::QueryParams;
use crate::state::AppState;
use crate::store::methods::{delete_method, list_methods, save_method};

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
        .transaction(move |tx| delete_method(tx, &who.member_id, &id, now))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn ach_authorization(QueryParams(q): QueryParams) -> ApiResult<Json<AchAuthorization>> {
    let kind = match q.get("kind") {
        None => AchAuthorizationKind::default(),
        Some(k) => AchAuthorizationKind::parse(k)
            .ok_or_else(|| ApiError::validation("/kind", "kind must be single or recurring."))?,
    };
    let locale = match q.get("locale") {
        None => Locale::En,
        Some(l) => Locale::parse(l).ok_or_else(|| ApiError::validation("/locale", "locale must be en or es."))?,
    };
    Ok(Json(autopay::authorization(kind, locale)))
}
