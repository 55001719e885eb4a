//! The billing office console: its web app and its JSON API, on the console's own listener
//! (`console_listen`), never on the member API's address.
//!
//! Staff are known by a session cookie (HttpOnly, SameSite=Strict, Secure except for a demo on
//! loopback); the `Authorization` header is never read here, so a member's token means nothing on
//! the console, and the member API never reads cookies, so a staff session means nothing there.
//! Every request that changes something carries the session's CSRF token in `X-CSRF-Token` and,
//! when the browser says where it comes from (`Origin`, `Sec-Fetch-Site`), comes from the
//! console's own origin.

use axum::extract::{FromRequestParts, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use carebill_api::ErrorCode;
use carebill_api::types::{ConversationStatus, ConversationTopic};
use chrono::NaiveDate;

use crate::auth::throttle::address_limit;
use crate::conversations::StaffStatus;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ClientAddr, JsonBody, QueryParams};
use crate::staff::desk::{self, Lookup, Queue, StatusFilter};
use crate::staff::{self, Staff};
use crate::state::AppState;

mod files {
    include!(concat!(env!("OUT_DIR"), "/console_files.rs"));
}

/// The TOTP issuer authenticator apps show.
const ISSUER: &str = "Carebill billing office";

/// How the console's cookie is set: `Secure` (with the `__Host-` prefix) everywhere but a demo
/// served on loopback without TLS.
#[derive(Debug, Clone, Copy)]
pub struct CookiePolicy {
    pub secure: bool,
}

impl CookiePolicy {
    fn name(self) -> &'static str {
        if self.secure {
            "__Host-carebill_staff"
        } else {
            "carebill_staff"
        }
    }

    fn set(self, token: &str) -> HeaderValue {
        let secure = if self.secure { "; Secure" } else { "" };
        HeaderValue::from_str(&format!(
            "{}={token}; Path=/; HttpOnly; SameSite=Strict{secure}",
            self.name()
        ))
        .unwrap_or(HeaderValue::from_static(""))
    }

    fn clear(self) -> HeaderValue {
        let secure = if self.secure { "; Secure" } else { "" };
        HeaderValue::from_str(&format!(
            "{}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}",
            self.name()
        ))
        .unwrap_or(HeaderValue::from_static(""))
    }

    fn token(self, headers: &HeaderMap) -> Option<String> {
        let name = self.name();
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(k, v)| *k == name && !v.is_empty() && v.len() <= 100)
            .map(|(_, v)| v.to_string())
    }
}

pub fn router(state: AppState, cookies: CookiePolicy) -> Router {
    Router::new()
        .route("/api/setup", post(setup_lookup))
        .route("/api/setup/password", post(setup_password))
        .route("/api/setup/confirm", post(setup_confirm))
        .route("/api/sign-in", post(sign_in))
        .route("/api/sign-out", post(sign_out))
        .route("/api/session", get(session))
        .route("/api/staff", get(staff_list))
        .route("/api/inbox", get(inbox))
        .route("/api/conversations/{id}", get(thread))
        .route("/api/conversations/{id}/assign", post(assign))
        .route("/api/conversations/{id}/notes", post(add_note))
        .route("/api/conversations/{id}/replies", post(reply))
        .route("/api/conversations/{id}/close", post(close))
        .route("/api/conversations/{id}/attachments", post(upload))
        .route("/api/conversations/{id}/attachments/{attachment}", get(download))
        .route("/api/members/search", post(search))
        .route("/api/members/{id}", get(member))
        .route("/api/members/{id}/access", post(open_with_reason))
        .route("/api/figures", get(figures))
        .route("/api/audit", get(audit))
        .route("/api/audit.csv", get(audit_csv))
        .fallback(asset)
        .layer(middleware::from_fn_with_state(state.clone(), finish))
        .layer(Extension(cookies))
        .with_state(state)
}

/// Every console response: the request's time limit, the security headers, nothing cached.
async fn finish(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let upload = request.method() == Method::POST && request.uri().path().ends_with("/attachments");
    let limit = if upload {
        state.config.upload_timeout
    } else {
        state.config.limits.request_timeout
    };
    let mut response = super::within(limit, request, next).await;
    let h = response.headers_mut();
    h.entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; \
         connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
         frame-ancestors 'none'",
        ));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert("cross-origin-opener-policy", HeaderValue::from_static("same-origin"));
    h.insert("cross-origin-resource-policy", HeaderValue::from_static("same-origin"));
    h.insert(
        "permissions-policy",
        HeaderValue::from_static("camera=(), microphone=(), geolocation=(), payment=()"),
    );
    if state.config.tls.is_some() {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    response
}

/// A request that changes something comes from the console's own page: the browser's
/// `Sec-Fetch-Site` (when sent) is same-origin, and its `Origin` (when sent) is this host.
fn same_origin(headers: &HeaderMap) -> bool {
    let site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    if site.is_some_and(|s| s != "same-origin" && s != "none") {
        return false;
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
    let origin = origin.to_str().unwrap_or("");
    let origin_host = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
        .unwrap_or("");
    !host.is_empty() && origin_host.eq_ignore_ascii_case(host)
}

/// The staff member a console request is from, with its CSRF and origin checks done.
pub struct Signed(pub Staff);

impl FromRequestParts<AppState> for Signed {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let cookies = parts
            .extensions
            .get::<CookiePolicy>()
            .copied()
            .ok_or_else(|| ApiError::internal("console cookie policy missing"))?;
        let token = cookies
            .token(&parts.headers)
            .ok_or_else(|| ApiError::new(ErrorCode::Unauthenticated))?;
        if !matches!(parts.method, Method::GET | Method::HEAD) {
            let sent = parts
                .headers
                .get("x-csrf-token")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            let expected = state.secret.csrf_token(&token);
            if !same_origin(&parts.headers) || !crate::secret::constant_time_eq(sent.as_bytes(), expected.as_bytes()) {
                return Err(ApiError::new(ErrorCode::CsrfRejected));
            }
        }
        let now = state.now();
        state
            .db
            .transaction(move |tx| staff::authenticate(tx, &token, now))
            .await
            .map(Signed)
    }
}

/// Runs a desk action in one transaction, as this staff member, from this address, now.
async fn at_desk<T: Send + 'static>(
    state: &AppState,
    staff: Staff,
    origin: String,
    f: impl FnOnce(&crate::sql::Connection, &desk::At<'_>) -> ApiResult<T> + Send + 'static,
) -> ApiResult<T> {
    let (secret, now) = (state.secret.clone(), state.now());
    state
        .db
        .transaction(move |tx| {
            let at = desk::At {
                secret: &secret,
                staff: &staff,
                origin: &origin,
                now,
            };
            f(tx, &at)
        })
        .await
}

/// Requests made before a session (setup, sign-in) come from the console's own page too.
fn from_console(headers: &HeaderMap) -> ApiResult<()> {
    if same_origin(headers) {
        Ok(())
    } else {
        Err(ApiError::new(ErrorCode::CsrfRejected))
    }
}

#[derive(serde::Serialize)]
struct Me {
    id: String,
    email: String,
    name: String,
    role: staff::Role,
}

#[derive(serde::Serialize)]
struct SessionView {
    staff: Me,
    /// Send it back in `X-CSRF-Token` with every request that changes something.
    csrf_token: String,
    idle_minutes: i64,
}

fn session_view(state: &AppState, s: &Staff, token: &str) -> SessionView {
    SessionView {
        staff: Me {
            id: s.id.clone(),
            email: s.email.clone(),
            name: s.name.clone(),
            role: s.role,
        },
        csrf_token: state.secret.csrf_token(token),
        idle_minutes: staff::SESSION_IDLE.num_minutes(),
    }
}

/// Every setup step: from the console's own page, and at most 20 tries in 10 minutes per
/// address (a setup code is long, but guessing is still counted).
async fn setup_gate(state: &AppState, headers: &HeaderMap, client: &str) -> ApiResult<()> {
    from_console(headers)?;
    address_limit(state, "staff-setup", client, 20, chrono::Duration::minutes(10)).await
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SetupCode {
    code: String,
}

#[derive(serde::Serialize)]
struct SetupWho {
    name: String,
    email: String,
}

async fn setup_lookup(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    JsonBody(req): JsonBody<SetupCode>,
) -> ApiResult<Json<SetupWho>> {
    setup_gate(&state, &headers, &client).await?;
    let (secret, now) = (state.secret.clone(), state.now());
    let a = state
        .db
        .read(move |conn| staff::setup_account(conn, &secret, &req.code, now))
        .await?;
    Ok(Json(SetupWho {
        name: a.name,
        email: a.email,
    }))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SetupPassword {
    code: String,
    password: String,
}

async fn setup_password(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    JsonBody(req): JsonBody<SetupPassword>,
) -> ApiResult<Json<staff::Enrollment>> {
    setup_gate(&state, &headers, &client).await?;
    let (secret, now) = (state.secret.clone(), state.now());
    let code = req.code.clone();
    let account = state
        .db
        .read(move |conn| staff::setup_account(conn, &secret, &code, now))
        .await?;
    let ctx = carebill_billing::password::PasswordContext {
        email: Some(&account.email),
        member_id: None,
    };
    carebill_billing::password::check(&req.password, ctx)
        .map_err(|reason| crate::accounts::weak(reason, "/password"))?;
    let hash = state.hasher.hash(req.password).await?;
    let secret = state.secret.clone();
    let enrollment = state
        .db
        .transaction(move |tx| staff::begin_setup(tx, &secret, &req.code, &hash, ISSUER, now))
        .await?;
    Ok(Json(enrollment))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SetupConfirm {
    code: String,
    totp: String,
}

#[derive(serde::Serialize)]
struct RecoveryCodes {
    recovery_codes: Vec<String>,
}

async fn setup_confirm(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    JsonBody(req): JsonBody<SetupConfirm>,
) -> ApiResult<Json<RecoveryCodes>> {
    setup_gate(&state, &headers, &client).await?;
    let (secret, now) = (state.secret.clone(), state.now());
    let recovery_codes = state
        .db
        .transaction(move |tx| staff::finish_setup(tx, &secret, &req.code, &req.totp, &client, now))
        .await?;
    Ok(Json(RecoveryCodes { recovery_codes }))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SignIn {
    email: String,
    password: String,
    /// The authenticator's current code, or a recovery code.
    code: String,
}

async fn sign_in(
    State(state): State<AppState>,
    Extension(cookies): Extension<CookiePolicy>,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    JsonBody(req): JsonBody<SignIn>,
) -> ApiResult<Response> {
    from_console(&headers)?;
    let email = req.email.trim().to_lowercase();
    if email.is_empty() || email.len() > 254 {
        return Err(ApiError::validation("/email", "Enter your work email address."));
    }
    if req.password.is_empty() || req.password.chars().count() > carebill_billing::password::MAX_CHARS {
        return Err(ApiError::validation("/password", "Enter your password."));
    }
    if req.code.trim().is_empty() || req.code.len() > 20 {
        return Err(ApiError::validation(
            "/code",
            "Enter the 6-digit code from your authenticator app, or a recovery code.",
        ));
    }
    address_limit(&state, "staff-sign-in", &client, 30, chrono::Duration::minutes(1)).await?;
    let key = email.clone();
    let account = state.db.read(move |conn| staff::credentials(conn, &key)).await?;
    let throttle_key = format!("staff:{email}");
    if let Err(wait) = state.throttle.begin_sign_in(&throttle_key, &client).await {
        return Err(ApiError::new(ErrorCode::TooManyAttempts).retry_after(wait));
    }
    let ok = state
        .hasher
        .verify(req.password, account.as_ref().map(|a| a.1.clone()))
        .await?;
    let failed = || ApiError::new(ErrorCode::StaffSignInFailed);
    let Some((id, _)) = account.filter(|_| ok) else {
        state.audit(None, "staff_sign_in_failed", Some(&client), None);
        return Err(failed());
    };
    let (secret, now, origin) = (state.secret.clone(), state.now(), client.clone());
    let signed = state
        .db
        .transaction(move |tx| staff::sign_in(tx, &secret, &id, &req.code, &origin, now))
        .await?;
    let Some((s, token)) = signed else {
        state.audit(None, "staff_sign_in_failed", Some(&client), None);
        return Err(failed());
    };
    state.throttle.record_success(&throttle_key, &client).await;
    let view = session_view(&state, &s, &token);
    let mut response = (StatusCode::CREATED, Json(view)).into_response();
    response.headers_mut().insert(header::SET_COOKIE, cookies.set(&token));
    Ok(response)
}

async fn sign_out(
    State(state): State<AppState>,
    Extension(cookies): Extension<CookiePolicy>,
    ClientAddr(client): ClientAddr,
    Signed(s): Signed,
) -> ApiResult<Response> {
    let (secret, now) = (state.secret.clone(), state.now());
    state
        .db
        .transaction(move |tx| staff::sign_out(tx, &secret, &s, &client, now))
        .await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(header::SET_COOKIE, cookies.clear());
    Ok(response)
}

async fn session(
    State(state): State<AppState>,
    Extension(cookies): Extension<CookiePolicy>,
    headers: HeaderMap,
    Signed(s): Signed,
) -> ApiResult<Json<SessionView>> {
    let token = cookies.token(&headers).unwrap_or_default();
    Ok(Json(session_view(&state, &s, &token)))
}

#[derive(serde::Serialize)]
struct StaffEntry {
    id: String,
    name: String,
    role: staff::Role,
    disabled: bool,
}

/// The staff directory (names and roles, for assigning).
async fn staff_list(State(state): State<AppState>, Signed(_): Signed) -> ApiResult<Json<Vec<StaffEntry>>> {
    let all = state.db.read(staff::list).await?;
    Ok(Json(
        all.into_iter()
            .map(|a| StaffEntry {
                id: a.id,
                name: a.name,
                role: a.role,
                disabled: a.disabled,
            })
            .collect(),
    ))
}

async fn inbox(
    State(state): State<AppState>,
    Signed(s): Signed,
    params: QueryParams,
) -> ApiResult<Json<Vec<desk::InboxItem>>> {
    let queue = match params.0.get("queue").map(String::as_str) {
        None | Some("all") => Queue::All,
        Some("mine") => Queue::Mine,
        Some("unassigned") => Queue::Unassigned,
        Some(id) if id.starts_with("stf_") && id.len() <= 40 => Queue::Of(id.to_string()),
        Some(_) => {
            return Err(ApiError::validation(
                "/queue",
                "queue is all, mine, unassigned or a staff member's id.",
            ));
        }
    };
    let status = match params.0.get("status").map(String::as_str) {
        None | Some("active") => StatusFilter::Active,
        Some(other) => StatusFilter::Only(ConversationStatus::parse(other).ok_or_else(|| {
            ApiError::validation(
                "/status",
                "status is active, open, waiting_on_member, answered or closed.",
            )
        })?),
    };
    let topic = match params.0.get("topic").map(String::as_str) {
        None | Some("") => None,
        Some(t) => Some(ConversationTopic::parse(t).ok_or_else(|| ApiError::validation("/topic", "Unknown topic."))?),
    };
    let items = state
        .db
        .read(move |conn| desk::inbox(conn, &s, &queue, status, topic, 500))
        .await?;
    Ok(Json(items))
}

fn check_id(id: &str, prefix: &str, code: ErrorCode) -> ApiResult<()> {
    if id.starts_with(prefix) && id.len() <= 40 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        Ok(())
    } else {
        Err(ApiError::new(code))
    }
}

async fn thread(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    Signed(s): Signed,
    Path(id): Path<String>,
) -> ApiResult<Json<desk::Thread>> {
    check_id(&id, "cnv_", ErrorCode::ConversationNotFound)?;
    let t = at_desk(&state, s, client, move |tx, at| desk::thread(tx, at, &id)).await?;
    Ok(Json(t))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Assign {
    /// A staff member's id; `null` (supervisors) leaves it to nobody.
    staff_id: Option<String>,
}

async fn assign(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    Signed(s): Signed,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<Assign>,
) -> ApiResult<Json<desk::Thread>> {
    check_id(&id, "cnv_", ErrorCode::ConversationNotFound)?;
    let t = at_desk(&state, s, client, move |tx, at| {
        desk::assign(tx, at, &id, req.staff_id.as_deref())
    })
    .await?;
    Ok(Json(t))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct NoteRequest {
    body: String,
}

async fn add_note(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    Signed(s): Signed,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<NoteRequest>,
) -> ApiResult<(StatusCode, Json<desk::Thread>)> {
    check_id(&id, "cnv_", ErrorCode::ConversationNotFound)?;
    let t = at_desk(&state, s, client, move |tx, at| desk::add_note(tx, at, &id, &req.body)).await?;
    Ok((StatusCode::CREATED, Json(t)))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ReplyRequest {
    body: String,
    /// `answered` (default), `waiting_on_member` (a question for the member) or `closed`.
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    attachment_ids: Vec<String>,
}

async fn reply(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    Signed(s): Signed,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<ReplyRequest>,
) -> ApiResult<(StatusCode, Json<desk::Thread>)> {
    check_id(&id, "cnv_", ErrorCode::ConversationNotFound)?;
    let status = match req.status.as_deref() {
        None | Some("answered") => StaffStatus::Answered,
        Some("waiting_on_member") => StaffStatus::WaitingOnMember,
        Some("closed") => StaffStatus::Closed,
        Some(_) => {
            return Err(ApiError::validation(
                "/status",
                "status is answered, waiting_on_member or closed.",
            ));
        }
    };
    let (head, max) = (state.letterhead(), state.config.max_attachment_bytes);
    let t = at_desk(&state, s, client, move |tx, at| {
        desk::reply(tx, &head, at, &id, &req.body, status, &req.attachment_ids, max)
    })
    .await?;
    state.mail_queued();
    Ok((StatusCode::CREATED, Json(t)))
}

async fn close(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    Signed(s): Signed,
    Path(id): Path<String>,
) -> ApiResult<Json<desk::Thread>> {
    check_id(&id, "cnv_", ErrorCode::ConversationNotFound)?;
    let t = at_desk(&state, s, client, move |tx, at| desk::close(tx, at, &id)).await?;
    Ok(Json(t))
}

/// `POST /api/conversations/{id}/attachments?file_name=`: a file for the staff member's next reply.
async fn upload(
    State(state): State<AppState>,
    Signed(s): Signed,
    Path(id): Path<String>,
    params: QueryParams,
    request: Request,
) -> ApiResult<(StatusCode, Json<carebill_api::types::Attachment>)> {
    check_id(&id, "cnv_", ErrorCode::ConversationNotFound)?;
    let file_name = params.0.get("file_name").cloned().unwrap_or_default();
    let bytes = super::conversations::receive_file(&state, request).await?;
    let (now, max) = (state.now(), state.config.max_attachment_bytes);
    let a = state
        .db
        .transaction(move |tx| desk::upload(tx, &s, &id, &file_name, &bytes, max, now))
        .await?;
    Ok((StatusCode::CREATED, Json(a)))
}

async fn download(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    Signed(s): Signed,
    Path((id, attachment)): Path<(String, String)>,
) -> ApiResult<Response> {
    check_id(&id, "cnv_", ErrorCode::ConversationNotFound)?;
    check_id(&attachment, "att_", ErrorCode::AttachmentNotFound)?;
    let (a, bytes) = at_desk(&state, s, client, move |tx, at| {
        desk::attachment(tx, at, &id, &attachment)
    })
    .await?;
    Ok(super::conversations::file_response(&a, bytes))
}

async fn search(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    Signed(s): Signed,
    JsonBody(q): JsonBody<Lookup>,
) -> ApiResult<Json<Vec<desk::MemberSummary>>> {
    let found = at_desk(&state, s, client, move |tx, at| desk::search(tx, at, &q)).await?;
    Ok(Json(found))
}

fn check_member_id(id: &str) -> ApiResult<()> {
    if !id.is_empty() && id.len() <= 40 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        Ok(())
    } else {
        Err(ApiError::with_message(
            ErrorCode::NotFound,
            "No member has this member ID.",
        ))
    }
}

async fn member(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    Signed(s): Signed,
    Path(id): Path<String>,
) -> ApiResult<Json<desk::MemberView>> {
    check_member_id(&id)?;
    let (today, cal) = (state.business.today(), *state.business.calendar());
    let view = at_desk(&state, s, client, move |tx, at| desk::member(tx, at, &id, today, &cal)).await?;
    Ok(Json(view))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Reason {
    reason: String,
}

async fn open_with_reason(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    Signed(s): Signed,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<Reason>,
) -> ApiResult<StatusCode> {
    check_member_id(&id)?;
    at_desk(&state, s, client, move |tx, at| {
        desk::open_with_reason(tx, at, &id, &req.reason)
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn figures(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    Signed(s): Signed,
    params: QueryParams,
) -> ApiResult<Json<desk::Figures>> {
    let days = match params.0.get("days") {
        None => 30,
        Some(d) => d
            .parse::<u32>()
            .ok()
            .filter(|d| (1..=365).contains(d))
            .ok_or_else(|| ApiError::validation("/days", "days is 1 to 365."))?,
    };
    let f = at_desk(&state, s, client, move |tx, at| desk::figures(tx, at, days)).await?;
    Ok(Json(f))
}

async fn audit(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    Signed(s): Signed,
    params: QueryParams,
) -> ApiResult<Json<Vec<crate::staff_audit::Shown>>> {
    let member = params.0.get("member_id").filter(|m| !m.is_empty()).cloned();
    if let Some(m) = &member {
        check_member_id(m).map_err(|_| ApiError::validation("/member_id", "Not a member ID."))?;
    }
    let by = params
        .0
        .get("staff")
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    if by.as_ref().is_some_and(|b| b.chars().count() > 100) {
        return Err(ApiError::validation("/staff", "At most 100 characters."));
    }
    let before = match params.0.get("before") {
        None => None,
        Some(b) => Some(
            b.parse::<i64>()
                .ok()
                .filter(|b| *b > 0)
                .ok_or_else(|| ApiError::validation("/before", "before is an entry number."))?,
        ),
    };
    let rows = at_desk(&state, s, client, move |tx, at| {
        desk::audit_log(tx, at, member.as_deref(), by.as_deref(), before)
    })
    .await?;
    Ok(Json(rows))
}

async fn audit_csv(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    Signed(s): Signed,
    params: QueryParams,
) -> ApiResult<Response> {
    let day = |name: &str, end: bool| -> ApiResult<Option<chrono::DateTime<chrono::Utc>>> {
        match params.0.get(name).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(v) => {
                let d = NaiveDate::parse_from_str(v, "%Y-%m-%d")
                    .map_err(|_| ApiError::validation(&format!("/{name}"), "A date like 2026-01-31."))?;
                let t = if end {
                    d.and_hms_milli_opt(23, 59, 59, 999)
                } else {
                    d.and_hms_opt(0, 0, 0)
                };
                Ok(t.map(|t| t.and_utc()))
            }
        }
    };
    let (from, to) = (day("from", false)?, day("to", true)?);
    let csv = at_desk(&state, s, client, move |tx, at| desk::audit_csv(tx, at, from, to)).await?;
    Ok((
        StatusCode::OK,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            ),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_static("attachment; filename=\"staff-audit.csv\""),
            ),
        ],
        csv,
    )
        .into_response())
}

/// The page served when the console was not built into this binary.
const NOT_BUILT: &str = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<title>Billing office console not built</title></head><body><main><h1>The billing office console was not built</h1>\
<p>This server was compiled without the console's web app. Build it with <code>cargo xtask run</code> or <code>cargo xtask test</code> \
(it needs npm), then build the server again.</p></main></body></html>";

fn media_type(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "json" => "application/json",
        "txt" => "text/plain; charset=utf-8",
        "woff2" => "font/woff2",
        _ => "application/octet-stream",
    }
}

/// The web app: its files by path, and `index.html` for every other page (the app routes
/// itself); unknown `/api/` paths are 404 in the error envelope.
async fn asset(method: Method, uri: axum::http::Uri) -> Response {
    let path = uri.path();
    if path.starts_with("/api/") || path == "/api" {
        return ApiError::new(ErrorCode::NotFound).into_response();
    }
    if method != Method::GET && method != Method::HEAD {
        return ApiError::new(ErrorCode::MethodNotAllowed).into_response();
    }
    if files::FILES.is_empty() {
        return (
            StatusCode::OK,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            )],
            NOT_BUILT,
        )
            .into_response();
    }
    let found = files::FILES
        .iter()
        .find(|(p, _)| *p == path)
        .or_else(|| files::FILES.iter().find(|(p, _)| *p == "/index.html"));
    let Some((p, bytes)) = found else {
        return ApiError::new(ErrorCode::NotFound).into_response();
    };
    // Hashed bundle files never change; the page itself is always fetched again.
    let cache = if p.starts_with("/assets/") {
        "public, max-age=31536000, immutable"
    } else {
        "no-store"
    };
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(media_type(p))),
            (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
        ],
        *bytes,
    )
        .into_response()
}
