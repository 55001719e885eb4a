//! The payment read model: payments as members see them, and the ones held for review.

use crate::sql::{Connection, OptionalExtension, params};
use carebill_api::types::{
    Allocation, Payment, PaymentFailure, PaymentMethodSummary, PaymentMethodType, PaymentSource, PaymentStatus,
};
use carebill_billing::Money;
use chrono::{DateTime, Utc};

use super::from_ms;
use crate::error::ApiResult;

pub fn allocations(conn: &Connection, payment_id: &str) -> ApiResult<Vec<(String, i64)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT bill_id, amount_cents FROM payment_allocations WHERE payment_id = ?1 ORDER BY bill_id",
    )?;
    let rows = stmt.query_map([payment_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// A payment held for the billing office's review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldPayment {
    pub id: String,
    pub member_id: String,
    pub confirmation_number: String,
    pub amount: Money,
    pub processor_charge_id: Option<String>,
    pub reason: String,
    pub created_at: DateTime<Utc>,
}

/// Every payment waiting for review, oldest first.
pub fn held_for_review(conn: &Connection) -> ApiResult<Vec<HeldPayment>> {
    let mut stmt = conn.prepare(
        "SELECT id, member_id, confirmation_number, amount_cents, processor_charge_id, review_reason, created_at
         FROM payments WHERE status = 'needs_review' ORDER BY created_at, id",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(HeldPayment {
            id: r.get(0)?,
            member_id: r.get(1)?,
            confirmation_number: r.get(2)?,
            amount: Money::from_cents(r.get(3)?),
            processor_charge_id: r.get(4)?,
            reason: r.get::<_, Option<String>>(5)?.unwrap_or_default(),
            created_at: from_ms(r.get(6)?),
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// How many payments wait for review (`/healthz`).
pub fn count_held_for_review(conn: &Connection) -> ApiResult<u64> {
    Ok(
        conn.query_row("SELECT COUNT(*) FROM payments WHERE status = 'needs_review'", [], |r| {
            r.get::<_, i64>(0)
        })? as u64,
    )
}

/// A bill's provider and statement number, for a mail to name it.
pub fn bill_label(conn: &Connection, bill_id: &str) -> ApiResult<(String, String)> {
    Ok(conn.query_row(
        "SELECT provider, statement_number FROM bills WHERE id = ?1",
        [bill_id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?)
}

pub fn member_of(conn: &Connection, payment_id: &str) -> ApiResult<String> {
    Ok(
        conn.query_row("SELECT member_id FROM payments WHERE id = ?1", [payment_id], |r| {
            r.get(0)
        })?,
    )
}

/// The columns `payment_from_row` reads.
pub(crate) const PAYMENT_COLUMNS: &str = "p.id, p.status, p.amount_cents, p.confirmation_number, p.method_type, p.method_brand, p.method_last4, \
    p.created_at, p.settled_at, p.failure_code, p.failure_message, p.idempotency_key, p.source, p.method_funding";

fn payment_from_row(r: &crate::sql::Row<'_>) -> crate::sql::Result<Payment> {
    payment_from_row_at(r, 0)
}

/// A payment from [`PAYMENT_COLUMNS`] starting at column `at`; no allocations.
pub(crate) fn payment_from_row_at(r: &crate::sql::Row<'_>, at: usize) -> crate::sql::Result<Payment> {
    let status: String = r.get(at + 1)?;
    let kind: String = r.get(at + 4)?;
    let source: String = r.get(at + 12)?;
    let failure_code: Option<String> = r.get(at + 9)?;
    let failure_message: Option<String> = r.get(at + 10)?;
    Ok(Payment {
        id: r.get(at)?,
        status: PaymentStatus::parse(&status).unwrap_or(PaymentStatus::Pending),
        amount: Money::from_cents(r.get(at + 2)?),
        allocations: Vec::new(),
        confirmation_number: r.get(at + 3)?,
        payment_method: PaymentMethodSummary {
            kind: PaymentMethodType::parse(&kind).unwrap_or(PaymentMethodType::Card),
            brand: r.get(at + 5)?,
            last4: if source == "guest" {
                String::new()
            } else {
                r.get(at + 6)?
            },
            funding: super::methods::funding_from_text(r.get(at + 13)?),
        },
        created_at: from_ms(r.get(at + 7)?),
        settled_at: r.get::<_, Option<i64>>(at + 8)?.map(from_ms),
        failure: failure_code.map(|code| PaymentFailure {
            code,
            message: failure_message.unwrap_or_default(),
        }),
        // A guest's key (it names the kiosk) and card digits are the guest's, not the member's.
        idempotency_key: if source == "guest" { None } else { r.get(at + 11)? },
        source: match source.as_str() {
            "autopay" => PaymentSource::Autopay,
            "guest" => PaymentSource::Guest,
            "payment_plan" => PaymentSource::PaymentPlan,
            "scheduled" => PaymentSource::Scheduled,
            _ => PaymentSource::Member,
        },
    })
}

/// The member's payment made with `key` (not while it is being processed).
pub fn payment_by_key(conn: &Connection, member_id: &str, key: &str) -> ApiResult<Option<Payment>> {
    let id: Option<String> = conn
        .prepare_cached(
            "SELECT id FROM payments WHERE member_id = ?1 AND idempotency_key = ?2 AND status != 'processing'",
        )?
        .query_row(params![member_id, key], |r| r.get(0))
        .optional()?;
    match id {
        Some(id) => load_payment(conn, member_id, &id),
        None => Ok(None),
    }
}

/// The guest payment with this confirmation number on the member's bill.
pub fn guest_payment(
    conn: &Connection,
    member_id: &str,
    bill_id: &str,
    confirmation_number: &str,
) -> ApiResult<Option<Payment>> {
    let id: Option<String> = conn
        .query_row(
            "SELECT p.id FROM payments p JOIN payment_allocations a ON a.payment_id = p.id
             WHERE p.confirmation_number = ?1 AND p.member_id = ?2 AND a.bill_id = ?3 AND p.source = 'guest'",
            params![confirmation_number, member_id, bill_id],
            |r| r.get(0),
        )
        .optional()?;
    match id {
        Some(id) => load_payment(conn, member_id, &id),
        None => Ok(None),
    }
}

/// One of the member's payments (not while it is being processed).
pub fn load_payment(conn: &Connection, member_id: &str, payment_id: &str) -> ApiResult<Option<Payment>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {PAYMENT_COLUMNS} FROM payments p WHERE p.id = ?1 AND p.member_id = ?2 AND p.status != 'processing'"
    ))?;
    let Some(mut payment) = stmt
        .query_row(params![payment_id, member_id], payment_from_row)
        .optional()?
    else {
        return Ok(None);
    };
    payment.allocations = allocations(conn, payment_id)?
        .into_iter()
        .map(|(bill_id, cents)| Allocation {
            bill_id,
            amount: Money::from_cents(cents),
        })
        .collect();
    Ok(Some(payment))
}

/// A page of the member's payments, newest first, after `(created_at, id)`.
pub fn list_payments(
    conn: &Connection,
    member_id: &str,
    before: Option<(i64, String)>,
    limit: u32,
) -> ApiResult<(Vec<Payment>, bool)> {
    let (at, id) = before.unwrap_or((i64::MAX, String::new()));
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {PAYMENT_COLUMNS} FROM payments p
         WHERE p.member_id = ?1 AND p.status != 'processing' AND (p.created_at < ?2 OR (p.created_at = ?2 AND p.id < ?3))
         ORDER BY p.created_at DESC, p.id DESC LIMIT ?4"
    ))?;
    let mut payments = stmt
        .query_map(params![member_id, at, id, limit + 1], payment_from_row)?
        .collect::<Result<Vec<_>, _>>()?;
    let has_more = payments.len() > limit as usize;
    payments.truncate(limit as usize);
    for p in &mut payments {
        p.allocations = allocations(conn, &p.id)?
            .into_iter()
            .map(|(bill_id, cents)| Allocation {
                bill_id,
                amount: Money::from_cents(cents),
            })
            .collect();
    }
    Ok((payments, has_more))
}

/// Payments among a member's changes in `(after, through]`, by id (the sync feed).
pub fn payments_in_changes(
    conn: &Connection,
    member_id: &str,
    after: i64,
    through: i64,
) -> ApiResult<std::collections::HashMap<String, Payment>> {
    let mut out = std::collections::HashMap::new();
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {PAYMENT_COLUMNS} FROM changes c JOIN payments p ON p.id = c.entity_id
         WHERE c.member_id = ?1 AND c.seq > ?2 AND c.seq <= ?3 AND c.entity = 'payment' AND c.op = 'upsert' AND p.status != 'processing'"
    ))?;
    for p in stmt.query_map(params![member_id, after, through], payment_from_row)? {
        let p = p?;
        out.insert(p.id.clone(), p);
    }
    let mut stmt = conn.prepare_cached(
        "SELECT a.payment_id, a.bill_id, a.amount_cents FROM changes c JOIN payment_allocations a ON a.payment_id = c.entity_id
         WHERE c.member_id = ?1 AND c.seq > ?2 AND c.seq <= ?3 AND c.entity = 'payment' AND c.op = 'upsert' ORDER BY a.payment_id, a.bill_id",
    )?;
    let rows = stmt.query_map(params![member_id, after, through], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?))
    })?;
    for row in rows {
        let (pid, bill_id, cents) = row?;
        if let Some(p) = out.get_mut(&pid) {
            p.allocations.push(Allocation {
                bill_id,
                amount: Money::from_cents(cents),
            });
        }
    }
    Ok(out)
}
