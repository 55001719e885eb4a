//! Signing in and out.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use carebill_api::ErrorCode;
use carebill_api::types::{CreateSessionRequest, RefreshSessionRequest, SessionTokens};
use chrono::Duration;

use crate::auth::throttle::address_limit;
use crate::auth::{self, Authed};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ClientAddr, JsonBody};
use crate::state::AppState;
use crate::store;

pub async fn create_session(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    JsonBody(req): JsonBody<CreateSessionRequest>,
) -> ApiResult<(StatusCode, Json<SessionTokens>)> {
    let login = req.login.trim().to_lowercase();
    if login.is_empty() || login.chars().count() > 254 {
        return Err(ApiError::validation("/login", "Enter your email address or member ID."));
    }
    if req.password.is_empty() || req.password.chars().count() > carebill_billing::password::MAX_CHARS {
        return Err(ApiError::validation("/password", "Enter your password."));
    }
    address_limit(&state, "sign-in", &client, 60, Duration::minutes(1)).await?;
    let by_member_id = state.plan.member_ids.check(&login).ok();
    let key = by_member_id.clone().unwrap_or_else(|| login.clone());
    let account = state
        .db
        .read(move |conn| store::accounts::credentials(conn, &key, by_member_id.is_some()))
        .await?;
    // One throttle key per account, whether it is named by email or member ID; the attempt is
    // counted before the password is checked, so concurrent guesses are counted too.
    let throttle_key = match &account {
        Some((id, ..)) => format!("account:{id}"),
        None => format!("login:{login}"),
    };
    if let Err(wait) = state.throttle.begin_sign_in(&throttle_key, &client).await {
        return Err(ApiError::new(ErrorCode::TooManyAttempts).retry_after(wait));
    }
    let ok = state
        .hasher
        .verify(req.password, account.as_ref().map(|a| a.1.clone()))
        .await?;
    let Some((account_id, _, verified)) = account.filter(|_| ok) else {
        state.audit(None, "sign_in_failed", Some(&client), None);
        return Err(ApiError::new(ErrorCode::InvalidCredentials));
    };
    state.throttle.record_success(&throttle_key, &client).await;
    if !verified {
        return Err(ApiError::new(ErrorCode::EmailNotVerified));
    }
    let now = state.now();
    let remember = req.remember_device;
    let tokens = state
        .db
        .transaction(move |tx| auth::create_session(tx, account_id, remember, now))
        .await?;
    state.audit(
        Some(account_id),
        "sign_in",
        Some(&client),
        remember.then(|| "remember_device".to_string()),
    );
    Ok((StatusCode::CREATED, Json(tokens)))
}

pub async fn refresh_session(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<RefreshSessionRequest>,
) -> ApiResult<Json<SessionTokens>> {
    if req.refresh_token.is_empty() || req.refresh_token.len() > 200 {
        return Err(ApiError::new(ErrorCode::Unauthenticated));
    }
    Ok(Json(auth::refresh(&state, req.refresh_token).await?))
}

pub async fn delete_current_session(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    who: Authed,
) -> ApiResult<StatusCode> {
    let now = state.now();
    state
        .db
        .transaction(move |tx| auth::revoke_session(tx, who.session_id, "signed_out", now))
        .await?;
    state.sessions.invalidate();
    state.audit(Some(who.account_id), "sign_out", Some(&client), None);
    Ok(StatusCode::NO_CONTENT)
}

pub async fn delete_all_sessions(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    who: Authed,
) -> ApiResult<StatusCode> {
    let now = state.now();
    state
        .db
        .transaction(move |tx| auth::revoke_all(tx, who.account_id, None, "signed_out_everywhere", now))
        .await?;
    state.sessions.invalidate();
    state.audit(Some(who.account_id), "sign_out_everywhere", Some(&client), None);
    Ok(StatusCode::NO_CONTENT)
}
