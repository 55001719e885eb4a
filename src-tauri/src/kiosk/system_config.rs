//! The system-wide config clinic IT writes (kiosk mode, clinic name, printer, idle time-out, the
//! admin passcode's hash), where only administrators can write it.

use std::path::{Path, PathBuf};

use argon2::password_hash::SaltString;
use argon2::password_hash::rand_core::OsRng;
use argon2::{Argon2, PasswordHasher};
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
    /// The same in Spanish, shown when the patient reads the kiosk in Spanish.
    pub support_text_es: Option<String>,
    /// The language each patient's session starts in ("en" or "es"; default: the computer's).
    pub language: Option<carebill_api::types::Locale>,
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

#[cfg(test)]
mod tests {
    use super::*;

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
        std::fs::write(&bad, "kiosk = true\nlanguage = \"fr\"").unwrap();
        let refused = SystemConfig::read(&bad).unwrap_err().to_string();
        assert!(refused.contains("fr") && refused.contains("`es`"), "{refused}");
        std::fs::write(
            &bad,
            "kiosk = true\nlanguage = \"es\"\nsupport_text_es = \"Pregunte en la recepción.\"",
        )
        .unwrap();
        let c = SystemConfig::read(&bad).unwrap();
        assert_eq!(c.language, Some(carebill_api::types::Locale::Es));
        assert_eq!(c.support_text_es.as_deref(), Some("Pregunte en la recepción."));
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
}
