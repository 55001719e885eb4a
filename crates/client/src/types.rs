//! What the engine answers with, beyond the API's own types. Everything here crosses into the UI
//! (money as strings, dates as `YYYY-MM-DD`).

use carebill_api::types::{Bill, Member, Payment, PaymentMethodSummary, PaymentStatus, UpcomingCharge};
use carebill_billing::BillKind;
use carebill_billing::Money;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::secrets::KeyringStatus;

/// How current the data is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Freshness {
    /// Shown from the copy on this device because the service is unreachable.
    pub offline: bool,
    pub synced_at: Option<DateTime<Utc>>,
    /// The plan's business date (from the last answer), or today's date on this device offline.
    pub business_date: NaiveDate,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum BillStatusFilter {
    #[default]
    Open,
    Paid,
    All,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum BillSort {
    #[default]
    DueDateAsc,
    DueDateDesc,
    AmountDesc,
    AmountAsc,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(default)]
pub struct BillQuery {
    pub status: BillStatusFilter,
    pub kind: Option<BillKind>,
    pub provider: Option<String>,
    /// Service dates on or after this day.
    pub from: Option<NaiveDate>,
    /// Service dates on or before this day.
    pub to: Option<NaiveDate>,
    /// Words in the provider, facility, statement or account number, line items or codes.
    pub search: Option<String>,
    pub sort: BillSort,
    pub offset: u32,
    /// Rows per page (1-200, default 50).
    pub limit: u32,
}

/// A bill as a list shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct BillRow {
    #[serde(flatten)]
    pub bill: Bill,
    /// Something is payable and the due date has passed (on the plan's business date).
    pub overdue: bool,
    /// A payment for this bill is being confirmed: it cannot be paid again until that resolves.
    pub payment_in_flight: bool,
    /// The charge autopay will make on this bill, when one is planned.
    pub autopay: Option<carebill_api::types::UpcomingCharge>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct BillsPage {
    pub bills: Vec<BillRow>,
    /// Bills matching the filters, over all pages.
    pub total: u32,
    /// What the member owes now on the bills matching the filters, over all pages.
    pub total_payable: Money,
    pub offset: u32,
    /// Every provider on the member's bills, for the filter.
    pub providers: Vec<String>,
    pub freshness: Freshness,
}

/// The bill a kiosk guest looked up, as the guest sees it (no payments of the member's).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct GuestBillView {
    pub bill: carebill_api::types::BillDetail,
    /// Something is owed and the due date has passed (on the plan's business date).
    pub overdue: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct BillView {
    pub bill: carebill_api::types::BillDetail,
    pub overdue: bool,
    pub payment_in_flight: bool,
    /// The charge autopay will make on this bill, when one is planned.
    pub autopay: Option<carebill_api::types::UpcomingCharge>,
    pub freshness: Freshness,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(default)]
pub struct PaymentQuery {
    pub year: Option<i32>,
    pub status: Option<PaymentStatus>,
    pub offset: u32,
    pub limit: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct PaymentsPage {
    pub payments: Vec<Payment>,
    /// The bills these payments paid, as the copy knows them (provider and statement), so a
    /// payment can say what it paid.
    pub bills: Vec<BillLabel>,
    pub total: u32,
    pub offset: u32,
    /// Years that have payments, newest first, for the filter.
    pub years: Vec<i32>,
    pub freshness: Freshness,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct AutopaySummary {
    pub payment_method: PaymentMethodSummary,
    pub next_charge: Option<UpcomingCharge>,
}

/// Which bill a payment paid, in words a member recognizes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct BillLabel {
    pub bill_id: String,
    pub provider: String,
    pub statement_number: String,
}

/// The open bill due next (not yet overdue) and what is owed on it now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct NextDue {
    pub bill_id: String,
    pub due_date: NaiveDate,
    pub amount: Money,
    pub provider: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Dashboard {
    /// What the member owes now, over all open bills (processing payments taken off).
    pub total_payable: Money,
    /// Everything still owed on open bills, processing payments included.
    pub total_balance: Money,
    /// The member's payments still processing.
    pub pending: Money,
    /// What is owed now on bills past their due date.
    pub overdue_amount: Money,
    pub overdue_count: u32,
    /// Bills with something left to pay.
    pub open_count: u32,
    pub next_due: Option<NextDue>,
    pub autopay: Option<AutopaySummary>,
    pub recent_payments: Vec<Payment>,
    /// The bills the recent payments paid.
    pub recent_bills: Vec<BillLabel>,
    pub freshness: Freshness,
}

/// Sync progress, as published on the engine's event channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum SyncStatus {
    Syncing,
    Synced {
        at: DateTime<Utc>,
    },
    Offline {
        since: DateTime<Utc>,
        last_synced: Option<DateTime<Utc>>,
    },
    Error {
        code: String,
        message: String,
    },
}

/// Who is signed in, and how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct SessionInfo {
    pub member: Member,
    /// Opened from the copy on this device without the service: read-only.
    pub offline: bool,
    pub remembered: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct EngineStatus {
    pub session: Option<SessionInfo>,
    pub locked: bool,
    pub keyring: KeyringStatus,
    pub sync: Option<SyncStatus>,
    /// Payments or changes sent but not yet confirmed.
    pub unresolved: u32,
}

/// Events for the UI.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    Sync(SyncStatus),
    SessionExpired,
    IdleWarning {
        seconds_left: u32,
    },
    Locked,
    /// A payment that was being confirmed is now known.
    PaymentResolved {
        intent_id: String,
    },
    /// Kiosk: the session ended (idle time-out or its end); everything of it is gone.
    SessionEnded,
}
