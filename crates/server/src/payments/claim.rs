//! Step 1, the claim: the idempotency key is looked up (replay, refuse or take over) and a new
//! request is checked, its amounts reserved and its payment written, in one transaction.

use crate::sql::{Connection, OptionalExtension, params};
use axum::http::StatusCode;
use carebill_api::ErrorCode;
use carebill_api::types::{PaymentMethodType, PaymentSource, SyncEntity, SyncOp};
use carebill_billing::{Money, validate};
use chrono::{DateTime, Duration, Utc};

use super::{Answer, Intent, MethodRef, Work, processor_key, reservations, source_str};
use crate::config::PaymentLimits;
use crate::error::{ApiError, ApiResult};
use crate::ids::{confirmation_number, random_id};
use crate::processor::{InstrumentDetails, Source};
use crate::store::payments::allocations;
use crate::store::{ms, touch};

pub(super) enum Claim {
    Replay(Answer),
    Work(Work),
}

pub(super) struct KeyRow {
    pub(super) fingerprint: Vec<u8>,
    pub(super) state: String,
    pub(super) lease_expires_at: Option<i64>,
    pub(super) payment_id: Option<String>,
    pub(super) response_status: Option<i64>,
    pub(super) response_body: Option<String>,
}

pub(super) fn key_row(conn: &Connection, member_id: &str, key: &str) -> ApiResult<Option<KeyRow>> {
    Ok(conn
        .prepare_cached(
            "SELECT fingerprint, state, lease_expires_at, payment_id, response_status, response_body
             FROM idempotency_keys WHERE member_id = ?1 AND key = ?2",
        )?
        .query_row(params![member_id, key], |r| {
            Ok(KeyRow {
                fingerprint: r.get(0)?,
                state: r.get(1)?,
                lease_expires_at: r.get(2)?,
                payment_id: r.get(3)?,
                response_status: r.get(4)?,
                response_body: r.get(5)?,
            })
        })
        .optional()?)
}

/// Whether a member's idempotency key was ever claimed (a later request with it is a replay or a
/// recovery, never a new payment).
pub fn key_known(conn: &Connection, member_id: &str, key: &str) -> ApiResult<bool> {
    Ok(key_row(conn, member_id, key)?.is_some())
}

/// Whether a payment with this member key is being charged right now (or waits for recovery).
pub fn key_in_flight(conn: &Connection, member_id: &str, key: &str) -> ApiResult<bool> {
    Ok(key_row(conn, member_id, key)?.is_some_and(|r| r.state == "processing"))
}

pub(super) fn replay(row: &KeyRow) -> Answer {
    Answer {
        status: StatusCode::from_u16(row.response_status.unwrap_or(500) as u16)
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        body: row.response_body.clone().unwrap_or_default(),
        replayed: true,
    }
}

/// Takes over an expired lease and rebuilds the work from the stored payment; `None` when the
/// lease is no longer there to take (someone else took it over or finished the payment first).
///
/// The take-over is one conditional `UPDATE`: two servers recovering the same key at once cannot
/// both get it. On PostgreSQL the second waits on the first's row and then finds the guard false.
/// The new lease id fences the old holder out: it can no longer finalize (`holds_lease`).
pub(super) fn take_over(
    tx: &Connection,
    member_id: &str,
    key: &str,
    payment_id: &str,
    now: DateTime<Utc>,
    lease: Duration,
) -> ApiResult<Option<Work>> {
    let lease_id = random_id(&mut rand::thread_rng(), "lease");
    let taken = tx.execute(
        "UPDATE idempotency_keys SET lease_id = ?3, lease_expires_at = ?4
         WHERE member_id = ?1 AND key = ?2 AND state = 'processing' AND payment_id = ?6
           AND (lease_expires_at IS NULL OR lease_expires_at <= ?5)",
        params![member_id, key, lease_id, ms(now + lease), ms(now), payment_id],
    )?;
    if taken != 1 {
        return Ok(None);
    }
    let (cents, source, kind, processor_key): (i64, String, String, String) = tx.query_row(
        "SELECT amount_cents, processor_source, source, processor_key FROM payments WHERE id = ?1",
        [payment_id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    )?;
    let autopay_bill = if kind == "autopay" {
        allocations(tx, payment_id)?.into_iter().next().map(|(b, _)| b)
    } else {
        None
    };
    Ok(Some(Work {
        member_id: member_id.to_string(),
        key: key.to_string(),
        lease_id,
        payment_id: payment_id.to_string(),
        processor_key,
        source: Source::decode(&source).ok_or_else(|| ApiError::internal("stored processor source"))?,
        amount: Money::from_cents(cents),
        recovering: true,
        autopay_bill,
        scheduled: super::Scheduled::from_key(key),
    }))
}

/// Display details of the method, and what to charge.
struct Method {
    source: Source,
    saved_id: Option<String>,
    details: InstrumentDetails,
}

/// Refuses a payment past a velocity limit (see [`PaymentLimits`]). Runs in the claim
/// transaction, before the payment's own row is written: the counts include every claim
/// committed before it, so concurrent requests cannot race past a limit.
fn check_velocity(
    tx: &Connection,
    intent: &Intent,
    card: &str,
    limits: &PaymentLimits,
    now: DateTime<Utc>,
) -> ApiResult<()> {
    // The scheduler's charges (autopay, plan instalments, scheduled payments) were set up by the
    // member beforehand and are never refused by these limits.
    if matches!(
        intent.source,
        PaymentSource::Autopay | PaymentSource::PaymentPlan | PaymentSource::Scheduled
    ) {
        return Ok(());
    }
    let day_ago = ms(now - Duration::hours(24));
    let refuse = |code: ErrorCode| Err(ApiError::new(code).retry_after(3600));
    // Each count stops at its limit (`LIMIT`), so a claim reads at most that many rows however
    // many payments there were; a limit of `u32::MAX` is no limit, and no query.
    let reached = |sql: &str, args: &[&dyn crate::sql::ToSql], limit: u32| -> ApiResult<bool> {
        if limit == u32::MAX {
            return Ok(false);
        }
        let mut all: Vec<&dyn crate::sql::ToSql> = args.to_vec();
        all.push(&limit);
        let n: i64 = tx
            .prepare_cached(&format!("SELECT COUNT(*) FROM ({sql} LIMIT ?{}) AS counted", all.len()))?
            .query_row(all.as_slice(), |r| r.get(0))?;
        Ok(n >= i64::from(limit))
    };
    if intent.source == PaymentSource::Member {
        let member: &dyn crate::sql::ToSql = &intent.member_id;
        if reached(
            "SELECT 1 FROM payments WHERE member_id = ?1 AND source = 'member' AND created_at > ?2
             AND status IN ('failed', 'processing')",
            &[member, &day_ago],
            limits.member_declines_per_day,
        )? {
            return refuse(ErrorCode::TooManyDeclines);
        }
        if reached(
            "SELECT 1 FROM payments WHERE member_id = ?1 AND source = 'member' AND created_at > ?2",
            &[member, &day_ago],
            limits.member_payments_per_day,
        )? {
            return refuse(ErrorCode::TooManyPayments);
        }
    }
    if intent.source == PaymentSource::Guest {
        for (bill_id, _) in &intent.allocations {
            if reached(
                "SELECT 1 FROM payment_allocations a JOIN payments p ON p.id = a.payment_id
                 WHERE a.bill_id = ?1 AND p.source = 'guest' AND p.created_at > ?2
                 AND p.status IN ('failed', 'processing')",
                &[bill_id, &day_ago],
                limits.statement_declines_per_day,
            )? {
                return refuse(ErrorCode::TooManyDeclines);
            }
        }
    }
    if !card.is_empty()
        && reached(
            "SELECT 1 FROM payments WHERE card_fingerprint = ?1 AND source IN ('member', 'guest') AND created_at > ?2
             AND status IN ('failed', 'processing')",
            &[&card, &day_ago],
            limits.card_declines_per_day,
        )?
    {
        return refuse(ErrorCode::TooManyDeclines);
    }
    Ok(())
}

fn saved_method(tx: &Connection, member_id: &str, id: &str) -> ApiResult<Option<Method>> {
    Ok(tx
        .prepare_cached(
            "SELECT processor_ref, kind, brand, last4, bank_name, holder_name, fingerprint, funding FROM payment_methods
             WHERE id = ?1 AND member_id = ?2 AND deleted_at IS NULL",
        )?
        .query_row(params![id, member_id], |r| {
            let kind: String = r.get(1)?;
            Ok(Method {
                source: Source::Instrument(r.get(0)?),
                saved_id: Some(id.to_string()),
                details: InstrumentDetails {
                    kind: PaymentMethodType::parse(&kind).unwrap_or(PaymentMethodType::Card),
                    brand: r.get(2)?,
                    funding: crate::store::methods::funding_from_text(r.get(7)?),
                    last4: r.get(3)?,
                    exp_month: None,
                    exp_year: None,
                    bank_name: r.get(4)?,
                    account_type: None,
                    holder_name: r.get(5)?,
                    fingerprint: String::from_utf8_lossy(&r.get::<_, Vec<u8>>(6)?).into_owned(),
                },
            })
        })
        .optional()?)
}

/// Step 1: claim the key, check the request and reserve the amounts; or replay, or refuse.
///
/// The key is claimed first (`INSERT … ON CONFLICT DO NOTHING`), before anything is checked or
/// reserved: two servers given the same new key at once cannot both start a payment with it.
/// On PostgreSQL the second insert waits for the first claim's transaction; if that commits, the
/// second finds the key in flight (409), and if it rolls back (the request was refused), the key
/// is free again and the second claims it. Whatever the claim then refuses rolls the key back
/// with everything else (the caller's savepoint).
pub(super) fn claim(
    tx: &Connection,
    intent: &Intent,
    token: Option<InstrumentDetails>,
    limits: &PaymentLimits,
    now: DateTime<Utc>,
    lease: Duration,
) -> ApiResult<Claim> {
    let mut rng = rand::thread_rng();
    let payment_id = random_id(&mut rng, "pay");
    let lease_id = random_id(&mut rng, "lease");
    let claimed = tx
        .prepare_cached(
            "INSERT INTO idempotency_keys (member_id, key, fingerprint, state, lease_id, lease_expires_at, payment_id, created_at)
             VALUES (?1, ?2, ?3, 'processing', ?4, ?5, ?6, ?7) ON CONFLICT (member_id, key) DO NOTHING",
        )?
        .execute(params![intent.member_id, intent.key, intent.fingerprint, lease_id, ms(now + lease), payment_id, ms(now)])?;
    if claimed == 0 {
        // (Gone again already: its claim was just undone. The client retries.)
        let row = key_row(tx, &intent.member_id, &intent.key)?
            .ok_or_else(|| ApiError::new(ErrorCode::IdempotencyKeyInUse).retry_after(1))?;
        if row.fingerprint != intent.fingerprint && row.fingerprint != intent.fingerprint_as_kept {
            return Err(ApiError::new(ErrorCode::IdempotencyKeyReused));
        }
        if row.state == "complete" {
            return Ok(Claim::Replay(replay(&row)));
        }
        if row.state == "expired" {
            return Err(ApiError::new(ErrorCode::IdempotencyKeyExpired));
        }
        if row.lease_expires_at.is_some_and(|t| t > ms(now)) {
            return Err(ApiError::new(ErrorCode::IdempotencyKeyInUse).retry_after(1));
        }
        let payment_id = row
            .payment_id
            .ok_or_else(|| ApiError::internal("processing key without payment"))?;
        return match take_over(tx, &intent.member_id, &intent.key, &payment_id, now, lease)? {
            Some(work) => Ok(Claim::Work(work)),
            None => Err(ApiError::new(ErrorCode::IdempotencyKeyInUse).retry_after(1)),
        };
    }

    if let Some(bill_id) = &intent.autopay_bill {
        // The pass was planned earlier: the rule must still exist, cover this bill, pay with
        // this method and allow this amount now, in the transaction that claims the charge.
        let amount: Money = intent.allocations.iter().map(|(_, a)| *a).sum();
        let saved = match &intent.method {
            MethodRef::Saved(id) => Some(id.as_str()),
            MethodRef::Token(_) => None,
        };
        crate::autopay::check_still_authorized(tx, &intent.member_id, bill_id, saved, amount)?;
    }
    if let Some(scheduled) = &intent.scheduled {
        // What the member set up must still hold, and this charge of it must be the first: its
        // row is claimed in the same transaction as the key.
        let amount: Money = intent.allocations.iter().map(|(_, a)| *a).sum();
        let saved = match &intent.method {
            MethodRef::Saved(id) => Some(id.as_str()),
            MethodRef::Token(_) => None,
        };
        match scheduled {
            super::Scheduled::Instalment {
                plan_id,
                nominal,
                charge_date,
            } => crate::plans::claim_instalment(
                tx,
                &intent.member_id,
                plan_id,
                *nominal,
                *charge_date,
                saved,
                amount,
                now,
            )?,
            super::Scheduled::OneTime(id) => crate::scheduled::claim(tx, &intent.member_id, id, now)?,
        }
    }
    let method = match (&intent.method, token) {
        (MethodRef::Saved(id), _) => saved_method(tx, &intent.member_id, id)?
            .ok_or_else(|| ApiError::new(ErrorCode::PaymentMethodNotFound).at("/payment_method_id"))?,
        (MethodRef::Token(t), Some(details)) => Method {
            source: Source::Token(t.clone()),
            saved_id: None,
            details,
        },
        (MethodRef::Token(_), None) => return Err(ApiError::new(ErrorCode::InvalidPaymentToken).at("/token")),
    };
    check_velocity(tx, intent, &method.details.fingerprint, limits, now)?;
    let is_bank = method.details.kind == PaymentMethodType::BankAccount;
    if is_bank && intent.ach.is_none() {
        return Err(ApiError::new(ErrorCode::AchAuthorizationRequired).at("/ach_authorization"));
    }

    if let Some(bill_id) = &intent.autopay_bill {
        // At most one autopay charge per bill, whatever edits happen: the bill's row is claimed
        // in the same transaction as the key.
        let claimed = tx.execute(
            "INSERT INTO autopay_bills (bill_id, member_id, outcome, updated_at) VALUES (?1, ?2, 'processing', ?3)
             ON CONFLICT(bill_id) DO UPDATE SET outcome = 'processing', updated_at = excluded.updated_at
             WHERE autopay_bills.outcome IS NULL AND autopay_bills.skipped_at IS NULL",
            params![bill_id, intent.member_id, ms(now)],
        )?;
        if claimed != 1 {
            return Err(ApiError::new(ErrorCode::IdempotencyKeyInUse).detail("autopay already handled this bill"));
        }
    }

    // What can still be paid on a bill the reservation refused (the transaction rolls back).
    let mut payable = tx.prepare_cached(
        "SELECT total_charges_cents - insurance_paid_cents - adjustments_cents - settled_cents - other_payments_cents - pending_cents
         FROM bills WHERE id = ?1 AND member_id = ?2",
    )?;
    for (i, (bill_id, amount)) in intent.allocations.iter().enumerate() {
        if reservations::reserve(tx, &intent.member_id, bill_id, amount.cents())? {
            continue;
        }
        let Some(cents) = payable
            .query_row(params![bill_id, intent.member_id], |r| r.get::<_, i64>(0))
            .optional()?
        else {
            return Err(ApiError::new(ErrorCode::BillNotFound).at(&format!("/allocations/{i}/bill_id")));
        };
        let field = format!("/allocations/{i}/amount");
        return Err(
            match validate::within_payable(*amount, Money::from_cents(cents.max(0))) {
                Err(invalid) => ApiError::invalid(&field, invalid),
                Ok(()) => ApiError::new(ErrorCode::AmountExceedsBalance).at(&field),
            },
        );
    }

    let amount: Money = intent.allocations.iter().map(|(_, a)| *a).sum();
    let processor_key = processor_key(&intent.member_id, &intent.key, &payment_id);
    tx.prepare_cached(
        "INSERT INTO payments (id, member_id, status, amount_cents, confirmation_number, method_type, method_brand, method_last4,
            created_at, source, payment_method_id, idempotency_key, processor_source, ach_text, ach_text_version, ach_accepted_at, ach_client,
            processor_key, card_fingerprint, method_funding)
         VALUES (?1, ?2, 'processing', ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)",
    )?
    .execute_later(params![
        payment_id,
        intent.member_id,
        amount.cents(),
        confirmation_number(&mut rng),
        method.details.kind.as_str(),
        method.details.label(),
        method.details.last4,
        ms(now),
        source_str(intent.source),
        method.saved_id,
        intent.key,
        method.source.encode(),
        intent.ach.as_ref().map(|a| a.text.clone()),
        intent.ach.as_ref().map(|a| a.version.clone()),
        intent.ach.as_ref().map(|_| ms(now)),
        intent.client,
        processor_key,
        (!method.details.fingerprint.is_empty()).then_some(&method.details.fingerprint),
        crate::store::methods::funding_text(method.details.funding),
    ])?;
    let mut alloc =
        tx.prepare_cached("INSERT INTO payment_allocations (payment_id, bill_id, amount_cents) VALUES (?1, ?2, ?3)")?;
    for (bill_id, a) in &intent.allocations {
        alloc.execute_later(params![payment_id, bill_id, a.cents()])?;
        // The reservation changes what can be paid now: lists and the sync feed show it at once.
        touch(tx, &intent.member_id, SyncEntity::Bill, bill_id, SyncOp::Upsert, now)?;
    }
    Ok(Claim::Work(Work {
        member_id: intent.member_id.clone(),
        key: intent.key.clone(),
        lease_id,
        payment_id,
        processor_key,
        source: method.source,
        amount,
        recovering: false,
        autopay_bill: intent.autopay_bill.clone(),
        scheduled: intent.scheduled.clone(),
    }))
}

/// Runs `f` inside a savepoint: its writes are kept only when it succeeds.
pub(super) fn savepoint<R>(tx: &Connection, f: impl FnOnce(&Connection) -> ApiResult<R>) -> ApiResult<ApiResult<R>> {
    tx.execute_batch("SAVEPOINT item")?;
    // Statements `f` left waiting (`execute_later`) go out with the release: one of them failing
    // fails the release, and so this item, not the batch.
    let out = f(tx).and_then(|r| {
        tx.execute_batch("RELEASE SAVEPOINT item")
            .map(|()| r)
            .map_err(ApiError::from)
    });
    if out.is_err() {
        tx.execute_batch("ROLLBACK TO SAVEPOINT item")?;
        tx.execute_batch("RELEASE SAVEPOINT item")?;
    }
    Ok(out)
}
