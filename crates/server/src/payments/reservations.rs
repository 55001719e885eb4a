//! The money a payment holds on its bills while it is in flight.
//!
//! A claim *reserves* each allocation (`pending_cents`), guarded so a bill's payable amount never
//! goes below zero. When the payment's outcome is known, its reservations are either *settled*
//! (moved to `settled_cents`: the bill is paid by that much) or *released* (the bill owes it
//! again). Those are the only three ways `pending_cents` changes.

use crate::sql::{Connection, params};

use crate::error::ApiResult;

/// Reserves `cents` on the member's bill if the bill can still take it. `false` when it cannot
/// (or the bill is not the member's): nothing changed.
pub(super) fn reserve(tx: &Connection, member_id: &str, bill_id: &str, cents: i64) -> ApiResult<bool> {
    let changed = tx
        .prepare_cached(
            "UPDATE bills SET pending_cents = pending_cents + ?3
             WHERE id = ?1 AND member_id = ?2
               AND total_charges_cents - insurance_paid_cents - adjustments_cents - settled_cents - other_payments_cents - pending_cents >= ?3",
        )?
        .execute(params![bill_id, member_id, cents])?;
    Ok(changed == 1)
}

/// The payment went through: what it reserved on each bill is now paid.
pub(super) fn settle(tx: &Connection, allocations: &[(String, i64)]) -> ApiResult<()> {
    let mut stmt = tx.prepare_cached(
        "UPDATE bills SET pending_cents = pending_cents - ?2, settled_cents = settled_cents + ?2 WHERE id = ?1",
    )?;
    for (bill_id, cents) in allocations {
        stmt.execute_later(params![bill_id, cents])?;
    }
    Ok(())
}

/// The payment did not go through (declined, returned, or never made): the bills owe it again.
pub(super) fn release(tx: &Connection, allocations: &[(String, i64)]) -> ApiResult<()> {
    let mut stmt = tx.prepare_cached("UPDATE bills SET pending_cents = pending_cents - ?2 WHERE id = ?1")?;
    for (bill_id, cents) in allocations {
        stmt.execute_later(params![bill_id, cents])?;
    }
    Ok(())
}
