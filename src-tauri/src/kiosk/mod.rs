//! Kiosk mode for clinics: the system-wide config clinic IT writes, the admin passcode that exits
//! the app, and the guest receipt (QR code, printing).
//!
//! The config lives where only administrators can write it (`/etc/carebill/config.toml`,
//! `%ProgramData%\Carebill\config.toml`, `/Library/Application Support/Carebill/config.toml`).
//! Debug builds (tests) also accept `CAREBILL_SYSTEM_CONFIG`; release builds never do, so a
//! patient cannot point the app elsewhere.

mod exit_guard;
mod receipt;
mod system_config;

pub use exit_guard::{ExitCheck, ExitGuard};
pub use receipt::{QrCode, print, qr, receipt_text};
pub use system_config::{DEFAULT_IDLE_SECS, MIN_PASSCODE_CHARS, SystemConfig, set_passcode, system_config_path};
