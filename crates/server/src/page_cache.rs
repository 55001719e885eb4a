//! Serialized bill pages, reused while the member's data has not changed.
//!
//! The version of a member's data is their latest sequence in the change feed: every change to a
//! member's bills moves the bill in the feed (the invariant the sync feed already relies on), so
//! an entry is valid exactly while that sequence is unchanged. Checking it is one indexed lookup,
//! instead of reading and encoding a page of bills. Bounded by total size.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use axum::body::Bytes;

const MAX_BYTES: usize = 64 * 1024 * 1024;

#[derive(Default)]
pub struct PageCache {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<String, (i64, Bytes)>,
    bytes: usize,
}

impl PageCache {
    pub fn get(&self, key: &str, version: i64) -> Option<Bytes> {
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner
            .entries
            .get(key)
            .filter(|(v, _)| *v == version)
            .map(|(_, b)| b.clone())
    }

    pub fn put(&self, key: String, version: i64, body: Bytes) {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if inner.bytes + body.len() > MAX_BYTES {
            inner.entries.clear();
            inner.bytes = 0;
        }
        inner.bytes += body.len();
        if let Some((_, old)) = inner.entries.insert(key, (version, body)) {
            inner.bytes -= old.len();
        }
    }
}
