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
// Accounts

/// Registration. The member ID, names and date of birth must match the plan's roster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAccountRequest {
    /// As printed on the member card, like `M200000002`.
    #[schema(example = "M200000002")]
    pub member_id: String,
    #[schema(example = "Alex")]
    pub first_name: String,
    #[schema(example = "Rivera")]
    pub last_name: String,
    /// `YYYY-MM-DD`.
    #[schema(example = "1985-04-12")]
    pub date_of_birth: String,
    #[schema(example = "alex.rivera@example.com")]
    pub email: String,
    /// At least 15 characters. No composition rules; common, repetitive or sequential passwords
    /// and ones containing the email or member ID are refused (`weak_password`, with `reason`).
    pub password: String,
}

/// The account was created and a 6-digit code was mailed to confirm the address.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AccountCreated {
    pub member_id: String,
    pub email: String,
    /// Always `pending_verification` until the code is confirmed.
    #[schema(example = "pending_verification")]
    pub status: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyEmailRequest {
    pub email: String,
    /// The 6-digit code from the email.
    #[schema(example = "123456")]
    pub code: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResendVerificationRequest {
    pub email: String,
}

/// The signed-in member.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Member {
    pub member_id: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    #[schema(value_type = String, format = Date)]
    pub date_of_birth: NaiveDate,
    pub email_verified: bool,
}

// ---------------------------------------------------------------------------------------------
// Sessions

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSessionRequest {
    /// Email address or member ID.
    #[schema(example = "demo@carebill.example")]
    pub login: String,
    pub password: String,
    /// Keep the session for 30 days instead of 12 hours.
    #[serde(default)]
    pub remember_device: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshSessionRequest {
    pub refresh_token: String,
}

/// A token pair. The access token goes in `Authorization: Bearer`; the refresh token buys the
/// next pair and is single-use (presenting it again within 30 seconds returns the same pair).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
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
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    pub current_password: String,
    pub new_password: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordResetRequest {
    pub email: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordResetConfirmRequest {
    pub email: String,
    /// The 8-character code from the email (case and spaces ignored).
    #[schema(example = "K7RM-2XQP")]
    pub code: String,
    pub new_password: String,
}

// ---------------------------------------------------------------------------------------------
// Bills

/// A bill with its amounts as of now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Bill {
    #[schema(example = "bil_8m2k4x9q7w3v")]
    pub id: String,
    /// The provider's account number for the patient.
    pub account_number: String,
    /// The statement's number, printed on the paper bill.
    pub statement_number: String,
    pub kind: BillKind,
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
    /// `total_charges - insurance_paid - adjustments`.
    pub amount_due: Money,
    /// `amount_due` less settled payments.
    pub balance: Money,
    /// Payments made but not yet settled.
    pub pending_amount: Money,
    /// `balance - pending_amount`: what can be paid now.
    pub payable: Money,
    pub status: BillStatus,
}

/// One service on a bill. The columns of a bill's line items add up to its totals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
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

/// A bill with its line items.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct BillDetail {
    #[serde(flatten)]
    pub bill: Bill,
    pub line_items: Vec<LineItem>,
}

/// Which bills to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
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
pub struct BillPage {
    pub data: Vec<Bill>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
    pub has_more: bool,
}

// ---------------------------------------------------------------------------------------------
// Sync

/// What kind of thing changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SyncEntity {
    Bill,
    Payment,
    PaymentMethod,
    Autopay,
}

impl SyncEntity {
    pub fn as_str(self) -> &'static str {
        match self {
            SyncEntity::Bill => "bill",
            SyncEntity::Payment => "payment",
            SyncEntity::PaymentMethod => "payment_method",
            SyncEntity::Autopay => "autopay",
        }
    }

    pub fn parse(s: &str) -> Option<SyncEntity> {
        match s {
            "bill" => Some(SyncEntity::Bill),
            "payment" => Some(SyncEntity::Payment),
            "payment_method" => Some(SyncEntity::PaymentMethod),
            "autopay" => Some(SyncEntity::Autopay),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SyncOp {
    Upsert,
    Delete,
}

/// One change: the entity's current state (`upsert`) or its removal (`delete`, no `data`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Change {
    pub entity: SyncEntity,
    pub op: SyncOp,
    pub id: String,
    /// For `bill`: a BillDetail. Later entities carry their own shapes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub data: Option<serde_json::Value>,
}

/// A page of changes in change order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
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
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub body: String,
    #[schema(value_type = String, format = DateTime)]
    pub sent_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// `ok` when the database answers.
    pub status: String,
    pub version: String,
    /// True when the server runs with demo data and demo endpoints.
    pub demo: bool,
}
