//! Engine configuration, and time passed in.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::error::{ClientError, ClientResult, ErrorKind};

/// Where member data lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Persistence {
    /// An encrypted cache per member under `data_dir`, keys in the OS keyring.
    Disk,
    /// Kiosk mode: nothing touches the disk or the keyring; everything goes when the session ends.
    Memory,
}

#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The billing API, like `https://billing.plan.example`. Plain HTTP only on loopback.
    pub api_url: String,
    /// The processor's token endpoint base, like `https://pay.plan.example/processor`.
    pub processor_url: String,
    /// The app's data directory (the OS data dir's `Carebill` folder in the app).
    pub data_dir: PathBuf,
    /// The keyring service name entries are stored under.
    pub keyring_service: String,
    /// An extra CA bundle (PEM), for clinics behind TLS inspection.
    pub extra_ca_pem: Option<PathBuf>,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    /// Retries of idempotent requests after the first attempt.
    pub retries: u32,
    /// Reuse connections between requests (off for proxies that misbehave with keep-alive).
    pub keep_alive: bool,
    pub sync_every: Duration,
    pub idle_lock_after: Duration,
    /// How long submitting a payment keeps trying before answering "pending confirmation".
    pub submit_patience: Duration,
    pub persistence: Persistence,
    /// A clinic kiosk's device credential (guest pay), from the system-wide kiosk config.
    pub device_credential: Option<String>,
}

impl ClientConfig {
    pub fn new(api_url: &str, data_dir: PathBuf) -> ClientConfig {
        let api_url = api_url.trim_end_matches('/').to_string();
        ClientConfig {
            processor_url: format!("{api_url}/processor"),
            api_url,
            data_dir,
            keyring_service: "carebill".into(),
            extra_ca_pem: None,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(20),
            retries: 3,
            keep_alive: true,
            sync_every: Duration::from_secs(5 * 60),
            idle_lock_after: Duration::from_secs(15 * 60),
            submit_patience: Duration::from_secs(15),
            persistence: Persistence::Disk,
            device_credential: None,
        }
    }

    /// The OS data directory for Carebill (`~/.local/share/Carebill`, `%APPDATA%\Carebill`,
    /// `~/Library/Application Support/Carebill`).
    pub fn default_data_dir() -> Option<PathBuf> {
        dirs::data_dir().map(|d| d.join("Carebill"))
    }

    /// Checks both URLs: HTTPS, or plain HTTP on loopback only.
    pub fn validate(&self) -> ClientResult<()> {
        for (field, url) in [("api_url", &self.api_url), ("processor_url", &self.processor_url)] {
            check_url(url)
                .map_err(|message| ClientError::new(ErrorKind::Validation, "insecure_url", message).at(field))?;
        }
        Ok(())
    }
}

fn check_url(url: &str) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url).map_err(|_| format!("{url} is not a URL"))?;
    match parsed.scheme() {
        "https" => Ok(()),
        "http" => {
            let host = parsed
                .host_str()
                .unwrap_or_default()
                .trim_start_matches('[')
                .trim_end_matches(']');
            let loopback = host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
            if loopback {
                Ok(())
            } else {
                Err(format!(
                    "{url} must use HTTPS (plain HTTP is allowed only on this computer, for development)"
                ))
            }
        }
        _ => Err(format!("{url} must be an https:// address")),
    }
}

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
}

#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that only moves when told to (tests).
#[derive(Debug)]
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> Arc<ManualClock> {
        Arc::new(ManualClock(Mutex::new(start)))
    }

    pub fn advance(&self, by: chrono::Duration) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_is_required_except_on_loopback() {
        for ok in [
            "https://billing.example",
            "http://127.0.0.1:8787",
            "http://[::1]:1",
            "http://localhost:8787",
        ] {
            assert!(check_url(ok).is_ok(), "{ok}");
        }
        for bad in ["http://billing.example", "http://10.0.0.5:80", "ftp://x", "nonsense"] {
            assert!(check_url(bad).is_err(), "{bad}");
        }
    }
}
