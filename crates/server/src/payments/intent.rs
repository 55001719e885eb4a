//! What a request to pay is and what it is answered: plain types, so `state` can hold the
//! payment queue without depending on the payment engine.

use axum::http::StatusCode;
use carebill_api::types::PaymentSource;
use carebill_billing::Money;

use crate::error::ApiResult;

/// How the payment is paid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MethodRef {
    Saved(String),
    Token(String),
}

/// The member's acceptance of an ACH authorization text.
#[derive(Debug, Clone)]
pub struct AchAcceptance {
    pub text: String,
    pub version: String,
}

/// One request to pay, already checked for shape.
#[derive(Debug, Clone)]
pub struct Intent {
    pub member_id: String,
    pub key: String,
    pub fingerprint: Vec<u8>,
    /// The fingerprint in this build's map order, as earlier releases stored it (see
    /// `payments::fingerprint_as_kept`); a stored key matching either is the same request.
    pub fingerprint_as_kept: Vec<u8>,
    pub source: PaymentSource,
    pub method: MethodRef,
    /// Bill ids (raw, as sent) and amounts (> 0, two decimals).
    pub allocations: Vec<(String, Money)>,
    pub ach: Option<AchAcceptance>,
    pub client: Option<String>,
    /// For autopay: the bill whose single autopay charge this is.
    pub autopay_bill: Option<String>,
    /// For a plan's instalment or a scheduled payment: which one (claimed with the key).
    pub scheduled: Option<Scheduled>,
}

/// A charge the scheduler makes for something the member set up, claimed in the payment's own
/// claim transaction so it is made at most once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scheduled {
    /// A payment plan's instalment, named by its plan and its own date.
    Instalment {
        plan_id: String,
        nominal: chrono::NaiveDate,
        charge_date: chrono::NaiveDate,
    },
    /// A one-time payment the member scheduled.
    OneTime(String),
}

impl Scheduled {
    /// The server's key for the charge (no member key contains `:`).
    pub fn key(&self) -> String {
        match self {
            Scheduled::Instalment { plan_id, nominal, .. } => format!("plan:{plan_id}:{}", nominal.format("%Y-%m-%d")),
            Scheduled::OneTime(id) => format!("scheduled:{id}"),
        }
    }

    /// What a stored key names (a take-over rebuilds its work from the key); the charge date of an
    /// instalment is its nominal date here, which nothing after the claim reads.
    pub fn from_key(key: &str) -> Option<Scheduled> {
        if let Some(rest) = key.strip_prefix("plan:") {
            let (plan, date) = rest.rsplit_once(':')?;
            let nominal = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").ok()?;
            return Some(Scheduled::Instalment {
                plan_id: plan.to_string(),
                nominal,
                charge_date: nominal,
            });
        }
        key.strip_prefix("scheduled:")
            .map(|id| Scheduled::OneTime(id.to_string()))
    }
}

/// The answer to a payment request: what to send, and whether it was a replay.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: StatusCode,
    pub body: String,
    pub replayed: bool,
}

pub(super) type Reply = tokio::sync::oneshot::Sender<ApiResult<Answer>>;

pub type PaymentQueue = tokio::sync::mpsc::UnboundedSender<(Intent, Reply)>;
