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
    // While one page is being applied, the next is already on its way.
    let mut applying: Option<tokio::task::JoinHandle<ClientResult<()>>> = None;
    loop {
        report.requests += 1;
        if report.requests > 10_000 {
            return Err(ClientError::internal("the change feed does not end"));
        }
        let answer = api.sync(&cursor, etag.as_deref()).await;
        if let Some(previous) = applying.take() {
            previous.await.map_err(ClientError::internal)??;
        }
        match answer? {
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
                let done = !page.has_more;
                let keep_etag = if done { page_etag } else { None };
                cursor = page.next_cursor.clone();
                etag = None;
                let c = cache.clone();
                let task = tokio::spawn(async move {
                    c.run(move |conn| cache::apply_page(conn, &page.changes, &page.next_cursor, keep_etag.as_deref()))
                        .await
                });
                if done {
                    task.await.map_err(ClientError::internal)??;
                    break;
                }
                applying = Some(task);
            }
        }
    }
    let business_date = api.business_date();
    let changed = report.changes > 0;
    cache
        .run(move |c| cache::mark_synced(c, now, business_date, changed))
        .await?;
    Ok(report)
}
