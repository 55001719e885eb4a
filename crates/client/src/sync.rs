//! Bringing the cache up to date from the change feed.
//!
//! The first sync pulls everything; later ones send the cursor, and with it the last ETag so that
//! "nothing changed" costs one request answered 304. A `cursor_expired` (410) clears the synced
//! tables and starts over. Each page is applied in one transaction with its cursor.

use chrono::{DateTime, Utc};

use crate::api::{ApiClient, SyncAnswer};
use crate::cache::{self, Cache};
use crate::error::{ClientError, ClientResult};

/// What one sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    pub requests: u32,
    pub changes: u32,
    pub full_resync: bool,
}

/// Syncs until the feed has no more.
pub async fn sync_once(api: &ApiClient, cache: &Cache, now: DateTime<Utc>) -> ClientResult<SyncReport> {
    let mut report = SyncReport::default();
    let state = cache.run(|c| cache::sync_state(c)).await?;
    let mut cursor = state.cursor;
    // The ETag says "nothing changed since" only for a client that reached the end of the feed.
    let mut etag = if cursor.is_empty() { None } else { state.etag };
    loop {
        report.requests += 1;
        if report.requests > 10_000 {
            return Err(ClientError::internal("the change feed does not end"));
        }
        match api.sync(&cursor, etag.as_deref()).await? {
            SyncAnswer::NotModified => break,
            SyncAnswer::Gone => {
                if report.full_resync {
                    return Err(ClientError::internal("the change feed expired twice"));
                }
                report.full_resync = true;
                cache.run(cache::reset_synced).await?;
                cursor.clear();
                etag = None;
            }
            SyncAnswer::Page { page, etag: page_etag } => {
                report.changes += page.changes.len() as u32;
                let next = page.next_cursor.clone();
                let done = !page.has_more;
                let keep_etag = if done { page_etag } else { None };
                cache
                    .run(move |c| cache::apply_page(c, &page.changes, &page.next_cursor, keep_etag.as_deref()))
                    .await?;
                cursor = next;
                etag = None;
                if done {
                    break;
                }
            }
        }
    }
    let business_date = api.business_date();
    cache.run(move |c| cache::mark_synced(c, now, business_date)).await?;
    Ok(report)
}
