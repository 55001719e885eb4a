//! Kiosk mode for clinics: the system-wide config clinic IT writes, the admin passcode that exits
//! the app, and the guest receipt (QR code, printing).
//!
//! The config lives where only administrators can write it (`/etc/carebill/config.toml`,
//! `%ProgramData%\Carebill\config.toml`, `/Library/Application Support/Carebill/config.toml`).
//! Debug builds (tests) also accept `CAREBILL_SYSTEM_CONFIG`; release builds never do, so a
//! patient cannot point the app elsewhere.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, SaltString};
use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use carebill_api::types::Payment;
use serde::{Deserialize, Serialize};

/// The system-wide config file (every key optional; `kiosk = true` turns kiosk mode on).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SystemConfig {
    #[serde(default)]
    pub kiosk: bool,
    pub api_url: Option<String>,
    pub processor_url: Option<String>,
    /// From `carebill-server kiosk enroll`.
    pub device_credential: Option<String>,
    /// Seconds without activity before a patient's session ends (default 120, 40 to 3600).
    pub idle_timeout_secs: Option<u32>,
    pub clinic_name: Option<String>,
    /// Shown on the welcome screen, like "Questions? Ask at the front desk."
    pub support_text: Option<String>,
    /// A printer name (CUPS on Linux and macOS, a Windows printer name): receipts print there
    /// without a dialog. Without it there is no print button.
    pub receipt_printer: Option<String>,
    /// argon2id hash of the admin passcode (`carebill kiosk set-passcode`).
    pub admin_passcode_hash: Option<String>,
    /// An extra CA bundle (PEM) for networks with TLS inspection.
    pub extra_ca_pem: Option<PathBuf>,
    /// Signed updates: on a kiosk only with `true` (and never during a patient's session); on a
    /// member's computer on unless this says `false` (IT updates it another way).
    pub allow_updates: Option<bool>,
    /// Where to look for updates (an internal mirror), instead of the built-in endpoint.
    pub update_url: Option<String>,
}

pub const DEFAULT_IDLE_SECS: u32 = 120;
pub const MIN_PASSCODE_CHARS: usize = 8;

/// Where the system-wide config lives on this OS.
pub fn system_config_path() -> PathBuf {
    #[cfg(debug_assertions)]
    if let Some(p) = std::env::var_os("CAREBILL_SYSTEM_CONFIG") {
        return PathBuf::from(p);
    }
    if cfg!(target_os = "windows") {
        let base = std::env::var_os("ProgramData").map_or_else(|| PathBuf::from(r"C:\ProgramData"), PathBuf::from);
        base.join("Carebill").join("config.toml")
    } else if cfg!(target_os = "macos") {
        PathBuf::from("/Library/Application Support/Carebill/config.toml")
    } else {
        PathBuf::from("/etc/carebill/config.toml")
    }
}

impl SystemConfig {
    /// Reads the file; missing means "not a kiosk". A broken file is an error: a clinic machine
    /// must not silently start as a member's app.
    pub fn read(path: &Path) -> Result<SystemConfig, String> {
        match std::fs::read_to_string(path) {
            Ok(text) => toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(SystemConfig::default()),
            Err(e) => Err(format!("{}: {e}", path.display())),
        }
    }

    pub fn idle_secs(&self) -> u32 {
        self.idle_timeout_secs
            .filter(|s| (40..=3600).contains(s))
            .unwrap_or(DEFAULT_IDLE_SECS)
    }
}

/// Hashes a new admin passcode (at least 8 characters).
pub fn hash_passcode(passcode: &str) -> Result<String, String> {
    if passcode.chars().count() < MIN_PASSCODE_CHARS {
        return Err(format!("The passcode needs at least {MIN_PASSCODE_CHARS} characters."));
    }
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(passcode.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// Writes the passcode hash into the config file, keeping every other key (and the file's
/// permissions, since the file is rewritten in place).
pub fn set_passcode(path: &Path, passcode: &str) -> Result<(), String> {
    let hash = hash_passcode(passcode)?;
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    let mut table: toml::Table = toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    table.insert("admin_passcode_hash".into(), toml::Value::String(hash));
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    write_restricted(path, table.to_string().as_bytes()).map_err(|e| format!("{}: {e}", path.display()))
}

/// Writes the system config without ever widening who can read it: a new file is created
/// owner read-write, group read, nobody else (0640; clinic IT gives the kiosk account's group
/// read access, docs/deploy.md), an existing file keeps its mode. The device credential is in it.
fn write_restricted(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).truncate(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o640);
    }
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Exit attempts: three tries, then a wait that doubles with every further failure (30 s up to
/// 15 minutes). Success resets it.
#[derive(Debug, Default)]
pub struct ExitGuard {
    state: Mutex<(u32, Option<Instant>)>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum ExitCheck {
    Allowed,
    Wrong { wait_secs: u64 },
    Waiting { wait_secs: u64 },
    NoPasscode,
}

impl ExitGuard {
    pub fn check(&self, hash: Option<&str>, passcode: &str) -> ExitCheck {
        let Some(hash) = hash else { return ExitCheck::NoPasscode };
        let mut state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(until) = state.1 {
            let now = Instant::now();
            if until > now {
                return ExitCheck::Waiting {
                    wait_secs: (until - now).as_secs() + 1,
                };
            }
        }
        let ok = PasswordHash::new(hash)
            .map(|parsed| Argon2::default().verify_password(passcode.as_bytes(), &parsed).is_ok())
            .unwrap_or(false);
        if ok {
            *state = (0, None);
            return ExitCheck::Allowed;
        }
        state.0 += 1;
        let wait_secs = if state.0 >= 3 {
            (30u64 << (state.0 - 3).min(5)).min(900)
        } else {
            0
        };
        state.1 = (wait_secs > 0).then(|| Instant::now() + Duration::from_secs(wait_secs));
        ExitCheck::Wrong { wait_secs }
    }
}

/// What a guest receipt says: confirmation number, amount and date; no name, no care details.
pub fn receipt_text(payment: &Payment, clinic: Option<&str>) -> String {
    let mut text = String::new();
    if let Some(c) = clinic {
        text.push_str(c);
        text.push('\n');
    }
    text.push_str(&format!(
        "Carebill payment receipt\nConfirmation: {}\nAmount: {}\nDate: {}\n",
        payment.confirmation_number,
        payment.amount.display_usd(),
        payment.created_at.format("%Y-%m-%d"),
    ));
    text
}

/// A QR code as an SVG path (one unit square per dark module) and its size in modules.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type)]
pub struct QrCode {
    pub size: u32,
    pub path: String,
}

pub fn qr(text: &str) -> Result<QrCode, String> {
    let code = qrcodegen::QrCode::encode_text(text, qrcodegen::QrCodeEcc::Medium).map_err(|e| format!("{e:?}"))?;
    let size = code.size();
    let mut path = String::new();
    for y in 0..size {
        for x in 0..size {
            if code.get_module(x, y) {
                path.push_str(&format!("M{x} {y}h1v1h-1z"));
            }
        }
    }
    Ok(QrCode {
        size: size as u32,
        path,
    })
}

/// Sends a text receipt to the configured printer, with no dialog.
pub fn print(printer: &str, text: &str) -> Result<(), String> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut cmd = if cfg!(target_os = "windows") {
        let mut c = Command::new("powershell");
        c.args([
            "-NoProfile",
            "-NonInteractive",
            "-Command",
            "$input | Out-Printer -Name $env:CAREBILL_PRINTER",
        ])
        .env("CAREBILL_PRINTER", printer);
        c
    } else {
        let mut c = Command::new("lp");
        // With no file named, lp prints its standard input.
        c.args(["-d", printer, "-t", "Carebill receipt"]);
        c
    };
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("The printer could not be reached: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(text.as_bytes()).map_err(|e| e.to_string())?;
    }
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "The printer refused the receipt: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_passcode_needs_eight_characters_and_wrong_ones_wait_longer() {
        assert!(hash_passcode("1234567").is_err());
        let hash = hash_passcode("front-desk-42").unwrap();
        let guard = ExitGuard::default();
        assert_eq!(guard.check(None, "anything"), ExitCheck::NoPasscode);
        assert_eq!(guard.check(Some(&hash), "nope"), ExitCheck::Wrong { wait_secs: 0 });
        assert_eq!(guard.check(Some(&hash), "nope"), ExitCheck::Wrong { wait_secs: 0 });
        assert_eq!(guard.check(Some(&hash), "nope"), ExitCheck::Wrong { wait_secs: 30 });
        // Even the right passcode waits now.
        assert!(matches!(
            guard.check(Some(&hash), "front-desk-42"),
            ExitCheck::Waiting { .. }
        ));
        let fresh = ExitGuard::default();
        assert_eq!(fresh.check(Some(&hash), "front-desk-42"), ExitCheck::Allowed);
    }

    /// Review finding 22: a new system config is not readable by every local user.
    #[cfg(unix)]
    #[test]
    fn set_passcode_creates_the_config_readable_by_owner_and_group_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("carebill").join("config.toml");
        set_passcode(&path, "front-desk-42").unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode & 0o007, 0, "others cannot read it: {mode:o}");
        assert_eq!(mode & 0o022, 0, "only the owner writes it: {mode:o}");
        // An existing file keeps its (stricter) mode.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        set_passcode(&path, "front-desk-43").unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }

    #[test]
    fn set_passcode_keeps_the_other_keys() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "kiosk = true\nclinic_name = \"Northside Clinic\"\n").unwrap();
        set_passcode(&path, "front-desk-42").unwrap();
        let c = SystemConfig::read(&path).unwrap();
        assert!(c.kiosk);
        assert_eq!(c.clinic_name.as_deref(), Some("Northside Clinic"));
        assert!(c.admin_passcode_hash.unwrap().starts_with("$argon2id$"));
        assert!(set_passcode(&path, "short").is_err());
    }

    #[test]
    fn a_broken_config_is_an_error_and_a_missing_one_is_not_a_kiosk() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!SystemConfig::read(&dir.path().join("none.toml")).unwrap().kiosk);
        let bad = dir.path().join("bad.toml");
        std::fs::write(&bad, "kiosk = maybe").unwrap();
        assert!(SystemConfig::read(&bad).is_err());
        std::fs::write(&bad, "kiosk = true\nunknown_key = 1").unwrap();
        assert!(SystemConfig::read(&bad).is_err());
    }

    #[test]
    fn the_idle_timeout_defaults_and_stays_in_range() {
        let mut c = SystemConfig::default();
        assert_eq!(c.idle_secs(), 120);
        c.idle_timeout_secs = Some(5);
        assert_eq!(c.idle_secs(), 120);
        c.idle_timeout_secs = Some(45);
        assert_eq!(c.idle_secs(), 45);
    }

    #[test]
    fn a_receipt_says_number_amount_and_date_and_nothing_about_the_care() {
        use carebill_api::types::*;
        let payment = Payment {
            id: "pay_1".into(),
            status: PaymentStatus::Succeeded,
            amount: carebill_billing::Money::from_cents(25102),
            allocations: vec![Allocation {
                bill_id: "bil_secret".into(),
                amount: carebill_billing::Money::from_cents(25102),
            }],
            confirmation_number: "CB-TM7R-RTV8".into(),
            payment_method: PaymentMethodSummary {
                kind: PaymentMethodType::Card,
                brand: "visa".into(),
                last4: "4242".into(),
            },
            created_at: "2026-11-28T10:00:00Z".parse().unwrap(),
            settled_at: None,
            failure: None,
            idempotency_key: Some("guest:kiosk_1:cb-1".into()),
            source: PaymentSource::Guest,
        };
        let text = receipt_text(&payment, None);
        assert!(text.contains("CB-TM7R-RTV8") && text.contains("$251.02") && text.contains("2026-11-28"));
        assert!(!text.contains("bil_secret") && !text.contains("kiosk_1"));
        assert!(receipt_text(&payment, Some("Northside Clinic")).starts_with("Northside Clinic\n"));
    }

    #[test]
    fn a_qr_code_is_square_and_not_empty() {
        let q = qr("Carebill payment receipt\nConfirmation: CB-7K2M-9XQ4\nAmount: $10.00\nDate: 2026-11-28\n").unwrap();
        assert!(q.size >= 21);
        assert!(q.path.starts_with('M'));
    }
}
