//! Registration, email confirmation, password resets, the member's own account: shapes checked,
//! address limits applied, then the accounts service does the rest.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use carebill_api::types::*;
use carebill_billing::validate;
use chrono::Duration;

use crate::accounts::{self, CodePurpose, Registration};
use crate::auth::throttle::address_limit;
use crate::auth::tokens::normalize_reset_code;
use crate::auth::{Authed, load_member};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ClientAddr, JsonBody};
use crate::state::AppState;

pub async fn create_account(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    JsonBody(req): JsonBody<CreateAccountRequest>,
) -> ApiResult<(StatusCode, Json<AccountCreated>)> {
    let today = state.business.today();
    let member_id = state
        .plan
        .member_ids
        .check(&req.member_id)
        .map_err(|e| ApiError::invalid("/member_id", e))?;
    let first_name =
        validate::person_name(&req.first_name, "first name").map_err(|e| ApiError::invalid("/first_name", e))?;
    let last_name =
        validate::person_name(&req.last_name, "last name").map_err(|e| ApiError::invalid("/last_name", e))?;
    let date_of_birth =
        validate::date_of_birth(&req.date_of_birth, today).map_err(|e| ApiError::invalid("/date_of_birth", e))?;
    let email = validate::email(&req.email).map_err(|e| ApiError::invalid("/email", e))?;
    accounts::check_password(&req.password, &email, &member_id, "/password")?;
    address_limit(&state, "register", &client, 20, Duration::minutes(10)).await?;
    let created = AccountCreated {
        member_id: member_id.clone(),
        email: email.clone(),
        status: "pending_verification".into(),
    };
    let registration = Registration {
        member_id,
        first_name,
        last_name,
        date_of_birth,
        email,
        password: req.password,
        locale: req.locale.unwrap_or_default(),
    };
    accounts::register(&state, registration, &client).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

pub async fn verify_email(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    JsonBody(req): JsonBody<VerifyEmailRequest>,
) -> ApiResult<StatusCode> {
    let email = validate::email(&req.email).map_err(|e| ApiError::invalid("/email", e))?;
    let code = req.code.trim().to_string();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::validation("/code", "Enter the 6-digit code from the email."));
    }
    address_limit(&state, "verify", &client, 30, Duration::minutes(10)).await?;
    accounts::verify_email(&state, email, code, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn resend_verification(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    JsonBody(req): JsonBody<ResendVerificationRequest>,
) -> ApiResult<StatusCode> {
    let email = validate::email(&req.email).map_err(|e| ApiError::invalid("/email", e))?;
    address_limit(&state, "codes", &client, 30, Duration::minutes(10)).await?;
    accounts::send_code(&state, email, CodePurpose::Verify, req.locale).await?;
    Ok(StatusCode::ACCEPTED)
}

pub async fn request_password_reset(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    JsonBody(req): JsonBody<PasswordResetRequest>,
) -> ApiResult<StatusCode> {
    let email = validate::email(&req.email).map_err(|e| ApiError::invalid("/email", e))?;
    address_limit(&state, "codes", &client, 30, Duration::minutes(10)).await?;
    if let Some(account_id) = accounts::send_code(&state, email, CodePurpose::Reset, req.locale).await? {
        state.audit(Some(account_id), "password_reset_requested", Some(&client), None);
    }
    Ok(StatusCode::ACCEPTED)
}

pub async fn confirm_password_reset(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    JsonBody(req): JsonBody<PasswordResetConfirmRequest>,
) -> ApiResult<StatusCode> {
    let email = validate::email(&req.email).map_err(|e| ApiError::invalid("/email", e))?;
    let code = normalize_reset_code(&req.code)
        .ok_or_else(|| ApiError::validation("/code", "Enter the 8-character code from the email, like K7RM-2XQP."))?;
    accounts::reset_password(&state, email, code, req.new_password, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn get_me(State(state): State<AppState>, who: Authed) -> ApiResult<Json<Member>> {
    let member = state.db.read(move |conn| load_member(conn, who.account_id)).await?;
    Ok(Json(member))
}

/// The language of the member's mail from now on (the app sends it when the member chooses one).
pub async fn set_locale(
    State(state): State<AppState>,
    who: Authed,
    JsonBody(req): JsonBody<SetLocaleRequest>,
) -> ApiResult<Json<Member>> {
    Ok(Json(accounts::set_locale(&state, &who, req.locale).await?))
}

pub async fn get_notifications(
    State(state): State<AppState>,
    who: Authed,
) -> ApiResult<Json<carebill_api::types::NotificationPreferences>> {
    let member_id = who.member_id.clone();
    Ok(Json(
        state
            .db
            .read(move |conn| crate::notifications::get(conn, &member_id))
            .await?,
    ))
}

pub async fn put_notifications(
    State(state): State<AppState>,
    who: Authed,
    JsonBody(req): JsonBody<carebill_api::types::NotificationPreferences>,
) -> ApiResult<Json<carebill_api::types::NotificationPreferences>> {
    let (member_id, now) = (who.member_id.clone(), state.now());
    let saved = state
        .db
        .transaction(move |tx| crate::notifications::set(tx, &member_id, &req, now))
        .await?;
    state.audit(Some(who.account_id), "notifications_changed", None, None);
    Ok(Json(saved))
}

pub async fn change_password(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    who: Authed,
    JsonBody(req): JsonBody<ChangePasswordRequest>,
) -> ApiResult<StatusCode> {
    let chars = req.current_password.chars().count();
    if chars == 0 || chars > carebill_billing::password::MAX_CHARS {
        return Err(ApiError::validation(
            "/current_password",
            "Enter your current password.",
        ));
    }
    accounts::change_password(&state, &who, req.current_password, req.new_password, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}
