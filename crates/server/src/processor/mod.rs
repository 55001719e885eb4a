//! The payment processor, behind a trait. The billing API talks to it with tokens and instrument
//! references only; card and bank numbers reach the processor's own token endpoint and nothing
//! else. One implementation: the deterministic [`sandbox`].
//!
//! Every charge carries an idempotency key; the processor answers a repeated key with the charge
//! it already made, and can be asked for a charge by key (crash recovery never charges twice).

pub mod sandbox;

use carebill_api::types::{AccountType, Funding, PaymentMethodType, ProcessorToken, TokenRequest};
use carebill_billing::{Invalid, Money};
use chrono::{DateTime, NaiveDate, Utc};

#[derive(Debug, thiserror::Error)]
pub enum ProcessorError {
    /// Unknown, used or expired token.
    #[error("the payment token is not valid")]
    InvalidToken,
    /// Card or bank details that cannot be tokenized.
    #[error("{field}: {invalid}")]
    Invalid { field: &'static str, invalid: Invalid },
    /// The processor could not be reached or failed; the outcome of a charge is unknown.
    #[error("processor unavailable: {0}")]
    Unavailable(String),
}

impl From<crate::sql::Error> for ProcessorError {
    fn from(e: crate::sql::Error) -> ProcessorError {
        ProcessorError::Unavailable(e.to_string())
    }
}

/// What may be known and shown about a card or bank account.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct InstrumentDetails {
    pub kind: PaymentMethodType,
    pub brand: Option<String>,
    pub funding: Option<Funding>,
    pub last4: String,
    pub exp_month: Option<u32>,
    pub exp_year: Option<i32>,
    pub bank_name: Option<String>,
    pub account_type: Option<AccountType>,
    pub holder_name: String,
    /// Identifies the same card or account across tokens, without revealing it.
    pub fingerprint: String,
}

impl InstrumentDetails {
    /// Network or bank name, for receipts and lists.
    pub fn label(&self) -> String {
        match self.kind {
            PaymentMethodType::Card => self.brand.clone().unwrap_or_else(|| "card".into()),
            PaymentMethodType::BankAccount => self.bank_name.clone().unwrap_or_else(|| "Bank account".into()),
        }
    }
}

/// A reusable instrument created from a token.
#[derive(Debug, Clone)]
pub struct Instrument {
    pub id: String,
    pub details: InstrumentDetails,
}

/// What to charge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Instrument(String),
    Token(String),
}

impl Source {
    pub fn encode(&self) -> String {
        match self {
            Source::Instrument(id) => format!("instrument:{id}"),
            Source::Token(t) => format!("token:{t}"),
        }
    }

    pub fn decode(s: &str) -> Option<Source> {
        let (kind, value) = s.split_once(':')?;
        match kind {
            "instrument" => Some(Source::Instrument(value.to_string())),
            "token" => Some(Source::Token(value.to_string())),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChargeStatus {
    Succeeded,
    /// A bank debit on its way; it settles or is returned later.
    Pending,
    /// Declined; nothing charged. The code is one of the API's 402 codes.
    Failed(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Charge {
    pub id: String,
    pub amount: Money,
    /// What was charged: finalize compares it (and the amount) with the payment it settles.
    pub source: Source,
    pub status: ChargeStatus,
}

/// How a pending bank debit ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AchResult {
    Settled,
    /// An ACH return code such as `R01`.
    Returned(String),
}

pub trait PaymentProcessor: Send + Sync + 'static {
    /// Tokenizes card or bank details (single use, 15 minutes).
    fn tokenize(
        &self,
        request: &TokenRequest,
        today: NaiveDate,
        now: DateTime<Utc>,
    ) -> Result<ProcessorToken, ProcessorError>;
    /// What a still-usable token stands for.
    fn token_details(&self, token: &str, now: DateTime<Utc>) -> Result<InstrumentDetails, ProcessorError>;
    /// Turns a token into a reusable instrument for `owner` (a member). The same token attached
    /// again by the same owner, while the token is still within its lifetime, gives the same
    /// instrument (a retried request); anyone else, or later, gets `InvalidToken`.
    fn attach(&self, token: &str, owner: &str, now: DateTime<Utc>) -> Result<Instrument, ProcessorError>;
    /// Charges once per key: a repeated key returns the first charge (whatever amount and source
    /// the repeat asks for; the billing side compares them). Keys are unique per payment record.
    fn charge(&self, key: &str, source: &Source, amount: Money, now: DateTime<Utc>) -> Result<Charge, ProcessorError>;
    /// Charges several at once (one round trip where the processor allows it), in order.
    fn charge_many(
        &self,
        items: &[(String, Source, Money)],
        now: DateTime<Utc>,
    ) -> Vec<Result<Charge, ProcessorError>> {
        items
            .iter()
            .map(|(key, source, amount)| self.charge(key, source, *amount, now))
            .collect()
    }
    /// The charge made with this key, if any.
    fn find_charge(&self, key: &str) -> Result<Option<Charge>, ProcessorError>;
    /// How a pending bank debit ends (asked on its settlement date).
    fn ach_result(&self, charge_id: &str) -> Result<AchResult, ProcessorError>;
}

/// Plain words for an ACH return code.
pub fn ach_return_reason(code: &str) -> &'static str {
    match code {
        "R01" => "Insufficient funds in the bank account.",
        "R02" => "The bank account is closed.",
        "R03" => "The bank could not find this account.",
        "R04" => "The account number is not valid.",
        _ => "The bank returned the payment.",
    }
}
