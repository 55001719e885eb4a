//! The HTTP surface: routes, and what every response gets.

mod accounts;
mod autopay;
mod bills;
mod claims;
mod console;
mod conversations;
mod guest;
mod intake;
mod methods;
mod ops;
mod payments;
mod plan;
mod plans;
mod processor;
mod sessions;

use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use carebill_api::{BUSINESS_DATE_HEADER, ErrorCode};

use crate::config::ProcessorKind;
use crate::error::ApiError;
use crate::state::AppState;

pub use console::{CookiePolicy, router as console_router};

pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/v1/accounts", post(accounts::create_account))
        .route("/v1/accounts/verify", post(accounts::verify_email))
        .route("/v1/accounts/verify/resend", post(accounts::resend_verification))
        .route(
            "/v1/sessions",
            post(sessions::create_session).delete(sessions::delete_all_sessions),
        )
        .route("/v1/sessions/refresh", post(sessions::refresh_session))
        .route("/v1/sessions/current", delete(sessions::delete_current_session))
        .route("/v1/me", get(accounts::get_me))
        .route("/v1/me/password", post(accounts::change_password))
        .route("/v1/me/locale", put(accounts::set_locale))
        .route(
            "/v1/me/notifications",
            get(accounts::get_notifications).put(accounts::put_notifications),
        )
        .route("/v1/password-resets", post(accounts::request_password_reset))
        .route("/v1/password-resets/confirm", post(accounts::confirm_password_reset))
        .route("/v1/bills", get(bills::list_bills))
        .route("/v1/bills/{id}", get(bills::get_bill))
        .route("/v1/claims", get(claims::list_claims))
        .route("/v1/claims/{id}", get(claims::get_claim))
        .route("/v1/sync", get(bills::sync))
        .route(
            "/v1/conversations",
            get(conversations::list_conversations).post(conversations::create_conversation),
        )
        .route("/v1/conversations/{id}", get(conversations::get_conversation))
        .route("/v1/conversations/{id}/messages", post(conversations::create_message))
        .route("/v1/conversations/{id}/close", post(conversations::close_conversation))
        .route("/v1/attachments", post(conversations::upload_attachment))
        .route("/v1/attachments/{id}", get(conversations::get_attachment))
        .route(
            "/v1/payment-methods",
            post(methods::create_payment_method).get(methods::list_payment_methods),
        )
        .route("/v1/payment-methods/{id}", delete(methods::delete_payment_method))
        .route(
            "/v1/payments",
            post(payments::create_payment).get(payments::list_payments),
        )
        .route("/v1/payments/{id}", get(payments::get_payment))
        .route("/v1/ach-authorization", get(methods::ach_authorization))
        .route(
            "/v1/autopay",
            get(autopay::get_autopay)
                .put(autopay::put_autopay)
                .delete(autopay::delete_autopay),
        )
        .route("/v1/autopay/upcoming", get(autopay::autopay_upcoming))
        .route("/v1/autopay/skip", post(autopay::autopay_skip))
        .route("/v1/payment-plans", get(plans::list_plans).post(plans::create_plan))
        .route("/v1/payment-plans/{id}", get(plans::get_plan).put(plans::put_plan))
        .route("/v1/payment-plans/{id}/pause", post(plans::pause_plan))
        .route("/v1/payment-plans/{id}/resume", post(plans::resume_plan))
        .route("/v1/payment-plans/{id}/cancel", post(plans::cancel_plan))
        .route(
            "/v1/scheduled-payments",
            get(plans::list_scheduled).post(plans::create_scheduled),
        )
        .route(
            "/v1/scheduled-payments/{id}",
            get(plans::get_scheduled).put(plans::put_scheduled),
        )
        .route("/v1/scheduled-payments/{id}/cancel", post(plans::cancel_scheduled))
        .route("/v1/guest/lookup", post(guest::lookup))
        .route("/v1/guest/bill", get(guest::bill))
        .route("/v1/guest/payments", post(guest::pay))
        .route("/v1/guest/receipt", post(guest::receipt))
        .route("/v1/plan", get(plan::get_plan))
        .route("/healthz", get(ops::healthz))
        .route("/openapi.json", get(ops::openapi))
        .merge(
            Router::new()
                .route("/dev/mailbox", get(ops::dev_mailbox))
                .route("/dev/clock", post(ops::dev_clock))
                .route("/dev/bills", post(ops::dev_issue_bill))
                .route_layer(middleware::from_fn(loopback_host_only)),
        );
    // The sandbox's own tokenization endpoints exist only when the sandbox is the processor.
    let api = match state.config.processor {
        None => api,
        Some(ProcessorKind::Sandbox) => api
            .route("/processor/v1/tokens", post(processor::create_token))
            .route("/processor/v1/banks/{routing_number}", get(processor::lookup_bank)),
    };
    api.fallback(|| async { ApiError::new(ErrorCode::NotFound) })
        .layer(middleware::from_fn_with_state(state.clone(), finish))
        .with_state(state)
}

/// Demo endpoints answer only requests addressed to a loopback name (`Host: 127.0.0.1:…`,
/// `localhost:…`, `[::1]:…`): a web page that rebinds its own host name to 127.0.0.1 cannot read
/// the demo mailbox.
async fn loopback_host_only(request: Request, next: Next) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    };
    let name = name.trim_start_matches('[').trim_end_matches(']');
    let loopback =
        name.eq_ignore_ascii_case("localhost") || name.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
    if !loopback {
        return ApiError::new(ErrorCode::NotFound).into_response();
    }
    next.run(request).await
}

/// What both listeners (the member API and the console) do with every request: answer within
/// `limit` (else 503 `request_timeout`), a bare 405 in the error envelope, and nothing cached but
/// what a route marks cacheable itself (the plan's document, the console's hashed bundle).
pub(crate) async fn within(limit: std::time::Duration, request: Request, next: Next) -> Response {
    let mut response = match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(ErrorCode::RequestTimeout).retry_after(1).into_response(),
    };
    if response.status() == StatusCode::METHOD_NOT_ALLOWED && response.headers().get(header::CONTENT_TYPE).is_none() {
        let allow = response.headers().get(header::ALLOW).cloned();
        response = ApiError::new(ErrorCode::MethodNotAllowed).into_response();
        if let Some(allow) = allow {
            response.headers_mut().insert(header::ALLOW, allow);
        }
    }
    if !response.headers().contains_key(header::CACHE_CONTROL) {
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// Every response: the business date header; 405s in the error envelope; a log line.
async fn finish(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let log = tracing::enabled!(tracing::Level::DEBUG).then(|| {
        let path = request
            .extensions()
            .get::<MatchedPath>()
            .map_or("unmatched", |p| p.as_str());
        format!("{} {path}", request.method())
    });
    // The request's time limit (body and answer). Dropping the handler cancels only waiting:
    // database work runs to its end on the blocking pool, and payments run in the group
    // committer's own task, so a payment whose request timed out still completes and its key
    // replays the answer.
    // An attachment upload has its own, longer limit (10 MB on a slow line).
    let limit = if request.uri().path() == "/v1/attachments" {
        state.config.upload_timeout
    } else {
        state.config.limits.request_timeout
    };
    let mut response = within(limit, request, next).await;
    response
        .headers_mut()
        .insert(BUSINESS_DATE_HEADER, state.business_date_header());
    if let Some(request) = log {
        tracing::debug!(%request, status = response.status().as_u16(), micros = started.elapsed().as_micros() as u64, "request");
    }
    response
}
