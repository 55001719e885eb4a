//! Payments that happen exactly once.
//!
//! 1. **Claim** (one `BEGIN IMMEDIATE` transaction): the idempotency key is looked up. A finished
//!    key replays its stored answer (or is refused as reused for another request); a key in
//!    flight is refused with 409 while its lease lasts. A new key: the request is checked, the
//!    amounts are *reserved* on the bills (`pending_cents`, guarded so payable never goes below
//!    zero), and the payment row and the key's `processing` row with a 60 s lease are written.
//!    Any failure rolls all of it back: nothing is stored and the key stays free.
//! 2. **Charge**: the processor is called with the payment record's own processor key
//!    (`member:key:payment`, stored on the payment at the claim), so a repeat for the same record
//!    returns the first charge and no other record can ever meet that charge. Recovery of an
//!    expired lease asks the processor for the charge by that key first and charges only if it
//!    never happened.
//! 3. **Finalize** (one transaction, only by the lease holder): the payment becomes succeeded,
//!    pending (bank) or failed; reservations move to settled or are released; the answer is
//!    stored on the key for replays; the receipt mail is queued. A charge whose amount or source
//!    differs from the payment never settles anything: the payment becomes `needs_review`, keeps
//!    its reservation and waits for the billing office (`carebill-server payments review`).
//!
//! A crash between 1 and 3 leaves a `processing` key; a retry after the lease, or the scheduler's
//! sweep, resumes it through step 2's recovery path.
//!
//! Keys are never forgotten: after [`KEY_RETENTION`] a finished key loses its stored answer but
//! stays as a tombstone, so it can never start a new payment. Member and kiosk keys cannot hold a
//! `:`; the server's own keys (`autopay:…`, `guest:…`) always do, so no one can take another's.
//!
//! Where each step lives: `claim` (1), `execute` (2 and 3, and releasing a claim that can never be
//! paid), `settle` (afterwards: bank payments settling or returning, the sweep, key retention).
//! `reservations` holds the only writes of a bill's reserved amount; `intent` the plain request
//! and answer types. This module is the group committer that feeds them.

use carebill_api::types::PaymentSource;
use carebill_billing::Money;
use chrono::Duration;
use sha2::{Digest, Sha256};

use crate::error::{ApiError, ApiResult};
use crate::processor::Source;
use crate::state::AppState;

mod claim;
mod execute;
pub mod intent;
mod reservations;
mod settle;

pub use claim::{key_in_flight, key_known};
pub use execute::{resume, submit_many};
use intent::Reply;
pub use intent::{AchAcceptance, Answer, Intent, MethodRef, PaymentQueue, Scheduled};
pub use settle::{purge_keys, settle_due, sweep};

// How long a claim holds its key before someone else may recover it, and how much longer the
// scheduler's sweep leaves an expired lease to its own retries: `config.recovery` (60 s each by
// default).

/// Idempotency keys replay their answer for at least 24 hours; after 48 the answer is dropped and
/// the key stays as a tombstone.
pub const KEY_RETENTION: Duration = Duration::hours(48);

/// Bank debits settle this many business days after they are made.
pub const ACH_SETTLEMENT_BUSINESS_DAYS: u32 = 2;

pub const MAX_ALLOCATIONS: usize = 50;

/// A fingerprint of a request: method, path and the normalized body, its object keys in sorted
/// order. The body is written out by [`canonical`], not by `Value::to_string`, whose key order
/// depends on the build: serde_json's `preserve_order` feature, which another crate built
/// alongside may turn on (the e2e tests' WebDriver client does), keeps insertion order instead.
pub fn fingerprint(method: &str, path: &str, normalized: &serde_json::Value) -> Vec<u8> {
    let mut body = String::new();
    canonical(normalized, &mut body);
    digest(method, path, &body)
}

/// The fingerprint as releases before this one stored it: the body in whatever key order this
/// build's maps keep. A stored key matches either (`Intent::fingerprint_as_kept`), so keys
/// stored before still replay.
pub fn fingerprint_as_kept(method: &str, path: &str, normalized: &serde_json::Value) -> Vec<u8> {
    digest(method, path, &normalized.to_string())
}

fn digest(method: &str, path: &str, body: &str) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(method.as_bytes());
    h.update(b" ");
    h.update(path.as_bytes());
    h.update(b"\n");
    h.update(body.as_bytes());
    h.finalize().to_vec()
}

/// JSON with every object's keys in sorted order, otherwise as `Value::to_string` writes it.
fn canonical(value: &serde_json::Value, out: &mut String) {
    match value {
        serde_json::Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::Value::String(key.clone()).to_string());
                out.push(':');
                canonical(&map[key], out);
            }
            out.push('}');
        }
        serde_json::Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// The processor's key for one payment record: unique per record, the same for every retry,
/// take-over and sweep of that record (it is stored on the payment).
pub(super) fn processor_key(member_id: &str, key: &str, payment_id: &str) -> String {
    format!("{member_id}:{key}:{payment_id}")
}

/// Work that holds a lease.
#[derive(Debug, Clone)]
pub(super) struct Work {
    member_id: String,
    key: String,
    lease_id: String,
    payment_id: String,
    processor_key: String,
    source: Source,
    amount: Money,
    recovering: bool,
    autopay_bill: Option<String>,
    scheduled: Option<Scheduled>,
}

pub fn source_str(source: PaymentSource) -> &'static str {
    match source {
        PaymentSource::Member => "member",
        PaymentSource::Autopay => "autopay",
        PaymentSource::Guest => "guest",
        PaymentSource::PaymentPlan => "payment_plan",
        PaymentSource::Scheduled => "scheduled",
    }
}

/// Pays, exactly once per key. See the module documentation for the steps.
///
/// Requests arriving together are committed together (group commit): they queue to a worker
/// that takes everything waiting, up to [`GROUP_MAX`], and runs it as one batch. Nothing waits
/// for company: a lone request is a batch of one.
pub async fn submit(state: &AppState, intent: Intent) -> ApiResult<Answer> {
    let (reply, answer) = tokio::sync::oneshot::channel();
    let queue = state.payment_queue.get_or_init(|| spawn_group_committer(state.clone()));
    queue
        .send((intent, reply))
        .map_err(|_| ApiError::internal("payment queue closed"))?;
    answer.await.map_err(|_| ApiError::internal("payment worker stopped"))?
}

/// What the scheduler's charges of one pass came to.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Charged {
    pub attempted: usize,
    /// Paid (a bank debit: on its way).
    pub charged: usize,
    /// The charge did not match its payment: held for the billing office.
    pub held: usize,
    pub declined: usize,
}

/// Charges what a scheduler pass planned (autopay, instalments, scheduled payments), in batches
/// through the engine. A charge another pass or server already made is a replay or a key in use
/// and counts for nothing; one whose set-up changed since the pass was planned is refused by its
/// claim with `stale` and only logged.
pub async fn charge_planned(
    state: &AppState,
    charges: Vec<Intent>,
    batch: usize,
    stale: carebill_api::ErrorCode,
    what: &'static str,
) -> Charged {
    let mut out = Charged::default();
    for chunk in charges.chunks(state.db.savepoint_batch(batch)) {
        out.attempted += chunk.len();
        for answer in submit_many(state, chunk.to_vec()).await {
            match answer {
                Ok(a) if a.replayed => {}
                Ok(a) if a.status.as_u16() == 201 => out.charged += 1,
                Ok(a) if a.status.as_u16() == 202 => out.held += 1,
                Ok(_) => out.declined += 1,
                Err(e) if e.code == carebill_api::ErrorCode::IdempotencyKeyInUse => {}
                Err(e) if e.code == stale => {
                    tracing::info!(reason = %e, what, "charge not made: changed since the pass was planned")
                }
                Err(e) => tracing::warn!(error = %e, what, "charge not made"),
            }
        }
    }
    out
}

/// Most intents committed together (32 on PostgreSQL: `Db::savepoint_batch`).
pub const GROUP_MAX: usize = 64;

/// One worker per writer connection (one on SQLite). Each takes everything waiting, up to
/// [`GROUP_MAX`], and runs it as a batch; while one batch waits for the processor, another can
/// claim or finalize on another connection (the member lock orders one member's batches).
fn spawn_group_committer(state: AppState) -> PaymentQueue {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<(Intent, Reply)>();
    let rx = std::sync::Arc::new(tokio::sync::Mutex::new(rx));
    let most = state.db.savepoint_batch(GROUP_MAX);
    for _ in 0..state.db.writers() {
        let (state, rx) = (state.clone(), std::sync::Arc::clone(&rx));
        tokio::spawn(async move {
            loop {
                let batch = {
                    let mut rx = rx.lock().await;
                    let Some(first) = rx.recv().await else { return };
                    let mut batch = vec![first];
                    while batch.len() < most {
                        match rx.try_recv() {
                            Ok(next) => batch.push(next),
                            Err(_) => break,
                        }
                    }
                    batch
                };
                let (intents, replies): (Vec<Intent>, Vec<Reply>) = batch.into_iter().unzip();
                let answers = submit_many(&state, intents).await;
                for (reply, answer) in replies.into_iter().zip(answers) {
                    let _ = reply.send(answer);
                }
            }
        });
    }
    tx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fingerprint_does_not_depend_on_the_order_a_map_keeps_its_keys() {
        let mut body = String::new();
        canonical(
            &serde_json::json!({"token": null, "allocations": [{"bill_id": "b", "amount": "1.00"}], "ach": "v1"}),
            &mut body,
        );
        assert_eq!(
            body,
            r#"{"ach":"v1","allocations":[{"amount":"1.00","bill_id":"b"}],"token":null}"#
        );
        let a: serde_json::Value = serde_json::from_str(r#"{"z": 1, "a": {"y": "\"", "b": [2, 1]}}"#).unwrap();
        let b: serde_json::Value = serde_json::from_str(r#"{"a": {"b": [2, 1], "y": "\""}, "z": 1}"#).unwrap();
        assert_eq!(fingerprint("POST", "/p", &a), fingerprint("POST", "/p", &b));
        assert_ne!(fingerprint("POST", "/p", &a), fingerprint("POST", "/q", &a));
    }
}
