//! The app's configuration: a TOML file in the OS config directory, `CAREBILL_API_URL` for
//! development, and, on clinic kiosks, the system-wide config clinic IT writes (which then
//! decides the service, the device credential and the idle time-out; see [`crate::kiosk`]).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::kiosk::SystemConfig;

/// `<config dir>/Carebill/config.toml` (every key optional).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// The billing API, like `https://billing.plan.example`.
    pub api_url: Option<String>,
    /// The processor's token API base, like `https://pay.plan.example/processor`.
    pub processor_url: Option<String>,
    /// Minutes without activity before Carebill locks (default 15).
    pub idle_minutes: Option<u32>,
    /// An extra CA bundle (PEM) for networks with TLS inspection.
    pub extra_ca_pem: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct AppConfig {
    pub api_url: String,
    pub processor_url: String,
    pub idle_minutes: u32,
    pub extra_ca_pem: Option<PathBuf>,
    pub data_dir: PathBuf,
    pub config_file: Option<PathBuf>,
    pub keyring_service: String,
    /// Kiosk mode, from the system-wide config.
    pub kiosk: Option<SystemConfig>,
    /// Whether and where to look for signed updates.
    pub updates: UpdateConfig,
}

/// The update policy: clinic IT decides it in the system-wide config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateConfig {
    pub allowed: bool,
    /// Overrides the endpoint built into the app (`plugins.updater.endpoints`).
    pub endpoint: Option<String>,
}

impl UpdateConfig {
    /// A kiosk updates only when `allow_updates = true`; a member's app unless it is `false`.
    /// `CAREBILL_UPDATE_URL` counts only in debug builds (tests and development).
    pub fn from_system(system: &SystemConfig, env: impl Fn(&str) -> Option<String>) -> UpdateConfig {
        let env = |k: &str| if cfg!(debug_assertions) { env(k) } else { None };
        UpdateConfig {
            allowed: if system.kiosk {
                system.allow_updates == Some(true)
            } else {
                system.allow_updates != Some(false)
            },
            endpoint: env("CAREBILL_UPDATE_URL").or_else(|| system.update_url.clone()),
        }
    }
}

/// Where the demo server listens (`cargo xtask run`).
pub const DEFAULT_API_URL: &str = "http://127.0.0.1:8787";
pub const DEFAULT_IDLE_MINUTES: u32 = 15;

impl AppConfig {
    pub fn config_file() -> Option<PathBuf> {
        dirs::config_dir().map(|d| d.join("Carebill").join("config.toml"))
    }

    /// Reads the config file (a broken file is reported and ignored), the environment, and the
    /// system-wide kiosk config (a broken one stops the app: a clinic machine must not quietly
    /// start as a member's app).
    pub fn load() -> Result<AppConfig, String> {
        let system = SystemConfig::read(&crate::kiosk::system_config_path())?;
        let path = Self::config_file();
        let file = path.as_deref().map(read).unwrap_or_default();
        let mut config = Self::resolve(file, path, |k| std::env::var(k).ok());
        if system.kiosk {
            config.apply_kiosk(system, |k| std::env::var(k).ok());
        } else {
            // A member's computer: clinic or plan IT may still set the update policy.
            config.updates = UpdateConfig::from_system(&system, |k| std::env::var(k).ok());
        }
        Ok(config)
    }

    /// Kiosk mode: the system config decides the service and the extra CA; the user's file does
    /// not count (and is never written). Debug builds keep the environment's URLs for tests.
    pub fn apply_kiosk(&mut self, system: SystemConfig, env: impl Fn(&str) -> Option<String>) {
        let env = |k: &str| if cfg!(debug_assertions) { env(k) } else { None };
        let api_url = env("CAREBILL_API_URL")
            .or_else(|| system.api_url.clone())
            .unwrap_or_else(|| DEFAULT_API_URL.into())
            .trim_end_matches('/')
            .to_string();
        self.processor_url = env("CAREBILL_PROCESSOR_URL")
            .or_else(|| system.processor_url.clone())
            .unwrap_or_else(|| format!("{api_url}/processor"));
        self.api_url = api_url;
        self.extra_ca_pem = system.extra_ca_pem.clone();
        self.config_file = None;
        self.updates = UpdateConfig::from_system(&system, env);
        self.kiosk = Some(system);
    }

    pub fn resolve(file: FileConfig, config_file: Option<PathBuf>, env: impl Fn(&str) -> Option<String>) -> AppConfig {
        let api_url = env("CAREBILL_API_URL")
            .or(file.api_url)
            .unwrap_or_else(|| DEFAULT_API_URL.into());
        let api_url = api_url.trim_end_matches('/').to_string();
        let processor_url = env("CAREBILL_PROCESSOR_URL")
            .or(file.processor_url)
            .unwrap_or_else(|| format!("{api_url}/processor"));
        AppConfig {
            api_url,
            processor_url,
            idle_minutes: file
                .idle_minutes
                .filter(|m| (1..=120).contains(m))
                .unwrap_or(DEFAULT_IDLE_MINUTES),
            extra_ca_pem: file.extra_ca_pem,
            data_dir: carebill_client::ClientConfig::default_data_dir().unwrap_or_else(|| PathBuf::from(".carebill")),
            config_file,
            keyring_service: env("CAREBILL_KEYRING_SERVICE").unwrap_or_else(|| "carebill".into()),
            kiosk: None,
            updates: UpdateConfig::from_system(&SystemConfig::default(), env),
        }
    }

    pub fn client_config(&self) -> carebill_client::ClientConfig {
        let mut c = carebill_client::ClientConfig::new(&self.api_url, self.data_dir.clone());
        c.processor_url = self.processor_url.clone();
        c.keyring_service = self.keyring_service.clone();
        c.extra_ca_pem = self.extra_ca_pem.clone();
        c.idle_lock_after = std::time::Duration::from_secs(u64::from(self.idle_minutes) * 60);
        if let Some(k) = &self.kiosk {
            c.persistence = carebill_client::Persistence::Memory;
            c.device_credential = k.device_credential.clone();
            c.idle_lock_after = std::time::Duration::from_secs(u64::from(k.idle_secs()));
        }
        c
    }

    /// Saves the idle minutes to the config file, keeping its other keys (never on a kiosk).
    pub fn save_idle_minutes(&self, minutes: u32) -> std::io::Result<()> {
        let Some(path) = self.config_file.as_ref().filter(|_| self.kiosk.is_none()) else {
            return Ok(());
        };
        let mut file = read(path);
        file.idle_minutes = Some(minutes);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, toml::to_string_pretty(&file).map_err(std::io::Error::other)?)
    }
}

fn read(path: &Path) -> FileConfig {
    match std::fs::read_to_string(path) {
        Ok(text) => toml::from_str(&text).unwrap_or_else(|e| {
            tracing::warn!(path = %path.display(), error = %e, "ignoring an unreadable config file");
            FileConfig::default()
        }),
        Err(_) => FileConfig::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_overrides_the_file() {
        let file = FileConfig {
            api_url: Some("https://billing.plan.example/".into()),
            idle_minutes: Some(5),
            ..Default::default()
        };
        let c = AppConfig::resolve(file.clone(), None, |_| None);
        assert_eq!(
            (c.api_url.as_str(), c.processor_url.as_str(), c.idle_minutes),
            (
                "https://billing.plan.example",
                "https://billing.plan.example/processor",
                5
            )
        );
        let c = AppConfig::resolve(file, None, |k| {
            (k == "CAREBILL_API_URL").then(|| "http://127.0.0.1:9999".into())
        });
        assert_eq!(c.api_url, "http://127.0.0.1:9999");
        let silly = FileConfig {
            idle_minutes: Some(0),
            ..Default::default()
        };
        assert_eq!(
            AppConfig::resolve(silly, None, |_| None).idle_minutes,
            DEFAULT_IDLE_MINUTES
        );
    }

    #[test]
    fn a_kiosk_keeps_nothing_and_uses_the_system_config() {
        let mut c = AppConfig::resolve(FileConfig::default(), Some(PathBuf::from("/tmp/x.toml")), |_| None);
        c.apply_kiosk(
            SystemConfig {
                kiosk: true,
                api_url: Some("https://billing.plan.example/".into()),
                device_credential: Some("kdc_x".into()),
                idle_timeout_secs: Some(90),
                ..Default::default()
            },
            |_| None,
        );
        assert_eq!(c.api_url, "https://billing.plan.example");
        assert_eq!(c.processor_url, "https://billing.plan.example/processor");
        assert!(c.config_file.is_none(), "a kiosk never writes the user's config file");
        let client = c.client_config();
        assert_eq!(client.persistence, carebill_client::Persistence::Memory);
        assert_eq!(client.device_credential.as_deref(), Some("kdc_x"));
        assert_eq!(client.idle_lock_after, std::time::Duration::from_secs(90));
        assert!(!c.updates.allowed, "a kiosk updates only when clinic IT says so");
    }

    #[test]
    fn clinic_it_decides_the_update_policy() {
        let policy = |kiosk: bool, allow: Option<bool>| {
            let system = SystemConfig {
                kiosk,
                allow_updates: allow,
                update_url: Some("https://mirror.clinic.example/carebill/{{target}}".into()),
                ..Default::default()
            };
            UpdateConfig::from_system(&system, |_| None)
        };
        assert!(policy(false, None).allowed, "members' apps update by default");
        assert!(!policy(false, Some(false)).allowed, "IT can turn them off");
        assert!(!policy(true, None).allowed, "kiosks do not update by default");
        assert!(policy(true, Some(true)).allowed, "unless IT allows it");
        assert_eq!(
            policy(true, Some(true)).endpoint.as_deref(),
            Some("https://mirror.clinic.example/carebill/{{target}}")
        );
    }
}
