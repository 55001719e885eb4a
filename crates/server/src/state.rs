//! What every request handler shares.

use std::ops::Deref;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::Notify;

use crate::audit::{AuditEvent, AuditSink};
use crate::auth::cache::SessionCache;
use crate::auth::password::Hasher;
use crate::auth::throttle::Throttle;
use crate::clock::{BusinessClock, Clock};
use crate::config::ServerConfig;
use crate::db::Db;
use crate::processor::PaymentProcessor;
use crate::secret::Secret;

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub config: ServerConfig,
    pub db: Arc<Db>,
    /// Real time: tokens, codes, throttles.
    pub clock: Arc<dyn Clock>,
    /// Plan time: due dates, settlement, autopay. Demo mode can move it forward.
    pub business: BusinessClock,
    pub secret: Secret,
    pub hasher: Hasher,
    pub processor: Arc<dyn PaymentProcessor>,
    /// The group-commit queue of payment requests (started on first use).
    pub payment_queue: std::sync::OnceLock<crate::payments::intent::PaymentQueue>,
    pub sessions: SessionCache,
    pub bill_pages: crate::page_cache::PageCache,
    pub throttle: Throttle,
    pub audit: AuditSink,
    pub mail_wakeup: Arc<Notify>,
    /// Attachment uploads being received at once: each holds up to `max_attachment_bytes` in
    /// memory until it is checked, so their number is bounded (`max_concurrent_uploads`).
    pub uploads: Arc<tokio::sync::Semaphore>,
    /// `GET /v1/plan`, serialized once.
    pub plan: ServedPlan,
    /// (business minute, header value) of the last `Business-Date` computed.
    pub business_date: std::sync::Mutex<(i64, Option<axum::http::HeaderValue>)>,
}

/// The plan's facts as served: the document, its JSON and its `ETag` (a hash of the JSON).
pub struct ServedPlan {
    pub info: Arc<carebill_api::types::PlanInfo>,
    /// The plan's member ID format, compiled: registration, sign-in and imports use it.
    pub member_ids: carebill_billing::validate::MemberIdRule,
    pub body: axum::body::Bytes,
    pub etag: axum::http::HeaderValue,
}

impl ServedPlan {
    pub fn new(info: carebill_api::types::PlanInfo) -> ServedPlan {
        use sha2::Digest;
        let body = serde_json::to_vec(&info).unwrap_or_default();
        let hash = sha2::Sha256::digest(&body);
        let hex: String = hash[..12].iter().map(|b| format!("{b:02x}")).collect();
        let tag = format!("\"{hex}\"");
        ServedPlan {
            member_ids: crate::config::member_id_rule(&info.member_id),
            info: Arc::new(info),
            body: body.into(),
            etag: axum::http::HeaderValue::from_str(&tag).unwrap_or(axum::http::HeaderValue::from_static("\"plan\"")),
        }
    }
}

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    pub fn new(inner: Inner) -> AppState {
        AppState(Arc::new(inner))
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// What every mail this server queues shares.
    pub fn letterhead(&self) -> crate::mail::Letterhead {
        crate::mail::Letterhead {
            demo: self.config.demo,
            plan: Arc::clone(&self.plan.info),
        }
    }

    pub fn audit(&self, account_id: Option<i64>, event: &'static str, client: Option<&str>, detail: Option<String>) {
        self.audit.record(AuditEvent {
            at: self.clock.now(),
            account_id,
            event,
            client: client.map(str::to_string),
            detail,
        });
    }

    /// The `Business-Date` header value, recomputed at most once a minute of business time.
    pub fn business_date_header(&self) -> axum::http::HeaderValue {
        let now = self.business.now();
        let minute = now.timestamp().div_euclid(60);
        let mut cached = self
            .business_date
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if cached.0 != minute || cached.1.is_none() {
            let today = self.business.calendar().date_at(now).format("%Y-%m-%d").to_string();
            *cached = (minute, axum::http::HeaderValue::from_str(&today).ok());
        }
        cached
            .1
            .clone()
            .unwrap_or_else(|| axum::http::HeaderValue::from_static("1970-01-01"))
    }

    /// Wakes the mail sender after a transaction queued mail.
    pub fn mail_queued(&self) {
        self.mail_wakeup.notify_one();
    }
}
