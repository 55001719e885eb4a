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

use axum::http::StatusCode;
use carebill_api::ErrorCode;
use carebill_api::types::{
    Allocation, Payment, PaymentFailure, PaymentMethodSummary, PaymentMethodType, PaymentSource, PaymentStatus,
    SyncEntity, SyncOp,
};
use carebill_billing::Money;
use chrono::{DateTime, Duration, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};

use crate::config::PaymentLimits;
use crate::error::{ApiError, ApiResult};
use crate::ids::{confirmation_number, random_id};
use crate::mail;
use crate::mail::templates;
use crate::processor::{AchResult, Charge, ChargeStatus, InstrumentDetails, ProcessorError, Source, ach_return_reason};
use crate::state::AppState;
use crate::store::{date_str, from_ms, ms, touch};

/// How long a claim holds its key before someone else may recover it.
pub const LEASE: Duration = Duration::seconds(60);
/// The scheduler's sweep leaves expired leases this much longer to their own retries.
pub const SWEEP_GRACE: Duration = Duration::seconds(60);
/// Idempotency keys replay their answer for at least 24 hours; after 48 the answer is dropped and
/// the key stays as a tombstone.
pub const KEY_RETENTION: Duration = Duration::hours(48);
/// Bank debits settle this many business days after they are made.
pub const ACH_SETTLEMENT_BUSINESS_DAYS: u32 = 2;
pub const MAX_ALLOCATIONS: usize = 50;

/// How the payment is paid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MethodRef {
    Saved(String),
    Token(String),
}

/// The member's acceptance of an ACH authorization text.
#[derive(Debug, Clone)]
pub struct AchAcceptance {
    pub text: String,
    pub version: String,
}

/// One request to pay, already checked for shape.
#[derive(Debug, Clone)]
pub struct Intent {
    pub member_id: String,
    pub key: String,
    pub fingerprint: Vec<u8>,
    pub source: PaymentSource,
    pub method: MethodRef,
    /// Bill ids (raw, as sent) and amounts (> 0, two decimals).
    pub allocations: Vec<(String, Money)>,
    pub ach: Option<AchAcceptance>,
    pub client: Option<String>,
    /// For autopay: the bill whose single autopay charge this is.
    pub autopay_bill: Option<String>,
}

/// The answer to a payment request: what to send, and whether it was a replay.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: StatusCode,
    pub body: String,
    pub replayed: bool,
}

/// A fingerprint of a request: method, path and the normalized body.
pub fn fingerprint(method: &str, path: &str, normalized: &serde_json::Value) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(method.as_bytes());
    h.update(b" ");
    h.update(path.as_bytes());
    h.update(b"\n");
    h.update(normalized.to_string().as_bytes());
    h.finalize().to_vec()
}

/// The processor's key for one payment record: unique per record, the same for every retry,
/// take-over and sweep of that record (it is stored on the payment).
fn processor_key(member_id: &str, key: &str, payment_id: &str) -> String {
    format!("{member_id}:{key}:{payment_id}")
}

/// Work that holds a lease.
#[derive(Debug, Clone)]
struct Work {
    member_id: String,
    key: String,
    lease_id: String,
    payment_id: String,
    processor_key: String,
    source: Source,
    amount: Money,
    recovering: bool,
    autopay_bill: Option<String>,
}

enum Claim {
    Replay(Answer),
    Work(Work),
}

struct KeyRow {
    fingerprint: Vec<u8>,
    state: String,
    lease_expires_at: Option<i64>,
    payment_id: Option<String>,
    response_status: Option<i64>,
    response_body: Option<String>,
}

fn key_row(conn: &Connection, member_id: &str, key: &str) -> ApiResult<Option<KeyRow>> {
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

fn replay(row: &KeyRow) -> Answer {
    Answer {
        status: StatusCode::from_u16(row.response_status.unwrap_or(500) as u16)
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        body: row.response_body.clone().unwrap_or_default(),
        replayed: true,
    }
}

/// Takes over an expired lease and rebuilds the work from the stored payment.
fn take_over(tx: &Connection, member_id: &str, key: &str, payment_id: &str, now: DateTime<Utc>) -> ApiResult<Work> {
    let lease_id = random_id(&mut rand::thread_rng(), "lease");
    tx.execute(
        "UPDATE idempotency_keys SET lease_id = ?3, lease_expires_at = ?4 WHERE member_id = ?1 AND key = ?2",
        params![member_id, key, lease_id, ms(now + LEASE)],
    )?;
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
    Ok(Work {
        member_id: member_id.to_string(),
        key: key.to_string(),
        lease_id,
        payment_id: payment_id.to_string(),
        processor_key,
        source: Source::decode(&source).ok_or_else(|| ApiError::internal("stored processor source"))?,
        amount: Money::from_cents(cents),
        recovering: true,
        autopay_bill,
    })
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
    if intent.source == PaymentSource::Autopay {
        return Ok(());
    }
    let day_ago = ms(now - Duration::hours(24));
    let refuse = |code: ErrorCode| Err(ApiError::new(code).retry_after(3600));
    // Each count stops at its limit (`LIMIT`), so a claim reads at most that many rows however
    // many payments there were; a limit of `u32::MAX` is no limit, and no query.
    let reached = |sql: &str, args: &[&dyn rusqlite::ToSql], limit: u32| -> ApiResult<bool> {
        if limit == u32::MAX {
            return Ok(false);
        }
        let mut all: Vec<&dyn rusqlite::ToSql> = args.to_vec();
        all.push(&limit);
        let n: i64 = tx
            .prepare_cached(&format!("SELECT COUNT(*) FROM ({sql} LIMIT ?{})", all.len()))?
            .query_row(all.as_slice(), |r| r.get(0))?;
        Ok(n >= i64::from(limit))
    };
    if intent.source == PaymentSource::Member {
        let member: &dyn rusqlite::ToSql = &intent.member_id;
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
            "SELECT 1 FROM payments WHERE card_fingerprint = ?1 AND source != 'autopay' AND created_at > ?2
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
            "SELECT processor_ref, kind, brand, last4, bank_name, holder_name, fingerprint FROM payment_methods
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
                    funding: None,
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
fn claim(
    tx: &Connection,
    intent: &Intent,
    token: Option<InstrumentDetails>,
    limits: &PaymentLimits,
    now: DateTime<Utc>,
) -> ApiResult<Claim> {
    if let Some(row) = key_row(tx, &intent.member_id, &intent.key)? {
        if row.fingerprint != intent.fingerprint {
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
        return Ok(Claim::Work(take_over(
            tx,
            &intent.member_id,
            &intent.key,
            &payment_id,
            now,
        )?));
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

    let mut reserve = tx.prepare_cached(
        "UPDATE bills SET pending_cents = pending_cents + ?3
         WHERE id = ?1 AND member_id = ?2
           AND total_charges_cents - insurance_paid_cents - adjustments_cents - settled_cents - pending_cents >= ?3",
    )?;
    let mut exists = tx.prepare_cached("SELECT 1 FROM bills WHERE id = ?1 AND member_id = ?2")?;
    for (i, (bill_id, amount)) in intent.allocations.iter().enumerate() {
        if reserve.execute(params![bill_id, intent.member_id, amount.cents()])? == 1 {
            continue;
        }
        if exists
            .query_row(params![bill_id, intent.member_id], |_| Ok(()))
            .optional()?
            .is_none()
        {
            return Err(ApiError::new(ErrorCode::BillNotFound).at(&format!("/allocations/{i}/bill_id")));
        }
        return Err(ApiError::new(ErrorCode::AmountExceedsBalance).at(&format!("/allocations/{i}/amount")));
    }

    let mut rng = rand::thread_rng();
    let payment_id = random_id(&mut rng, "pay");
    let lease_id = random_id(&mut rng, "lease");
    let amount: Money = intent.allocations.iter().map(|(_, a)| *a).sum();
    let processor_key = processor_key(&intent.member_id, &intent.key, &payment_id);
    tx.prepare_cached(
        "INSERT INTO payments (id, member_id, status, amount_cents, confirmation_number, method_type, method_brand, method_last4,
            created_at, source, payment_method_id, idempotency_key, processor_source, ach_text, ach_text_version, ach_accepted_at, ach_client,
            processor_key, card_fingerprint)
         VALUES (?1, ?2, 'processing', ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
    )?
    .execute(params![
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
    ])?;
    let mut alloc =
        tx.prepare_cached("INSERT INTO payment_allocations (payment_id, bill_id, amount_cents) VALUES (?1, ?2, ?3)")?;
    for (bill_id, a) in &intent.allocations {
        alloc.execute(params![payment_id, bill_id, a.cents()])?;
        // The reservation changes what can be paid now: lists and the sync feed show it at once.
        touch(tx, &intent.member_id, SyncEntity::Bill, bill_id, SyncOp::Upsert, now)?;
    }
    tx.prepare_cached(
        "INSERT INTO idempotency_keys (member_id, key, fingerprint, state, lease_id, lease_expires_at, payment_id, created_at)
         VALUES (?1, ?2, ?3, 'processing', ?4, ?5, ?6, ?7)",
    )?
    .execute(params![intent.member_id, intent.key, intent.fingerprint, lease_id, ms(now + LEASE), payment_id, ms(now)])?;
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
    }))
}

pub fn source_str(source: PaymentSource) -> &'static str {
    match source {
        PaymentSource::Member => "member",
        PaymentSource::Autopay => "autopay",
        PaymentSource::Guest => "guest",
    }
}

/// Pays, exactly once per key. See the module documentation for the steps.
///
/// Requests arriving together are committed together (group commit): they queue to one worker
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

/// Most intents committed together.
pub const GROUP_MAX: usize = 64;

type Reply = tokio::sync::oneshot::Sender<ApiResult<Answer>>;
pub type PaymentQueue = tokio::sync::mpsc::UnboundedSender<(Intent, Reply)>;

fn spawn_group_committer(state: AppState) -> PaymentQueue {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(Intent, Reply)>();
    tokio::spawn(async move {
        while let Some(first) = rx.recv().await {
            let mut batch = vec![first];
            while batch.len() < GROUP_MAX {
                match rx.try_recv() {
                    Ok(next) => batch.push(next),
                    Err(_) => break,
                }
            }
            let (intents, replies): (Vec<Intent>, Vec<Reply>) = batch.into_iter().unzip();
            let answers = submit_many(&state, intents).await;
            for (reply, answer) in replies.into_iter().zip(answers) {
                let _ = reply.send(answer);
            }
        }
    });
    tx
}

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
            let mut out = Vec::with_capacity(pending.len());
            for (i, intent, token) in &pending {
                out.push((*i, savepoint(tx, |tx| claim(tx, intent, token.clone(), &limits, now))?));
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

/// Runs `f` inside a savepoint: its writes are kept only when it succeeds.
fn savepoint<R>(tx: &Connection, f: impl FnOnce(&Connection) -> ApiResult<R>) -> ApiResult<ApiResult<R>> {
    tx.execute_batch("SAVEPOINT item")?;
    let out = f(tx);
    if out.is_err() {
        tx.execute_batch("ROLLBACK TO item")?;
    }
    tx.execute_batch("RELEASE item")?;
    Ok(out)
}

/// Resumes a key whose lease expired (scheduler sweep). `None` when there is nothing to do.
pub async fn resume(state: &AppState, member_id: String, key: String) -> ApiResult<Option<Answer>> {
    let now = state.now();
    let work = state
        .db
        .transaction(move |tx| {
            let Some(row) = key_row(tx, &member_id, &key)? else {
                return Ok(None);
            };
            if row.state != "processing" || row.lease_expires_at.is_some_and(|t| t > ms(now)) {
                return Ok(None);
            }
            let payment_id = row
                .payment_id
                .ok_or_else(|| ApiError::internal("processing key without payment"))?;
            Ok(Some(take_over(tx, &member_id, &key, &payment_id, now)?))
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
async fn execute_many(state: &AppState, works: Vec<(usize, Work)>) -> Vec<(usize, ApiResult<Answer>)> {
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
                        .retry_after(LEASE.num_seconds() as u64)
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
            if !holds_lease(tx, &work)? {
                return Ok(());
            }
            for (bill_id, cents) in allocations(tx, &work.payment_id)? {
                tx.execute(
                    "UPDATE bills SET pending_cents = pending_cents - ?2 WHERE id = ?1",
                    params![bill_id, cents],
                )?;
            }
            tx.execute("DELETE FROM payments WHERE id = ?1", [&work.payment_id])?;
            tx.execute(
                "DELETE FROM idempotency_keys WHERE member_id = ?1 AND key = ?2",
                params![work.member_id, work.key],
            )?;
            if let Some(bill) = &work.autopay_bill {
                tx.execute("UPDATE autopay_bills SET outcome = NULL WHERE bill_id = ?1", [bill])?;
            }
            Ok(())
        })
        .await
}

fn holds_lease(tx: &Connection, work: &Work) -> ApiResult<bool> {
    Ok(tx
        .query_row(
            "SELECT 1 FROM idempotency_keys WHERE member_id = ?1 AND key = ?2 AND state = 'processing' AND lease_id = ?3",
            params![work.member_id, work.key, work.lease_id],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

fn allocations(conn: &Connection, payment_id: &str) -> ApiResult<Vec<(String, i64)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT bill_id, amount_cents FROM payment_allocations WHERE payment_id = ?1 ORDER BY bill_id",
    )?;
    let rows = stmt.query_map([payment_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
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
    let demo = state.config.demo;
    let indexes: Vec<usize> = items.iter().map(|(i, ..)| *i).collect();
    let result = state
        .db
        .transaction(move |tx| {
            let mut out = Vec::with_capacity(items.len());
            for (i, work, charge) in &items {
                out.push((
                    *i,
                    savepoint(tx, |tx| finalize_one(tx, demo, work, charge, now, settle_on))?,
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
    demo: bool,
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
        return hold_for_review(tx, work, charge, &allocs, &reason, now);
    }
    let (status, error) = match &charge.status {
        ChargeStatus::Succeeded => {
            tx.execute(
                "UPDATE payments SET status = 'succeeded', settled_at = ?2, processor_charge_id = ?3 WHERE id = ?1",
                params![work.payment_id, ms(now), charge.id],
            )?;
            for (bill, cents) in &allocs {
                tx.execute(
                    "UPDATE bills SET pending_cents = pending_cents - ?2, settled_cents = settled_cents + ?2 WHERE id = ?1",
                    params![bill, cents],
                )?;
            }
            (StatusCode::CREATED, None)
        }
        ChargeStatus::Pending => {
            tx.execute(
                "UPDATE payments SET status = 'pending', settle_on = ?2, processor_charge_id = ?3 WHERE id = ?1",
                params![work.payment_id, date_str(settle_on), charge.id],
            )?;
            (StatusCode::CREATED, None)
        }
        ChargeStatus::Failed(code) => {
            let code = ErrorCode::parse(code)
                .filter(|c| c.status() == 402)
                .unwrap_or(ErrorCode::CardDeclined);
            tx.execute(
                "UPDATE payments SET status = 'failed', failure_code = ?2, failure_message = ?3, processor_charge_id = ?4 WHERE id = ?1",
                params![work.payment_id, code.as_str(), code.default_message(), charge.id],
            )?;
            for (bill, cents) in &allocs {
                tx.execute(
                    "UPDATE bills SET pending_cents = pending_cents - ?2 WHERE id = ?1",
                    params![bill, cents],
                )?;
            }
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
        tx.execute(
            "UPDATE autopay_bills SET outcome = ?2, payment_id = ?3, updated_at = ?4 WHERE bill_id = ?1",
            params![bill, payment.status.as_str(), payment.id, ms(now)],
        )?;
        touch(tx, &work.member_id, SyncEntity::Autopay, "autopay", SyncOp::Upsert, now)?;
        if let Some(code) = error {
            autopay_declined_mail(tx, demo, &work.member_id, bill, &payment, code, now)?;
        }
    }
    if error.is_none() {
        receipt_mail(tx, demo, &payment, now)?;
    }
    Ok(Answer {
        status,
        body,
        replayed: false,
    })
}

/// The key's work is done: its answer is stored for replays and its lease ends.
fn complete_key(tx: &Connection, work: &Work, status: StatusCode, body: &str) -> ApiResult<()> {
    tx.execute(
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

fn bill_label(conn: &Connection, bill_id: &str) -> ApiResult<String> {
    Ok(conn.query_row(
        "SELECT provider || ', statement ' || statement_number FROM bills WHERE id = ?1",
        [bill_id],
        |r| r.get(0),
    )?)
}

fn receipt_mail(tx: &Connection, demo: bool, p: &Payment, now: DateTime<Utc>) -> ApiResult<()> {
    let member_id = member_of(tx, &p.id)?;
    mail::enqueue_for_member(tx, demo, &member_id, now, |first_name| {
        let mut bills = Vec::with_capacity(p.allocations.len());
        for a in &p.allocations {
            bills.push((bill_label(tx, &a.bill_id)?, a.amount));
        }
        Ok(templates::receipt(first_name, p, &bills))
    })
}

/// Tells the member an autopay charge was declined.
fn autopay_declined_mail(
    tx: &Connection,
    demo: bool,
    member_id: &str,
    bill_id: &str,
    p: &Payment,
    code: ErrorCode,
    now: DateTime<Utc>,
) -> ApiResult<()> {
    mail::enqueue_for_member(tx, demo, member_id, now, |first| {
        let provider: String = tx.query_row("SELECT provider FROM bills WHERE id = ?1", [bill_id], |r| r.get(0))?;
        Ok(templates::autopay_declined(first, p, &provider, code.default_message()))
    })
}

fn member_of(conn: &Connection, payment_id: &str) -> ApiResult<String> {
    Ok(
        conn.query_row("SELECT member_id FROM payments WHERE id = ?1", [payment_id], |r| {
            r.get(0)
        })?,
    )
}

/// The columns `payment_from_row` reads.
const PAYMENT_COLUMNS: &str = "p.id, p.status, p.amount_cents, p.confirmation_number, p.method_type, p.method_brand, p.method_last4, \
    p.created_at, p.settled_at, p.failure_code, p.failure_message, p.idempotency_key, p.source";

fn payment_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Payment> {
    let status: String = r.get(1)?;
    let kind: String = r.get(4)?;
    let source: String = r.get(12)?;
    let failure_code: Option<String> = r.get(9)?;
    let failure_message: Option<String> = r.get(10)?;
    Ok(Payment {
        id: r.get(0)?,
        status: PaymentStatus::parse(&status).unwrap_or(PaymentStatus::Pending),
        amount: Money::from_cents(r.get(2)?),
        allocations: Vec::new(),
        confirmation_number: r.get(3)?,
        payment_method: PaymentMethodSummary {
            kind: PaymentMethodType::parse(&kind).unwrap_or(PaymentMethodType::Card),
            brand: r.get(5)?,
            last4: if source == "guest" { String::new() } else { r.get(6)? },
        },
        created_at: from_ms(r.get(7)?),
        settled_at: r.get::<_, Option<i64>>(8)?.map(from_ms),
        failure: failure_code.map(|code| PaymentFailure {
            code,
            message: failure_message.unwrap_or_default(),
        }),
        // A guest's key (it names the kiosk) and card digits are the guest's, not the member's.
        idempotency_key: if source == "guest" { None } else { r.get(11)? },
        source: match source.as_str() {
            "autopay" => PaymentSource::Autopay,
            "guest" => PaymentSource::Guest,
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

/// Whether a payment with this member key is being charged right now (or waits for recovery).
pub fn key_in_flight(conn: &Connection, member_id: &str, key: &str) -> ApiResult<bool> {
    Ok(key_row(conn, member_id, key)?.is_some_and(|r| r.state == "processing"))
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
    let mut done = 0;
    for (payment_id, member_id, charge_id) in due {
        let processor = state.processor.clone();
        let result = tokio::task::spawn_blocking(move || processor.ach_result(&charge_id))
            .await
            .map_err(|e| ApiError::internal(e.to_string()))?;
        let Ok(result) = result else { continue };
        let now = state.now();
        let demo = state.config.demo;
        let changed = state
            .db
            .transaction(move |tx| settle_one(tx, demo, &member_id, &payment_id, &result, now))
            .await?;
        if changed {
            done += 1;
        }
    }
    if done > 0 {
        state.mail_queued();
    }
    Ok(done)
}

fn settle_one(
    tx: &Connection,
    demo: bool,
    member_id: &str,
    payment_id: &str,
    result: &AchResult,
    now: DateTime<Utc>,
) -> ApiResult<bool> {
    let still_pending = tx
        .query_row(
            "SELECT 1 FROM payments WHERE id = ?1 AND status = 'pending'",
            [payment_id],
            |_| Ok(()),
        )
        .optional()?
        .is_some();
    if !still_pending {
        return Ok(false);
    }
    let allocs = allocations(tx, payment_id)?;
    match result {
        AchResult::Settled => {
            tx.execute(
                "UPDATE payments SET status = 'succeeded', settled_at = ?2 WHERE id = ?1",
                params![payment_id, ms(now)],
            )?;
            for (bill, cents) in &allocs {
                tx.execute(
                    "UPDATE bills SET pending_cents = pending_cents - ?2, settled_cents = settled_cents + ?2 WHERE id = ?1",
                    params![bill, cents],
                )?;
            }
        }
        AchResult::Returned(code) => {
            tx.execute(
                "UPDATE payments SET status = 'returned', failure_code = ?2, failure_message = ?3 WHERE id = ?1",
                params![payment_id, code, ach_return_reason(code)],
            )?;
            for (bill, cents) in &allocs {
                tx.execute(
                    "UPDATE bills SET pending_cents = pending_cents - ?2 WHERE id = ?1",
                    params![bill, cents],
                )?;
            }
            if let Some(p) = load_payment(tx, member_id, payment_id)? {
                mail::enqueue_for_member(tx, demo, member_id, now, |first_name| {
                    Ok(templates::payment_returned(
                        first_name,
                        &p,
                        code,
                        ach_return_reason(code),
                    ))
                })?;
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
    let cutoff = ms(state.now() - SWEEP_GRACE);
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
