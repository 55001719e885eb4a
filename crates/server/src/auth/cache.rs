//! A short-lived, in-process cache of validated access tokens.
//!
//! Every authenticated request would otherwise cost a database round trip before its real work.
//! Entries carry the cache *generation* read before their database lookup; any revocation in this
//! process bumps the generation after its transaction commits, so a revoked session is refused on
//! the very next request here. Servers sharing a PostgreSQL database announce revocations
//! (`NOTIFY`), and each server's listener invalidates its cache on one; while a server's listener
//! is not listening (not yet connected, or lost), its cache is bypassed, so a revocation
//! elsewhere is never served from here. Token and session expiry are still checked on every request.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use chrono::{DateTime, Duration, Utc};

use super::Authed;

/// How long an entry may be used without looking at the database again.
pub const TTL: Duration = Duration::seconds(5);
const MAX_ENTRIES: usize = 50_000;

#[derive(Clone)]
pub struct Entry {
    pub authed: Authed,
    pub token_expires_ms: i64,
    pub session_expires_ms: i64,
    generation: u64,
    cached_at: DateTime<Utc>,
}

#[derive(Default)]
pub struct SessionCache {
    generation: AtomicU64,
    entries: Mutex<HashMap<Vec<u8>, Entry>>,
    /// Other servers may revoke sessions (PostgreSQL): entries are used only while listening.
    shared: AtomicBool,
    listening: AtomicBool,
}

impl SessionCache {
    /// Read before looking a token up in the database; pass it to [`SessionCache::insert`].
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    pub fn get(&self, token_hash: &[u8], now: DateTime<Utc>) -> Option<Entry> {
        if self.shared.load(Ordering::SeqCst) && !self.listening.load(Ordering::SeqCst) {
            return None;
        }
        let map = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = map.get(token_hash)?;
        (entry.generation == self.generation() && now - entry.cached_at < TTL && now >= entry.cached_at)
            .then(|| entry.clone())
    }

    pub fn insert(
        &self,
        token_hash: Vec<u8>,
        authed: Authed,
        token_expires_ms: i64,
        session_expires_ms: i64,
        generation: u64,
        now: DateTime<Utc>,
    ) {
        let mut map = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if map.len() >= MAX_ENTRIES {
            map.clear();
        }
        map.insert(
            token_hash,
            Entry {
                authed,
                token_expires_ms,
                session_expires_ms,
                generation,
                cached_at: now,
            },
        );
    }

    /// Other servers share the database: from now on entries are used only while
    /// [`SessionCache::set_listening`] says their revocations are heard.
    pub fn share(&self) {
        self.shared.store(true, Ordering::SeqCst);
    }

    /// The listener started or stopped listening. Either way the entries go: revocations may have
    /// been announced while no one listened.
    pub fn set_listening(&self, listening: bool) {
        self.listening.store(listening, Ordering::SeqCst);
        self.invalidate();
    }

    /// Whether other servers' revocations are heard (always, when none share the database).
    pub fn listening(&self) -> bool {
        !self.shared.load(Ordering::SeqCst) || self.listening.load(Ordering::SeqCst)
    }

    /// Call after a transaction that revoked sessions has committed.
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.entries.lock().unwrap_or_else(PoisonError::into_inner).clear();
    }
}
