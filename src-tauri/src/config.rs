//! The app's configuration: a TOML file in the OS config directory, and `CAREBILL_API_URL` for
//! development.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

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
}

/// Where the demo server listens (`cargo xtask run`).
pub const DEFAULT_API_URL: &str = "http://127.0.0.1:8787";
pub const DEFAULT_IDLE_MINUTES: u32 = 15;

impl AppConfig {
    pub fn config_file() -> Option<PathBuf> {
        dirs::config_dir().map(|d| d.join("Carebill").join("config.toml"))
    }

    /// Reads the config file (a broken file is reported and ignored) and the environment.
    pub fn load() -> AppConfig {
        let path = Self::config_file();
        let file = path.as_deref().map(read).unwrap_or_default();
        Self::resolve(file, path, |k| std::env::var(k).ok())
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
        }
    }

    pub fn client_config(&self) -> carebill_client::ClientConfig {
        let mut c = carebill_client::ClientConfig::new(&self.api_url, self.data_dir.clone());
        c.processor_url = self.processor_url.clone();
        c.keyring_service = self.keyring_service.clone();
        c.extra_ca_pem = self.extra_ca_pem.clone();
        c.idle_lock_after = std::time::Duration::from_secs(u64::from(self.idle_minutes) * 60);
        c
    }

    /// Saves the idle minutes to the config file, keeping its other keys.
    pub fn save_idle_minutes(&self, minutes: u32) -> std::io::Result<()> {
        let Some(path) = &self.config_file else { return Ok(()) };
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
}
