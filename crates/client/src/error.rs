//! The one error the engine's callers see: a small `kind` to branch on, the server's `code`
//! passed through (or the engine's own), a sentence for people, and details.

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
            retry_after: None,
            payment: None,
        }))
    }

    pub fn with_kind(mut self, kind: ErrorKind) -> ClientError {
        self.kind = kind;
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
        ClientError::new(
            ErrorKind::Offline,
            "offline",
            "Carebill cannot reach the billing service. Check your connection; what you saw before is still here.",
        )
    }

    pub fn internal(detail: impl std::fmt::Display) -> ClientError {
        tracing::error!(%detail, "engine error");
        ClientError::new(
            ErrorKind::Server,
            "internal",
            "Something went wrong in Carebill. Nothing was changed. Try again.",
        )
    }

    pub fn not_signed_in() -> ClientError {
        ClientError::new(ErrorKind::Unauthenticated, "not_signed_in", "Sign in to continue.")
    }

    pub fn locked() -> ClientError {
        ClientError::new(
            ErrorKind::Unauthenticated,
            "locked",
            "Carebill locked itself after a while without use. Enter your password to continue.",
        )
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
            (409, _) => ErrorKind::Conflict,
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
