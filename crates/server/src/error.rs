//! The server's one error type: an API error code plus what the caller may see.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use carebill_api::{ErrorBody, ErrorCode};
use carebill_billing::Invalid;

/// An error answered to the caller (boxed: it travels through many `Result`s).
#[derive(Debug, thiserror::Error)]
#[error("{}: {}", .0.code, .0.message)]
pub struct ApiError(Box<ErrorParts>);

/// What an [`ApiError`] carries. `detail` is for the log only and never leaves the server.
#[derive(Debug)]
pub struct ErrorParts {
    pub code: ErrorCode,
    pub message: String,
    pub field: Option<String>,
    pub reason: Option<String>,
    /// The values the message names, by name (from the rule that refused).
    pub params: Vec<(&'static str, String)>,
    pub retry_after: Option<u64>,
    pub payment: Option<serde_json::Value>,
    pub detail: Option<String>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(code: ErrorCode) -> ApiError {
        ApiError::with_message(code, code.default_message())
    }

    pub fn with_message(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError(Box::new(ErrorParts {
            code,
            message: message.into(),
            field: None,
            reason: None,
            params: Vec::new(),
            retry_after: None,
            payment: None,
            detail: None,
        }))
    }

    /// The internal detail when there is one, else the message: for logs and command lines.
    pub fn describe(&self) -> String {
        self.0.detail.clone().unwrap_or_else(|| self.0.message.clone())
    }

    /// An unexpected failure: logged with `detail`, answered as `internal`.
    pub fn internal(detail: impl Into<String>) -> ApiError {
        let mut e = ApiError::new(ErrorCode::Internal);
        e.detail = Some(detail.into());
        e
    }

    /// `validation_failed` (or the rule's own code when the table has it) for one field.
    pub fn invalid(field: &str, invalid: Invalid) -> ApiError {
        let code = ErrorCode::parse(invalid.code)
            .filter(|c| c.status() == 422)
            .unwrap_or(ErrorCode::ValidationFailed);
        let mut e = ApiError::with_message(code, invalid.message).at(field);
        e.params = invalid.params;
        e
    }

    /// `validation_failed` at `field` with a message.
    pub fn validation(field: &str, message: impl Into<String>) -> ApiError {
        ApiError::with_message(ErrorCode::ValidationFailed, message).at(field)
    }

    /// Points at the field (a JSON Pointer) at fault.
    pub fn at(mut self, field: &str) -> ApiError {
        self.field = Some(field.to_string());
        self
    }

    pub fn reason(mut self, reason: &str) -> ApiError {
        self.reason = Some(reason.to_string());
        self
    }

    /// Adds a detail for the log (never sent).
    /// A value the message names, by name (so an app can word it in another language).
    pub fn with_param(mut self, name: &'static str, value: impl Into<String>) -> ApiError {
        self.params.push((name, value.into()));
        self
    }

    pub fn detail(mut self, detail: impl Into<String>) -> ApiError {
        self.detail = Some(detail.into());
        self
    }

    pub fn retry_after(mut self, seconds: u64) -> ApiError {
        self.retry_after = Some(seconds.max(1));
        self
    }

    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    pub fn body(&self) -> ErrorBody {
        let mut body = ErrorBody::new(self.code, self.message.clone());
        body.error.field = self.field.clone();
        body.error.reason = self.reason.clone();
        body.error.params =
            (!self.params.is_empty()).then(|| self.params.iter().map(|(k, v)| (k.to_string(), v.clone())).collect());
        body.error.payment = self.payment.clone();
        body
    }
}

impl std::ops::Deref for ApiError {
    type Target = ErrorParts;
    fn deref(&self) -> &ErrorParts {
        &self.0
    }
}

impl std::ops::DerefMut for ApiError {
    fn deref_mut(&mut self) -> &mut ErrorParts {
        &mut self.0
    }
}

impl From<rusqlite::Error> for ApiError {
    fn from(e: rusqlite::Error) -> ApiError {
        ApiError::internal(format!("database: {e}"))
    }
}

impl From<crate::sql::Error> for ApiError {
    fn from(e: crate::sql::Error) -> ApiError {
        ApiError::internal(format!("database: {e}"))
    }
}

impl From<crate::db::DbError> for ApiError {
    fn from(e: crate::db::DbError) -> ApiError {
        ApiError::internal(format!("database: {e}"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.code.status() >= 500 {
            tracing::error!(code = %self.code, detail = self.detail.as_deref().unwrap_or(""), "request failed");
        }
        let status = self.status();
        let mut response = (status, axum::Json(self.body())).into_response();
        if let Some(seconds) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&seconds.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        response
    }
}
