//! The billing API client (and the processor's token endpoint).
//!
//! Idempotent requests (reads, PUT/DELETE, and writes carrying an Idempotency-Key) are retried on
//! connection failures, timeouts, 5xx, 429 with a short Retry-After, and
//! `idempotency_key_in_use`, with exponential backoff and full jitter. An expired access token is
//! refreshed once, with one refresh in flight at a time, and the request retried. Card and bank
//! details go to the processor's token endpoint and nowhere else.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use carebill_api::types::*;
use carebill_api::{BUSINESS_DATE_HEADER, DEVICE_HEADER, IDEMPOTENCY_KEY_HEADER};
use chrono::NaiveDate;
use rand::Rng;
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::config::ClientConfig;
use crate::error::{ClientError, ClientResult, ErrorKind};

/// The tokens of the signed-in session. Never leaves the engine.
#[derive(Clone)]
pub struct Tokens {
    pub access: String,
    pub refresh: String,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tokens(..)")
    }
}

type RotateHook = Box<dyn Fn(&Tokens) + Send + Sync>;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Retry {
    Idempotent,
    Once,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Auth {
    None,
    Bearer,
}

struct Answer {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
}

/// One change of the feed, with its data kept as the server sent it.
#[derive(Debug, serde::Deserialize)]
pub struct RawChange {
    /// `None` for a kind of entity this build does not know (a later server's): skipped, so a
    /// newer server never stops an older app's sync.
    #[serde(deserialize_with = "known_entity")]
    pub entity: Option<SyncEntity>,
    pub op: SyncOp,
    pub id: String,
    #[serde(default)]
    pub data: Option<Box<serde_json::value::RawValue>>,
}

fn known_entity<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<SyncEntity>, D::Error> {
    let name = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
    Ok(SyncEntity::parse(&name))
}

/// A page of the feed (`SyncPage`, with raw data).
#[derive(Debug, serde::Deserialize)]
pub struct RawSyncPage {
    pub changes: Vec<RawChange>,
    pub next_cursor: String,
    pub has_more: bool,
}

/// What a sync request got.
pub enum SyncAnswer {
    Page { page: RawSyncPage, etag: Option<String> },
    NotModified,
    Gone,
}

/// A payment request's answer: the payment (201), or a decline (402) with the failed payment.
pub enum PaymentAnswer {
    Paid(Box<Payment>),
    Declined(ClientError),
}

pub struct ApiClient {
    http: reqwest::Client,
    base: String,
    processor: String,
    retries: u32,
    tokens: tokio::sync::Mutex<Option<Tokens>>,
    on_rotate: Mutex<Option<RotateHook>>,
    business_date: Mutex<Option<NaiveDate>>,
    device_credential: Option<String>,
}

impl ApiClient {
    pub fn new(config: &ClientConfig) -> ClientResult<ApiClient> {
        config.validate()?;
        // TLS by rustls with ring (reqwest's `rustls-no-provider`): the process's provider, set
        // here for processes that did not set one (the tests, the benchmarks).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .user_agent(concat!("Carebill/", env!("CARGO_PKG_VERSION")))
            // Never follow a redirect: a 307/308 would re-send a password, a card number or the
            // device credential to wherever it points (another host, or plain HTTP).
            .redirect(reqwest::redirect::Policy::none())
            .https_only(false);
        if !config.keep_alive {
            builder = builder.pool_max_idle_per_host(0);
        }
        if let Some(path) = &config.extra_ca_pem {
            let pem = std::fs::read(path).map_err(|e| {
                ClientError::new(
                    ErrorKind::Validation,
                    "ca_bundle_unreadable",
                    format!("Cannot read the CA bundle {}: {e}", path.display()),
                )
            })?;
            for cert in reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
                ClientError::new(
                    ErrorKind::Validation,
                    "ca_bundle_invalid",
                    format!("The CA bundle {} is not valid PEM: {e}", path.display()),
                )
            })? {
                builder = builder.tls_certs_merge([cert]);
            }
        }
        Ok(ApiClient {
            http: builder.build().map_err(ClientError::internal)?,
            base: config.api_url.clone(),
            processor: config.processor_url.trim_end_matches('/').to_string(),
            retries: config.retries,
            tokens: tokio::sync::Mutex::new(None),
            on_rotate: Mutex::new(None),
            business_date: Mutex::new(None),
            device_credential: config.device_credential.clone(),
        })
    }

    /// Called with the new pair after every refresh (to keep a remembered refresh token current),
    /// for this session only: a new pair or none (sign-in, sign-out, a refused refresh) drops it,
    /// so it can never write a later session's tokens.
    pub fn on_rotate(&self, hook: impl Fn(&Tokens) + Send + Sync + 'static) {
        *self.on_rotate.lock().unwrap_or_else(PoisonError::into_inner) = Some(Box::new(hook));
    }

    /// Drops the hook `on_rotate` set: the session it was set for has ended.
    fn forget_rotate(&self) {
        *self.on_rotate.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }

    /// Starts a session with `tokens`, or ends it with `None`; either way the last session's
    /// rotation hook goes.
    pub async fn set_tokens(&self, tokens: Option<Tokens>) {
        let mut guard = self.tokens.lock().await;
        self.forget_rotate();
        *guard = tokens;
    }

    pub async fn has_session(&self) -> bool {
        self.tokens.lock().await.is_some()
    }

    /// The plan's business date from the last answer.
    pub fn business_date(&self) -> Option<NaiveDate> {
        *self.business_date.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn backoff(attempt: u32, retry_after: Option<u32>) -> Duration {
        if let Some(seconds) = retry_after {
            return Duration::from_secs(u64::from(seconds.min(10)));
        }
        let cap = (200u64 << attempt.min(5)).min(5_000);
        Duration::from_millis(rand::thread_rng().gen_range(cap / 4..=cap))
    }

    async fn access_token(&self) -> Option<String> {
        self.tokens.lock().await.as_ref().map(|t| t.access.clone())
    }

    /// One request with the retry and refresh rules.
    async fn call(
        &self,
        method: Method,
        url: String,
        body: Option<Vec<u8>>,
        auth: Auth,
        retry: Retry,
        extra: &[(&str, String)],
    ) -> ClientResult<Answer> {
        let mut attempt = 0u32;
        let mut refreshed = false;
        loop {
            let token = match auth {
                Auth::Bearer => Some(self.access_token().await.ok_or_else(ClientError::not_signed_in)?),
                Auth::None => None,
            };
            let mut req = self.http.request(method.clone(), &url);
            if let Some(t) = &token {
                req = req.bearer_auth(t);
            }
            for (name, value) in extra {
                req = req.header(*name, value);
            }
            if let Some(b) = &body {
                // JSON unless the caller said otherwise (an attachment's bytes).
                if !extra.iter().any(|(name, _)| name.eq_ignore_ascii_case("content-type")) {
                    req = req.header(reqwest::header::CONTENT_TYPE, "application/json");
                }
                req = req.body(b.clone());
            }
            let can_retry = retry == Retry::Idempotent && attempt < self.retries;
            let res = match req.send().await {
                Ok(r) => r,
                Err(e) => {
                    tracing::debug!(error = %e, attempt, "request failed");
                    if can_retry {
                        tokio::time::sleep(Self::backoff(attempt, None)).await;
                        attempt += 1;
                        continue;
                    }
                    return Err(ClientError::offline());
                }
            };
            let status = res.status();
            let headers = res.headers().clone();
            if let Some(date) = headers
                .get(BUSINESS_DATE_HEADER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| NaiveDate::parse_from_str(v, "%Y-%m-%d").ok())
            {
                *self.business_date.lock().unwrap_or_else(PoisonError::into_inner) = Some(date);
            }
            let body_bytes = match res.bytes().await {
                Ok(b) => b.to_vec(),
                Err(_) if can_retry => {
                    tokio::time::sleep(Self::backoff(attempt, None)).await;
                    attempt += 1;
                    continue;
                }
                Err(_) => return Err(ClientError::offline()),
            };
            if status.is_success() || status == StatusCode::NOT_MODIFIED {
                return Ok(Answer {
                    status,
                    headers,
                    body: body_bytes,
                });
            }
            let retry_after = headers
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u32>().ok());
            let err = ClientError::from_server(status.as_u16(), &body_bytes, retry_after);
            if let (true, Some(stale)) = (
                status == StatusCode::UNAUTHORIZED && err.code == "token_expired" && !refreshed,
                token,
            ) {
                Box::pin(self.refresh(&stale)).await?;
                refreshed = true;
                continue;
            }
            let transient = matches!(status.as_u16(), 500 | 502 | 503 | 504)
                || err.code == "idempotency_key_in_use"
                || (status == StatusCode::TOO_MANY_REQUESTS && retry_after.is_some_and(|s| s <= 10));
            if transient && can_retry {
                tokio::time::sleep(Self::backoff(attempt, retry_after)).await;
                attempt += 1;
                continue;
            }
            if err.kind == ErrorKind::SessionExpired {
                self.set_tokens(None).await;
            }
            return Err(err);
        }
    }

    /// Refreshes the pair unless someone already did since `stale_access` was read.
    pub async fn refresh(&self, stale_access: &str) -> ClientResult<()> {
        let mut guard = self.tokens.lock().await;
        let Some(current) = guard.clone() else {
            return Err(ClientError::not_signed_in());
        };
        if current.access != stale_access {
            return Ok(());
        }
        let fresh = self.refresh_with(&current.refresh).await;
        match fresh {
            Ok(t) => {
                *guard = Some(Tokens {
                    access: t.access_token,
                    refresh: t.refresh_token,
                });
                if let (Some(hook), Some(tokens)) = (
                    self.on_rotate.lock().unwrap_or_else(PoisonError::into_inner).as_ref(),
                    guard.as_ref(),
                ) {
                    hook(tokens);
                }
                Ok(())
            }
            Err(e) => {
                if matches!(e.kind, ErrorKind::SessionExpired | ErrorKind::Unauthenticated) {
                    self.forget_rotate();
                    *guard = None;
                    return Err(e.with_kind(ErrorKind::SessionExpired));
                }
                Err(e)
            }
        }
    }

    /// Trades a refresh token (for example one remembered in the keyring) for a session.
    pub async fn refresh_with(&self, refresh_token: &str) -> ClientResult<SessionTokens> {
        let body = serde_json::to_vec(&RefreshSessionRequest {
            refresh_token: refresh_token.to_string(),
        })?;
        let answer = self
            .call(
                Method::POST,
                self.url("/v1/sessions/refresh"),
                Some(body),
                Auth::None,
                Retry::Idempotent,
                &[],
            )
            .await?;
        Ok(serde_json::from_slice(&answer.body)?)
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn json<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&impl Serialize>,
        auth: Auth,
        retry: Retry,
    ) -> ClientResult<T> {
        let body = body.map(serde_json::to_vec).transpose()?;
        let answer = self.call(method, self.url(path), body, auth, retry, &[]).await?;
        Ok(serde_json::from_slice(&answer.body)?)
    }

    async fn no_content(
        &self,
        method: Method,
        path: &str,
        body: Option<&impl Serialize>,
        auth: Auth,
        retry: Retry,
    ) -> ClientResult<()> {
        let body = body.map(serde_json::to_vec).transpose()?;
        self.call(method, self.url(path), body, auth, retry, &[])
            .await
            .map(|_| ())
    }

    // --- Accounts and sessions ------------------------------------------------------------------

    pub async fn create_account(&self, req: &CreateAccountRequest) -> ClientResult<AccountCreated> {
        self.json(Method::POST, "/v1/accounts", Some(req), Auth::None, Retry::Once)
            .await
    }

    pub async fn verify_email(&self, req: &VerifyEmailRequest) -> ClientResult<()> {
        self.no_content(Method::POST, "/v1/accounts/verify", Some(req), Auth::None, Retry::Once)
            .await
    }

    pub async fn resend_verification(&self, email: &str, locale: Locale) -> ClientResult<()> {
        let req = ResendVerificationRequest {
            email: email.to_string(),
            locale: Some(locale),
        };
        self.no_content(
            Method::POST,
            "/v1/accounts/verify/resend",
            Some(&req),
            Auth::None,
            Retry::Idempotent,
        )
        .await
    }

    /// Signs in; the engine keeps the tokens.
    pub async fn sign_in(&self, req: &CreateSessionRequest) -> ClientResult<SessionTokens> {
        let t: SessionTokens = self
            .json(Method::POST, "/v1/sessions", Some(req), Auth::None, Retry::Once)
            .await?;
        self.set_tokens(Some(Tokens {
            access: t.access_token.clone(),
            refresh: t.refresh_token.clone(),
        }))
        .await;
        Ok(t)
    }

    pub async fn sign_out(&self) -> ClientResult<()> {
        let r = self
            .no_content(
                Method::DELETE,
                "/v1/sessions/current",
                None::<&()>,
                Auth::Bearer,
                Retry::Idempotent,
            )
            .await;
        self.set_tokens(None).await;
        r
    }

    /// Forgets the tokens now and returns the revocation, to run on its own with a short time
    /// limit: a kiosk's screen never waits for the network to start over. The revocation carries
    /// the old token, so it cannot touch a session signed in after it.
    pub async fn detach_sign_out(
        &self,
        within: Duration,
    ) -> Option<impl std::future::Future<Output = ()> + Send + 'static> {
        let tokens = self.tokens.lock().await.take()?;
        self.forget_rotate();
        let (http, url) = (self.http.clone(), self.url("/v1/sessions/current"));
        Some(async move {
            let _ = http.delete(url).bearer_auth(tokens.access).timeout(within).send().await;
        })
    }

    pub async fn sign_out_everywhere(&self) -> ClientResult<()> {
        let r = self
            .no_content(
                Method::DELETE,
                "/v1/sessions",
                None::<&()>,
                Auth::Bearer,
                Retry::Idempotent,
            )
            .await;
        self.set_tokens(None).await;
        r
    }

    /// The language of the member's mail from now on; answers the member as the service has it.
    pub async fn set_locale(&self, locale: Locale) -> ClientResult<Member> {
        let req = SetLocaleRequest { locale };
        self.json(
            Method::PUT,
            "/v1/me/locale",
            Some(&req),
            Auth::Bearer,
            Retry::Idempotent,
        )
        .await
    }

    /// What the member is told about, and how (email and desktop per kind; paperless).
    pub async fn notification_preferences(&self) -> ClientResult<NotificationPreferences> {
        self.json(
            Method::GET,
            "/v1/me/notifications",
            None::<&()>,
            Auth::Bearer,
            Retry::Idempotent,
        )
        .await
    }

    /// Saves every switch at once; answers them as saved.
    pub async fn set_notification_preferences(
        &self,
        p: &NotificationPreferences,
    ) -> ClientResult<NotificationPreferences> {
        self.json(
            Method::PUT,
            "/v1/me/notifications",
            Some(p),
            Auth::Bearer,
            Retry::Idempotent,
        )
        .await
    }

    pub async fn change_password(&self, req: &ChangePasswordRequest) -> ClientResult<()> {
        self.no_content(Method::POST, "/v1/me/password", Some(req), Auth::Bearer, Retry::Once)
            .await
    }

    pub async fn request_password_reset(&self, email: &str, locale: Locale) -> ClientResult<()> {
        let req = PasswordResetRequest {
            email: email.to_string(),
            locale: Some(locale),
        };
        self.no_content(
            Method::POST,
            "/v1/password-resets",
            Some(&req),
            Auth::None,
            Retry::Idempotent,
        )
        .await
    }

    pub async fn confirm_password_reset(&self, req: &PasswordResetConfirmRequest) -> ClientResult<()> {
        self.no_content(
            Method::POST,
            "/v1/password-resets/confirm",
            Some(req),
            Auth::None,
            Retry::Once,
        )
        .await
    }

    /// The service's health and whether it is a demo server.
    pub async fn health(&self) -> ClientResult<Health> {
        self.json(Method::GET, "/healthz", None::<&()>, Auth::None, Retry::Once)
            .await
    }

    /// The plan's facts; `None` when `etag` is still current (304).
    pub async fn plan(&self, etag: Option<&str>) -> ClientResult<Option<(PlanInfo, Option<String>)>> {
        let extra: Vec<(&str, String)> = etag.map(|e| vec![("If-None-Match", e.to_string())]).unwrap_or_default();
        let a = self
            .call(
                Method::GET,
                self.url("/v1/plan"),
                None,
                Auth::None,
                Retry::Idempotent,
                &extra,
            )
            .await?;
        if a.status == StatusCode::NOT_MODIFIED {
            return Ok(None);
        }
        let etag = a
            .headers
            .get(reqwest::header::ETAG)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        Ok(Some((serde_json::from_slice(&a.body)?, etag)))
    }

    // --- Sync -----------------------------------------------------------------------------------

    pub async fn sync(&self, cursor: &str, etag: Option<&str>) -> ClientResult<SyncAnswer> {
        let mut url = reqwest::Url::parse(&self.url("/v1/sync")).map_err(ClientError::internal)?;
        if !cursor.is_empty() {
            url.query_pairs_mut().append_pair("cursor", cursor);
        }
        let extra: Vec<(&str, String)> = etag.map(|e| vec![("If-None-Match", e.to_string())]).unwrap_or_default();
        match self
            .call(
                Method::GET,
                url.to_string(),
                None,
                Auth::Bearer,
                Retry::Idempotent,
                &extra,
            )
            .await
        {
            Ok(a) if a.status == StatusCode::NOT_MODIFIED => Ok(SyncAnswer::NotModified),
            Ok(a) => Ok(SyncAnswer::Page {
                page: serde_json::from_slice(&a.body)?,
                etag: a
                    .headers
                    .get(reqwest::header::ETAG)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string),
            }),
            Err(e) if e.code == "cursor_expired" => Ok(SyncAnswer::Gone),
            Err(e) => Err(e),
        }
    }

    // --- Payments -------------------------------------------------------------------------------

    /// Tokenizes card or bank details at the processor. The only request that carries them.
    pub async fn tokenize(&self, req: &TokenRequest) -> ClientResult<ProcessorToken> {
        let body = serde_json::to_vec(req)?;
        let answer = self
            .call(
                Method::POST,
                format!("{}/v1/tokens", self.processor),
                Some(body),
                Auth::None,
                Retry::Once,
                &[],
            )
            .await?;
        Ok(serde_json::from_slice(&answer.body)?)
    }

    pub async fn bank_name(&self, routing: &str) -> ClientResult<Option<String>> {
        let answer = self
            .call(
                Method::GET,
                format!("{}/v1/banks/{routing}", self.processor),
                None,
                Auth::None,
                Retry::Idempotent,
                &[],
            )
            .await?;
        let lookup: BankLookup = serde_json::from_slice(&answer.body)?;
        Ok(lookup.bank_name)
    }

    /// The bank debit authorization to show, in the member's language.
    pub async fn ach_authorization(&self, recurring: bool, locale: Locale) -> ClientResult<AchAuthorization> {
        let kind = if recurring { "recurring" } else { "single" };
        let path = format!("/v1/ach-authorization?kind={kind}&locale={}", locale.as_str());
        self.json(Method::GET, &path, None::<&()>, Auth::None, Retry::Idempotent)
            .await
    }

    /// Pays with an Idempotency-Key; retried with the same key until it is known.
    pub async fn create_payment(&self, key: &str, req: &CreatePaymentRequest) -> ClientResult<PaymentAnswer> {
        let body = serde_json::to_vec(req)?;
        match self
            .call(
                Method::POST,
                self.url("/v1/payments"),
                Some(body),
                Auth::Bearer,
                Retry::Idempotent,
                &[(IDEMPOTENCY_KEY_HEADER, key.to_string())],
            )
            .await
        {
            Ok(a) => Ok(PaymentAnswer::Paid(Box::new(serde_json::from_slice(&a.body)?))),
            Err(e) if e.kind == ErrorKind::Declined => Ok(PaymentAnswer::Declined(e)),
            Err(e) => Err(e),
        }
    }

    // --- Guest pay (kiosks) ----------------------------------------------------------------------

    /// The kiosk's credential and, after the lookup, the guest token.
    fn guest_headers(&self, guest: Option<&str>) -> ClientResult<Vec<(&'static str, String)>> {
        let device = self.device_credential.clone().ok_or_else(|| {
            ClientError::new(
                ErrorKind::Validation,
                "not_a_kiosk",
                "Guest pay works only on an enrolled clinic kiosk.",
            )
        })?;
        let mut headers = vec![(DEVICE_HEADER, device)];
        if let Some(g) = guest {
            headers.push(("Authorization", format!("Bearer {g}")));
        }
        Ok(headers)
    }

    /// Looks a bill up (each try counts against the kiosk's and the statement's limits: no retries).
    pub async fn guest_lookup(&self, req: &GuestLookupRequest) -> ClientResult<GuestSession> {
        let headers = self.guest_headers(None)?;
        let answer = self
            .call(
                Method::POST,
                self.url("/v1/guest/lookup"),
                Some(serde_json::to_vec(req)?),
                Auth::None,
                Retry::Once,
                &headers,
            )
            .await?;
        Ok(serde_json::from_slice(&answer.body)?)
    }

    pub async fn guest_bill(&self, guest: &str) -> ClientResult<BillDetail> {
        let headers = self.guest_headers(Some(guest))?;
        let answer = self
            .call(
                Method::GET,
                self.url("/v1/guest/bill"),
                None,
                Auth::None,
                Retry::Idempotent,
                &headers,
            )
            .await?;
        Ok(serde_json::from_slice(&answer.body)?)
    }

    pub async fn guest_pay(&self, guest: &str, key: &str, req: &GuestPaymentRequest) -> ClientResult<PaymentAnswer> {
        let mut headers = self.guest_headers(Some(guest))?;
        headers.push((IDEMPOTENCY_KEY_HEADER, key.to_string()));
        match self
            .call(
                Method::POST,
                self.url("/v1/guest/payments"),
                Some(serde_json::to_vec(req)?),
                Auth::None,
                Retry::Idempotent,
                &headers,
            )
            .await
        {
            Ok(a) => Ok(PaymentAnswer::Paid(Box::new(serde_json::from_slice(&a.body)?))),
            Err(e) if e.kind == ErrorKind::Declined => Ok(PaymentAnswer::Declined(e)),
            Err(e) => Err(e),
        }
    }

    pub async fn guest_receipt(&self, guest: &str, req: &GuestReceiptRequest) -> ClientResult<()> {
        let headers = self.guest_headers(Some(guest))?;
        self.call(
            Method::POST,
            self.url("/v1/guest/receipt"),
            Some(serde_json::to_vec(req)?),
            Auth::None,
            Retry::Once,
            &headers,
        )
        .await
        .map(|_| ())
    }

    /// Saves a tokenized method (safe to repeat: the same token or card gives the same method).
    pub async fn add_payment_method(&self, token: &str) -> ClientResult<PaymentMethod> {
        let req = CreatePaymentMethodRequest {
            token: token.to_string(),
        };
        self.json(
            Method::POST,
            "/v1/payment-methods",
            Some(&req),
            Auth::Bearer,
            Retry::Idempotent,
        )
        .await
    }

    pub async fn remove_payment_method(&self, id: &str) -> ClientResult<()> {
        self.no_content(
            Method::DELETE,
            &format!("/v1/payment-methods/{id}"),
            None::<&()>,
            Auth::Bearer,
            Retry::Idempotent,
        )
        .await
    }

    /// The member's payment made with `key`, as the server has it: `None` when the server never
    /// received it. A payment still being charged is an error (`idempotency_key_in_use`).
    pub async fn payment_by_key(&self, key: &str) -> ClientResult<Option<Payment>> {
        let path = format!("/v1/payments?idempotency_key={}", form_urlencoded_key(key));
        let page: PaymentPage = self
            .json(Method::GET, &path, None::<&()>, Auth::Bearer, Retry::Idempotent)
            .await?;
        Ok(page.data.into_iter().next())
    }

    // --- Autopay --------------------------------------------------------------------------------

    pub async fn put_autopay(&self, req: &AutopayRequest) -> ClientResult<Autopay> {
        self.json(Method::PUT, "/v1/autopay", Some(req), Auth::Bearer, Retry::Idempotent)
            .await
    }

    pub async fn delete_autopay(&self) -> ClientResult<()> {
        self.no_content(
            Method::DELETE,
            "/v1/autopay",
            None::<&()>,
            Auth::Bearer,
            Retry::Idempotent,
        )
        .await
    }

    pub async fn skip_autopay(&self, bill_id: &str) -> ClientResult<UpcomingCharge> {
        let req = SkipRequest {
            bill_id: bill_id.to_string(),
        };
        self.json(
            Method::POST,
            "/v1/autopay/skip",
            Some(&req),
            Auth::Bearer,
            Retry::Idempotent,
        )
        .await
    }
}

impl ApiClient {
    // --- Payment plans and scheduled payments ----------------------------------------------------

    /// A JSON call with extra headers (a key, a version).
    async fn json_with<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&impl Serialize>,
        extra: &[(&str, String)],
    ) -> ClientResult<T> {
        let body = body.map(serde_json::to_vec).transpose()?;
        let answer = self
            .call(method, self.url(path), body, Auth::Bearer, Retry::Idempotent, extra)
            .await?;
        Ok(serde_json::from_slice(&answer.body)?)
    }

    /// Asks the billing office something, once per key (sent again, the server answers the
    /// conversation the key started).
    pub async fn create_conversation(&self, key: &str, req: &NewConversation) -> ClientResult<Conversation> {
        self.json_with(
            Method::POST,
            "/v1/conversations",
            Some(req),
            &[(IDEMPOTENCY_KEY_HEADER, key.to_string())],
        )
        .await
    }

    /// A reply in a conversation, once per key.
    pub async fn create_message(&self, id: &str, key: &str, req: &NewMessage) -> ClientResult<Conversation> {
        self.json_with(
            Method::POST,
            &format!("/v1/conversations/{}", form_urlencoded_key(id) + "/messages"),
            Some(req),
            &[(IDEMPOTENCY_KEY_HEADER, key.to_string())],
        )
        .await
    }

    /// Closes a conversation (closing a closed one answers it as it is).
    pub async fn close_conversation(&self, id: &str) -> ClientResult<Conversation> {
        self.json(
            Method::POST,
            &format!("/v1/conversations/{}/close", form_urlencoded_key(id)),
            None::<&()>,
            Auth::Bearer,
            Retry::Idempotent,
        )
        .await
    }

    /// Uploads a file to attach, once per key (sent again, the file the key stored).
    pub async fn upload_attachment(&self, key: &str, file_name: &str, bytes: Vec<u8>) -> ClientResult<Attachment> {
        let url = format!(
            "{}?file_name={}",
            self.url("/v1/attachments"),
            form_urlencoded_key(file_name)
        );
        let answer = self
            .call(
                Method::POST,
                url,
                Some(bytes),
                Auth::Bearer,
                Retry::Idempotent,
                &[
                    (IDEMPOTENCY_KEY_HEADER, key.to_string()),
                    ("Content-Type", "application/octet-stream".to_string()),
                ],
            )
            .await?;
        Ok(serde_json::from_slice(&answer.body)?)
    }

    /// An attachment's bytes.
    pub async fn attachment(&self, id: &str) -> ClientResult<Vec<u8>> {
        let answer = self
            .call(
                Method::GET,
                self.url(&format!("/v1/attachments/{}", form_urlencoded_key(id))),
                None,
                Auth::Bearer,
                Retry::Idempotent,
                &[],
            )
            .await?;
        Ok(answer.body)
    }

    /// Sets up a plan, once per key (sent again, the server answers the plan the key made).
    pub async fn create_payment_plan(&self, key: &str, req: &PaymentPlanRequest) -> ClientResult<PaymentPlan> {
        self.json_with(
            Method::POST,
            "/v1/payment-plans",
            Some(req),
            &[(IDEMPOTENCY_KEY_HEADER, key.to_string())],
        )
        .await
    }

    /// New terms for a plan, made against the version the member saw.
    pub async fn put_payment_plan(
        &self,
        id: &str,
        version: i64,
        req: &PaymentPlanRequest,
    ) -> ClientResult<PaymentPlan> {
        self.json_with(
            Method::PUT,
            &format!("/v1/payment-plans/{}", form_urlencoded_key(id)),
            Some(req),
            &[("If-Match", format!("\"{version}\""))],
        )
        .await
    }

    /// `pause` (with a date), `resume` or `cancel`, against the version the member saw.
    pub async fn payment_plan_action(
        &self,
        id: &str,
        version: i64,
        action: &str,
        pause: Option<&PausePlanRequest>,
    ) -> ClientResult<PaymentPlan> {
        self.json_with(
            Method::POST,
            &format!("/v1/payment-plans/{}/{action}", form_urlencoded_key(id)),
            pause,
            &[("If-Match", format!("\"{version}\""))],
        )
        .await
    }

    pub async fn get_payment_plan(&self, id: &str) -> ClientResult<PaymentPlan> {
        let path = format!("/v1/payment-plans/{}", form_urlencoded_key(id));
        self.json(Method::GET, &path, None::<&()>, Auth::Bearer, Retry::Idempotent)
            .await
    }

    pub async fn get_scheduled_payment(&self, id: &str) -> ClientResult<ScheduledPayment> {
        let path = format!("/v1/scheduled-payments/{}", form_urlencoded_key(id));
        self.json(Method::GET, &path, None::<&()>, Auth::Bearer, Retry::Idempotent)
            .await
    }

    pub async fn create_scheduled_payment(
        &self,
        key: &str,
        req: &ScheduledPaymentRequest,
    ) -> ClientResult<ScheduledPayment> {
        self.json_with(
            Method::POST,
            "/v1/scheduled-payments",
            Some(req),
            &[(IDEMPOTENCY_KEY_HEADER, key.to_string())],
        )
        .await
    }

    pub async fn put_scheduled_payment(
        &self,
        id: &str,
        version: i64,
        req: &ScheduledPaymentRequest,
    ) -> ClientResult<ScheduledPayment> {
        self.json_with(
            Method::PUT,
            &format!("/v1/scheduled-payments/{}", form_urlencoded_key(id)),
            Some(req),
            &[("If-Match", format!("\"{version}\""))],
        )
        .await
    }

    pub async fn cancel_scheduled_payment(&self, id: &str, version: i64) -> ClientResult<ScheduledPayment> {
        self.json_with(
            Method::POST,
            &format!("/v1/scheduled-payments/{}/cancel", form_urlencoded_key(id)),
            None::<&()>,
            &[("If-Match", format!("\"{version}\""))],
        )
        .await
    }

    /// The authorization for a plan's instalments on a card or from a bank account.
    pub async fn plan_authorization(&self, card: bool, locale: Locale) -> ClientResult<AchAuthorization> {
        let kind = if card { "card_instalments" } else { "instalments" };
        let path = format!("/v1/ach-authorization?kind={kind}&locale={}", locale.as_str());
        self.json(Method::GET, &path, None::<&()>, Auth::None, Retry::Idempotent)
            .await
    }
}

/// Keys are letters, digits, `-`, `_`, `.` and `~` (nothing to escape); anything else is escaped.
fn form_urlencoded_key(key: &str) -> String {
    key.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
