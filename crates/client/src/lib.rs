//! Carebill's client engine: everything the desktop app does except drawing. No Tauri in here;
//! the shell wraps [`Engine`] one method per command.
//!
//! - [`api`]: the billing API client (retries, refresh, error kinds).
//! - [`cache`]: the member's encrypted copy on this device; [`keys`]: how its key is kept.
//! - [`sync`]: the change feed into the cache.
//! - [`outbox`]: writes in flight, exactly once; [`review`]: what is checked before paying.
//! - [`secrets`]: the OS keyring, or memory.

#![forbid(unsafe_code)]

pub mod api;
pub mod cache;
pub(crate) mod config;
pub mod engine;
pub(crate) mod error;
pub mod keys;
pub mod notices;
pub(crate) mod outbox;
pub mod review;
pub(crate) mod secrets;
pub mod sync;
pub mod types;
pub mod validate;

pub use carebill_documents::{MonthTotal, ProviderTotal, SummaryRow, YearlySummary};
pub use config::{ClientConfig, Clock, ManualClock, Persistence, SystemClock};
pub use engine::{DocumentFile, Engine, SummaryFormat, UnresolvedIntent};
pub use error::{ClientCode, ClientError, ClientResult, ErrorKind};
pub use review::{DraftAllocation, DraftMethod, PaymentDraft, PaymentReview, PlanAfterPayment, SubmitOutcome};
pub use secrets::{KeyringStatus, MemoryStore, OsKeyring, SecretError, SecretStore};
