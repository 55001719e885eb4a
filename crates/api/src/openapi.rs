//! The OpenAPI 3.1 document of the billing API, generated from the types in this crate.
//!
//! Operations are declared here, next to the contract, with what each answers on success and on
//! its specific failures. The errors every operation can answer (400, 401, 413, 415, 422, 429)
//! and the `Business-Date` header on every response are added in one pass by [`document`], so no
//! operation can forget them. `crates/api/openapi.json` is this document, committed; a test fails
//! when the two differ (`UPDATE_OPENAPI=1 cargo test -p carebill-api` rewrites the file).

#![allow(dead_code)] // The functions below exist only to carry `#[utoipa::path]` declarations.

use serde_json::{Map, Value, json};
use utoipa::OpenApi;

use crate::BUSINESS_DATE_HEADER;
use crate::error::{ErrorBody, ErrorDetail};
use crate::types::*;

/// A file's bytes in a request or response body (a `Vec<u8>` would read as an array of numbers).
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
struct FileBytes(Vec<u8>);

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Carebill Billing API",
        description = "The billing API behind the Carebill desktop app: member accounts and sessions, \
bills with line items, and a change feed for offline sync. Money is a string with two decimals. \
Every response carries the plan's current business date in the `Business-Date` header.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    paths(
        create_account, verify_email, resend_verification,
        create_session, refresh_session, delete_current_session, delete_all_sessions,
        get_me, change_password, set_locale, get_notifications, put_notifications,
        request_password_reset, confirm_password_reset,
        list_bills, get_bill, list_claims, get_claim, sync,
        list_conversations, create_conversation, get_conversation, create_message, close_conversation,
        upload_attachment, get_attachment,
        create_payment_method, list_payment_methods, delete_payment_method,
        create_payment, list_payments, get_payment, ach_authorization,
        get_autopay, put_autopay, delete_autopay, autopay_upcoming, autopay_skip,
        list_payment_plans, create_payment_plan, get_payment_plan, put_payment_plan, cancel_payment_plan,
        pause_payment_plan, resume_payment_plan,
        list_scheduled_payments, create_scheduled_payment, get_scheduled_payment, put_scheduled_payment,
        cancel_scheduled_payment,
        create_token, lookup_bank,
        guest_lookup, guest_bill, guest_payment, guest_receipt,
        get_plan,
        healthz, dev_mailbox, dev_clock, dev_bills,
    ),
    components(schemas(ErrorBody, ErrorDetail, carebill_billing::Money, BillFilter, AchAuthorizationKind, Payment, PaymentMethod, Autopay)),
    tags(
        (name = "accounts", description = "Registration and email confirmation"),
        (name = "sessions", description = "Signing in and out, tokens"),
        (name = "members", description = "The signed-in member"),
        (name = "password-resets", description = "Forgotten passwords"),
        (name = "bills", description = "Bills and line items"),
        (name = "claims", description = "Claims the plan processed (Explanations of Benefits): what was charged, allowed, paid, and what the member may owe and why"),
        (name = "conversations", description = "Secure messages with the billing office: questions about a bill or anything billing, with attachments"),
        (name = "sync", description = "The change feed for offline copies"),
        (name = "payment-methods", description = "Saved cards and bank accounts (display fields only)"),
        (name = "payments", description = "Paying bills, exactly once per Idempotency-Key"),
        (name = "autopay", description = "Automatic payment of new bills"),
        (name = "payment-plans", description = "0% payment plans within the plan's policy: monthly instalments charged exactly once by the scheduler"),
        (name = "scheduled-payments", description = "One-time payments scheduled for a date up to the due date"),
        (name = "processor", description = "The sandbox payment processor: tokenization. Card and bank numbers go here, never to the billing API."),
        (name = "guest", description = "Guest pay at enrolled clinic kiosks: look up one bill by its statement, pay it, mail a receipt"),
        (name = "plan", description = "The plan's own facts: member services, hours, language assistance"),
        (name = "operations", description = "Health and demo-only endpoints"),
    ),
)]
struct ApiDoc;

#[utoipa::path(post, path = "/v1/accounts", tag = "accounts", operation_id = "createAccount",
    summary = "Register: match the plan's roster and create an unconfirmed account",
    request_body = CreateAccountRequest,
    responses(
        (status = 201, description = "Created; a 6-digit code was mailed", body = AccountCreated),
        (status = 409, description = "`account_exists`", body = ErrorBody),
    ))]
fn create_account() {}

#[utoipa::path(post, path = "/v1/accounts/verify", tag = "accounts", operation_id = "verifyEmail",
    summary = "Confirm the email address with the mailed code (15 minutes, 5 attempts)",
    request_body = VerifyEmailRequest,
    responses((status = 204, description = "Confirmed; the member can sign in")))]
fn verify_email() {}

#[utoipa::path(post, path = "/v1/accounts/verify/resend", tag = "accounts", operation_id = "resendVerification",
    summary = "Mail a new confirmation code (always accepted; no enumeration)",
    request_body = ResendVerificationRequest,
    responses((status = 202, description = "Accepted")))]
fn resend_verification() {}

#[utoipa::path(post, path = "/v1/sessions", tag = "sessions", operation_id = "createSession",
    summary = "Sign in with email or member ID and password",
    request_body = CreateSessionRequest,
    responses(
        (status = 201, description = "Signed in", body = SessionTokens),
        (status = 403, description = "`email_not_verified`", body = ErrorBody),
    ))]
fn create_session() {}

#[utoipa::path(post, path = "/v1/sessions/refresh", tag = "sessions", operation_id = "refreshSession",
    summary = "Trade a refresh token for a new pair (rotation)",
    request_body = RefreshSessionRequest,
    responses((status = 200, description = "A new pair", body = SessionTokens)))]
fn refresh_session() {}

#[utoipa::path(delete, path = "/v1/sessions/current", tag = "sessions", operation_id = "deleteCurrentSession",
    summary = "Sign out this session", security(("bearer" = [])),
    responses((status = 204, description = "Signed out")))]
fn delete_current_session() {}

#[utoipa::path(delete, path = "/v1/sessions", tag = "sessions", operation_id = "deleteAllSessions",
    summary = "Sign out everywhere", security(("bearer" = [])),
    responses((status = 204, description = "Every session of the member is revoked")))]
fn delete_all_sessions() {}

#[utoipa::path(get, path = "/v1/me", tag = "members", operation_id = "getMe",
    summary = "The signed-in member", security(("bearer" = [])),
    responses((status = 200, description = "The member", body = Member)))]
fn get_me() {}

#[utoipa::path(post, path = "/v1/me/password", tag = "members", operation_id = "changePassword",
    summary = "Change the password; other sessions are revoked", security(("bearer" = [])),
    request_body = ChangePasswordRequest,
    responses((status = 204, description = "Changed")))]
fn change_password() {}

#[utoipa::path(put, path = "/v1/me/locale", tag = "members", operation_id = "setLocale",
    summary = "Set the language of the member's mail (English or Spanish)", security(("bearer" = [])),
    request_body = SetLocaleRequest,
    responses((status = 200, description = "The member, with the new language", body = Member)))]
fn set_locale() {}

#[utoipa::path(get, path = "/v1/me/notifications", tag = "members", operation_id = "getNotifications",
    summary = "What the member is told about, and how (every switch on until turned off)", security(("bearer" = [])),
    responses((status = 200, description = "The member's notification preferences", body = NotificationPreferences)))]
fn get_notifications() {}

#[utoipa::path(put, path = "/v1/me/notifications", tag = "members", operation_id = "putNotifications",
    summary = "Set what the member is told about, and how; and paperless statements", security(("bearer" = [])),
    request_body = NotificationPreferences,
    responses((status = 200, description = "The preferences as saved", body = NotificationPreferences)))]
fn put_notifications() {}

#[utoipa::path(post, path = "/v1/password-resets", tag = "password-resets", operation_id = "requestPasswordReset",
    summary = "Mail a reset code if an account uses this address (always 202)",
    request_body = PasswordResetRequest,
    responses((status = 202, description = "Accepted")))]
fn request_password_reset() {}

#[utoipa::path(post, path = "/v1/password-resets/confirm", tag = "password-resets", operation_id = "confirmPasswordReset",
    summary = "Set a new password with the mailed code; every session is revoked",
    request_body = PasswordResetConfirmRequest,
    responses((status = 204, description = "Password changed")))]
fn confirm_password_reset() {}

#[utoipa::path(get, path = "/v1/bills", tag = "bills", operation_id = "listBills",
    summary = "The member's bills by due date, then id", security(("bearer" = [])),
    params(
        ("status" = Option<BillFilter>, Query, description = "`open` (default): a balance remains; `paid`; `all`"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 100, description = "Page size, default 25"),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page"),
    ),
    responses((status = 200, description = "A page of bills", body = BillPage)))]
fn list_bills() {}

#[utoipa::path(get, path = "/v1/bills/{id}", tag = "bills", operation_id = "getBill",
    summary = "A bill with its line items", security(("bearer" = [])),
    params(("id" = String, Path, description = "The bill's id")),
    responses(
        (status = 200, description = "The bill", body = BillDetail),
        (status = 404, description = "`bill_not_found`: no such bill for this member", body = ErrorBody),
    ))]
fn get_bill() {}

#[utoipa::path(get, path = "/v1/claims", tag = "claims", operation_id = "listClaims",
    summary = "The member's claims (dependents' included), newest service first, then id", security(("bearer" = [])),
    params(
        ("year" = Option<i32>, Query, minimum = 2000, maximum = 2100, description = "Claims whose service began in this calendar year"),
        ("provider" = Option<String>, Query, min_length = 1, max_length = 100, pattern = "^[^\\x00-\\x1f\\x7f]{1,100}$",
            description = "Provider or facility name contains this (case-insensitive), 1 to 100 characters"),
        ("claim_number" = Option<String>, Query, pattern = "^[A-Za-z0-9._/-]{1,64}$",
            description = "The claim with this number (a bill's `claim_number`)"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 100, description = "Page size, default 25"),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page"),
    ),
    responses((status = 200, description = "A page of claims", body = ClaimPage)))]
fn list_claims() {}

#[utoipa::path(get, path = "/v1/claims/{id}", tag = "claims", operation_id = "getClaim",
    summary = "A claim with its lines, every adjudication, totals and plan-year figures", security(("bearer" = [])),
    params(("id" = String, Path, description = "The claim's id")),
    responses(
        (status = 200, description = "The claim", body = ClaimDetail),
        (status = 404, description = "`claim_not_found`: no such claim for this member", body = ErrorBody),
    ))]
fn get_claim() {}

#[utoipa::path(get, path = "/v1/conversations", tag = "conversations", operation_id = "listConversations",
    summary = "The member's conversations with the billing office, newest first, with their messages", security(("bearer" = [])),
    params(
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 100, description = "Page size, default 25"),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page"),
    ),
    responses((status = 200, description = "A page of conversations", body = ConversationPage)))]
fn list_conversations() {}

#[utoipa::path(post, path = "/v1/conversations", tag = "conversations", operation_id = "createConversation",
    summary = "Ask the billing office something, about a bill (or one of its lines) or anything billing",
    description = "While a conversation about a bill is not closed, autopay, plan instalments and scheduled payments do not charge that bill and their reminders stop.",
    security(("bearer" = [])), request_body = NewConversation,
    params(("Idempotency-Key" = String, Header, pattern = "^[A-Za-z0-9._~-]{1,255}$",
        description = "1 to 255 letters, digits, `-`, `_`, `.` or `~`, unique per message; sent again, it answers 200 with what the first request made")),
    responses(
        (status = 201, description = "The conversation, with its reference number", body = Conversation),
        (status = 200, description = "The conversation this key made before", body = Conversation),
        (status = 404, description = "`bill_not_found`, `attachment_not_found`", body = ErrorBody),
    ))]
fn create_conversation() {}

#[utoipa::path(get, path = "/v1/conversations/{id}", tag = "conversations", operation_id = "getConversation",
    summary = "One conversation with its messages", security(("bearer" = [])),
    params(("id" = String, Path, description = "The conversation's id")),
    responses(
        (status = 200, description = "The conversation", body = Conversation),
        (status = 404, description = "`conversation_not_found`", body = ErrorBody),
    ))]
fn get_conversation() {}

#[utoipa::path(post, path = "/v1/conversations/{id}/messages", tag = "conversations", operation_id = "createMessage",
    summary = "Reply in a conversation (it is open again: the billing office owes an answer)",
    security(("bearer" = [])), request_body = NewMessage,
    params(("id" = String, Path, description = "The conversation's id"),
        ("Idempotency-Key" = String, Header, pattern = "^[A-Za-z0-9._~-]{1,255}$",
        description = "1 to 255 letters, digits, `-`, `_`, `.` or `~`, unique per message; sent again, it answers 200 with the conversation")),
    responses(
        (status = 201, description = "The conversation with the new message", body = Conversation),
        (status = 200, description = "The conversation, with the message this key sent before", body = Conversation),
        (status = 404, description = "`conversation_not_found`, `attachment_not_found`", body = ErrorBody),
        (status = 409, description = "`conversation_closed`", body = ErrorBody),
    ))]
fn create_message() {}

#[utoipa::path(post, path = "/v1/conversations/{id}/close", tag = "conversations", operation_id = "closeConversation",
    summary = "Close a conversation (a closed one answers as it is): automatic charges of its bill resume", security(("bearer" = [])),
    params(("id" = String, Path, description = "The conversation's id")),
    responses(
        (status = 200, description = "The closed conversation", body = Conversation),
        (status = 404, description = "`conversation_not_found`", body = ErrorBody),
    ))]
fn close_conversation() {}

#[utoipa::path(post, path = "/v1/attachments", tag = "conversations", operation_id = "uploadAttachment",
    summary = "Upload a file to attach to a message: PDF, JPEG or PNG, up to 10 MB, decided by its content",
    description = "The body is the file's bytes (any Content-Type; the content decides). It has its own size limit; JSON bodies keep theirs. An uploaded file not sent with a message within a day is deleted.",
    security(("bearer" = [])),
    request_body(content = FileBytes, content_type = "application/octet-stream", description = "The file"),
    params(
        ("file_name" = String, Query, max_length = 100, pattern = "^ *[A-Za-z0-9._()-][A-Za-z0-9 ._()-]*$",
            description = "The file's name, for showing only: up to 100 letters, digits, spaces and `._()-`, not only spaces (surrounding spaces are dropped)"),
        ("Idempotency-Key" = String, Header, pattern = "^[A-Za-z0-9._~-]{1,255}$",
        description = "1 to 255 letters, digits, `-`, `_`, `.` or `~`, unique per file; sent again, it answers 200 with the file it stored"),
    ),
    responses(
        (status = 201, description = "Stored", body = Attachment),
        (status = 200, description = "The file this key stored before", body = Attachment),
        (status = 413, description = "`attachment_too_large`: over 10 MB", body = ErrorBody),
        (status = 415, description = "`attachment_type_not_allowed`: not a PDF, JPEG or PNG by its content", body = ErrorBody),
        (status = 422, description = "`attachment_empty`, `attachment_truncated`, `attachment_malformed`, `validation_failed`", body = ErrorBody),
    ))]
fn upload_attachment() {}

#[utoipa::path(get, path = "/v1/attachments/{id}", tag = "conversations", operation_id = "getAttachment",
    summary = "An attachment's bytes, as a download", security(("bearer" = [])),
    params(("id" = String, Path, description = "The attachment's id")),
    responses(
        (status = 200, description = "The file (`Content-Type` from its content, `Content-Disposition: attachment`)",
            content((FileBytes = "application/pdf"), (FileBytes = "image/jpeg"), (FileBytes = "image/png"))),
        (status = 404, description = "`attachment_not_found`", body = ErrorBody),
    ))]
fn get_attachment() {}

#[utoipa::path(get, path = "/v1/sync", tag = "sync", operation_id = "sync",
    summary = "Changes since a cursor, at most 500 a page", security(("bearer" = [])),
    params(
        ("cursor" = Option<String>, Query, description = "Empty or absent: everything"),
        ("If-None-Match" = Option<String>, Header, description = "The ETag of the last answer; 304 when nothing changed"),
    ),
    responses(
        (status = 200, description = "Changes; `ETag` is the member's latest change", body = SyncPage,
            headers(("ETag" = String, description = "The member's latest change sequence"))),
        (status = 304, description = "Nothing changed since the ETag"),
        (status = 410, description = "`cursor_expired`: sync again without a cursor", body = ErrorBody),
    ))]
fn sync() {}

#[utoipa::path(get, path = "/v1/plan", tag = "plan", operation_id = "getPlan",
    summary = "The plan's facts for every screen, receipt and mail: public, cacheable",
    params(
        ("If-None-Match" = Option<String>, Header, description = "The ETag of the copy the client holds; 304 when it is current"),
    ),
    responses(
        (status = 200, description = "The plan's document", body = PlanInfo,
            headers(
                ("ETag" = String, description = "Changes when the document changes"),
                ("Cache-Control" = String, description = "`public, max-age=300`"),
            )),
        (status = 304, description = "The client's copy is current"),
    ))]
fn get_plan() {}

#[utoipa::path(get, path = "/healthz", tag = "operations", operation_id = "healthz",
    summary = "Liveness and database health",
    responses((status = 200, description = "Healthy", body = Health)))]
fn healthz() {}

#[utoipa::path(get, path = "/dev/mailbox", tag = "operations", operation_id = "devMailbox",
    summary = "Demo mode only: every mail the server sent, newest last (404 otherwise)",
    responses(
        (status = 200, description = "Mails", body = Vec<Mail>),
        (status = 404, description = "Not in demo mode", body = ErrorBody),
    ))]
fn dev_mailbox() {}

#[utoipa::path(post, path = "/v1/payment-methods", tag = "payment-methods", operation_id = "createPaymentMethod",
    summary = "Save a card or bank account from a processor token (the same card twice answers the saved one, 200)",
    security(("bearer" = [])), request_body = CreatePaymentMethodRequest,
    responses(
        (status = 201, description = "Saved", body = PaymentMethod),
        (status = 200, description = "Already saved: the existing method", body = PaymentMethod),
        (status = 503, description = "`processor_unavailable`", body = ErrorBody),
    ))]
fn create_payment_method() {}

#[utoipa::path(get, path = "/v1/payment-methods", tag = "payment-methods", operation_id = "listPaymentMethods",
    summary = "The member's saved methods", security(("bearer" = [])),
    responses((status = 200, description = "Methods", body = PaymentMethodList)))]
fn list_payment_methods() {}

#[utoipa::path(delete, path = "/v1/payment-methods/{id}", tag = "payment-methods", operation_id = "deletePaymentMethod",
    summary = "Remove a saved method (not while autopay, an open payment plan or a scheduled payment uses it)", security(("bearer" = [])),
    params(("id" = String, Path, description = "The method's id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "`payment_method_not_found`", body = ErrorBody),
        (status = 409, description = "`in_use_by_autopay`, `in_use_by_payment_plan` or `in_use_by_scheduled_payment`", body = ErrorBody),
    ))]
fn delete_payment_method() {}

#[utoipa::path(post, path = "/v1/payments", tag = "payments", operation_id = "createPayment",
    summary = "Pay one or more bills. The same key and request replays the first answer; the same key with another request is refused.",
    security(("bearer" = [])), request_body = CreatePaymentRequest,
    params(("Idempotency-Key" = String, Header, pattern = "^[A-Za-z0-9._~-]{1,255}$",
        description = "1 to 255 letters, digits, `-`, `_`, `.` or `~` (never `:`), unique per payment intent; reuse it on every retry. A key is never accepted for a new payment again: after 48 hours it answers `idempotency_key_expired`.")),
    responses(
        (status = 201, description = "Paid (`succeeded`) or, for bank payments, `pending`", body = Payment,
            headers(("Idempotent-Replayed" = String, description = "`true` when this answer is a replay"))),
        (status = 202, description = "`needs_review`: the processor's answer did not match the payment; nothing was settled and the billing office checks it", body = Payment),
        (status = 402, description = "Declined: `card_declined`, `insufficient_funds`, `expired_card`, `incorrect_cvc`, `processing_error`; the failed payment is under `error.payment`. Nothing was charged.", body = ErrorBody),
        (status = 404, description = "`bill_not_found`, `payment_method_not_found`", body = ErrorBody),
        (status = 409, description = "`idempotency_key_in_use`: a request with this key is in flight; retry shortly", body = ErrorBody),
        (status = 503, description = "`processor_unavailable`: the outcome is being confirmed; retry with the same key", body = ErrorBody),
    ))]
fn create_payment() {}

#[utoipa::path(get, path = "/v1/payments", tag = "payments", operation_id = "listPayments",
    summary = "The member's payments, newest first", security(("bearer" = [])),
    params(
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 100, description = "Page size, default 25"),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page"),
        ("idempotency_key" = Option<String>, Query, pattern = "^[A-Za-z0-9._~-]{1,255}$",
            description = "Only the payment made with this key: a page of one, or an empty page when the server never received it"),
    ),
    responses(
        (status = 200, description = "A page of payments", body = PaymentPage),
        (status = 409, description = "`idempotency_key_in_use`: the payment with this key is still being charged; ask again later", body = ErrorBody),
    ))]
fn list_payments() {}

#[utoipa::path(get, path = "/v1/payments/{id}", tag = "payments", operation_id = "getPayment",
    summary = "One payment", security(("bearer" = [])),
    params(("id" = String, Path, description = "The payment's id")),
    responses(
        (status = 200, description = "The payment", body = Payment),
        (status = 404, description = "`payment_not_found`", body = ErrorBody),
    ))]
fn get_payment() {}

#[utoipa::path(get, path = "/v1/ach-authorization", tag = "payments", operation_id = "achAuthorization",
    summary = "The NACHA authorization text a member accepts for bank payments (public: guests need it too)",
    params(("kind" = Option<AchAuthorizationKind>, Query, description = "`single` (default) for one payment, `recurring` for autopay, `instalments` (bank account) or `card_instalments` (card) for a payment plan"),
        ("locale" = Option<Locale>, Query, description = "`en` (default) or `es`: the text in that language, with its own version")),
    responses((status = 200, description = "The text and its version", body = AchAuthorization),
        (status = 422, description = "An unknown kind or locale", body = ErrorBody)))]
fn ach_authorization() {}

#[utoipa::path(get, path = "/v1/payment-plans", tag = "payment-plans", operation_id = "listPaymentPlans",
    summary = "The member's payment plans, newest first (ended ones too)", security(("bearer" = [])),
    responses((status = 200, description = "Plans", body = PaymentPlanList)))]
fn list_payment_plans() {}

#[utoipa::path(post, path = "/v1/payment-plans", tag = "payment-plans", operation_id = "createPaymentPlan",
    summary = "Set up a payment plan for open bills: a monthly amount or a number of months, a day from 1 to 28, a saved method and its instalment authorization",
    security(("bearer" = [])), request_body = PaymentPlanRequest,
    params(("Idempotency-Key" = String, Header, pattern = "^[A-Za-z0-9._~-]{1,255}$",
        description = "1 to 255 letters, digits, `-`, `_`, `.` or `~`, unique per request; sent again, it answers 200 with what the first request made")),
    responses(
        (status = 201, description = "The plan, with its number and schedule (`ETag`: its version); a confirmation is mailed", body = PaymentPlan,
            headers(("ETag" = String, description = "The plan's version, for `If-Match`"))),
        (status = 200, description = "The plan this key made before", body = PaymentPlan),
        (status = 404, description = "`bill_not_found`, `payment_method_not_found`", body = ErrorBody),
        (status = 409, description = "`bill_on_payment_plan`", body = ErrorBody),
    ))]
fn create_payment_plan() {}

#[utoipa::path(get, path = "/v1/payment-plans/{id}", tag = "payment-plans", operation_id = "getPaymentPlan",
    summary = "One payment plan", security(("bearer" = [])),
    params(("id" = String, Path, description = "The plan's id")),
    responses(
        (status = 200, description = "The plan", body = PaymentPlan,
            headers(("ETag" = String, description = "The plan's version, for `If-Match`"))),
        (status = 404, description = "`payment_plan_not_found`", body = ErrorBody),
    ))]
fn get_payment_plan() {}

#[utoipa::path(put, path = "/v1/payment-plans/{id}", tag = "payment-plans", operation_id = "putPaymentPlan",
    summary = "New terms for an open plan (add bills, another amount, day or method), accepted again",
    security(("bearer" = [])), request_body = PaymentPlanRequest,
    params(("id" = String, Path, description = "The plan's id"),
        ("If-Match" = Option<String>, Header, description = "The plan's `ETag` (its version) as read, or `*`. Without it the change is refused (428 `precondition_required`)")),
    responses(
        (status = 200, description = "The plan with its new schedule", body = PaymentPlan),
        (status = 404, description = "`payment_plan_not_found`, `bill_not_found`, `payment_method_not_found`", body = ErrorBody),
        (status = 409, description = "`payment_plan_closed`, `bill_on_payment_plan`", body = ErrorBody),
        (status = 412, description = "`changed_elsewhere`: the plan changed since it was read", body = ErrorBody),
        (status = 428, description = "`precondition_required`: no `If-Match`", body = ErrorBody),
    ))]
fn put_payment_plan() {}

#[utoipa::path(post, path = "/v1/payment-plans/{id}/cancel", tag = "payment-plans", operation_id = "cancelPaymentPlan",
    summary = "Cancel an open plan: nothing more is charged and its bills return to normal (the plan stays in the list, cancelled)",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The plan's id"),
        ("If-Match" = Option<String>, Header, description = "The plan's `ETag` (its version) as read, or `*`. Without it the change is refused (428 `precondition_required`)")),
    responses(
        (status = 200, description = "The cancelled plan", body = PaymentPlan),
        (status = 404, description = "`payment_plan_not_found`", body = ErrorBody),
        (status = 409, description = "`payment_plan_closed`", body = ErrorBody),
        (status = 412, description = "`changed_elsewhere`", body = ErrorBody),
        (status = 428, description = "`precondition_required`", body = ErrorBody),
    ))]
fn cancel_payment_plan() {}

#[utoipa::path(post, path = "/v1/payment-plans/{id}/pause", tag = "payment-plans", operation_id = "pausePaymentPlan",
    summary = "Pause an open plan until a date within the policy's longest pause", security(("bearer" = [])),
    request_body = PausePlanRequest,
    params(("id" = String, Path, description = "The plan's id"),
        ("If-Match" = Option<String>, Header, description = "The plan's `ETag` (its version) as read, or `*`. Without it the change is refused (428 `precondition_required`)")),
    responses(
        (status = 200, description = "The paused plan", body = PaymentPlan),
        (status = 404, description = "`payment_plan_not_found`", body = ErrorBody),
        (status = 409, description = "`payment_plan_closed`", body = ErrorBody),
        (status = 412, description = "`changed_elsewhere`", body = ErrorBody),
        (status = 428, description = "`precondition_required`", body = ErrorBody),
    ))]
fn pause_payment_plan() {}

#[utoipa::path(post, path = "/v1/payment-plans/{id}/resume", tag = "payment-plans", operation_id = "resumePaymentPlan",
    summary = "End a pause now", security(("bearer" = [])),
    params(("id" = String, Path, description = "The plan's id"),
        ("If-Match" = Option<String>, Header, description = "The plan's `ETag` (its version) as read, or `*`. Without it the change is refused (428 `precondition_required`)")),
    responses(
        (status = 200, description = "The plan", body = PaymentPlan),
        (status = 404, description = "`payment_plan_not_found`", body = ErrorBody),
        (status = 409, description = "`payment_plan_closed`", body = ErrorBody),
        (status = 412, description = "`changed_elsewhere`", body = ErrorBody),
        (status = 428, description = "`precondition_required`", body = ErrorBody),
    ))]
fn resume_payment_plan() {}

#[utoipa::path(get, path = "/v1/scheduled-payments", tag = "scheduled-payments", operation_id = "listScheduledPayments",
    summary = "The member's scheduled payments, soonest first", security(("bearer" = [])),
    responses((status = 200, description = "Scheduled payments", body = ScheduledPaymentList)))]
fn list_scheduled_payments() {}

#[utoipa::path(post, path = "/v1/scheduled-payments", tag = "scheduled-payments", operation_id = "createScheduledPayment",
    summary = "Schedule a payment for a date from today to the bills' due date, with a saved method",
    security(("bearer" = [])), request_body = ScheduledPaymentRequest,
    params(("Idempotency-Key" = String, Header, pattern = "^[A-Za-z0-9._~-]{1,255}$",
        description = "1 to 255 letters, digits, `-`, `_`, `.` or `~`, unique per request; sent again, it answers 200 with what the first request made")),
    responses(
        (status = 201, description = "Scheduled", body = ScheduledPayment,
            headers(("ETag" = String, description = "Its version, for `If-Match`"))),
        (status = 200, description = "The scheduled payment this key made before", body = ScheduledPayment),
        (status = 404, description = "`bill_not_found`, `payment_method_not_found`", body = ErrorBody),
    ))]
fn create_scheduled_payment() {}

#[utoipa::path(get, path = "/v1/scheduled-payments/{id}", tag = "scheduled-payments", operation_id = "getScheduledPayment",
    summary = "One scheduled payment", security(("bearer" = [])),
    params(("id" = String, Path, description = "Its id")),
    responses(
        (status = 200, description = "The scheduled payment", body = ScheduledPayment,
            headers(("ETag" = String, description = "Its version, for `If-Match`"))),
        (status = 404, description = "`scheduled_payment_not_found`", body = ErrorBody),
    ))]
fn get_scheduled_payment() {}

#[utoipa::path(put, path = "/v1/scheduled-payments/{id}", tag = "scheduled-payments", operation_id = "putScheduledPayment",
    summary = "Change a scheduled payment, until the day before its date", security(("bearer" = [])),
    request_body = ScheduledPaymentRequest,
    params(("id" = String, Path, description = "Its id"),
        ("If-Match" = Option<String>, Header, description = "Its `ETag` (version) as read, or `*`. Without it the change is refused (428 `precondition_required`)")),
    responses(
        (status = 200, description = "Changed", body = ScheduledPayment),
        (status = 404, description = "`scheduled_payment_not_found`, `bill_not_found`, `payment_method_not_found`", body = ErrorBody),
        (status = 412, description = "`changed_elsewhere`", body = ErrorBody),
        (status = 428, description = "`precondition_required`", body = ErrorBody),
    ))]
fn put_scheduled_payment() {}

#[utoipa::path(post, path = "/v1/scheduled-payments/{id}/cancel", tag = "scheduled-payments", operation_id = "cancelScheduledPayment",
    summary = "Cancel a scheduled payment, until the day before its date", security(("bearer" = [])),
    params(("id" = String, Path, description = "Its id"),
        ("If-Match" = Option<String>, Header, description = "Its `ETag` (version) as read, or `*`. Without it the change is refused (428 `precondition_required`)")),
    responses(
        (status = 200, description = "Cancelled", body = ScheduledPayment),
        (status = 404, description = "`scheduled_payment_not_found`", body = ErrorBody),
        (status = 412, description = "`changed_elsewhere`", body = ErrorBody),
        (status = 428, description = "`precondition_required`", body = ErrorBody),
    ))]
fn cancel_scheduled_payment() {}

#[utoipa::path(post, path = "/v1/guest/lookup", tag = "guest", operation_id = "guestLookup",
    summary = "Find one bill by statement number, last name and date of birth; answers a 10-minute guest token for that bill",
    security(("device" = [])), request_body = GuestLookupRequest,
    responses(
        (status = 201, description = "A guest token for the bill", body = GuestSession),
        (status = 401, description = "`device_unauthenticated`: no, unknown or revoked kiosk credential", body = ErrorBody),
        (status = 422, description = "`guest_lookup_failed`: one answer for any mismatch; or `validation_failed`", body = ErrorBody),
    ))]
fn guest_lookup() {}

#[utoipa::path(get, path = "/v1/guest/bill", tag = "guest", operation_id = "guestBill",
    summary = "The looked-up bill with its line items", security(("device" = [], "guest" = [])),
    responses(
        (status = 200, description = "The bill", body = BillDetail),
        (status = 401, description = "`device_unauthenticated`, `unauthenticated` or `guest_session_ended`", body = ErrorBody),
    ))]
fn guest_bill() {}

#[utoipa::path(post, path = "/v1/guest/payments", tag = "guest", operation_id = "guestPayment",
    summary = "Pay the looked-up bill with a processor token (never saved). Replays of a key keep working after the guest token ends; 3 declines end it.",
    security(("device" = [], "guest" = [])), request_body = GuestPaymentRequest,
    params(("Idempotency-Key" = String, Header, pattern = "^[A-Za-z0-9._~-]{1,255}$",
        description = "1 to 255 letters, digits, `-`, `_`, `.` or `~` (never `:`), unique per payment intent; reuse it on every retry. A key is never accepted for a new payment again: after 48 hours it answers `idempotency_key_expired`.")),
    responses(
        (status = 201, description = "Paid (`succeeded`) or, for bank payments, `pending`", body = Payment,
            headers(("Idempotent-Replayed" = String, description = "`true` when this answer is a replay"))),
        (status = 202, description = "`needs_review`: the processor's answer did not match the payment; nothing was settled and the billing office checks it", body = Payment),
        (status = 401, description = "`device_unauthenticated`, `unauthenticated` or `guest_session_ended`", body = ErrorBody),
        (status = 402, description = "Declined (as for members); nothing was charged", body = ErrorBody),
        (status = 409, description = "`idempotency_key_in_use`", body = ErrorBody),
        (status = 503, description = "`processor_unavailable`: retry with the same key", body = ErrorBody),
    ))]
fn guest_payment() {}

#[utoipa::path(post, path = "/v1/guest/receipt", tag = "guest", operation_id = "guestReceipt",
    summary = "Mail the receipt of a payment on the looked-up bill to an address the guest types (not kept)",
    security(("device" = [], "guest" = [])), request_body = GuestReceiptRequest,
    responses(
        (status = 202, description = "Queued"),
        (status = 401, description = "`device_unauthenticated`, `unauthenticated` or `guest_session_ended`", body = ErrorBody),
        (status = 404, description = "`payment_not_found`", body = ErrorBody),
    ))]
fn guest_receipt() {}

#[utoipa::path(get, path = "/v1/autopay", tag = "autopay", operation_id = "getAutopay",
    summary = "The member's autopay rule, upcoming charges and bills it does not cover", security(("bearer" = [])),
    responses(
        (status = 200, description = "Autopay", body = Autopay),
        (status = 404, description = "`autopay_not_found`", body = ErrorBody),
    ))]
fn get_autopay() {}

#[utoipa::path(put, path = "/v1/autopay", tag = "autopay", operation_id = "putAutopay",
    summary = "Set up or change autopay (bank methods need the recurring authorization)", security(("bearer" = [])),
    request_body = AutopayRequest,
    responses(
        (status = 200, description = "Autopay as saved", body = Autopay),
        (status = 404, description = "`payment_method_not_found`", body = ErrorBody),
    ))]
fn put_autopay() {}

#[utoipa::path(delete, path = "/v1/autopay", tag = "autopay", operation_id = "deleteAutopay",
    summary = "Turn autopay off", security(("bearer" = [])),
    responses(
        (status = 204, description = "Off"),
        (status = 404, description = "`autopay_not_found`", body = ErrorBody),
    ))]
fn delete_autopay() {}

#[utoipa::path(get, path = "/v1/autopay/upcoming", tag = "autopay", operation_id = "autopayUpcoming",
    summary = "Charges autopay will make", security(("bearer" = [])),
    responses(
        (status = 200, description = "Upcoming charges, soonest first", body = Vec<UpcomingCharge>),
        (status = 404, description = "`autopay_not_found`", body = ErrorBody),
    ))]
fn autopay_upcoming() {}

#[utoipa::path(post, path = "/v1/autopay/skip", tag = "autopay", operation_id = "autopaySkip",
    summary = "Skip one scheduled charge, until 3 business days before it (`too_late_to_skip` after)", security(("bearer" = [])),
    request_body = SkipRequest,
    responses(
        (status = 200, description = "Skipped", body = UpcomingCharge),
        (status = 404, description = "`autopay_not_found`, `bill_not_found`", body = ErrorBody),
    ))]
fn autopay_skip() {}

#[utoipa::path(post, path = "/processor/v1/tokens", tag = "processor", operation_id = "createToken",
    summary = "Tokenize card or bank details (single use, 15 minutes)", request_body = TokenRequest,
    responses((status = 201, description = "A token and display fields", body = ProcessorToken)))]
fn create_token() {}

#[utoipa::path(get, path = "/processor/v1/banks/{routing_number}", tag = "processor", operation_id = "lookupBank",
    summary = "The bank behind a routing number, when known",
    params(("routing_number" = String, Path, pattern = "^[0-9]{9}$", description = "9 digits passing the ABA checksum")),
    responses((status = 200, description = "The bank", body = BankLookup)))]
fn lookup_bank() {}

#[utoipa::path(post, path = "/dev/clock", tag = "operations", operation_id = "devClock",
    summary = "Demo mode only: move the business clock forward, then run settlement and autopay", request_body = DevClockRequest,
    responses(
        (status = 200, description = "The new business date", body = DevClock),
        (status = 404, description = "Not in demo mode", body = ErrorBody),
    ))]
fn dev_clock() {}

#[utoipa::path(post, path = "/dev/bills", tag = "operations", operation_id = "devBills",
    summary = "Demo mode only: issue a new bill (statement today, due in 30 days)", request_body = DevBillRequest,
    responses(
        (status = 201, description = "The bill", body = BillDetail),
        (status = 404, description = "Not in demo mode", body = ErrorBody),
    ))]
fn dev_bills() {}

fn error_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
    })
}

/// The OpenAPI 3.1 document, with the errors and headers every operation shares.
pub fn document() -> Value {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or(Value::Null);
    doc["info"]["version"] = json!(env!("CARGO_PKG_VERSION"));
    doc["components"]["securitySchemes"] = json!({
        "bearer": {"type": "http", "scheme": "bearer", "description": "An access token from POST /v1/sessions"},
        "device": {"type": "apiKey", "in": "header", "name": crate::DEVICE_HEADER,
            "description": "A clinic kiosk's device credential, from `carebill-server kiosk enroll`"},
        "guest": {"type": "http", "scheme": "bearer", "description": "A guest token from POST /v1/guest/lookup"}
    });
    doc["components"]["headers"] = json!({
        BUSINESS_DATE_HEADER: {
            "description": "The plan's current business date (YYYY-MM-DD), for deriving overdue bills",
            "required": true,
            "schema": {"type": "string", "format": "date"}
        },
        "Retry-After": {
            "description": "Seconds to wait before trying again",
            "required": true,
            "schema": {"type": "string", "pattern": "^[0-9]+$"}
        }
    });
    let mut shared: Map<String, Value> = Map::new();
    shared.insert(
        "BadRequest".into(),
        error_response("`invalid_json`, `invalid_cursor` or another malformed request"),
    );
    shared.insert(
        "Unauthorized".into(),
        error_response(
            "`unauthenticated`, `token_expired`, `session_revoked`, `session_expired`, `invalid_credentials`, \
             `device_unauthenticated` or `guest_session_ended`",
        ),
    );
    shared.insert(
        "PayloadTooLarge".into(),
        error_response("`payload_too_large`: the body is over 64 KiB"),
    );
    shared.insert(
        "UnsupportedMediaType".into(),
        error_response("`unsupported_media_type`: send application/json"),
    );
    shared.insert(
        "Unprocessable".into(),
        error_response("`validation_failed` (with `field`) or a specific code; nothing changed"),
    );
    let mut too_many = error_response("`too_many_attempts` or `rate_limited`");
    too_many["headers"] = json!({"Retry-After": {"$ref": "#/components/headers/Retry-After"}});
    shared.insert("TooManyRequests".into(), too_many);
    doc["components"]["responses"] = Value::Object(shared);

    if let Some(paths) = doc["paths"].as_object_mut() {
        for item in paths.values_mut() {
            let Some(item) = item.as_object_mut() else {
                continue;
            };
            for (method, op) in item.iter_mut() {
                if !["get", "post", "put", "delete", "patch"].contains(&method.as_str()) {
                    continue;
                }
                let has_body = op.get("requestBody").is_some();
                let responses = op["responses"].as_object_mut();
                let Some(responses) = responses else { continue };
                let mut add = |status: &str, name: &str| {
                    responses
                        .entry(status.to_string())
                        .or_insert_with(|| json!({"$ref": format!("#/components/responses/{name}")}));
                };
                add("400", "BadRequest");
                add("401", "Unauthorized");
                add("422", "Unprocessable");
                add("429", "TooManyRequests");
                if has_body {
                    add("413", "PayloadTooLarge");
                    add("415", "UnsupportedMediaType");
                }
                for response in responses.values_mut() {
                    if let Some(obj) = response.as_object_mut() {
                        if obj.contains_key("$ref") {
                            continue;
                        }
                        let headers = obj.entry("headers").or_insert_with(|| json!({}));
                        headers[BUSINESS_DATE_HEADER] =
                            json!({"$ref": format!("#/components/headers/{BUSINESS_DATE_HEADER}")});
                    }
                }
            }
        }
    }
    add_links(&mut doc);
    // Shared responses carry the header too.
    if let Some(shared) = doc["components"]["responses"].as_object_mut() {
        for response in shared.values_mut() {
            let headers = response
                .as_object_mut()
                .map(|o| o.entry("headers").or_insert_with(|| json!({})));
            if let Some(headers) = headers {
                headers[BUSINESS_DATE_HEADER] = json!({"$ref": format!("#/components/headers/{BUSINESS_DATE_HEADER}")});
            }
        }
    }
    doc
}

/// How one answer feeds the next call (OpenAPI links): what a client, or a stateful test, can do
/// with an id it was just given. Keys are `METHOD path status`.
const LINKS: &str = include_str!("links.json");

/// The committed document, byte for byte (`crates/api/openapi.json`; a test keeps it equal to
/// what the code generates). The server serves it at `/openapi.json`.
pub const OPENAPI_JSON: &str = include_str!("../openapi.json");

fn add_links(doc: &mut Value) {
    let links: Map<String, Value> = serde_json::from_str(LINKS).unwrap_or_default();
    for (answer, named) in links {
        let mut parts = answer.split(' ');
        let (Some(method), Some(path), Some(status)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        let response = &mut doc["paths"][path][method.to_lowercase()]["responses"][status];
        if let Some(response) = response.as_object_mut() {
            response.insert("links".into(), named);
        }
    }
}

/// `value` with every object's keys in sorted order, whether or not serde_json keeps insertion
/// order (its `preserve_order` feature, which another crate of a build may turn on).
fn sorted(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}

/// The document as committed: pretty JSON with sorted keys and a trailing newline.
pub fn document_json() -> String {
    let mut s = serde_json::to_string_pretty(&sorted(document())).unwrap_or_default();
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn committed_openapi_json_matches_the_code() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json");
        let generated = document_json();
        if std::env::var_os("UPDATE_OPENAPI").is_some() {
            std::fs::write(path, &generated).expect("write openapi.json");
            return;
        }
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed == generated,
            "crates/api/openapi.json is out of date: run `UPDATE_OPENAPI=1 cargo test -p carebill-api` and commit it"
        );
    }

    #[test]
    fn every_operation_documents_401_422_429_and_the_business_date() {
        let doc = document();
        assert_eq!(doc["openapi"], "3.1.0");
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                for status in ["400", "401", "422", "429"] {
                    assert!(op["responses"].get(status).is_some(), "{method} {path} lacks {status}");
                }
                for (status, response) in op["responses"].as_object().unwrap() {
                    if response.get("$ref").is_none() {
                        assert!(
                            response["headers"].get(BUSINESS_DATE_HEADER).is_some(),
                            "{method} {path} {status} lacks the business date header"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn every_link_starts_from_a_documented_answer_and_names_an_operation() {
        let doc = document();
        let ids: Vec<&str> = doc["paths"]
            .as_object()
            .unwrap()
            .values()
            .flat_map(|item| item.as_object().unwrap().values())
            .filter_map(|op| op["operationId"].as_str())
            .collect();
        let links: Map<String, Value> = serde_json::from_str(LINKS).expect("links.json is JSON");
        for (answer, named) in &links {
            let [method, path, status] = answer.split(' ').collect::<Vec<_>>()[..] else {
                panic!("{answer}: not METHOD path status")
            };
            let response = &doc["paths"][path][method.to_lowercase()]["responses"][status];
            for (name, link) in named.as_object().unwrap() {
                assert_eq!(&response["links"][name], link, "{answer} {name} is not in the document");
                let target = link["operationId"].as_str();
                assert!(target.is_some_and(|t| ids.contains(&t)), "{answer} {name}");
            }
        }
    }

    #[test]
    fn requests_reject_unknown_fields_and_money_is_a_string() {
        let doc = document();
        let schemas = &doc["components"]["schemas"];
        assert_eq!(schemas["CreateAccountRequest"]["additionalProperties"], false);
        assert_eq!(schemas["Money"]["type"], "string");
        assert!(schemas["Bill"].get("additionalProperties").is_none());
    }
}
