//! After the fact: bank payments settle or come back, expired leases are resumed, and old keys
//! lose their stored answers.

use crate::mail::Letterhead;
use crate::sql::{Connection, params};
use carebill_api::types::{SyncEntity, SyncOp};
use chrono::{DateTime, Utc};

use super::{KEY_RETENTION, reservations, resume};
use crate::error::{ApiError, ApiResult};
use crate::mail;
use crate::mail::templates;
use crate::processor::{AchResult, ach_return_reason};
use crate::state::AppState;
use crate::store::payments::{allocations, load_payment};
use crate::store::{claim_members, date_str, ms, touch};

/// Most payments settled in one transaction.
const SETTLE_BATCH: usize = 100;

/// Settles or returns bank payments whose settlement date has come.
pub async fn settle_due(state: &AppState) -> ApiResult<usize> {
    let today = date_str(state.business.today());
    let due: Vec<(String, String, String)> = state
        .db
        .read(move |conn| {
            let mut stmt = conn.prepare(
                "SELECT id, member_id, processor_charge_id FROM payments
                 WHERE status = 'pending' AND settle_on IS NOT NULL AND settle_on <= ?1 AND processor_charge_id IS NOT NULL",
            )?;
            let rows = stmt.query_map([today], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await?;
    // The processor is asked outside any transaction; then each batch claims its members (member
    // locks, `SKIP LOCKED`: servers settling at once take different members, and a member busy
    // paying is left for the next pass) and settles their payments, each decided by a
    // conditional write.
    let mut results = Vec::with_capacity(due.len());
    for (payment_id, member_id, charge_id) in due {
        let processor = state.processor.clone();
        let result = tokio::task::spawn_blocking(move || processor.ach_result(&charge_id))
            .await
            .map_err(|e| ApiError::internal(e.to_string()))?;
        if let Ok(result) = result {
            results.push((payment_id, member_id, result));
        }
    }
    let mut done = 0;
    for batch in results.chunks(SETTLE_BATCH) {
        let batch = batch.to_vec();
        let now = state.now();
        let head = state.letterhead();
        done += state
            .db
            .transaction(move |tx| {
                let members: Vec<String> = batch.iter().map(|(_, m, _)| m.clone()).collect();
                let claimed = claim_members(tx, &members)?;
                let mut changed = 0;
                for (payment_id, member_id, result) in &batch {
                    if claimed.binary_search(member_id).is_ok()
                        && settle_one(tx, &head, member_id, payment_id, result, now)?
                    {
                        changed += 1;
                    }
                }
                Ok(changed)
            })
            .await?;
    }
    if done > 0 {
        state.mail_queued();
    }
    Ok(done)
}

fn settle_one(
    tx: &Connection,
    head: &Letterhead,
    member_id: &str,
    payment_id: &str,
    result: &AchResult,
    now: DateTime<Utc>,
) -> ApiResult<bool> {
    // One conditional UPDATE decides: of two servers settling the same payment, the second waits
    // on the first's row (PostgreSQL) and then finds it no longer pending, and changes nothing.
    let changed = match result {
        AchResult::Settled => tx.execute(
            "UPDATE payments SET status = 'succeeded', settled_at = ?2 WHERE id = ?1 AND status = 'pending'",
            params![payment_id, ms(now)],
        )?,
        AchResult::Returned(code) => tx.execute(
            "UPDATE payments SET status = 'returned', failure_code = ?2, failure_message = ?3
             WHERE id = ?1 AND status = 'pending'",
            params![payment_id, code, ach_return_reason(code)],
        )?,
    };
    if changed != 1 {
        return Ok(false);
    }
    let allocs = allocations(tx, payment_id)?;
    match result {
        AchResult::Settled => reservations::settle(tx, &allocs)?,
        AchResult::Returned(code) => {
            reservations::release(tx, &allocs)?;
            if let Some(p) = load_payment(tx, member_id, payment_id)? {
                if crate::notifications::wants_email(tx, member_id, carebill_api::types::NoticeKind::PaymentFailed)? {
                    mail::enqueue_for_member(tx, head, member_id, now, |first_name, locale| {
                        Ok(templates::payment_returned(locale, first_name, &p, code))
                    })?;
                }
                if p.source == carebill_api::types::PaymentSource::PaymentPlan {
                    crate::plans::instalment_returned(tx, head, payment_id, p.amount, code, now)?;
                }
            }
        }
    }
    touch(tx, member_id, SyncEntity::Payment, payment_id, SyncOp::Upsert, now)?;
    for (bill, _) in &allocs {
        touch(tx, member_id, SyncEntity::Bill, bill, SyncOp::Upsert, now)?;
    }
    Ok(true)
}

/// Resumes every payment whose lease expired more than [`SWEEP_GRACE`] ago.
pub async fn sweep(state: &AppState) -> ApiResult<usize> {
    let cutoff = ms(state.now() - state.config.recovery.sweep_grace());
    let stuck: Vec<(String, String)> = state
        .db
        .read(move |conn| {
            let mut stmt = conn.prepare(
                "SELECT member_id, key FROM idempotency_keys WHERE state = 'processing' AND lease_expires_at < ?1",
            )?;
            let rows = stmt.query_map([cutoff], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await?;
    let mut resumed = 0;
    for (member_id, key) in stuck {
        match resume(state, member_id, key).await {
            Ok(Some(_)) => resumed += 1,
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "could not resume a payment"),
        }
    }
    Ok(resumed)
}

/// Drops the stored answers of finished keys older than [`KEY_RETENTION`]. The keys stay as
/// tombstones (`expired`): a later request with one is refused, never taken as a new payment.
pub fn purge_keys(tx: &Connection, now: DateTime<Utc>) -> ApiResult<usize> {
    Ok(tx.execute(
        "UPDATE idempotency_keys SET state = 'expired', response_status = NULL, response_body = NULL
         WHERE state = 'complete' AND created_at < ?1",
        [ms(now - KEY_RETENTION)],
    )?)
}
