//! The Carebill billing API contract (v1), shared by the reference server and the desktop
//! client: request and response bodies, the error-code table, header names, and the OpenAPI 3.1
//! document generated from them (`openapi.json` in this crate).

#![forbid(unsafe_code)]

pub mod error;
pub mod openapi;
pub mod types;

pub use error::{ErrorBody, ErrorCode, ErrorDetail};

/// On every response: the plan's current business date, `YYYY-MM-DD`.
pub const BUSINESS_DATE_HEADER: &str = "Business-Date";
/// On payment requests: the client's idempotency key.
pub const IDEMPOTENCY_KEY_HEADER: &str = "Idempotency-Key";
/// A clinic kiosk's device credential (from `carebill-server kiosk enroll`), on every guest call.
pub const DEVICE_HEADER: &str = "X-Carebill-Device";
/// Largest request body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Largest attachment (`POST /v1/attachments` has its own limit; JSON bodies keep theirs).
pub const MAX_ATTACHMENT_BYTES: usize = 10 * 1024 * 1024;
/// Most attachments on one message.
pub const MAX_ATTACHMENTS: usize = 5;
/// Longest message, in characters.
pub const MAX_MESSAGE_CHARS: usize = 2000;
/// Largest page of bills.
pub const MAX_BILLS_PAGE: u32 = 100;
/// Default page of bills.
pub const DEFAULT_BILLS_PAGE: u32 = 25;
/// Largest page of the change feed.
pub const MAX_SYNC_PAGE: usize = 500;
