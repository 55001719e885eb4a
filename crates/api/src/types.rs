//! Request and response bodies of the billing API, version 1.
//!
//! Requests reject unknown fields (`deny_unknown_fields`): a typo is an error, not a silent
//! no-op. Responses never do: clients must accept fields added later. Money is a string with two
//! decimals; dates are `YYYY-MM-DD`; instants are RFC 3339 in UTC.

use carebill_billing::{BillKind, BillStatus, Money};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

// ---------------------------------------------------------------------------------------------
// Languages

/// A language the app and its mail speak: US English or US Spanish.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "lowercase")]
pub enum Locale {
    #[default]
    En,
    Es,
}

impl Locale {
    pub fn as_str(self) -> &'static str {
        match self {
            Locale::En => "en",
            Locale::Es => "es",
        }
    }

    pub fn parse(s: &str) -> Option<Locale> {
        match s {
            "en" => Some(Locale::En),
            "es" => Some(Locale::Es),
            _ => None,
        }
    }

    /// A calendar date as members read it: "Dec 5, 2026" or "5 de diciembre de 2026" (the
    /// month spelled out, as the glossary in `ui/src/lib/i18n/glossary.md` writes dates).
    pub fn date(self, d: NaiveDate) -> String {
        use chrono::Datelike;
        match self {
            Locale::En => d.format("%b %-d, %Y").to_string(),
            Locale::Es => format!("{} de {} de {}", d.day(), MESES[d.month0() as usize], d.year()),
        }
    }

    /// A clock time: "2:02 PM" or "2:02 p. m.".
    pub fn time(self, t: chrono::NaiveTime) -> String {
        match self {
            Locale::En => t.format("%-I:%M %p").to_string(),
            Locale::Es => {
                let half = if chrono::Timelike::hour(&t) < 12 {
                    "a. m."
                } else {
                    "p. m."
                };
                format!("{} {half}", t.format("%-I:%M"))
            }
        }
    }
}

/// The months in Spanish (lowercase, as Spanish writes them in a date).
pub const MESES: [&str; 12] = [
    "enero",
    "febrero",
    "marzo",
    "abril",
    "mayo",
    "junio",
    "julio",
    "agosto",
    "septiembre",
    "octubre",
    "noviembre",
    "diciembre",
];

// ---------------------------------------------------------------------------------------------
// Accounts

/// Registration. The member ID, names and date of birth must match the plan's roster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct CreateAccountRequest {
    /// As printed on the member card, in the plan's format (`member_id` of `GET /v1/plan`;
    /// by default the letter M and 9 digits, like `M200000002`).
    #[schema(example = "M200000002", pattern = "^[A-Za-z0-9-]{1,30}$")]
    pub member_id: String,
    #[schema(example = "Alex", min_length = 1, max_length = 100)]
    pub first_name: String,
    #[schema(example = "Rivera", min_length = 1, max_length = 100)]
    pub last_name: String,
    /// `YYYY-MM-DD`, in the past.
    #[schema(example = "1985-04-12", format = Date)]
    pub date_of_birth: String,
    #[schema(example = "alex.rivera@example.com", format = Email, max_length = 254)]
    pub email: String,
    /// At least 15 characters. No composition rules; common, repetitive or sequential passwords
    /// and ones containing the email or member ID are refused (`weak_password`, with `reason`).
    #[schema(min_length = 15, max_length = 256)]
    pub password: String,
    /// The language of the mail this sends and, for a registration, of the account's mail from
    /// now on (the app's language on the device); English when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<Locale>,
}

/// The account was created and a 6-digit code was mailed to confirm the address.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct AccountCreated {
    pub member_id: String,
    pub email: String,
    /// Always `pending_verification` until the code is confirmed.
    #[schema(example = "pending_verification")]
    pub status: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct VerifyEmailRequest {
    #[schema(format = Email, max_length = 254)]
    pub email: String,
    /// The 6-digit code from the email.
    #[schema(example = "123456", pattern = "^[0-9]{6}$")]
    pub code: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct ResendVerificationRequest {
    #[schema(format = Email, max_length = 254)]
    pub email: String,
    /// The language of the mail this sends and, for a registration, of the account's mail from
    /// now on (the app's language on the device); English when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<Locale>,
}

/// The signed-in member.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Member {
    pub member_id: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    #[schema(value_type = String, format = Date)]
    pub date_of_birth: NaiveDate,
    pub email_verified: bool,
    /// The language of the member's mail (and of the app on a device without its own choice).
    pub locale: Locale,
}

/// The member's language, for every mail from now on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct SetLocaleRequest {
    pub locale: Locale,
}

/// Where the member wants one kind of notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct NotificationChannels {
    /// By email. On by default.
    pub email: bool,
    /// As a desktop notification from the app (which asks the system for permission first).
    /// On by default; kiosks never show any.
    pub desktop: bool,
}

impl Default for NotificationChannels {
    fn default() -> Self {
        NotificationChannels {
            email: true,
            desktop: true,
        }
    }
}

/// A kind of notice the member can turn off, by email and on the desktop: one row of Account ->
/// Notifications. The server mails them; the app decides the desktop ones from its copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum NoticeKind {
    NewBill,
    DueSoon,
    Overdue,
    MethodAttention,
    PaymentFailed,
    MessageReply,
}

impl NoticeKind {
    pub const ALL: [NoticeKind; 6] = [
        NoticeKind::NewBill,
        NoticeKind::DueSoon,
        NoticeKind::Overdue,
        NoticeKind::MethodAttention,
        NoticeKind::PaymentFailed,
        NoticeKind::MessageReply,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NoticeKind::NewBill => "new_bill",
            NoticeKind::DueSoon => "due_soon",
            NoticeKind::Overdue => "overdue",
            NoticeKind::MethodAttention => "method_attention",
            NoticeKind::PaymentFailed => "payment_failed",
            NoticeKind::MessageReply => "message_reply",
        }
    }

    pub fn parse(s: &str) -> Option<NoticeKind> {
        NoticeKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// What the member is told about, and how. Every switch is on until the member turns it off;
/// paperless is off until they turn it on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct NotificationPreferences {
    /// A new bill arrived.
    pub new_bill: NotificationChannels,
    /// A bill is due in 7 days.
    pub due_soon: NotificationChannels,
    /// A bill is 1 day overdue.
    pub overdue: NotificationChannels,
    /// A card or bank account needs attention before a scheduled charge (autopay, a plan's
    /// instalment, a scheduled payment): it expires first, or was removed.
    pub method_attention: NotificationChannels,
    /// A payment failed or a bank payment was returned.
    pub payment_failed: NotificationChannels,
    /// The billing office replied to a question.
    pub message_reply: NotificationChannels,
    /// No paper statements: the plan mails none, and each new bill sends a "new statement" email.
    pub paperless: bool,
}

impl NotificationPreferences {
    /// The member's switches for one kind of notice.
    pub fn channels(&self, kind: NoticeKind) -> NotificationChannels {
        match kind {
            NoticeKind::NewBill => self.new_bill,
            NoticeKind::DueSoon => self.due_soon,
            NoticeKind::Overdue => self.overdue,
            NoticeKind::MethodAttention => self.method_attention,
            NoticeKind::PaymentFailed => self.payment_failed,
            NoticeKind::MessageReply => self.message_reply,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Sessions

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct CreateSessionRequest {
    /// Email address or member ID.
    #[schema(example = "demo@carebill.example", min_length = 1, max_length = 254)]
    pub login: String,
    #[schema(min_length = 1, max_length = 256)]
    pub password: String,
    /// Keep the session for 30 days instead of 12 hours.
    #[serde(default)]
    pub remember_device: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct RefreshSessionRequest {
    #[schema(min_length = 1, max_length = 200)]
    pub refresh_token: String,
}

/// A token pair. The access token goes in `Authorization: Bearer`; the refresh token buys the
/// next pair and is single-use (presenting it again within 30 seconds returns the same pair).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct SessionTokens {
    pub access_token: String,
    pub refresh_token: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// Always `Bearer`.
    pub token_type: String,
    pub member: Member,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    #[schema(min_length = 1, max_length = 256)]
    pub current_password: String,
    /// At least 15 characters (as for registration).
    #[schema(min_length = 15, max_length = 256)]
    pub new_password: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct PasswordResetRequest {
    #[schema(format = Email, max_length = 254)]
    pub email: String,
    /// The language of the mail this sends and, for a registration, of the account's mail from
    /// now on (the app's language on the device); English when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<Locale>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct PasswordResetConfirmRequest {
    #[schema(format = Email, max_length = 254)]
    pub email: String,
    /// The 8-character code from the email (case, spaces and dashes ignored).
    #[schema(example = "K7RM-2XQP", pattern = "^[ -]*([2-9A-HJKMNP-Za-hjkmnp-z][ -]*){8}$")]
    pub code: String,
    /// At least 15 characters (as for registration).
    #[schema(min_length = 15, max_length = 256)]
    pub new_password: String,
}

// ---------------------------------------------------------------------------------------------
// Bills

/// A bill with its amounts as of now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Bill {
    #[schema(example = "bil_8m2k4x9q7w3v")]
    pub id: String,
    /// The provider's account number for the patient.
    pub account_number: String,
    /// The statement's number, printed on the paper bill.
    pub statement_number: String,
    pub kind: BillKind,
    /// Who the care was for, when not the member (a subscriber pays for dependents); absent: the
    /// member.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "Riley Lee")]
    pub patient_name: Option<String>,
    /// Who provided the care.
    pub provider: String,
    /// Where the care was provided.
    pub facility: String,
    #[schema(value_type = String, format = Date)]
    pub service_date_from: NaiveDate,
    #[schema(value_type = String, format = Date)]
    pub service_date_to: NaiveDate,
    #[schema(value_type = String, format = Date)]
    pub statement_date: NaiveDate,
    #[schema(value_type = String, format = Date)]
    pub due_date: NaiveDate,
    pub total_charges: Money,
    pub insurance_paid: Money,
    /// Reductions (contractual adjustments, discounts); never negative.
    pub adjustments: Money,
    /// `total_charges - insurance_paid - adjustments`: the member's responsibility.
    pub amount_due: Money,
    /// The member's payments to this bill that have settled.
    pub payments_made: Money,
    /// Paid at the provider's office or by another party, as the plan's records say.
    pub other_payments: Money,
    /// `amount_due - payments_made - other_payments`.
    pub balance: Money,
    /// The member's payments still processing (not yet settled).
    pub pending_amount: Money,
    /// `balance - pending_amount`: what the member owes now.
    pub payable: Money,
    pub status: BillStatus,
    /// The provider's billing office phone, when the plan's records have it.
    #[schema(example = "1-800-555-0199")]
    pub billing_phone: Option<String>,
    /// The payment plan paying this bill ("On a payment plan": never overdue while it is).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_plan_id: Option<String>,
    /// The plan's claim this bill is for, when the provider or the plan's records say so: the
    /// bill then "matches your claim" (`GET /v1/claims?claim_number=`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "CLM-2026-000123")]
    pub claim_number: Option<String>,
    /// The member's open question about this bill (a conversation's id): while there is one
    /// the bill is "Under review", and autopay, plan instalments and scheduled payments do not
    /// charge it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_conversation_id: Option<String>,
}

/// One service on a bill. The columns of a bill's line items add up to its totals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct LineItem {
    #[schema(value_type = String, format = Date)]
    pub service_date: NaiveDate,
    pub description: String,
    /// CPT or HCPCS code.
    #[schema(example = "99213")]
    pub code: String,
    pub quantity: u32,
    pub charge: Money,
    pub insurance_paid: Money,
    pub adjustment: Money,
    /// What the patient owes for this line.
    pub patient_responsibility: Money,
}

/// A bill with its line items and the payments applied to it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct BillDetail {
    #[serde(flatten)]
    pub bill: Bill,
    pub line_items: Vec<LineItem>,
    /// Every payment with a part on this bill (declined ones too), newest first. Empty in the
    /// guest view: a kiosk guest sees the bill, not the member's payments.
    pub payments: Vec<BillPayment>,
}

/// A payment as it applies to one bill.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct BillPayment {
    #[schema(example = "pay_7m2k4x9q8w3v")]
    pub payment_id: String,
    #[schema(example = "CB-7K2M-9QXP")]
    pub confirmation_number: String,
    pub status: PaymentStatus,
    /// The part of the payment applied to this bill (a payment may pay several bills).
    pub amount: Money,
    pub payment_method: PaymentMethodSummary,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub settled_at: Option<DateTime<Utc>>,
    pub source: PaymentSource,
}

/// Which bills to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum BillFilter {
    /// Bills with a balance (including partially paid).
    #[default]
    Open,
    /// Bills with nothing left to pay.
    Paid,
    All,
}

/// A page of bills, by due date then id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct BillPage {
    pub data: Vec<Bill>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
    pub has_more: bool,
}

// ---------------------------------------------------------------------------------------------
// Claims

/// The kind of claim, as the CARIN Blue Button profiles name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum ClaimKind {
    Inpatient,
    Outpatient,
    Professional,
    Pharmacy,
    Oral,
}

impl ClaimKind {
    /// The name on the wire and in storage.
    pub fn as_str(self) -> &'static str {
        match self {
            ClaimKind::Inpatient => "inpatient",
            ClaimKind::Outpatient => "outpatient",
            ClaimKind::Professional => "professional",
            ClaimKind::Pharmacy => "pharmacy",
            ClaimKind::Oral => "oral",
        }
    }
}

/// One amount of an adjudication, by its CARIN category code: `submitted`, `eligible`,
/// `deductible`, `copay`, `coinsurance`, `noncovered`, `benefit` (paid by the plan),
/// `memberliability`, `paidbypatient`, ... Negative on a reversal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ClaimAmount {
    #[schema(example = "coinsurance")]
    pub category: String,
    #[serde(deserialize_with = "carebill_billing::money::signed::deserialize")]
    #[cfg_attr(feature = "specta", specta(type = String))]
    #[schema(value_type = String, pattern = "^-?[0-9]+\\.[0-9]{2}$", example = "232.56")]
    pub amount: Money,
}

/// A claim the plan processed (from its Explanation of Benefits). Not a bill: the provider sends
/// the bill. Totals are as the EOB states them; where it gives none, the lines' sum.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Claim {
    #[schema(example = "clm_8m2k4x9q7w3v")]
    pub id: String,
    /// The plan's claim number.
    #[schema(example = "CLM-2026-000123")]
    pub claim_number: String,
    pub kind: ClaimKind,
    /// The patient's name as the plan's roster has it (a dependent has their own).
    pub patient_name: String,
    #[schema(value_type = Option<String>, format = Date)]
    pub service_date_from: Option<NaiveDate>,
    #[schema(value_type = Option<String>, format = Date)]
    pub service_date_to: Option<NaiveDate>,
    pub provider: Option<String>,
    pub facility: Option<String>,
    /// `complete`, `partial`, `error` or `queued`, as the EOB says.
    pub outcome: Option<String>,
    /// What the provider charged (`submitted`).
    #[serde(default, deserialize_with = "carebill_billing::money::signed::option")]
    #[cfg_attr(feature = "specta", specta(type = Option<String>))]
    #[schema(value_type = Option<String>, pattern = "^-?[0-9]+\\.[0-9]{2}$")]
    pub billed: Option<Money>,
    /// What the plan allowed (`eligible`).
    #[serde(default, deserialize_with = "carebill_billing::money::signed::option")]
    #[cfg_attr(feature = "specta", specta(type = Option<String>))]
    #[schema(value_type = Option<String>, pattern = "^-?[0-9]+\\.[0-9]{2}$")]
    pub allowed: Option<Money>,
    /// What the plan paid (`benefit`).
    #[serde(default, deserialize_with = "carebill_billing::money::signed::option")]
    #[cfg_attr(feature = "specta", specta(type = Option<String>))]
    #[schema(value_type = Option<String>, pattern = "^-?[0-9]+\\.[0-9]{2}$")]
    pub plan_paid: Option<Money>,
    /// What the member may owe (`memberliability`).
    #[serde(default, deserialize_with = "carebill_billing::money::signed::option")]
    #[cfg_attr(feature = "specta", specta(type = Option<String>))]
    #[schema(value_type = Option<String>, pattern = "^-?[0-9]+\\.[0-9]{2}$")]
    pub member_owes: Option<Money>,
    /// Why the member owes it: the member-cost categories with an amount (deductible, copay,
    /// coinsurance, not covered), in that order.
    pub member_costs: Vec<ClaimAmount>,
}

/// One service on a claim with every adjudication the EOB gives it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ClaimLine {
    pub sequence: u32,
    #[schema(value_type = Option<String>, format = Date)]
    pub service_date: Option<NaiveDate>,
    /// CPT, HCPCS or NDC code.
    #[schema(example = "99213")]
    pub code: Option<String>,
    pub code_system: Option<String>,
    pub display: Option<String>,
    /// The revenue code (institutional claims).
    pub revenue_code: Option<String>,
    pub quantity: Option<String>,
    pub amounts: Vec<ClaimAmount>,
}

/// A deductible or out-of-pocket figure for the plan year, as of this claim.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct BenefitBalance {
    /// `deductible` or `out_of_pocket` (or the code the EOB gives).
    #[schema(example = "deductible")]
    pub kind: String,
    /// The year's limit.
    pub limit: Option<Money>,
    /// Used so far.
    pub used: Option<Money>,
}

/// A claim with its lines, the header adjudications, its totals and the plan-year figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ClaimDetail {
    #[serde(flatten)]
    pub claim: Claim,
    pub lines: Vec<ClaimLine>,
    /// Adjudications of the whole claim (inpatient EOBs put their amounts here).
    pub adjudications: Vec<ClaimAmount>,
    /// The totals exactly as the EOB states them.
    pub totals: Vec<ClaimAmount>,
    pub benefit_balance: Vec<BenefitBalance>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ClaimPage {
    pub data: Vec<Claim>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
    pub has_more: bool,
}

// ---------------------------------------------------------------------------------------------
// Conversations with the billing office

/// What a member's question is about (the topics the app offers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum ConversationTopic {
    /// "I don't recognize a charge"
    UnrecognizedCharge,
    /// "Insurance should have paid"
    InsuranceShouldHavePaid,
    /// "I already paid"
    AlreadyPaid,
    /// "I need an itemized bill"
    ItemizedBill,
    /// "I want a payment plan or help paying"
    PaymentHelp,
    /// "Something else"
    Other,
}

impl ConversationTopic {
    pub const ALL: [ConversationTopic; 6] = [
        ConversationTopic::UnrecognizedCharge,
        ConversationTopic::InsuranceShouldHavePaid,
        ConversationTopic::AlreadyPaid,
        ConversationTopic::ItemizedBill,
        ConversationTopic::PaymentHelp,
        ConversationTopic::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ConversationTopic::UnrecognizedCharge => "unrecognized_charge",
            ConversationTopic::InsuranceShouldHavePaid => "insurance_should_have_paid",
            ConversationTopic::AlreadyPaid => "already_paid",
            ConversationTopic::ItemizedBill => "itemized_bill",
            ConversationTopic::PaymentHelp => "payment_help",
            ConversationTopic::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<ConversationTopic> {
        ConversationTopic::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// Where a conversation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum ConversationStatus {
    /// The member wrote last: the billing office owes an answer.
    Open,
    /// The billing office asked the member something.
    WaitingOnMember,
    /// The billing office answered.
    Answered,
    /// Closed by the member or the billing office. A question about a bill holds automatic
    /// charges of that bill until it is closed.
    Closed,
}

impl ConversationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ConversationStatus::Open => "open",
            ConversationStatus::WaitingOnMember => "waiting_on_member",
            ConversationStatus::Answered => "answered",
            ConversationStatus::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> Option<ConversationStatus> {
        match s {
            "open" => Some(ConversationStatus::Open),
            "waiting_on_member" => Some(ConversationStatus::WaitingOnMember),
            "answered" => Some(ConversationStatus::Answered),
            "closed" => Some(ConversationStatus::Closed),
            _ => None,
        }
    }
}

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum MessageAuthor {
    Member,
    Staff,
}

/// What an attachment is, decided from its content (never from its name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum AttachmentKind {
    Pdf,
    Jpeg,
    Png,
}

impl AttachmentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AttachmentKind::Pdf => "pdf",
            AttachmentKind::Jpeg => "jpeg",
            AttachmentKind::Png => "png",
        }
    }

    pub fn parse(s: &str) -> Option<AttachmentKind> {
        match s {
            "pdf" => Some(AttachmentKind::Pdf),
            "jpeg" => Some(AttachmentKind::Jpeg),
            "png" => Some(AttachmentKind::Png),
            _ => None,
        }
    }

    /// The media type it is served as.
    pub fn media_type(self) -> &'static str {
        match self {
            AttachmentKind::Pdf => "application/pdf",
            AttachmentKind::Jpeg => "image/jpeg",
            AttachmentKind::Png => "image/png",
        }
    }
}

/// A file attached to a message (its bytes: `GET /v1/attachments/{id}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Attachment {
    #[schema(example = "att_8m2k4x9q7w3v")]
    pub id: String,
    /// The name the file was sent with (letters, digits, spaces and `._-()`), for showing only.
    #[schema(example = "itemized-statement.pdf")]
    pub file_name: String,
    pub kind: AttachmentKind,
    /// Its size in bytes.
    pub size: u32,
}

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Message {
    #[schema(example = "msg_8m2k4x9q7w3v")]
    pub id: String,
    pub author: MessageAuthor,
    /// The staff member's display name (staff messages only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "Dana, billing office")]
    pub staff_name: Option<String>,
    pub body: String,
    #[schema(value_type = String, format = DateTime)]
    pub sent_at: DateTime<Utc>,
    #[serde(default)]
    pub attachments: Vec<Attachment>,
}

/// A member's conversation with the billing office, with its messages, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Conversation {
    #[schema(example = "cnv_8m2k4x9q7w3v")]
    pub id: String,
    /// The reference number to quote to the billing office.
    #[schema(example = "Q-7K3M9P2X")]
    pub reference: String,
    pub topic: ConversationTopic,
    pub status: ConversationStatus,
    /// The bill it is about, if any: while the conversation is not closed, autopay, plan
    /// instalments and scheduled payments do not charge that bill and their reminders stop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bill_id: Option<String>,
    /// The line item it is about (1 is the bill's first line), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1)]
    pub line: Option<u32>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    /// When the last message was written or the status changed.
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: DateTime<Utc>,
    pub messages: Vec<Message>,
}

/// A new question for the billing office.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct NewConversation {
    pub topic: ConversationTopic,
    /// The member's bill it is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bill_id: Option<String>,
    /// One of that bill's line items (1 is the first); needs `bill_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 1000)]
    pub line: Option<u32>,
    /// 1 to 2,000 characters, not only spaces.
    #[schema(min_length = 1, max_length = 2000)]
    pub body: String,
    /// Files uploaded with `POST /v1/attachments` and not yet sent with a message.
    #[serde(default)]
    #[schema(max_items = 5)]
    pub attachment_ids: Vec<String>,
}

/// A member's reply in a conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct NewMessage {
    /// 1 to 2,000 characters, not only spaces.
    #[schema(min_length = 1, max_length = 2000)]
    pub body: String,
    #[serde(default)]
    #[schema(max_items = 5)]
    pub attachment_ids: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ConversationPage {
    /// Newest first (by when they were started), then id.
    pub data: Vec<Conversation>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
    pub has_more: bool,
}

// ---------------------------------------------------------------------------------------------
// Sync

/// What kind of thing changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum SyncEntity {
    Bill,
    Payment,
    PaymentMethod,
    Autopay,
    PaymentPlan,
    ScheduledPayment,
    Claim,
    Conversation,
}

impl SyncEntity {
    pub fn as_str(self) -> &'static str {
        match self {
            SyncEntity::Bill => "bill",
            SyncEntity::Payment => "payment",
            SyncEntity::PaymentMethod => "payment_method",
            SyncEntity::Autopay => "autopay",
            SyncEntity::PaymentPlan => "payment_plan",
            SyncEntity::ScheduledPayment => "scheduled_payment",
            SyncEntity::Claim => "claim",
            SyncEntity::Conversation => "conversation",
        }
    }

    pub fn parse(s: &str) -> Option<SyncEntity> {
        match s {
            "bill" => Some(SyncEntity::Bill),
            "payment" => Some(SyncEntity::Payment),
            "payment_method" => Some(SyncEntity::PaymentMethod),
            "autopay" => Some(SyncEntity::Autopay),
            "payment_plan" => Some(SyncEntity::PaymentPlan),
            "scheduled_payment" => Some(SyncEntity::ScheduledPayment),
            "claim" => Some(SyncEntity::Claim),
            "conversation" => Some(SyncEntity::Conversation),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum SyncOp {
    Upsert,
    Delete,
}

/// One change: the entity's current state (`upsert`) or its removal (`delete`, no `data`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Change {
    pub entity: SyncEntity,
    pub op: SyncOp,
    pub id: String,
    /// For `bill`: a BillDetail; `claim`: a ClaimDetail; `conversation`: a Conversation. Later entities carry their own shapes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub data: Option<serde_json::Value>,
}

/// A page of changes in change order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct SyncPage {
    pub changes: Vec<Change>,
    /// Opaque. Store it and send it as `cursor` next time.
    pub next_cursor: String,
    pub has_more: bool,
}

// ---------------------------------------------------------------------------------------------
// Operations

/// A mail the demo server would have sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub body: String,
    #[schema(value_type = String, format = DateTime)]
    pub sent_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Health {
    /// `ok` when the database answers.
    pub status: String,
    pub version: String,
    /// True when the server runs with demo data and demo endpoints.
    pub demo: bool,
    /// Payments held for the billing office because the processor's charge did not match them
    /// (`carebill-server payments review` lists them). Anything above 0 needs a person.
    #[serde(default)]
    pub payments_needing_review: u64,
    /// The payment processor: `sandbox` charges nothing real (demo and staging only).
    #[serde(default)]
    pub processor: String,
}

// ---------------------------------------------------------------------------------------------
// Processor (sandbox): tokenization. Card and bank numbers go here and nowhere else.

/// Card or bank details to turn into a single-use token (15 minutes).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum TokenRequest {
    Card(CardDetails),
    BankAccount(BankAccountDetails),
}

#[derive(Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct CardDetails {
    /// 13 to 19 digits passing the Luhn check, optionally grouped by single spaces or dashes.
    #[schema(example = "4242 4242 4242 4242", pattern = "^[0-9]([ -]?[0-9]){12,18}$")]
    pub number: String,
    #[schema(minimum = 1, maximum = 12)]
    pub exp_month: u32,
    /// Not in the past, at most 20 years ahead.
    #[schema(example = 2030, minimum = 2000, maximum = 2099)]
    pub exp_year: i32,
    /// 4 digits for American Express, 3 for other brands.
    #[schema(example = "123", pattern = "^[0-9]{3,4}$")]
    pub cvc: String,
    /// A US ZIP code: 5 digits or ZIP+4.
    #[schema(example = "94110", pattern = "^[0-9]{5}(-[0-9]{4})?$")]
    pub postal_code: String,
    #[schema(min_length = 1, max_length = 100, pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$")]
    pub holder_name: String,
}

impl std::fmt::Debug for CardDetails {
    /// Never prints the number or the security code.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CardDetails")
            .field("exp_month", &self.exp_month)
            .field("exp_year", &self.exp_year)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum AccountType {
    Checking,
    Savings,
}

#[derive(Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct BankAccountDetails {
    /// 9 digits passing the ABA checksum.
    #[schema(example = "110000000", pattern = "^[0-9]{9}$")]
    pub routing_number: String,
    #[schema(example = "000123456789", pattern = "^[0-9]{4,17}$")]
    pub account_number: String,
    pub account_type: AccountType,
    #[schema(min_length = 1, max_length = 100, pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$")]
    pub holder_name: String,
}

impl std::fmt::Debug for BankAccountDetails {
    /// Never prints the account number.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BankAccountDetails")
            .field("routing_number", &self.routing_number)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum PaymentMethodType {
    Card,
    BankAccount,
}

impl PaymentMethodType {
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentMethodType::Card => "card",
            PaymentMethodType::BankAccount => "bank_account",
        }
    }

    pub fn parse(s: &str) -> Option<PaymentMethodType> {
        match s {
            "card" => Some(PaymentMethodType::Card),
            "bank_account" => Some(PaymentMethodType::BankAccount),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum Funding {
    Credit,
    Debit,
    /// A card drawing on a health savings account or a flexible spending account: a debit card on
    /// a card network, for medical costs ("HSA/FSA card" wherever it is shown).
    HsaFsa,
}

/// A single-use token standing for card or bank details, and what may be shown about them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ProcessorToken {
    #[schema(example = "tok_3kq9x2m7c8v1n4b6")]
    pub token: String,
    #[serde(rename = "type")]
    pub kind: PaymentMethodType,
    /// Card network (`visa`, `mastercard`, `amex`, `discover`); absent for bank accounts.
    pub brand: Option<String>,
    pub funding: Option<Funding>,
    pub last4: String,
    pub exp_month: Option<u32>,
    pub exp_year: Option<i32>,
    /// The bank's name when known; absent for cards.
    pub bank_name: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: DateTime<Utc>,
}

// ---------------------------------------------------------------------------------------------
// Payment methods

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct CreatePaymentMethodRequest {
    /// A token from the processor's token endpoint.
    #[schema(min_length = 1, max_length = 200)]
    pub token: String,
}

/// A saved card or bank account: only what may be shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct PaymentMethod {
    #[schema(example = "pm_4x8k2m9q7w3v")]
    pub id: String,
    #[serde(rename = "type")]
    pub kind: PaymentMethodType,
    pub brand: Option<String>,
    pub funding: Option<Funding>,
    pub last4: String,
    pub exp_month: Option<u32>,
    pub exp_year: Option<i32>,
    pub bank_name: Option<String>,
    pub account_type: Option<AccountType>,
    pub holder_name: String,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct PaymentMethodList {
    pub data: Vec<PaymentMethod>,
}

// ---------------------------------------------------------------------------------------------
// Payments

/// The NACHA authorization text a member accepts to pay from a bank account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct AchAuthorization {
    pub text: String,
    /// Send this back in `ach_authorization.text_version` to accept this exact text.
    #[schema(example = "2026-11-single")]
    pub text_version: String,
}

/// Which authorization text: one payment, recurring debits (autopay), or a payment plan's
/// instalments from a bank account (NACHA) or a card (the card networks' instalment rules).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum AchAuthorizationKind {
    #[default]
    Single,
    Recurring,
    Instalments,
    CardInstalments,
}

impl AchAuthorizationKind {
    /// The wire name (`single`, `recurring`); `None` for anything else.
    pub fn parse(s: &str) -> Option<AchAuthorizationKind> {
        match s {
            "single" => Some(AchAuthorizationKind::Single),
            "recurring" => Some(AchAuthorizationKind::Recurring),
            "instalments" => Some(AchAuthorizationKind::Instalments),
            "card_instalments" => Some(AchAuthorizationKind::CardInstalments),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct AchAuthorizationAcceptance {
    pub text_version: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct AllocationRequest {
    #[schema(min_length = 1, max_length = 64)]
    pub bill_id: String,
    /// More than 0, at most two decimals, at most the bill's `payable`.
    #[schema(value_type = Money)]
    pub amount: String,
}

/// Pay one or more bills with a saved method or a one-time token (exactly one of the two).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct CreatePaymentRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_method_id: Option<String>,
    /// A processor token, used once and not saved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    #[schema(min_items = 1, max_items = 50)]
    pub allocations: Vec<AllocationRequest>,
    /// Required for bank payments: acceptance of the current authorization text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ach_authorization: Option<AchAuthorizationAcceptance>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    /// Charged.
    Succeeded,
    /// A bank payment on its way (usually 2 business days).
    Pending,
    /// Declined; nothing was charged.
    Failed,
    /// A bank payment that came back (see `failure.code`, e.g. `R01`).
    Returned,
    /// The processor's answer did not match the payment: nothing was settled and the amount stays
    /// set aside while the billing office checks it ("Being checked by the billing office").
    NeedsReview,
}

impl PaymentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentStatus::Succeeded => "succeeded",
            PaymentStatus::Pending => "pending",
            PaymentStatus::Failed => "failed",
            PaymentStatus::Returned => "returned",
            PaymentStatus::NeedsReview => "needs_review",
        }
    }

    pub fn parse(s: &str) -> Option<PaymentStatus> {
        match s {
            "succeeded" => Some(PaymentStatus::Succeeded),
            "pending" => Some(PaymentStatus::Pending),
            "failed" => Some(PaymentStatus::Failed),
            "returned" => Some(PaymentStatus::Returned),
            "needs_review" => Some(PaymentStatus::NeedsReview),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum PaymentSource {
    Member,
    Autopay,
    Guest,
    /// An instalment of a payment plan, charged by the scheduler.
    PaymentPlan,
    /// A one-time payment the member scheduled for a date.
    Scheduled,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Allocation {
    pub bill_id: String,
    pub amount: Money,
}

/// How a payment was paid, for display.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct PaymentMethodSummary {
    #[serde(rename = "type")]
    pub kind: PaymentMethodType,
    /// Card network, or the bank's name.
    pub brand: String,
    pub last4: String,
    /// A card's funding when the processor reported it (`hsa_fsa`: an HSA or FSA card); absent
    /// for bank accounts and for payments made before it was recorded.
    #[serde(default)]
    pub funding: Option<Funding>,
}

impl PaymentMethod {
    /// The saved method as receipts and mail name it: a card by its network, a bank account by
    /// its bank.
    pub fn summary(&self) -> PaymentMethodSummary {
        let name = match self.kind {
            PaymentMethodType::Card => self.brand.clone(),
            PaymentMethodType::BankAccount => self.bank_name.clone(),
        };
        PaymentMethodSummary {
            kind: self.kind,
            brand: name.unwrap_or_else(|| "Bank account".to_string()),
            last4: self.last4.clone(),
            funding: self.funding,
        }
    }
}

impl PaymentMethodSummary {
    /// How receipts, statements and mail name the method: "Visa ending 4242", "Visa HSA/FSA card
    /// ending 1000", "Chase Bank account ending 6789" (Spanish: "Visa que termina en 4242").
    pub fn label(&self, l: Locale) -> String {
        let brand = match carebill_billing::validate::CardBrand::from_wire(&self.brand) {
            Some(known) => known.display_name(),
            None => self.brand.as_str(),
        };
        let last4 = &self.last4;
        let hsa = self.funding == Some(Funding::HsaFsa);
        match (self.kind, l) {
            (PaymentMethodType::Card, Locale::En) if hsa => format!("{brand} HSA/FSA card ending {last4}"),
            (PaymentMethodType::Card, Locale::Es) if hsa => format!("tarjeta HSA/FSA {brand} que termina en {last4}"),
            (PaymentMethodType::Card, Locale::En) => format!("{brand} ending {last4}"),
            (PaymentMethodType::Card, Locale::Es) => format!("{brand} que termina en {last4}"),
            (PaymentMethodType::BankAccount, Locale::En) => format!("{} account ending {last4}", self.brand),
            (PaymentMethodType::BankAccount, Locale::Es) => format!("cuenta de {} que termina en {last4}", self.brand),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct PaymentFailure {
    /// A decline code (`card_declined`, `insufficient_funds`, ...) or an ACH return code (`R01`).
    pub code: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Payment {
    #[schema(example = "pay_7m2k4x9q8w3v")]
    pub id: String,
    pub status: PaymentStatus,
    pub amount: Money,
    pub allocations: Vec<Allocation>,
    #[schema(example = "CB-7K2M-9QXP")]
    pub confirmation_number: String,
    pub payment_method: PaymentMethodSummary,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub settled_at: Option<DateTime<Utc>>,
    pub failure: Option<PaymentFailure>,
    pub idempotency_key: Option<String>,
    pub source: PaymentSource,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct PaymentPage {
    pub data: Vec<Payment>,
    pub next_cursor: Option<String>,
    pub has_more: bool,
}

// ---------------------------------------------------------------------------------------------
// Autopay

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum AutopayAmount {
    /// Whatever can be paid on each bill.
    StatementBalance,
    /// A fixed amount per bill (less when less can be paid).
    Fixed { value: Money },
}

/// When each bill is charged. `day_of_month` past the end of a short month is its last day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum AutopayTiming {
    DueDate,
    DaysBeforeDue {
        #[schema(minimum = 1, maximum = 28)]
        days: u32,
    },
    DayOfMonth {
        #[schema(minimum = 1, maximum = 31)]
        day: u32,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct AutopayRequest {
    pub payment_method_id: String,
    pub amount: AutopayAmount,
    /// No charge is made above this; the member is told instead.
    pub max_amount: Money,
    pub timing: AutopayTiming,
    /// Required for bank methods: acceptance of the recurring-debit authorization.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ach_authorization: Option<AchAuthorizationAcceptance>,
}

/// An open bill issued before autopay was set up: never charged automatically.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct NotCoveredBill {
    pub bill_id: String,
    pub payable: Money,
    #[schema(value_type = String, format = Date)]
    pub due_date: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Autopay {
    pub payment_method_id: String,
    pub payment_method: PaymentMethodSummary,
    pub amount: AutopayAmount,
    pub max_amount: Money,
    pub timing: AutopayTiming,
    /// Bills issued on or after this business date are covered.
    #[schema(value_type = String, format = Date)]
    pub covers_bills_from: NaiveDate,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: DateTime<Utc>,
    pub upcoming: Vec<UpcomingCharge>,
    /// Open bills from before autopay: pay these yourself.
    pub not_covered: Vec<NotCoveredBill>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum UpcomingStatus {
    Scheduled,
    Skipped,
    /// More than the maximum per charge: it will not be charged.
    OverLimit,
    /// The member asked the billing office about this bill: nothing is charged (and no notice
    /// sent) until the conversation is closed; then it is charged at the next pass if its date
    /// has come.
    UnderReview,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct UpcomingCharge {
    pub bill_id: String,
    #[schema(value_type = String, format = Date)]
    pub charge_date: NaiveDate,
    /// What would be charged if the charge ran today.
    pub amount: Money,
    pub status: UpcomingStatus,
    #[schema(value_type = String, format = Date)]
    pub skip_deadline: NaiveDate,
    pub can_skip: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct SkipRequest {
    #[schema(min_length = 1, max_length = 64)]
    pub bill_id: String,
}

// ---------------------------------------------------------------------------------------------
// Payment plans and scheduled payments

/// The health plan's rules for payment plans (`[payment_plans]` in the server's config).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct PaymentPlanPolicy {
    /// Bills chosen together must add up to at least this before a plan is offered.
    pub min_balance: Money,
    /// The least monthly instalment.
    pub min_monthly: Money,
    /// The longest plan, in monthly instalments.
    pub max_months: u32,
    /// Days before each instalment that the member is emailed.
    pub notice_days: u32,
    /// Missed instalments not yet made up that a plan survives; one more ends it.
    pub misses_allowed: u32,
    /// The longest pause, in days.
    pub max_pause_days: u32,
}

impl Default for PaymentPlanPolicy {
    fn default() -> PaymentPlanPolicy {
        let p = carebill_billing::plans::Policy::default();
        PaymentPlanPolicy {
            min_balance: p.min_balance,
            min_monthly: p.min_monthly,
            max_months: p.max_months,
            notice_days: p.notice_days,
            misses_allowed: p.misses_allowed,
            max_pause_days: p.max_pause_days,
        }
    }
}

impl PaymentPlanPolicy {
    pub fn to_domain(&self) -> carebill_billing::plans::Policy {
        carebill_billing::plans::Policy {
            min_balance: self.min_balance,
            min_monthly: self.min_monthly,
            max_months: self.max_months,
            notice_days: self.notice_days,
            misses_allowed: self.misses_allowed,
            max_pause_days: self.max_pause_days,
        }
    }
}

/// A new payment plan, or new terms for one (more bills, another amount, day or method). Each
/// needs the member's acceptance of the recurring authorization for the method's kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct PaymentPlanRequest {
    /// The open bills on the plan (for new terms: all of them, the plan's own and any added).
    #[schema(min_items = 1, max_items = 50)]
    pub bill_ids: Vec<String>,
    /// Either this (the monthly instalment) ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monthly_amount: Option<Money>,
    /// ... or this (the number of monthly instalments).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 120)]
    pub months: Option<u32>,
    /// The day of the month instalments are charged (the next business day when it is not one).
    #[schema(minimum = 1, maximum = 28)]
    pub day_of_month: u32,
    pub payment_method_id: String,
    /// Acceptance of the instalment authorization (`GET /v1/ach-authorization?kind=instalments`
    /// for a bank account, `kind=card_instalments` for a card).
    pub authorization: AchAuthorizationAcceptance,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum PaymentPlanStatus {
    /// Instalments are charged as scheduled.
    Active,
    /// No instalment is charged until `paused_until`.
    Paused,
    /// Instalments were missed: `behind_amount` is due now.
    Behind,
    /// Everything on the plan is paid.
    Completed,
    /// Cancelled by the member: nothing more is charged.
    Cancelled,
    /// Ended after more missed instalments than the plan's policy allows.
    Ended,
}

impl PaymentPlanStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentPlanStatus::Active => "active",
            PaymentPlanStatus::Paused => "paused",
            PaymentPlanStatus::Behind => "behind",
            PaymentPlanStatus::Completed => "completed",
            PaymentPlanStatus::Cancelled => "cancelled",
            PaymentPlanStatus::Ended => "ended",
        }
    }

    pub fn parse(s: &str) -> Option<PaymentPlanStatus> {
        [
            PaymentPlanStatus::Active,
            PaymentPlanStatus::Paused,
            PaymentPlanStatus::Behind,
            PaymentPlanStatus::Completed,
            PaymentPlanStatus::Cancelled,
            PaymentPlanStatus::Ended,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }

    /// Whether the plan still holds its bills (they are "On a payment plan").
    pub fn is_open(self) -> bool {
        matches!(
            self,
            PaymentPlanStatus::Active | PaymentPlanStatus::Paused | PaymentPlanStatus::Behind
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum InstalmentStatus {
    /// Being charged.
    Processing,
    /// Paid (a bank debit: on its way).
    Paid,
    /// Declined or returned: part of `behind_amount` until paid.
    Missed,
    /// Nothing was left to charge on its date.
    Skipped,
}

impl InstalmentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            InstalmentStatus::Processing => "processing",
            InstalmentStatus::Paid => "paid",
            InstalmentStatus::Missed => "missed",
            InstalmentStatus::Skipped => "skipped",
        }
    }

    pub fn parse(s: &str) -> Option<InstalmentStatus> {
        [
            InstalmentStatus::Processing,
            InstalmentStatus::Paid,
            InstalmentStatus::Missed,
            InstalmentStatus::Skipped,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }
}

/// An instalment the scheduler charged (or tried to).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct PlanInstalment {
    /// The instalment's own date (its day of the month), which names it.
    #[schema(value_type = String, format = Date)]
    pub nominal_date: NaiveDate,
    #[schema(value_type = String, format = Date)]
    pub charge_date: NaiveDate,
    pub amount: Money,
    pub status: InstalmentStatus,
    pub payment_id: Option<String>,
    /// How the instalment was applied, oldest bill first.
    pub allocations: Vec<Allocation>,
}

/// An instalment still to come, as the balance stands now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ScheduledInstalment {
    #[schema(value_type = String, format = Date)]
    pub nominal_date: NaiveDate,
    #[schema(value_type = String, format = Date)]
    pub charge_date: NaiveDate,
    pub amount: Money,
}

/// A bill on a plan and what is left to pay on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct PlanBill {
    pub bill_id: String,
    pub provider: String,
    pub statement_number: String,
    #[schema(value_type = String, format = Date)]
    pub due_date: NaiveDate,
    pub payable: Money,
    /// False once the bill is paid off (it left the plan).
    pub on_plan: bool,
}

/// A payment plan: the agreed terms, what was charged and what is still to come.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct PaymentPlan {
    #[schema(example = "ppl_8m2k4x9q7w3v")]
    pub id: String,
    /// The plan number the member quotes to the billing office.
    #[schema(example = "PP-7K2M-9QXP")]
    pub number: String,
    pub status: PaymentPlanStatus,
    pub monthly_amount: Money,
    #[schema(minimum = 1, maximum = 28)]
    pub day_of_month: u32,
    pub payment_method_id: String,
    pub payment_method: PaymentMethodSummary,
    pub bills: Vec<PlanBill>,
    /// What is still owed on the plan's bills.
    pub balance: Money,
    /// The first instalment's date; the policy's longest term counts from it.
    #[schema(value_type = String, format = Date)]
    pub first_date: NaiveDate,
    /// The instalments charged so far, oldest first.
    pub instalments: Vec<PlanInstalment>,
    /// The instalments still to come, as the balance stands now (a lower balance shortens it).
    pub schedule: Vec<ScheduledInstalment>,
    /// Instalments paid so far, and instalments in all (paid plus still to come).
    pub paid_count: u32,
    pub total_count: u32,
    /// Missed instalments not yet made up: pay this now (any payment on the plan's bills counts).
    pub behind_amount: Money,
    /// "Pay now": `behind_amount` spread over the plan's bills, oldest due date first.
    pub pay_now: Vec<Allocation>,
    pub misses: u32,
    #[schema(value_type = Option<String>, format = Date)]
    pub paused_until: Option<NaiveDate>,
    /// The balance went up beyond what the agreed instalment pays within the longest term:
    /// accept new terms (`PUT`) to pay the rest. Until then the agreed amount is still charged.
    pub needs_authorization: bool,
    /// The authorization the member accepted for these terms.
    pub authorization_version: String,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: DateTime<Utc>,
    /// Send as `If-Match` (quoted) to change the plan; the same value as the `ETag`.
    pub version: i32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct PaymentPlanList {
    pub data: Vec<PaymentPlan>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct PausePlanRequest {
    /// No instalment is charged before this date (1 day to the policy's longest pause).
    #[schema(value_type = String, format = Date)]
    pub until: NaiveDate,
}

/// A one-time payment to be made on a later date (or today).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct ScheduledPaymentRequest {
    /// Today or later, and no later than the earliest due date of the bills paid.
    #[schema(value_type = String, format = Date)]
    pub pay_on: NaiveDate,
    pub payment_method_id: String,
    #[schema(min_items = 1, max_items = 50)]
    pub allocations: Vec<AllocationRequest>,
    /// Required for bank methods: acceptance of the single-debit authorization (a change that
    /// keeps the scheduled payment's bank account keeps the acceptance it has).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ach_authorization: Option<AchAuthorizationAcceptance>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum ScheduledStatus {
    /// Waiting for its date; can be changed or cancelled until the day before.
    Scheduled,
    /// Being charged.
    Processing,
    /// Made: see `payment_id` (its outcome is the payment's).
    Made,
    /// Cancelled by the member, or because nothing was left to pay on its date.
    Cancelled,
}

impl ScheduledStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ScheduledStatus::Scheduled => "scheduled",
            ScheduledStatus::Processing => "processing",
            ScheduledStatus::Made => "made",
            ScheduledStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<ScheduledStatus> {
        [
            ScheduledStatus::Scheduled,
            ScheduledStatus::Processing,
            ScheduledStatus::Made,
            ScheduledStatus::Cancelled,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ScheduledPayment {
    #[schema(example = "sch_8m2k4x9q7w3v")]
    pub id: String,
    pub status: ScheduledStatus,
    #[schema(value_type = String, format = Date)]
    pub pay_on: NaiveDate,
    /// The last day it can be changed or cancelled (the day before `pay_on`).
    #[schema(value_type = String, format = Date)]
    pub change_until: NaiveDate,
    pub amount: Money,
    pub allocations: Vec<Allocation>,
    pub payment_method_id: String,
    pub payment_method: PaymentMethodSummary,
    /// The payment made on `pay_on`, once made.
    pub payment_id: Option<String>,
    /// Why it was cancelled: `member` or `nothing_to_pay`.
    pub cancel_reason: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    pub version: i32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ScheduledPaymentList {
    pub data: Vec<ScheduledPayment>,
}

// ---------------------------------------------------------------------------------------------
// The plan

/// A text the plan writes in each language the app speaks; `es` falls back to `en` when absent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct LocalizedText {
    #[schema(example = "Monday to Friday, 8 a.m. to 6 p.m. Pacific time")]
    pub en: String,
    #[schema(example = "de lunes a viernes, de 8 a.m. a 6 p.m., hora del Pacífico")]
    pub es: Option<String>,
}

impl LocalizedText {
    /// The text in `locale`, the English one when the plan wrote no Spanish.
    pub fn get(&self, locale: Locale) -> &str {
        match locale {
            Locale::Es => self.es.as_deref().unwrap_or(&self.en),
            Locale::En => &self.en,
        }
    }
}

/// How members reach a person at the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct MemberServices {
    #[schema(example = "1-800-555-0142")]
    pub phone: String,
    /// For members who are deaf, hard of hearing or speech-disabled (often `711`).
    #[schema(example = "711")]
    pub tty: String,
    pub hours: LocalizedText,
}

/// One line of the plan's language-assistance notice (a Section 1557 tagline), written in its
/// own language and shown as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Tagline {
    /// BCP 47 language tag of `text`.
    #[schema(example = "es")]
    pub lang: String,
    #[schema(
        example = "ATENCIÓN: si habla español, tiene a su disposición servicios gratuitos de asistencia lingüística. Llame al 1-800-555-0142 (TTY: 711)."
    )]
    pub text: String,
}

/// The plan's own facts for every member and kiosk screen, receipt and email: public, the same
/// for everyone, cacheable (`ETag`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct PlanInfo {
    #[schema(example = "Carebill Demo Health Plan")]
    pub name: String,
    pub member_services: MemberServices,
    /// The language-assistance notice, one tagline per language.
    pub language_assistance: Vec<Tagline>,
    /// The rules for payment plans (absent from copies kept by earlier releases: the defaults).
    #[serde(default)]
    pub payment_plans: PaymentPlanPolicy,
    /// The format of the plan's member IDs (absent from copies kept by earlier releases: the
    /// default, the letter M and 9 digits).
    #[serde(default)]
    pub member_id: MemberIdFormat,
    /// The IANA time zone of the plan's business day: due dates, and the calendar year of a
    /// payment in the yearly summary (absent from copies kept by earlier releases: the default).
    #[serde(default = "default_time_zone")]
    #[schema(example = "America/Los_Angeles")]
    pub time_zone: String,
    /// That zone's UTC offsets from 2015 to 2045, oldest first: a client puts an instant on the
    /// plan's calendar with them, without a time zone database (absent from copies kept by
    /// earlier releases).
    #[serde(default)]
    pub utc_offsets: Vec<UtcOffset>,
}

fn default_time_zone() -> String {
    carebill_billing::calendar::DEFAULT_PLAN_TIME_ZONE_NAME.to_string()
}

/// From `from` on, the plan's time zone is `offset_seconds` ahead of UTC (negative: behind).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct UtcOffset {
    #[schema(value_type = String, format = DateTime)]
    pub from: DateTime<Utc>,
    #[schema(example = -28800)]
    pub offset_seconds: i32,
    #[schema(example = "PST")]
    pub abbreviation: String,
}

impl PlanInfo {
    /// The plan's time zone as data; `None` for a copy of its facts from before `utc_offsets`.
    pub fn zone_rules(&self) -> Option<carebill_billing::calendar::ZoneRules> {
        if self.utc_offsets.is_empty() {
            return None;
        }
        Some(carebill_billing::calendar::ZoneRules {
            name: self.time_zone.clone(),
            changes: self
                .utc_offsets
                .iter()
                .map(|o| carebill_billing::calendar::OffsetChange {
                    from: o.from.timestamp(),
                    offset_seconds: o.offset_seconds,
                    abbreviation: o.abbreviation.clone(),
                })
                .collect(),
        })
    }

    /// Sets the plan's time zone and its offsets, 2015 to 2045 (the server, from its calendar).
    pub fn set_zone(&mut self, rules: &carebill_billing::calendar::ZoneRules) {
        self.time_zone = rules.name.clone();
        self.utc_offsets = rules
            .changes
            .iter()
            .map(|c| UtcOffset {
                from: DateTime::from_timestamp(c.from, 0).unwrap_or_default(),
                offset_seconds: c.offset_seconds,
                abbreviation: c.abbreviation.clone(),
            })
            .collect();
    }
}

/// The plan's member ID format, for the registration hint and its as-you-type check: a regular
/// expression that must match the whole ID after trimming and upper-casing, and an example.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct MemberIdFormat {
    #[schema(example = "M[0-9]{9}")]
    pub pattern: String,
    #[schema(example = "M200000002")]
    pub example: String,
}

impl Default for MemberIdFormat {
    fn default() -> MemberIdFormat {
        MemberIdFormat {
            pattern: carebill_billing::validate::DEFAULT_MEMBER_ID_PATTERN.into(),
            example: carebill_billing::validate::DEFAULT_MEMBER_ID_EXAMPLE.into(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Demo-only

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct DevClockRequest {
    /// An ISO 8601 duration to move the business clock forward: `P3D`, `PT12H`, `P1DT6H`.
    #[schema(
        example = "P3D",
        pattern = "^P([0-9]{1,6}W)?([0-9]{1,6}D)?(T([0-9]{1,6}H)?([0-9]{1,6}M)?([0-9]{1,6}S)?)?$"
    )]
    pub advance: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct DevClock {
    #[schema(value_type = String, format = Date)]
    pub business_date: NaiveDate,
    #[schema(value_type = String, format = DateTime)]
    pub business_now: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct DevBillRequest {
    /// Whose bill; the demo member when absent.
    #[serde(default)]
    #[schema(pattern = "^M[0-9]{9}$")]
    pub member_id: Option<String>,
}

/// What the processor knows about a routing number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct BankLookup {
    pub routing_number: String,
    /// The bank's name, when known.
    pub bank_name: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Guest pay (clinic kiosks). Every guest call carries the kiosk's device credential in
// `X-Carebill-Device`; calls after the lookup also carry the guest token as a bearer token.

/// Finds one bill by what is printed on the paper statement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct GuestLookupRequest {
    /// Letters, digits and dashes, as printed (case does not matter).
    #[schema(example = "ST-100234", pattern = "^[A-Za-z0-9-]{1,40}$")]
    pub statement_number: String,
    /// The patient's last name, as on the statement (case and spacing do not matter).
    #[schema(example = "Rivera", min_length = 1, max_length = 100)]
    pub last_name: String,
    /// `YYYY-MM-DD`, in the past.
    #[schema(example = "1985-04-12", format = Date)]
    pub date_of_birth: String,
}

/// A guest token: valid 10 minutes, for the one bill it was issued for, on the kiosk that asked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct GuestSession {
    pub guest_token: String,
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: DateTime<Utc>,
}

/// A guest payment: one amount on the looked-up bill, paid with a processor token (never saved).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct GuestPaymentRequest {
    /// More than 0, at most two decimals, at most the bill's `payable`.
    #[schema(value_type = Money, example = "25.00")]
    pub amount: String,
    /// A processor token from `POST /processor/v1/tokens`.
    #[schema(min_length = 1, max_length = 200)]
    pub token: String,
    /// Required for bank payments: acceptance of the current single-payment authorization text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ach_authorization: Option<AchAuthorizationAcceptance>,
}

/// Mails a guest payment's receipt to an address the guest types. The address is not kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct GuestReceiptRequest {
    #[schema(example = "CB-7K2M-9XQ4", min_length = 1, max_length = 40)]
    pub confirmation_number: String,
    #[schema(example = "patient@example.com", format = Email, max_length = 254)]
    pub email: String,
    /// The language of the mail this sends and, for a registration, of the account's mail from
    /// now on (the app's language on the device); English when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<Locale>,
}
