//! The error envelope and the one table of error codes.
//!
//! Every error the API answers is `{"error": {"code", "message", "field"?, "reason"?}}`. The code
//! is stable and snake_case; clients branch on it. The HTTP status of each code is decided here
//! and nowhere else.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

macro_rules! error_codes {
    ($($variant:ident = $code:literal => $status:literal, $message:literal;)*) => {
        /// Every error code the API can answer with.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode { $($variant),* }

        impl ErrorCode {
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant),*];

            /// The wire code.
            pub fn as_str(self) -> &'static str {
                match self { $(ErrorCode::$variant => $code),* }
            }

            /// The HTTP status this code is answered with.
            pub fn status(self) -> u16 {
                match self { $(ErrorCode::$variant => $status),* }
            }

            /// A sentence for people, used when nothing more specific is known.
            pub fn default_message(self) -> &'static str {
                match self { $(ErrorCode::$variant => $message),* }
            }

            pub fn parse(code: &str) -> Option<ErrorCode> {
                match code { $($code => Some(ErrorCode::$variant),)* _ => None }
            }
        }
    };
}

error_codes! {
    // 400: the request itself is malformed.
    InvalidJson = "invalid_json" => 400, "The request body is not valid JSON.";
    InvalidCursor = "invalid_cursor" => 400, "The cursor is not valid. Start again without a cursor.";
    IdempotencyKeyMissing = "idempotency_key_missing" => 400, "Send an Idempotency-Key header of 1 to 255 letters, digits, '-', '_', '.' or '~'.";
    BadRequest = "bad_request" => 400, "The request could not be understood.";
    // 401: who is asking is unknown or no longer valid.
    Unauthenticated = "unauthenticated" => 401, "Sign in to continue.";
    TokenExpired = "token_expired" => 401, "Your access token has expired. Refresh it and try again.";
    SessionRevoked = "session_revoked" => 401, "You have been signed out. Sign in again to continue.";
    SessionExpired = "session_expired" => 401, "Your session has ended. Sign in again to continue.";
    InvalidCredentials = "invalid_credentials" => 401, "The email or member ID and password do not match our records.";
    StaffSignInFailed = "staff_sign_in_failed" => 401, "The email, password and code do not match, or this account cannot sign in. A supervisor can reset your sign-in.";
    DeviceUnauthenticated = "device_unauthenticated" => 401, "This kiosk is not enrolled or its credential was revoked.";
    GuestSessionEnded = "guest_session_ended" => 401, "This bill lookup has ended: it lasts 10 minutes and stops after 3 declined payments. Look up the bill again.";
    // 402: the payment was declined; nothing was charged.
    CardDeclined = "card_declined" => 402, "Your card was declined. Nothing was charged. Try another card or contact your bank.";
    InsufficientFunds = "insufficient_funds" => 402, "Your card has insufficient funds. Nothing was charged. Try another card or a bank account.";
    ExpiredCard = "expired_card" => 402, "Your card has expired. Nothing was charged. Use a card with a current expiry date.";
    IncorrectCvc = "incorrect_cvc" => 402, "The security code did not match. Nothing was charged. Check the code on the back of your card.";
    ProcessingError = "processing_error" => 402, "The card network could not process the payment. Nothing was charged. Try again in a few minutes.";
    // 403
    EmailNotVerified = "email_not_verified" => 403, "Confirm your email address with the code we sent before signing in.";
    Forbidden = "forbidden" => 403, "You cannot do that.";
    CsrfRejected = "csrf_rejected" => 403, "This request did not come from the console's own page. Reload the console and try again.";
    // 404
    NotFound = "not_found" => 404, "There is nothing here.";
    BillNotFound = "bill_not_found" => 404, "We could not find that bill.";
    ClaimNotFound = "claim_not_found" => 404, "We could not find that claim.";
    PaymentNotFound = "payment_not_found" => 404, "We could not find that payment.";
    PaymentMethodNotFound = "payment_method_not_found" => 404, "We could not find that payment method.";
    AutopayNotFound = "autopay_not_found" => 404, "Autopay is not set up.";
    PaymentPlanNotFound = "payment_plan_not_found" => 404, "We could not find that payment plan.";
    ScheduledPaymentNotFound = "scheduled_payment_not_found" => 404, "We could not find that scheduled payment.";
    ConversationNotFound = "conversation_not_found" => 404, "We could not find that conversation.";
    AttachmentNotFound = "attachment_not_found" => 404, "We could not find that attachment.";
    // 405
    MethodNotAllowed = "method_not_allowed" => 405, "That method is not allowed here.";
    // 409: conflicts with the current state.
    AccountExists = "account_exists" => 409, "An account already exists for this member ID or email address. Sign in, or reset your password.";
    IdempotencyKeyInUse = "idempotency_key_in_use" => 409, "A request with this Idempotency-Key is still being processed. Retry shortly.";
    InUseByAutopay = "in_use_by_autopay" => 409, "This payment method is used by autopay. Choose another method for autopay, or turn autopay off, first.";
    InUseByPaymentPlan = "in_use_by_payment_plan" => 409, "This payment method pays a payment plan. Choose another method for the plan first.";
    InUseByScheduledPayment = "in_use_by_scheduled_payment" => 409, "This payment method pays a scheduled payment. Change or cancel that payment first.";
    BillOnPaymentPlan = "bill_on_payment_plan" => 409, "This bill is already on a payment plan.";
    PaymentPlanClosed = "payment_plan_closed" => 409, "This payment plan has ended, so it cannot be changed.";
    ConversationClosed = "conversation_closed" => 409, "This conversation is closed. Start a new one to ask something else.";
    // 412, 428: a change made from an out-of-date copy.
    ChangedElsewhere = "changed_elsewhere" => 412, "This was changed on another device since you opened it. Look at it again, then make your change.";
    PreconditionRequired = "precondition_required" => 428, "Send If-Match with the version you are changing.";
    // 410
    CursorExpired = "cursor_expired" => 410, "This sync cursor is too old. Sync again from the start.";
    // 413, 415
    PayloadTooLarge = "payload_too_large" => 413, "The request body is larger than this server accepts (64 KiB unless the plan set another limit).";
    UnsupportedMediaType = "unsupported_media_type" => 415, "Send the request body as application/json.";
    AttachmentTooLarge = "attachment_too_large" => 413, "The file is larger than 10 MB. Attach a smaller file, or a photo of fewer pages.";
    AttachmentTypeNotAllowed = "attachment_type_not_allowed" => 415, "Attach a PDF, JPEG or PNG file. Other kinds of file are not accepted.";
    // 422: understood, but not acceptable; nothing changed.
    ValidationFailed = "validation_failed" => 422, "Some of the information is not valid.";
    IdentityNotVerified = "identity_not_verified" => 422, "We could not match these details to a member of the plan. Check them against your member card.";
    WeakPassword = "weak_password" => 422, "Choose a stronger password.";
    InvalidCode = "invalid_code" => 422, "That code is not right. Check the code we sent and try again.";
    CodeExpired = "code_expired" => 422, "That code has expired or was tried too many times. Ask for a new code.";
    IncorrectPassword = "incorrect_password" => 422, "Your current password is not right.";
    InvalidAmount = "invalid_amount" => 422, "Enter an amount greater than 0 with at most two decimal places.";
    AmountExceedsBalance = "amount_exceeds_balance" => 422, "The amount is more than you can pay on this bill right now.";
    DuplicateBill = "duplicate_bill" => 422, "Each bill can appear only once in a payment.";
    AchAuthorizationRequired = "ach_authorization_required" => 422, "Accept the bank payment authorization to pay from a bank account.";
    IdempotencyKeyReused = "idempotency_key_reused" => 422, "This Idempotency-Key was already used for a different request.";
    IdempotencyKeyExpired = "idempotency_key_expired" => 422, "This Idempotency-Key was used more than 48 hours ago and cannot be used again. Check your payment history before paying again.";
    InvalidCardNumber = "invalid_card_number" => 422, "Enter a valid card number, as it appears on your card.";
    InvalidExpiry = "invalid_expiry" => 422, "Enter an expiry date in the future, as it appears on your card.";
    InvalidCvc = "invalid_cvc" => 422, "Enter the security code from your card.";
    InvalidRoutingNumber = "invalid_routing_number" => 422, "Enter a valid 9-digit routing number.";
    InvalidAccountNumber = "invalid_account_number" => 422, "Enter a valid account number.";
    InvalidPaymentToken = "invalid_payment_token" => 422, "This payment token is not valid, was already used or has expired. Enter the payment details again.";
    TooLateToSkip = "too_late_to_skip" => 422, "It is too late to skip this charge.";
    GuestLookupFailed = "guest_lookup_failed" => 422, "We could not find a bill matching those details. Check them against your statement.";
    NothingToPay = "nothing_to_pay" => 422, "There is nothing to pay on this bill right now.";
    PlanBelowMinimum = "plan_below_minimum" => 422, "These bills add up to less than the smallest balance a payment plan can cover.";
    InstalmentTooSmall = "instalment_too_small" => 422, "The monthly payment is less than the plan allows.";
    PlanTooLong = "plan_too_long" => 422, "A payment plan cannot last that many months.";
    InvalidDayOfMonth = "invalid_day_of_month" => 422, "Choose a day from 1 to 28.";
    PlanTermsRequired = "plan_terms_required" => 422, "Choose either a monthly amount or a number of months.";
    PlanAuthorizationRequired = "plan_authorization_required" => 422, "Accept the payment plan authorization for this payment method.";
    PauseTooLong = "pause_too_long" => 422, "A payment plan cannot be paused that long.";
    InvalidPayOn = "invalid_pay_on" => 422, "Choose a date from today to the bill's due date.";
    AttachmentEmpty = "attachment_empty" => 422, "The file is empty. Choose the file again.";
    AttachmentTruncated = "attachment_truncated" => 422, "The file is incomplete. Save it again and attach it.";
    AttachmentMalformed = "attachment_malformed" => 422, "The file is damaged. Save it again and attach it.";
    TooManyAttachments = "too_many_attachments" => 422, "A message can have up to 5 attachments.";
    ReasonRequired = "reason_required" => 422, "Say why you need this member's account (10 to 500 characters). The reason is recorded in the audit log.";
    SetupCodeInvalid = "setup_code_invalid" => 422, "This setup code is not valid or has expired. Ask a supervisor for a new one.";
    TooLateToChange = "too_late_to_change" => 422, "This scheduled payment is being made today, so it can no longer be changed or cancelled.";
    // 429
    TooManyAttempts = "too_many_attempts" => 429, "Too many attempts. Wait a moment, then try again.";
    RateLimited = "rate_limited" => 429, "Too many requests. Wait a moment, then try again.";
    TooManyPayments = "too_many_payments" => 429, "You have made many payments in the last 24 hours. For your security, please wait, or contact the billing office if you need to pay now.";
    TooManyDeclines = "too_many_declines" => 429, "Several payments were declined, so paying with this card or account is paused for 24 hours for your security. Nothing was charged. Contact the billing office if you need help.";
    // 5xx
    Internal = "internal" => 500, "Something went wrong on our side. Nothing was changed. Try again.";
    RequestTimeout = "request_timeout" => 503, "The server took too long to answer. Try again: repeating the same request is safe, and a payment is never made twice.";
    ProcessorUnavailable = "processor_unavailable" => 503, "The payment processor is not reachable right now. Try again in a few minutes.";
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error envelope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, snake_case. Clients branch on this and must tolerate codes they do not know.
    #[schema(example = "validation_failed")]
    pub code: String,
    /// A sentence for people.
    pub message: String,
    /// A JSON Pointer to the request field at fault, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "/date_of_birth")]
    pub field: Option<String>,
    /// A finer, stable reason (for example the rule a weak password broke).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The values `message` names, by name (for example `max` for `amount_exceeds_balance`), so
    /// an app can say the same in its member's language.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = json!({"max": "$251.56"}))]
    pub params: Option<std::collections::BTreeMap<String, String>>,
    /// For declines (402): the failed payment that was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub payment: Option<serde_json::Value>,
}

impl ErrorBody {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: code.as_str().to_string(),
                message: message.into(),
                field: None,
                reason: None,
                params: None,
                payment: None,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_snake_case_and_round_trip() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            let s = code.as_str();
            assert!(seen.insert(s), "duplicate code {s}");
            assert!(s.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'), "{s}");
            assert_eq!(ErrorCode::parse(s), Some(*code));
            assert!((400..=599).contains(&code.status()));
            assert!(code.default_message().ends_with('.'), "{s}");
        }
    }
}
