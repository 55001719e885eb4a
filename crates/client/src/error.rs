//! The one error the engine's callers see: a small `kind` to branch on, the server's `code`
//! passed through (or the engine's own), a sentence for people, and details.
//!
//! The codes the engine and the shell make themselves are one table, [`ClientCode`] (as the
//! server's are `carebill_api::ErrorCode`): each code's kind and sentence are decided there and
//! nowhere else. The UI gets both tables as TypeScript unions (`ClientCode`, `ServerCode` in
//! `bindings.ts`) so a code it compares with is checked when the UI is built.

use carebill_api::{ErrorBody, ErrorCode};
use serde::{Deserialize, Serialize};

/// What kind of failure, for the UI to branch on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The server could not be reached.
    Offline,
    /// Not signed in, wrong credentials, or the app is locked.
    Unauthenticated,
    /// The session ended (expired or revoked): sign in again.
    SessionExpired,
    /// The input is not acceptable; nothing changed.
    Validation,
    /// The request conflicts with the current state (retry later, or change something first).
    Conflict,
    /// A payment was declined; nothing was charged.
    Declined,
    /// Too many attempts; wait `retry_after` seconds.
    RateLimited,
    NotFound,
    /// Something failed on the server or in the engine.
    Server,
}

macro_rules! client_codes {
    ($($variant:ident = $code:literal => $kind:ident, $message:literal;)*) => {
        /// Every error the engine or the shell makes itself, each with its own sentence. Several
        /// may share a code (with one kind); a code that is also the server's has the server's
        /// kind (a test checks both), so the UI branches on it the same way.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ClientCode { $($variant),* }

        impl ClientCode {
            pub const ALL: &'static [ClientCode] = &[$(ClientCode::$variant),*];

            /// The code as the UI sees it.
            pub fn as_str(self) -> &'static str {
                match self { $(ClientCode::$variant => $code),* }
            }

            /// What kind of failure it is.
            pub fn kind(self) -> ErrorKind {
                match self { $(ClientCode::$variant => ErrorKind::$kind),* }
            }

            /// The sentence for people, unless the error says something more specific.
            pub fn default_message(self) -> &'static str {
                match self { $(ClientCode::$variant => $message),* }
            }
        }
    };
}

client_codes! {
    // Reaching the service.
    Offline = "offline" => Offline, "Carebill cannot reach the billing service. Check your connection; what you saw before is still here.";
    ReadOnlyOffline = "read_only_offline" => Offline, "You are looking at the copy saved on this device. Connect to the internet and sign in to make payments or changes.";
    Internal = "internal" => Server, "Something went wrong in Carebill. Nothing was changed. Try again.";
    InsecureUrl = "insecure_url" => Validation, "The billing service's address must use https (http only for this computer itself).";
    CaBundleUnreadable = "ca_bundle_unreadable" => Validation, "The extra certificate authority file cannot be read.";
    CaBundleInvalid = "ca_bundle_invalid" => Validation, "The extra certificate authority file is not valid PEM.";
    // Sessions, the idle lock and the copy on this device.
    NotSignedIn = "not_signed_in" => Unauthenticated, "Sign in to continue.";
    Locked = "locked" => Unauthenticated, "Carebill locked itself after a while without use. Enter your password to continue.";
    PasswordRequired = "password_required" => Unauthenticated, "Enter your password to open Carebill on this device.";
    NoCopyForLogin = "invalid_credentials" => Unauthenticated, "The email or member ID and password do not open a copy saved on this device.";
    WrongUnlockPassword = "invalid_credentials" => Unauthenticated, "That password is not right.";
    UnlockAttemptsExceeded = "unlock_attempts_exceeded" => SessionExpired, "That password was wrong too many times, so Carebill signed you out. Sign in again.";
    UnresolvedPayments = "unresolved_payments" => Conflict, "A payment is still being confirmed. If you sign out now, Carebill will finish confirming it the next time you sign in on this device.";
    UnsentMessages = "unsent_messages" => Conflict, "A message to the billing office has not been sent yet. If you sign out now, Carebill will send it the next time you sign in on this device.";
    // Paying.
    ReviewExpired = "review_expired" => NotFound, "This payment review is no longer available. Start the payment again.";
    NothingToPay = "nothing_to_pay" => Validation, "Choose at least one bill to pay.";
    ScheduleNeedsSavedMethod = "saved_method_required" => Validation, "A payment for a later date needs a saved card or bank account. Choose one, or save this one.";
    PaymentInFlight = "payment_in_flight" => Conflict, "A payment for this bill is still being confirmed. Wait for it before paying again.";
    PaymentNotReceived = "payment_not_received" => Server, "This payment never reached the billing service, so nothing was charged. You can pay these bills again.";
    NoGuestLookup = "guest_session_ended" => Unauthenticated, "Look up the bill again to continue.";
    NotInThisSession = "payment_not_found" => NotFound, "There is no payment with that confirmation number in this session.";
    AccountNumbersDiffer = "account_numbers_differ" => Validation, "The account numbers do not match. Type it again.";
    CardDigitsOnly = "invalid_card_number" => Validation, "Card numbers have only digits.";
    // Messages to the billing office.
    MessageEmpty = "message_empty" => Validation, "Write your message.";
    MessageTooLong = "message_too_long" => Validation, "A message can be up to 2,000 characters.";
    FileUnreadable = "file_unreadable" => Validation, "This file could not be read. Choose it again.";
    // Kiosks.
    KioskNoSaving = "kiosk_no_saving" => Validation, "Payment methods are not saved on a clinic kiosk. Add them in Carebill on your own device.";
    NotAKiosk = "not_a_kiosk" => Validation, "This works only on an enrolled clinic kiosk.";
    KioskSetting = "kiosk_setting" => Validation, "On a clinic kiosk the idle time-out is set by the clinic's IT staff.";
    IdleMinutes = "idle_minutes_out_of_range" => Validation, "Choose between 1 and 120 minutes.";
    WrongPasscode = "wrong_passcode" => Unauthenticated, "That passcode is not right.";
    NoPasscode = "no_passcode" => Validation, "No admin passcode is set on this kiosk. Clinic IT sets one with `carebill kiosk set-passcode`.";
    NoPrinter = "no_printer" => Validation, "No receipt printer is set up on this kiosk.";
    PrintFailed = "print_failed" => Server, "The receipt could not be printed.";
    KioskNoFiles = "kiosk_no_files" => Validation, "Files are not saved on a clinic kiosk. Print the receipt instead, or download it in Carebill on your own device.";
    FileNotSaved = "file_not_saved" => Server, "The file could not be saved there. Choose another folder and try again.";
    NoSuchYear = "invalid_year" => Validation, "Choose a year between 2000 and 2100.";
    InvalidNoticeKeys = "invalid_notice_keys" => Validation, "Those notifications could not be marked as read. Open the list again.";
    // Updates.
    UpdatesDisabled = "updates_disabled" => Conflict, "Updates are turned off on this computer by its administrator.";
    UpdateEndpointInvalid = "update_endpoint_invalid" => Validation, "The update server's address is not valid.";
    UpdateUnavailable = "update_unavailable" => Offline, "The update server could not be reached or gave no usable answer. Carebill will try again later.";
    UpdateSignatureInvalid = "update_signature_invalid" => Server, "The update was refused because its signature does not match Carebill's signing key. Nothing was installed or changed.";
    UpdateInstallFailed = "update_install_failed" => Server, "The update could not be installed. The installed version was kept.";
    NoUpdate = "no_update" => Conflict, "There is no update to install. Check for updates first.";
}

/// An error for the UI: serialized flat (`{kind, code, message, ...}`), boxed in Rust because it
/// travels through every `Result`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(transparent)]
#[error("{}: {}", .0.code, .0.message)]
pub struct ClientError(pub Box<ErrorData>);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ErrorData {
    pub kind: ErrorKind,
    /// The server's code passed through, or one of the engine's own.
    pub code: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The values `message` names, by name (`max` for `amount_exceeds_balance`): the UI words
    /// the same refusal in the member's language from the code and these.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<std::collections::BTreeMap<String, String>>,
    /// Seconds to wait before trying again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u32>,
    /// For declines: the failed payment the server recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment: Option<carebill_api::types::Payment>,
}

pub type ClientResult<T> = Result<T, ClientError>;

impl std::ops::Deref for ClientError {
    type Target = ErrorData;
    fn deref(&self) -> &ErrorData {
        &self.0
    }
}

impl std::ops::DerefMut for ClientError {
    fn deref_mut(&mut self) -> &mut ErrorData {
        &mut self.0
    }
}

impl ClientError {
    pub fn new(kind: ErrorKind, code: &str, message: impl Into<String>) -> ClientError {
        ClientError(Box::new(ErrorData {
            kind,
            code: code.to_string(),
            message: message.into(),
            field: None,
            reason: None,
            params: None,
            retry_after: None,
            payment: None,
        }))
    }

    /// One of the engine's or the shell's own errors, with its table sentence.
    pub fn of(code: ClientCode) -> ClientError {
        ClientError::new(code.kind(), code.as_str(), code.default_message())
    }

    /// A server error made on this side (the same check, refused before sending), with the
    /// server's sentence.
    pub fn server(code: ErrorCode) -> ClientError {
        ClientError::new(
            ClientError::kind_for(code.status(), code.as_str()),
            code.as_str(),
            code.default_message(),
        )
    }

    /// Says something more specific than the code's table sentence.
    pub fn with_message(mut self, message: impl Into<String>) -> ClientError {
        self.message = message.into();
        self
    }

    pub fn with_kind(mut self, kind: ErrorKind) -> ClientError {
        self.kind = kind;
        self
    }

    /// The values a rule's message names, by name.
    pub fn with_params(mut self, params: &[(&'static str, String)]) -> ClientError {
        if !params.is_empty() {
            self.params = Some(params.iter().map(|(k, v)| (k.to_string(), v.clone())).collect());
        }
        self
    }

    pub fn with_reason(mut self, reason: &str) -> ClientError {
        self.reason = Some(reason.to_string());
        self
    }

    pub fn at(mut self, field: &str) -> ClientError {
        self.field = Some(field.to_string());
        self
    }

    pub fn offline() -> ClientError {
        ClientError::of(ClientCode::Offline)
    }

    /// A failure inside Carebill: the detail goes to the log, never to the screen.
    pub fn internal(detail: impl std::fmt::Display) -> ClientError {
        tracing::error!(%detail, "engine error");
        ClientError::of(ClientCode::Internal)
    }

    pub fn not_signed_in() -> ClientError {
        ClientError::of(ClientCode::NotSignedIn)
    }

    pub fn locked() -> ClientError {
        ClientError::of(ClientCode::Locked)
    }

    pub fn validation(code: &str, message: impl Into<String>, field: &str) -> ClientError {
        ClientError::new(ErrorKind::Validation, code, message).at(field)
    }

    /// The kind a server answer belongs to.
    pub fn kind_for(status: u16, code: &str) -> ErrorKind {
        match (status, code) {
            (401, "token_expired" | "session_expired" | "session_revoked") => ErrorKind::SessionExpired,
            (401 | 403, _) => ErrorKind::Unauthenticated,
            (402, _) => ErrorKind::Declined,
            (404, _) => ErrorKind::NotFound,
            (409 | 412 | 428, _) => ErrorKind::Conflict,
            (429, _) => ErrorKind::RateLimited,
            (400 | 410 | 413 | 415 | 422, _) => ErrorKind::Validation,
            (500..=599, "processor_unavailable") => ErrorKind::Offline,
            _ => ErrorKind::Server,
        }
    }

    /// An error answered by the server, in its envelope.
    pub fn from_server(status: u16, body: &[u8], retry_after: Option<u32>) -> ClientError {
        let mut e = match serde_json::from_slice::<ErrorBody>(body) {
            Ok(b) => {
                let mut e = ClientError::new(
                    ClientError::kind_for(status, &b.error.code),
                    &b.error.code,
                    b.error.message,
                );
                e.field = b.error.field;
                e.reason = b.error.reason;
                e.params = b.error.params;
                e.payment = b.error.payment.and_then(|p| serde_json::from_value(p).ok());
                e
            }
            Err(_) => {
                let code = if status >= 500 {
                    ErrorCode::Internal
                } else {
                    ErrorCode::BadRequest
                };
                ClientError::new(
                    ClientError::kind_for(status, code.as_str()),
                    code.as_str(),
                    code.default_message(),
                )
            }
        };
        e.retry_after = retry_after;
        e
    }
}

impl From<rusqlite::Error> for ClientError {
    fn from(e: rusqlite::Error) -> ClientError {
        ClientError::internal(format!("cache: {e}"))
    }
}

impl From<serde_json::Error> for ClientError {
    fn from(e: serde_json::Error) -> ClientError {
        ClientError::internal(format!("json: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_has_one_kind_and_the_servers_kind_where_they_share_it() {
        let mut kinds = std::collections::HashMap::new();
        for code in ClientCode::ALL {
            let s = code.as_str();
            assert_eq!(*kinds.entry(s).or_insert(code.kind()), code.kind(), "{s} has one kind");
            assert!(
                !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{s} is snake_case"
            );
            assert!(
                code.default_message().ends_with('.'),
                "{s}'s sentence ends with a full stop"
            );
            if let Some(server) = ErrorCode::parse(s) {
                assert_eq!(
                    ClientError::kind_for(server.status(), s),
                    code.kind(),
                    "{s} has the server's kind"
                );
            }
        }
        let e = ClientError::of(ClientCode::ReviewExpired).at("/review_id");
        assert_eq!(
            (e.kind, e.code.as_str(), e.field.as_deref()),
            (ErrorKind::NotFound, "review_expired", Some("/review_id"))
        );
        let e = ClientError::server(ErrorCode::DuplicateBill);
        assert_eq!((e.kind, e.code.as_str()), (ErrorKind::Validation, "duplicate_bill"));
    }

    #[test]
    fn server_codes_map_to_kinds() {
        assert_eq!(
            ClientError::kind_for(401, "invalid_credentials"),
            ErrorKind::Unauthenticated
        );
        assert_eq!(ClientError::kind_for(401, "session_revoked"), ErrorKind::SessionExpired);
        assert_eq!(ClientError::kind_for(402, "card_declined"), ErrorKind::Declined);
        assert_eq!(ClientError::kind_for(422, "weak_password"), ErrorKind::Validation);
        assert_eq!(
            ClientError::kind_for(409, "idempotency_key_in_use"),
            ErrorKind::Conflict
        );
        assert_eq!(ClientError::kind_for(429, "too_many_attempts"), ErrorKind::RateLimited);
        assert_eq!(ClientError::kind_for(503, "processor_unavailable"), ErrorKind::Offline);
        assert_eq!(ClientError::kind_for(500, "internal"), ErrorKind::Server);
        let e = ClientError::from_server(
            422,
            br#"{"error":{"code":"weak_password","message":"m","field":"/password","reason":"common"}}"#,
            None,
        );
        assert_eq!(
            (e.kind, e.code.as_str(), e.field.as_deref(), e.reason.as_deref()),
            (
                ErrorKind::Validation,
                "weak_password",
                Some("/password"),
                Some("common")
            )
        );
        let junk = ClientError::from_server(502, b"<html>", Some(3));
        assert_eq!((junk.kind, junk.retry_after), (ErrorKind::Server, Some(3)));
    }
}
