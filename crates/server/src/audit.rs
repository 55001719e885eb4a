//! The audit log: sign-ins, resets, password changes, bill views. Written in batches by one
//! task so that recording an event never adds a database write to the request path.

use std::sync::Arc;
use std::time::Duration;

use crate::sql::params;
use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, oneshot};

use crate::db::Db;
use crate::store::ms;

#[derive(Debug, Clone)]
pub struct AuditEvent {
    pub at: DateTime<Utc>,
    pub account_id: Option<i64>,
    pub event: &'static str,
    pub client: Option<String>,
    pub detail: Option<String>,
}

enum Msg {
    Event(AuditEvent),
    Flush(oneshot::Sender<()>),
}

#[derive(Clone)]
pub struct AuditSink(mpsc::UnboundedSender<Msg>);

const BATCH: usize = 512;
const LINGER: Duration = Duration::from_millis(200);

impl AuditSink {
    /// Starts the writer task.
    pub fn spawn(db: Arc<Db>) -> AuditSink {
        let (tx, mut rx) = mpsc::unbounded_channel::<Msg>();
        tokio::spawn(async move {
            let mut batch: Vec<AuditEvent> = Vec::new();
            let mut waiters: Vec<oneshot::Sender<()>> = Vec::new();
            let take = |m: Msg, batch: &mut Vec<AuditEvent>, waiters: &mut Vec<oneshot::Sender<()>>| match m {
                Msg::Event(e) => batch.push(e),
                Msg::Flush(w) => waiters.push(w),
            };
            while let Some(first) = rx.recv().await {
                take(first, &mut batch, &mut waiters);
                // Linger briefly so a burst becomes one transaction; a flush request ends it.
                let deadline = tokio::time::Instant::now() + LINGER;
                let mut closed = false;
                while batch.len() < BATCH && waiters.is_empty() {
                    match tokio::time::timeout_at(deadline, rx.recv()).await {
                        Ok(Some(m)) => take(m, &mut batch, &mut waiters),
                        Ok(None) => {
                            closed = true;
                            break;
                        }
                        Err(_) => break,
                    }
                }
                write(&db, std::mem::take(&mut batch)).await;
                for w in waiters.drain(..) {
                    let _ = w.send(());
                }
                if closed {
                    break;
                }
            }
        });
        AuditSink(tx)
    }

    pub fn record(&self, event: AuditEvent) {
        let _ = self.0.send(Msg::Event(event));
    }

    /// Waits until everything recorded so far is written.
    pub async fn flush(&self) {
        let (tx, rx) = oneshot::channel();
        if self.0.send(Msg::Flush(tx)).is_ok() {
            let _ = rx.await;
        }
    }
}

async fn write(db: &Arc<Db>, batch: Vec<AuditEvent>) {
    if batch.is_empty() {
        return;
    }
    let n = batch.len();
    let result = db
        .transaction(move |tx| {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO audit_log (at, account_id, event, client, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for e in &batch {
                stmt.execute(params![ms(e.at), e.account_id, e.event, e.client, e.detail])?;
            }
            Ok(())
        })
        .await;
    if let Err(e) = result {
        tracing::error!(events = n, error = %e, "audit batch lost");
    }
}
