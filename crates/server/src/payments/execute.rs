//! Steps 2 and 3: charge claimed work at the processor (recovery asks by key first), then
//! finalize it in one transaction by the lease holder; or release a claim that can never be paid.

use crate::mail::Letterhead;
use crate::sql::{Connection, params};
use axum::http::StatusCode;
use carebill_api::ErrorCode;
use carebill_api::types::{Payment, SyncEntity, SyncOp};
use carebill_billing::Money;
use chrono::{DateTime, Utc};

use super::claim::{Claim, claim, key_known, key_row, replay, savepoint, take_over};
use super::{ACH_SETTLEMENT_BUSINESS_DAYS, Answer, Intent, MethodRef, Scheduled, Work, reservations};
use crate::error::{ApiError, ApiResult};
use crate::mail;
use crate::mail::templates;
use crate::processor::{Charge, ChargeStatus, InstrumentDetails, ProcessorError, Source};
use crate::state::AppState;
use crate::store::payments::{allocations, bill_label, load_payment, member_of};
use crate::store::{date_str, lock_member, lock_members, ms, touch};

/// Pays many intents with three transactions in all (claim, charge, finalize) instead of three
/// each; every intent is independent (its own savepoint), and answers come back in order.
pub async fn submit_many(state: &AppState, intents: Vec<Intent>) -> Vec<ApiResult<Answer>> {
    let n = intents.len();
    let mut answers: Vec<Option<ApiResult<Answer>>> = (0..n).map(|_| None).collect();
    // New requests with a token: learn what it stands for (bank or card) before claiming.
    let mut tokens: Vec<Option<InstrumentDetails>> = vec![None; n];
    for (i, intent) in intents.iter().enumerate() {
        let MethodRef::Token(t) = &intent.method else { continue };
        let (member, key) = (intent.member_id.clone(), intent.key.clone());
        match state.db.read(move |conn| key_known(conn, &member, &key)).await {
            Ok(true) => continue,
            Ok(false) => {}
            Err(e) => {
                answers[i] = Some(Err(e));
                continue;
            }
        }
        let (processor, t, now) = (state.processor.clone(), t.clone(), state.now());
        match tokio::task::spawn_blocking(move || processor.token_details(&t, now)).await {
            Ok(Ok(d)) => tokens[i] = Some(d),
            Ok(Err(ProcessorError::Unavailable(e))) => {
                answers[i] = Some(Err(ApiError::new(ErrorCode::ProcessorUnavailable).detail(e)))
            }
            Ok(Err(_)) => answers[i] = Some(Err(ApiError::new(ErrorCode::InvalidPaymentToken).at("/token"))),
            Err(e) => answers[i] = Some(Err(ApiError::internal(e.to_string()))),
        }
    }
    let now = state.now();
    let limits = state.config.payment_limits;
    let lease = state.config.recovery.lease();
    let pending: Vec<(usize, Intent, Option<InstrumentDetails>)> = intents
        .into_iter()
        .zip(tokens)
        .enumerate()
        .filter(|(i, _)| answers[*i].is_none())
        .map(|(i, (intent, token))| (i, intent, token))
        .collect();
    let claims = state
        .db
        .transaction(move |tx| {
            lock_members(tx, pending.iter().map(|(_, intent, _)| intent.member_id.as_str()))?;
            let mut out = Vec::with_capacity(pending.len());
            for (i, intent, token) in &pending {
                out.push((
                    *i,
                    savepoint(tx, |tx| claim(tx, intent, token.clone(), &limits, now, lease))?,
                ));
            }
            Ok(out)
        })
        .await;
    let mut works = Vec::new();
    match claims {
        Ok(claims) => {
            for (i, claimed) in claims {
                match claimed {
                    Ok(Claim::Replay(a)) => answers[i] = Some(Ok(a)),
                    Ok(Claim::Work(w)) => works.push((i, w)),
                    Err(e) => answers[i] = Some(Err(e)),
                }
            }
        }
        Err(e) => {
            let text = e.describe();
            for a in answers.iter_mut().filter(|a| a.is_none()) {
                *a = Some(Err(ApiError::internal(text.clone())));
            }
        }
    }
    for (i, answer) in execute_many(state, works).await {
        answers[i] = Some(answer);
    }
    answers
        .into_iter()
        .map(|a| a.unwrap_or_else(|| Err(ApiError::internal("no answer"))))
        .collect()
}

/// Resumes a key whose lease expired (scheduler sweep). `None` when there is nothing to do.
pub async fn resume(state: &AppState, member_id: String, key: String) -> ApiResult<Option<Answer>> {
    let now = state.now();
    let lease = state.config.recovery.lease();
    let work = state
        .db
        .transaction(move |tx| {
            lock_member(tx, &member_id)?;
            let Some(row) = key_row(tx, &member_id, &key)? else {
                return Ok(None);
            };
            if row.state != "processing" || row.lease_expires_at.is_some_and(|t| t > ms(now)) {
                return Ok(None);
            }
            let payment_id = row
                .payment_id
                .ok_or_else(|| ApiError::internal("processing key without payment"))?;
            take_over(tx, &member_id, &key, &payment_id, now, lease)
        })
        .await?;
    match work {
        Some(work) => execute_many(state, vec![(0, work)])
            .await
            .pop()
            .map(|(_, a)| a)
            .transpose(),
        None => Ok(None),
    }
}

enum ChargeOutcome {
    Charged(Charge),
    TokenGone,
}

/// Steps 2 and 3 for claimed work.
pub(super) async fn execute_many(state: &AppState, works: Vec<(usize, Work)>) -> Vec<(usize, ApiResult<Answer>)> {
    if works.is_empty() {
        return Vec::new();
    }
    let processor = state.processor.clone();
    let now = state.now();
    let items: Vec<(String, Source, Money, bool)> = works
        .iter()
        .map(|(_, w)| (w.processor_key.clone(), w.source.clone(), w.amount, w.recovering))
        .collect();
    let charged = tokio::task::spawn_blocking(move || -> Vec<Result<ChargeOutcome, ProcessorError>> {
        // Recovery asks by key first and charges only what was never charged.
        let mut found: Vec<Option<Charge>> = items
            .iter()
            .map(|(key, _, _, recovering)| {
                if *recovering {
                    processor.find_charge(key).ok().flatten()
                } else {
                    None
                }
            })
            .collect();
        let to_charge: Vec<(String, Source, Money)> = items
            .iter()
            .zip(&found)
            .filter(|(_, f)| f.is_none())
            .map(|((k, s, a, _), _)| (k.clone(), s.clone(), *a))
            .collect();
        let mut charged = processor.charge_many(&to_charge, now).into_iter();
        items
            .iter()
            .zip(found.iter_mut())
            .map(|((key, ..), f)| match f.take() {
                Some(c) => Ok(ChargeOutcome::Charged(c)),
                None => match charged
                    .next()
                    .unwrap_or_else(|| Err(ProcessorError::Unavailable("no result".into())))
                {
                    Ok(c) => Ok(ChargeOutcome::Charged(c)),
                    Err(ProcessorError::Unavailable(e)) => match processor.find_charge(key) {
                        Ok(Some(c)) => Ok(ChargeOutcome::Charged(c)),
                        _ => Err(ProcessorError::Unavailable(e)),
                    },
                    Err(_) => Ok(ChargeOutcome::TokenGone),
                },
            })
            .collect()
    })
    .await;
    let charged = match charged {
        Ok(c) => c,
        Err(e) => {
            return works
                .into_iter()
                .map(|(i, _)| (i, Err(ApiError::internal(format!("processor task: {e}")))))
                .collect();
        }
    };
    let mut out = Vec::with_capacity(works.len());
    let mut to_finalize = Vec::new();
    for ((i, work), outcome) in works.into_iter().zip(charged) {
        match outcome {
            Ok(ChargeOutcome::Charged(charge)) => to_finalize.push((i, work, charge)),
            Ok(ChargeOutcome::TokenGone) => {
                let released = release(state, work).await;
                out.push((
                    i,
                    released.and(Err(ApiError::new(ErrorCode::InvalidPaymentToken).at("/token"))),
                ));
            }
            Err(e) => {
                // The outcome is unknown: the key stays in flight; a retry after the lease (or
                // the scheduler's sweep) asks the processor again.
                tracing::warn!(payment = %work.payment_id, error = %e, "processor unavailable; payment left for recovery");
                out.push((
                    i,
                    Err(ApiError::new(ErrorCode::ProcessorUnavailable)
                        .retry_after(state.config.recovery.lease().num_seconds() as u64)
                        .detail(e.to_string())),
                ));
            }
        }
    }
    out.extend(finalize_many(state, to_finalize).await);
    out
}

/// Undoes a claim whose token turned out unusable: as if the request never happened.
async fn release(state: &AppState, work: Work) -> ApiResult<()> {
    state
        .db
        .transaction(move |tx| {
            lock_member(tx, &work.member_id)?;
            if !holds_lease(tx, &work)? {
                return Ok(());
            }
            reservations::release(tx, &allocations(tx, &work.payment_id)?)?;
            tx.execute("DELETE FROM payments WHERE id = ?1", [&work.payment_id])?;
            tx.execute(
                "DELETE FROM idempotency_keys WHERE member_id = ?1 AND key = ?2",
                params![work.member_id, work.key],
            )?;
            if let Some(bill) = &work.autopay_bill {
                tx.execute("UPDATE autopay_bills SET outcome = NULL WHERE bill_id = ?1", [bill])?;
            }
            match &work.scheduled {
                Some(Scheduled::Instalment { plan_id, nominal, .. }) => {
                    crate::plans::unclaim_instalment(tx, plan_id, *nominal)?
                }
                Some(Scheduled::OneTime(id)) => crate::scheduled::unclaim(tx, id)?,
                None => {}
            }
            Ok(())
        })
        .await
}

/// Whether `work` still holds its key's lease (its lease id is the fencing token: a take-over
/// replaces it). Callers hold the member's lock, as every take-over does, so no take-over can slip
/// between this check and the writes that follow it.
fn holds_lease(tx: &Connection, work: &Work) -> ApiResult<bool> {
    Ok(tx
        .prepare_cached(
            "SELECT 1 FROM idempotency_keys WHERE member_id = ?1 AND key = ?2 AND state = 'processing' AND lease_id = ?3",
        )?
        .exists(params![work.member_id, work.key, work.lease_id])?)
}

/// Step 3, by the lease holder only: all charged work in one transaction.
async fn finalize_many(state: &AppState, items: Vec<(usize, Work, Charge)>) -> Vec<(usize, ApiResult<Answer>)> {
    if items.is_empty() {
        return Vec::new();
    }
    let now = state.now();
    let today = state.business.today();
    let settle_on = state
        .business
        .calendar()
        .add_business_days(today, ACH_SETTLEMENT_BUSINESS_DAYS);
    let head = state.letterhead();
    let indexes: Vec<usize> = items.iter().map(|(i, ..)| *i).collect();
    let result = state
        .db
        .transaction(move |tx| {
            lock_members(tx, items.iter().map(|(_, work, _)| work.member_id.as_str()))?;
            let mut out = Vec::with_capacity(items.len());
            for (i, work, charge) in &items {
                out.push((
                    *i,
                    savepoint(tx, |tx| finalize_one(tx, &head, work, charge, now, settle_on))?,
                ));
            }
            Ok(out)
        })
        .await;
    state.mail_queued();
    match result {
        Ok(out) => out,
        Err(e) => indexes
            .into_iter()
            .map(|i| (i, Err(ApiError::internal(e.describe()))))
            .collect(),
    }
}

fn finalize_one(
    tx: &Connection,
    head: &Letterhead,
    work: &Work,
    charge: &Charge,
    now: DateTime<Utc>,
    settle_on: chrono::NaiveDate,
) -> ApiResult<Answer> {
    if !holds_lease(tx, work)? {
        // Someone else recovered this key meanwhile: answer what they stored.
        return match key_row(tx, &work.member_id, &work.key)? {
            Some(row) if row.state == "complete" => Ok(replay(&row)),
            _ => Err(ApiError::new(ErrorCode::IdempotencyKeyInUse).retry_after(1)),
        };
    }
    let allocs = allocations(tx, &work.payment_id)?;
    if let Some(reason) = mismatch(work, charge) {
        return hold_for_review(tx, head, work, charge, &allocs, &reason, now);
    }
    let (status, error) = match &charge.status {
        ChargeStatus::Succeeded => {
            tx.execute_later(
                "UPDATE payments SET status = 'succeeded', settled_at = ?2, processor_charge_id = ?3 WHERE id = ?1",
                params![work.payment_id, ms(now), charge.id],
            )?;
            reservations::settle(tx, &allocs)?;
            (StatusCode::CREATED, None)
        }
        ChargeStatus::Pending => {
            tx.execute_later(
                "UPDATE payments SET status = 'pending', settle_on = ?2, processor_charge_id = ?3 WHERE id = ?1",
                params![work.payment_id, date_str(settle_on), charge.id],
            )?;
            (StatusCode::CREATED, None)
        }
        ChargeStatus::Failed(code) => {
            let code = ErrorCode::parse(code)
                .filter(|c| c.status() == 402)
                .unwrap_or(ErrorCode::CardDeclined);
            tx.execute_later(
                "UPDATE payments SET status = 'failed', failure_code = ?2, failure_message = ?3, processor_charge_id = ?4 WHERE id = ?1",
                params![work.payment_id, code.as_str(), code.default_message(), charge.id],
            )?;
            reservations::release(tx, &allocs)?;
            (StatusCode::PAYMENT_REQUIRED, Some(code))
        }
    };
    touch_payment(tx, work, &allocs, now)?;
    let payment =
        load_payment(tx, &work.member_id, &work.payment_id)?.ok_or_else(|| ApiError::internal("payment vanished"))?;
    let body = match error {
        None => serde_json::to_string(&payment),
        Some(code) => {
            let mut e = ApiError::new(code);
            e.payment = serde_json::to_value(&payment).ok();
            serde_json::to_string(&e.body())
        }
    }
    .map_err(|e| ApiError::internal(e.to_string()))?;
    complete_key(tx, work, status, &body)?;
    if let Some(bill) = &work.autopay_bill {
        tx.execute_later(
            "UPDATE autopay_bills SET outcome = ?2, payment_id = ?3, updated_at = ?4 WHERE bill_id = ?1",
            params![bill, payment.status.as_str(), payment.id, ms(now)],
        )?;
        touch(tx, &work.member_id, SyncEntity::Autopay, "autopay", SyncOp::Upsert, now)?;
        if let Some(code) = error {
            autopay_declined_mail(tx, head, &work.member_id, bill, &payment, code, now)?;
        }
    }
    scheduled_outcome(tx, head, work, &payment, error.map(|c| c.as_str()), now)?;
    match (error, &work.scheduled) {
        (Some(_), _) => {}
        (None, None) => receipt_mail(tx, head, &payment, now)?,
        // The scheduler's charges: one receipt per payment, decided in `notices`.
        (None, Some(_)) => {
            let member_id = work.member_id.clone();
            mail::enqueue_once(
                tx,
                head,
                &member_id,
                &payment.id,
                "receipt",
                now,
                |first_name, locale| receipt_text(tx, &payment, first_name, locale),
            )?;
        }
    }
    Ok(Answer {
        status,
        body,
        replayed: false,
    })
}

/// The key's work is done: its answer is stored for replays and its lease ends.
fn complete_key(tx: &Connection, work: &Work, status: StatusCode, body: &str) -> ApiResult<()> {
    tx.execute_later(
        "UPDATE idempotency_keys SET state = 'complete', lease_id = NULL, lease_expires_at = NULL, response_status = ?3, response_body = ?4
         WHERE member_id = ?1 AND key = ?2",
        params![work.member_id, work.key, status.as_u16(), body],
    )?;
    Ok(())
}

/// The payment and the bills it pays changed: the sync feed carries them.
fn touch_payment(tx: &Connection, work: &Work, allocs: &[(String, i64)], now: DateTime<Utc>) -> ApiResult<()> {
    touch(
        tx,
        &work.member_id,
        SyncEntity::Payment,
        &work.payment_id,
        SyncOp::Upsert,
        now,
    )?;
    for (bill, _) in allocs {
        touch(tx, &work.member_id, SyncEntity::Bill, bill, SyncOp::Upsert, now)?;
    }
    Ok(())
}

/// Why a charge cannot settle this payment, if it cannot: its amount or its source differs.
fn mismatch(work: &Work, charge: &Charge) -> Option<String> {
    if charge.amount != work.amount {
        return Some(format!(
            "the processor's charge {} is for {}, the payment for {}",
            charge.id, charge.amount, work.amount
        ));
    }
    if charge.source != work.source {
        return Some(format!(
            "the processor's charge {} was made from another card or account than the payment's",
            charge.id
        ));
    }
    None
}

/// A charge that does not match its payment: nothing is settled or released. The payment keeps
/// its reservation as `needs_review` until the billing office has looked at it, and the member is
/// told so ("Being checked by the billing office"), never that it was paid.
fn hold_for_review(
    tx: &Connection,
    head: &Letterhead,
    work: &Work,
    charge: &Charge,
    allocs: &[(String, i64)],
    reason: &str,
    now: DateTime<Utc>,
) -> ApiResult<Answer> {
    tracing::error!(payment = %work.payment_id, charge = %charge.id, %reason, "payment held for review: the charge does not match it");
    tx.execute(
        "UPDATE payments SET status = 'needs_review', processor_charge_id = ?2, review_reason = ?3 WHERE id = ?1",
        params![work.payment_id, charge.id, reason],
    )?;
    touch_payment(tx, work, allocs, now)?;
    let payment =
        load_payment(tx, &work.member_id, &work.payment_id)?.ok_or_else(|| ApiError::internal("payment vanished"))?;
    let body = serde_json::to_string(&payment).map_err(|e| ApiError::internal(e.to_string()))?;
    let status = StatusCode::ACCEPTED;
    complete_key(tx, work, status, &body)?;
    scheduled_outcome(tx, head, work, &payment, None, now)?;
    if let Some(bill) = &work.autopay_bill {
        // The bill stays claimed by this autopay charge: it is never charged by autopay again.
        tx.execute(
            "UPDATE autopay_bills SET payment_id = ?2, updated_at = ?3 WHERE bill_id = ?1",
            params![bill, work.payment_id, ms(now)],
        )?;
    }
    Ok(Answer {
        status,
        body,
        replayed: false,
    })
}

fn receipt_mail(tx: &Connection, head: &Letterhead, p: &Payment, now: DateTime<Utc>) -> ApiResult<()> {
    let member_id = member_of(tx, &p.id)?;
    mail::enqueue_for_member(tx, head, &member_id, now, |first_name, locale| {
        receipt_text(tx, p, first_name, locale)
    })
}

fn receipt_text(
    tx: &Connection,
    p: &Payment,
    first_name: &str,
    locale: carebill_api::types::Locale,
) -> ApiResult<templates::Mail> {
    let mut bills = Vec::with_capacity(p.allocations.len());
    for a in &p.allocations {
        let (provider, statement) = bill_label(tx, &a.bill_id)?;
        bills.push((templates::bill_label(locale, &provider, &statement), a.amount));
    }
    Ok(templates::receipt(locale, first_name, p, &bills))
}

/// What a scheduler charge's outcome does to what the member set up: an instalment is paid or
/// missed, a scheduled payment is made.
fn scheduled_outcome(
    tx: &Connection,
    head: &Letterhead,
    work: &Work,
    payment: &Payment,
    declined: Option<&str>,
    now: DateTime<Utc>,
) -> ApiResult<()> {
    match &work.scheduled {
        Some(Scheduled::Instalment { plan_id, nominal, .. }) => {
            crate::plans::instalment_outcome(tx, head, &work.member_id, plan_id, *nominal, payment, declined, now)
        }
        Some(Scheduled::OneTime(id)) => crate::scheduled::made(tx, &work.member_id, id, &payment.id, now),
        None => Ok(()),
    }
}

/// Tells the member an autopay charge was declined (unless they turned off failed-payment mail).
fn autopay_declined_mail(
    tx: &Connection,
    head: &Letterhead,
    member_id: &str,
    bill_id: &str,
    p: &Payment,
    code: ErrorCode,
    now: DateTime<Utc>,
) -> ApiResult<()> {
    if !crate::notifications::wants_email(tx, member_id, carebill_api::types::NoticeKind::PaymentFailed)? {
        return Ok(());
    }
    mail::enqueue_for_member(tx, head, member_id, now, |first, locale| {
        let provider: String = tx.query_row("SELECT provider FROM bills WHERE id = ?1", [bill_id], |r| r.get(0))?;
        Ok(templates::autopay_declined(locale, first, p, &provider, code.as_str()))
    })
}
