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
    /// The plan paying this bill, when one does.
    pub payment_plan: Option<PlanSummary>,
    /// The bill alone reaches the plan's minimum for a payment plan (and is on none).
    pub plan_offer: bool,
    /// A payment scheduled for this bill, not yet made.
    pub scheduled: Option<carebill_api::types::ScheduledPayment>,
    /// The plan's claims behind this bill: the one its claim number names, or those that
    /// probably are (same provider, overlapping dates, same amount).
    pub claims: Vec<BillClaim>,
    pub freshness: Freshness,
}

/// How a bill is linked to a claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum ClaimLink {
    /// The bill names the claim's number.
    Named,
    /// Same provider, overlapping service dates and the same amount: only probably this claim.
    Probable,
}

/// A claim behind a bill, and whether the bill agrees with it: "Why you owe this" and the match
/// flag.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct BillClaim {
    pub claim_id: String,
    pub claim_number: String,
    pub link: ClaimLink,
    /// What the claim says the member may owe (`None` when the EOB does not say).
    pub member_owes: Option<Money>,
    /// Why: deductible, copay, coinsurance, not covered, as the EOB states them.
    pub member_costs: Vec<carebill_api::types::ClaimAmount>,
    /// The bill's responsibility equals the claim's member liability.
    pub matches: bool,
    /// How far apart they are (never negative); zero when they match or the claim says nothing.
    pub difference: Money,
    /// The bill asks for more than the claim says.
    pub bill_is_higher: bool,
}

/// Deductible or out-of-pocket progress for the plan year, from the latest claim that says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct BenefitProgress {
    /// `deductible` or `out_of_pocket`.
    pub kind: String,
    pub year: i32,
    pub limit: Money,
    pub used: Money,
    /// `limit - used`, never below zero.
    pub remaining: Money,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(default)]
pub struct ClaimQuery {
    pub year: Option<i32>,
    /// Provider or facility contains this (any case).
    pub provider: Option<String>,
    pub offset: u32,
    pub limit: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ClaimsPage {
    pub claims: Vec<carebill_api::types::Claim>,
    pub total: u32,
    pub offset: u32,
    /// Years that have claims, newest first, for the filter.
    pub years: Vec<i32>,
    /// Providers of the claims, for the filter.
    pub providers: Vec<String>,
    pub freshness: Freshness,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ClaimView {
    pub claim: carebill_api::types::ClaimDetail,
    /// The bills that name this claim or probably are for it.
    pub bills: Vec<BillLabel>,
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
    /// Open payment plans, newest first.
    pub payment_plans: Vec<PlanSummary>,
    /// Open bills not on a plan that together reach the plan's minimum for a payment plan.
    pub plan_offer: Option<PlanOffer>,
    /// Payments scheduled for a later date, soonest first.
    pub scheduled: Vec<carebill_api::types::ScheduledPayment>,
    /// Deductible and out-of-pocket progress for this plan year, when a claim says.
    pub benefits: Vec<BenefitProgress>,
    pub freshness: Freshness,
}

/// A payment plan at a glance: "Payment plan: $X on <date>, N of M paid".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct PlanSummary {
    pub id: String,
    pub number: String,
    pub status: carebill_api::types::PaymentPlanStatus,
    pub next: Option<carebill_api::types::ScheduledInstalment>,
    pub paid_count: u32,
    pub total_count: u32,
    pub behind_amount: Money,
    pub needs_authorization: bool,
    pub paused_until: Option<NaiveDate>,
    /// "Pay now" when behind: the amount behind spread over the plan's bills, oldest first.
    pub pay_now: Vec<carebill_api::types::Allocation>,
}

impl PlanSummary {
    pub fn of(p: &carebill_api::types::PaymentPlan) -> PlanSummary {
        PlanSummary {
            id: p.id.clone(),
            number: p.number.clone(),
            status: p.status,
            next: p.schedule.first().cloned(),
            paid_count: p.paid_count,
            total_count: p.total_count,
            behind_amount: p.behind_amount,
            needs_authorization: p.needs_authorization,
            paused_until: p.paused_until,
            pay_now: p.pay_now.clone(),
        }
    }
}

/// Bills that can go on a payment plan together, and what they owe now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct PlanOffer {
    pub bill_ids: Vec<String>,
    pub balance: Money,
}

/// A payment plan as the member sets it up: bills, either a monthly amount (as typed) or a
/// number of months, a day of the month and a saved method.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct PlanDraft {
    pub bill_ids: Vec<String>,
    pub monthly_amount: Option<String>,
    pub months: Option<u32>,
    pub day_of_month: u32,
    pub payment_method_id: String,
}

/// What a draft comes to, before anything is sent: every instalment with its date and amount
/// (they add up to the balance to the cent), and the authorization to accept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct PlanPreview {
    pub balance: Money,
    pub monthly_amount: Money,
    pub schedule: Vec<carebill_api::types::ScheduledInstalment>,
    pub method: carebill_api::types::PaymentMethodSummary,
    pub authorization: carebill_api::types::AchAuthorization,
    pub policy: carebill_api::types::PaymentPlanPolicy,
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
    /// The billing office replied: `unread` replies are now unseen on this device.
    NewReplies {
        unread: u32,
    },
    /// Desktop notices decided after a sync: the shell shows `fresh` on the screen (not on
    /// kiosks); `unread` are waiting in the app's list.
    Notices {
        fresh: Vec<crate::notices::DesktopNotice>,
        unread: u32,
    },
}

/// What the member does to a plan besides new terms.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum PlanAction {
    Pause { until: NaiveDate },
    Resume,
    Cancel,
}

// --- Conversations with the billing office ------------------------------------------------------

/// A file the member attaches, as the UI read it (base64, since IPC carries text).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct FileDraft {
    pub file_name: String,
    pub data_base64: String,
}

/// A new question for the billing office.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct QuestionDraft {
    pub topic: carebill_api::types::ConversationTopic,
    pub bill_id: Option<String>,
    /// The bill's line item (1 is the first).
    pub line: Option<u32>,
    pub body: String,
    pub files: Vec<FileDraft>,
}

/// A reply in a conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ReplyDraft {
    pub conversation_id: String,
    pub body: String,
    pub files: Vec<FileDraft>,
}

/// What happened to a message the member sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum MessageSent {
    /// The billing office has it: the conversation as it is now.
    Sent {
        conversation: carebill_api::types::Conversation,
    },
    /// No connection: it waits on this device and is sent once, as soon as Carebill is back
    /// online.
    Queued { outbox_id: String },
}

/// A message waiting on this device to be sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct QueuedMessage {
    pub outbox_id: String,
    /// The conversation it replies in; none for a new question.
    pub conversation_id: Option<String>,
    pub topic: Option<carebill_api::types::ConversationTopic>,
    pub bill_id: Option<String>,
    pub body: String,
    pub file_names: Vec<String>,
    pub written_at: DateTime<Utc>,
    /// Why the billing service refused it (it was not sent); none while it waits.
    pub refused: Option<crate::ClientError>,
}

/// A conversation in the list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ConversationSummary {
    pub id: String,
    pub reference: String,
    pub topic: carebill_api::types::ConversationTopic,
    pub status: carebill_api::types::ConversationStatus,
    pub bill_id: Option<String>,
    /// The bill's provider and statement, when the copy has the bill.
    pub bill_label: Option<String>,
    pub line: Option<u32>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The last message's first words.
    pub preview: String,
    /// The billing office's replies not yet seen on this device.
    pub unread: u32,
}

/// The member's conversations (newest first), the messages waiting to be sent, and those the
/// service refused in the last week.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Conversations {
    pub conversations: Vec<ConversationSummary>,
    pub queued: Vec<QueuedMessage>,
    pub not_sent: Vec<QueuedMessage>,
    pub unread: u32,
    pub freshness: Freshness,
}

/// One conversation with its messages (opening it marks them seen).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ConversationView {
    pub conversation: carebill_api::types::Conversation,
    pub bill_label: Option<String>,
    /// Replies written here and waiting to be sent.
    pub queued: Vec<QueuedMessage>,
    /// Replies that were unseen until this opening (for announcing them).
    pub new_replies: u32,
    pub freshness: Freshness,
}

/// An attachment's bytes for showing or saving.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct AttachmentData {
    pub attachment: carebill_api::types::Attachment,
    pub media_type: String,
    pub data_base64: String,
}
