//! The screens' reads, all from the copy on this device (so they work offline, with how fresh
//! the copy is), and the background task that keeps the copy in sync and confirms payments whose
//! answer did not come.

use carebill_api::types::*;

use super::{Engine, Session, UnresolvedIntent, lock};
use crate::cache;
use crate::error::{ClientError, ClientResult, ErrorKind};
use crate::outbox;
use crate::sync::{SyncReport, sync_once};
use crate::types::*;

impl Engine {
    /// Sync at start, every `sync_every`, on demand; and confirming unresolved intents.
    pub(super) async fn background(&self) {
        loop {
            let _ = tokio::time::timeout(self.0.config.sync_every, self.0.sync_now.notified()).await;
            let _ = self.sync().await;
            let _ = self.resolve_unresolved().await;
        }
    }

    /// Syncs now and publishes the status.
    pub async fn sync(&self) -> ClientResult<SyncReport> {
        let s = self.online_session().await?;
        self.publish(SyncStatus::Syncing);
        match sync_once(&self.0.api, &s.cache, self.now()).await {
            Ok(report) => {
                self.publish(SyncStatus::Synced { at: self.now() });
                // New replies from the billing office are announced (a live region in the UI).
                if let Ok(unread) = self.unread_replies().await {
                    let more = {
                        let mut last = lock(&self.0.last_unread);
                        let more = unread > *last;
                        *last = unread;
                        more
                    };
                    if more {
                        self.emit(Event::NewReplies { unread });
                    }
                }
                // What the member should hear about on this device, once per event.
                if let Err(e) = self.decide_notices(&s, report.changes > 0).await {
                    tracing::warn!(
                        code = e.code.as_str(),
                        "desktop notices were not decided: {}",
                        e.message
                    );
                }
                Ok(report)
            }
            Err(e) => {
                let status = match e.kind {
                    ErrorKind::Offline => {
                        let last = s
                            .cache
                            .run(|c| cache::sync_state(c))
                            .await
                            .ok()
                            .and_then(|st| st.synced_at);
                        SyncStatus::Offline {
                            since: self.now(),
                            last_synced: last,
                        }
                    }
                    _ => SyncStatus::Error {
                        code: e.code.clone(),
                        message: e.message.clone(),
                    },
                };
                self.publish(status);
                if e.kind == ErrorKind::SessionExpired {
                    // After the status, so the session's end is the last word.
                    self.session_refused();
                }
                Err(e)
            }
        }
    }

    /// Asks the background task to sync soon.
    pub fn request_sync(&self) {
        self.0.sync_now.notify_one();
    }

    pub(super) fn publish(&self, status: SyncStatus) {
        *lock(&self.0.last_sync) = Some(status.clone());
        self.emit(Event::Sync(status));
    }

    pub(super) async fn freshness(&self, s: &Session) -> ClientResult<Freshness> {
        let state = s.cache.run(|c| cache::sync_state(c)).await?;
        let offline = s.offline || matches!(&*lock(&self.0.last_sync), Some(SyncStatus::Offline { .. }));
        let today_here = chrono::Local::now().date_naive();
        let business_date = if offline {
            today_here
        } else {
            self.0.api.business_date().or(state.business_date).unwrap_or(today_here)
        };
        Ok(Freshness {
            offline,
            synced_at: state.synced_at,
            business_date,
        })
    }

    pub async fn dashboard(&self) -> ClientResult<Dashboard> {
        let s = self.session().await?;
        let f = self.freshness(&s).await?;
        let mut d = s
            .cache
            .run(move |c| cache::dashboard(c, f.business_date, f.clone()))
            .await?;
        d.plan_offer = self.plan_offer().await?;
        Ok(d)
    }

    pub async fn bills(&self, query: BillQuery) -> ClientResult<BillsPage> {
        let s = self.session().await?;
        let f = self.freshness(&s).await?;
        s.cache
            .run(move |c| cache::bills_page(c, &query, f.business_date, f.clone()))
            .await
    }

    pub async fn bill(&self, id: &str) -> ClientResult<BillView> {
        let s = self.session().await?;
        let f = self.freshness(&s).await?;
        let id = id.to_string();
        let mut view = s
            .cache
            .run(move |c| cache::bill(c, &id, f.business_date, f.clone()))
            .await?
            .ok_or_else(|| ClientError::server(carebill_api::ErrorCode::BillNotFound))?;
        view.plan_offer = self.bill_plan_offer(&view.bill.bill).await;
        Ok(view)
    }

    pub async fn payments(&self, query: PaymentQuery) -> ClientResult<PaymentsPage> {
        let s = self.session().await?;
        let f = self.freshness(&s).await?;
        s.cache.run(move |c| cache::payments_page(c, &query, f)).await
    }

    /// A page of the plan's claims from the copy.
    pub async fn claims(&self, query: ClaimQuery) -> ClientResult<ClaimsPage> {
        let s = self.session().await?;
        let f = self.freshness(&s).await?;
        s.cache.run(move |c| cache::claims_page(c, &query, f)).await
    }

    /// One claim from the copy, with the bills for it.
    pub async fn claim(&self, id: &str) -> ClientResult<ClaimView> {
        let s = self.session().await?;
        let f = self.freshness(&s).await?;
        let id = id.to_string();
        s.cache
            .run(move |c| cache::claim(c, &id, f))
            .await?
            .ok_or_else(|| ClientError::server(carebill_api::ErrorCode::ClaimNotFound))
    }

    /// One payment from the copy (a bill's payment list opens its receipt with it).
    pub async fn payment(&self, id: &str) -> ClientResult<Payment> {
        let s = self.session().await?;
        let id = id.to_string();
        s.cache
            .run(move |c| cache::payment(c, &id))
            .await?
            .ok_or_else(|| ClientError::server(carebill_api::ErrorCode::PaymentNotFound))
    }

    pub async fn payment_methods(&self) -> ClientResult<Vec<PaymentMethod>> {
        let s = self.session().await?;
        s.cache.run(|c| cache::payment_methods(c)).await
    }

    pub async fn autopay(&self) -> ClientResult<Option<Autopay>> {
        let s = self.session().await?;
        s.cache.run(|c| cache::autopay(c)).await
    }

    pub async fn unresolved(&self) -> ClientResult<Vec<UnresolvedIntent>> {
        let s = self.session().await?;
        let entries = s.cache.run(|c| outbox::unresolved(c)).await?;
        Ok(entries
            .into_iter()
            .map(|e| UnresolvedIntent {
                intent_id: e.id,
                kind: e.request.kind().into(),
                bill_ids: e.bill_ids,
                created_at: e.created_at,
            })
            .collect())
    }
}
