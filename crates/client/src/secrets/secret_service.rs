//! The Secret Service (GNOME Keyring, KWallet) through one D-Bus connection and one encrypted
//! session, kept for the keyring's life. The `keyring` crate's own store connects and agrees a new
//! Diffie-Hellman key on every call, twice on a write: about 5 ms of CPU a call at the desktop
//! build's `opt-level = "z"`, and a remembered start makes five (docs/PERFORMANCE.md, issue 23).
//!
//! Items are found and written with the `keyring` crate's own attributes (service, username,
//! target "default", application "rust-keyring") and label, so an entry either of them wrote reads
//! the same through the other. Carebill never wrote the keyring crate's version 1 items (no
//! target), so the crate's second search for them is not made.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use dbus_secret_service::{EncryptionType, Item, SecretService};
use keyring::credential::{Credential, CredentialApi};
use keyring::secret_service::{SsCredential, decode_error, get_collection, get_item_secret, set_item_secret};
use keyring::{Entry, Error};

/// The attributes an entry is found by.
const SEARCHED: [&str; 3] = ["target", "service", "username"];

/// One connection and session: made at the first call, and again if the service drops it.
#[derive(Default)]
pub(super) struct Bus(Mutex<Option<SecretService>>);

impl Bus {
    /// The entry `user` under `service`, on this connection.
    pub(super) fn entry(self: &Arc<Bus>, service: &str, user: &str) -> keyring::Result<Entry> {
        let item = SsCredential::new_with_target(None, service, user)?;
        Ok(Entry::new_with_credential(Box::new(Kept {
            bus: Arc::clone(self),
            item,
        })))
    }

    /// Runs `call` on the kept session. A D-Bus failure there (the service restarted and forgot
    /// the session, the connection closed) is tried once more on a new connection: every call is
    /// safe to repeat (a write sets the same secret again; a delete finding nothing is done).
    fn with<T>(&self, call: impl Fn(&SecretService) -> keyring::Result<T>) -> keyring::Result<T> {
        let mut kept = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(ss) = kept.as_ref() {
            match call(ss) {
                Err(Error::PlatformFailure(e)) if dbus_failure(&*e) => *kept = None,
                done => return done,
            }
        }
        let ss = SecretService::connect(EncryptionType::Dh).map_err(|e| Error::PlatformFailure(Box::new(e)))?;
        call(kept.insert(ss))
    }
}

/// Whether `e` is the D-Bus call failing, rather than the keyring answering (locked, no item).
fn dbus_failure(e: &(dyn std::error::Error + Send + Sync + 'static)) -> bool {
    matches!(e.downcast_ref(), Some(dbus_secret_service::Error::Dbus(_)))
}

/// One entry, read and written through its keyring's [`Bus`].
struct Kept {
    bus: Arc<Bus>,
    item: SsCredential,
}

impl Kept {
    /// The one item with this entry's attributes, unlocked; `NoEntry` when there is none, and
    /// `Ambiguous` when there are several (as the `keyring` crate answers).
    fn find<'a>(&self, ss: &'a SecretService) -> keyring::Result<Item<'a>> {
        let attributes: HashMap<&str, &str> = SEARCHED
            .iter()
            .map(|k| (*k, self.item.attributes[*k].as_str()))
            .collect();
        let found = ss.search_items(attributes).map_err(decode_error)?;
        let (mut unlocked, mut locked) = (found.unlocked, found.locked);
        match unlocked.len() + locked.len() {
            0 => Err(Error::NoEntry),
            1 => match unlocked.pop() {
                Some(item) => Ok(item),
                None => {
                    let item = locked.remove(0);
                    item.unlock().map_err(decode_error)?;
                    Ok(item)
                }
            },
            _ => Err(Error::Ambiguous(
                unlocked
                    .iter()
                    .chain(&locked)
                    .map(|i| SsCredential::new_from_item(i).map(|c| Box::new(c) as Box<Credential>))
                    .collect::<keyring::Result<_>>()?,
            )),
        }
    }
}

impl CredentialApi for Kept {
    /// Sets the secret of the entry's item, or makes the item in the default collection.
    fn set_secret(&self, secret: &[u8]) -> keyring::Result<()> {
        self.bus.with(|ss| match self.find(ss) {
            Ok(item) => set_item_secret(&item, secret),
            Err(Error::NoEntry) => {
                let attributes = self
                    .item
                    .attributes
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                get_collection(ss, "default")?
                    .create_item(&self.item.label, attributes, secret, true, "text/plain")
                    .map_err(decode_error)?;
                Ok(())
            }
            Err(e) => Err(e),
        })
    }

    fn get_secret(&self) -> keyring::Result<Vec<u8>> {
        self.bus.with(|ss| get_item_secret(&self.find(ss)?))
    }

    fn delete_credential(&self) -> keyring::Result<()> {
        self.bus.with(|ss| self.find(ss)?.delete().map_err(decode_error))
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn debug_fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&self.item, f)
    }
}
