//! Commands, one file per area (in the way of GitButler's `gitbutler-tauri`): each command is one
//! call into `carebill_client` (the engine or its `validate` rules), errors as its `ClientError`.
//! The one list of them is `commands.list`; `each_command!` in `lib.rs` registers exactly these.

pub mod documents;
pub mod kiosk;
pub mod messages;
pub mod notices;
pub mod pay;
pub mod read;
pub mod session;
pub mod startup;
pub mod updates;
pub mod validate;

pub(crate) type Result<T> = std::result::Result<T, carebill_client::ClientError>;
