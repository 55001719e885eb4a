//! Where secrets live: the OS keyring (Secret Service, Keychain, Credential Manager), or memory
//! only when no keyring is usable. Never a file.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use serde::{Deserialize, Serialize};

#[cfg(any(target_os = "linux", target_os = "freebsd", target_os = "openbsd"))]
mod secret_service;

/// Whether secrets can be kept across app restarts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum KeyringStatus {
    Available,
    /// No usable keyring: secrets stay in memory, "keep me signed in" is off, and the offline copy
    /// opens with the password only.
    Unavailable {
        reason: String,
    },
    /// Kiosk mode never writes to the keyring.
    Disabled,
}

#[derive(Debug, thiserror::Error)]
#[error("keyring: {0}")]
pub struct SecretError(pub String);

pub trait SecretStore: Send + Sync + 'static {
    fn get(&self, name: &str) -> Result<Option<String>, SecretError>;
    fn set(&self, name: &str, value: &str) -> Result<(), SecretError>;
    fn delete(&self, name: &str) -> Result<(), SecretError>;
    fn status(&self) -> KeyringStatus;

    /// Whether the store can be used now: not unavailable from the start, and no write refused since.
    fn usable(&self) -> bool {
        self.status() == KeyringStatus::Available
    }
}

/// The OS keyring, under one service name.
pub struct OsKeyring {
    service: String,
    /// Why the keyring cannot be used, once that is known: the read at opening failed, or it
    /// refused a write since.
    unusable: Mutex<Option<String>>,
    /// The Secret Service connection every entry uses.
    #[cfg(any(target_os = "linux", target_os = "freebsd", target_os = "openbsd"))]
    bus: std::sync::Arc<secret_service::Bus>,
}

/// The entry the opening read asks for; never written.
const PROBE: &str = "probe";

impl OsKeyring {
    /// Opens the keyring under `service` with one read, which finds out whether there is a keyring
    /// to talk to. It writes nothing: a write makes the keyring (gnome-keyring, KWallet) rewrite its
    /// file, and on a start that is CPU taken from the window and WebKit (docs/PERFORMANCE.md,
    /// issue 23). A keyring that refuses a write later is unavailable from then on. An unusable
    /// keyring is reported, not fatal.
    pub fn open(service: &str) -> OsKeyring {
        let ring = OsKeyring {
            service: service.to_string(),
            unusable: Mutex::new(None),
            #[cfg(any(target_os = "linux", target_os = "freebsd", target_os = "openbsd"))]
            bus: Default::default(),
        };
        if let Err(e) = ring.get(PROBE) {
            ring.refused(e);
        }
        ring
    }

    /// Marks the keyring unusable for `e`, and passes it on.
    fn refused(&self, e: SecretError) -> SecretError {
        tracing::warn!(error = %e, "no usable keyring: secrets stay in memory");
        let mut unusable = self.unusable.lock().unwrap_or_else(PoisonError::into_inner);
        unusable.get_or_insert_with(|| e.0.clone());
        e
    }

    fn entry(&self, name: &str) -> Result<keyring::Entry, SecretError> {
        #[cfg(any(target_os = "linux", target_os = "freebsd", target_os = "openbsd"))]
        let entry = self.bus.entry(&self.service, name);
        #[cfg(not(any(target_os = "linux", target_os = "freebsd", target_os = "openbsd")))]
        let entry = keyring::Entry::new(&self.service, name);
        entry.map_err(|e| SecretError(e.to_string()))
    }
}

impl SecretStore for OsKeyring {
    fn get(&self, name: &str) -> Result<Option<String>, SecretError> {
        match self.entry(name)?.get_password() {
            Ok(v) => Ok(Some(v)),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(SecretError(e.to_string())),
        }
    }

    fn set(&self, name: &str, value: &str) -> Result<(), SecretError> {
        self.entry(name)?
            .set_password(value)
            .map_err(|e| self.refused(SecretError(e.to_string())))
    }

    fn delete(&self, name: &str) -> Result<(), SecretError> {
        match self.entry(name)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(self.refused(SecretError(e.to_string()))),
        }
    }

    fn status(&self) -> KeyringStatus {
        match &*self.unusable.lock().unwrap_or_else(PoisonError::into_inner) {
            None => KeyringStatus::Available,
            Some(reason) => KeyringStatus::Unavailable { reason: reason.clone() },
        }
    }
}

/// Secrets in memory: for machines without a keyring, for kiosks, and for tests (where one
/// instance shared across engine restarts stands in for the OS keyring).
#[derive(Default)]
pub struct MemoryStore {
    values: Mutex<HashMap<String, String>>,
    status: Option<KeyringStatus>,
}

impl MemoryStore {
    /// Behaves like an available keyring that forgets everything when dropped.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    /// A store that refuses to keep anything, reporting `status`.
    pub fn refusing(status: KeyringStatus) -> MemoryStore {
        MemoryStore {
            values: Mutex::default(),
            status: Some(status),
        }
    }

    pub fn len(&self) -> usize {
        self.values.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl SecretStore for MemoryStore {
    fn get(&self, name: &str) -> Result<Option<String>, SecretError> {
        if self.status.is_some() {
            return Ok(None);
        }
        Ok(self
            .values
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(name)
            .cloned())
    }

    fn set(&self, name: &str, value: &str) -> Result<(), SecretError> {
        if let Some(status) = &self.status {
            return Err(SecretError(format!("not kept: {status:?}")));
        }
        self.values
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(name.to_string(), value.to_string());
        Ok(())
    }

    fn delete(&self, name: &str) -> Result<(), SecretError> {
        self.values.lock().unwrap_or_else(PoisonError::into_inner).remove(name);
        Ok(())
    }

    fn status(&self) -> KeyringStatus {
        self.status.clone().unwrap_or(KeyringStatus::Available)
    }
}
