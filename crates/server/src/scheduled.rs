//! One-time payments scheduled for a date ("Pay on"): changed or cancelled by the member until
//! the day before, a reminder that day, and made exactly once on the date by the scheduler,
//! through the payment engine with key `scheduled:{id}`. On its date it pays what is still
//! payable, up to what was scheduled; when nothing is left it is cancelled with a notice.

use carebill_api::ErrorCode;
use carebill_api::types::{
    AchAuthorizationKind, Allocation, PaymentMethodSummary, PaymentMethodType, PaymentSource, ScheduledPayment,
    ScheduledPaymentRequest, ScheduledStatus, SyncEntity, SyncOp,
};
use carebill_billing::{Money, validate};
use chrono::{DateTime, Days, NaiveDate, Utc};
use serde_json::json;

use crate::autopay::{self, method_summary};
use crate::error::{ApiError, ApiResult};
use crate::ids::random_id;
use crate::mail::{self, Letterhead, templates};
use crate::payments::{self, AchAcceptance, Intent, MethodRef, Scheduled};
use crate::plans::Precondition;
use crate::sql::{Connection, OptionalExtension, params};
use crate::state::AppState;
use crate::store::{claim_members, date_str, from_ms, lock_member, ms, parse_date, touch};

struct Stored {
    id: String,
    member_id: String,
    status: ScheduledStatus,
    pay_on: NaiveDate,
    method_id: String,
    ach_text: Option<String>,
    ach_version: Option<String>,
    payment_id: Option<String>,
    cancel_reason: Option<String>,
    version: i64,
    created_at: i64,
}

const COLUMNS: &str = "id, member_id, status, pay_on, payment_method_id, ach_text, ach_text_version, payment_id, \
    cancel_reason, version, created_at";

fn from_row(r: &crate::sql::Row<'_>) -> crate::sql::Result<(Stored, String)> {
    let status: String = r.get(2)?;
    Ok((
        Stored {
            id: r.get(0)?,
            member_id: r.get(1)?,
            status: ScheduledStatus::parse(&status).unwrap_or(ScheduledStatus::Cancelled),
            pay_on: NaiveDate::MIN,
            method_id: r.get(4)?,
            ach_text: r.get(5)?,
            ach_version: r.get(6)?,
            payment_id: r.get(7)?,
            cancel_reason: r.get(8)?,
            version: r.get(9)?,
            created_at: r.get(10)?,
        },
        r.get(3)?,
    ))
}

fn finish((mut s, pay_on): (Stored, String)) -> ApiResult<Stored> {
    s.pay_on = parse_date(&pay_on)?;
    Ok(s)
}

fn load(conn: &Connection, member_id: &str, id: &str) -> ApiResult<Option<Stored>> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM scheduled_payments WHERE id = ?1 AND member_id = ?2"
    ))?
    .query_row(params![id, member_id], from_row)
    .optional()?
    .map(finish)
    .transpose()
}

fn allocations_of(conn: &Connection, id: &str) -> ApiResult<Vec<(String, Money)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT s.bill_id, s.amount_cents FROM scheduled_allocations s JOIN bills b ON b.id = s.bill_id
         WHERE s.scheduled_id = ?1 ORDER BY b.due_date, b.statement_number, b.id",
    )?;
    let rows = stmt.query_map([id], |r| Ok((r.get::<_, String>(0)?, Money::from_cents(r.get(1)?))))?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

fn view(conn: &Connection, s: &Stored) -> ApiResult<ScheduledPayment> {
    let allocations = allocations_of(conn, &s.id)?;
    let (method, _) = method_summary(conn, &s.member_id, &s.method_id)?.unwrap_or((
        PaymentMethodSummary {
            kind: PaymentMethodType::Card,
            brand: String::new(),
            last4: String::new(),
            funding: None,
        },
        String::new(),
    ));
    Ok(ScheduledPayment {
        id: s.id.clone(),
        status: s.status,
        pay_on: s.pay_on,
        change_until: s.pay_on.checked_sub_days(Days::new(1)).unwrap_or(s.pay_on),
        amount: allocations.iter().map(|(_, m)| *m).sum(),
        allocations: allocations
            .into_iter()
            .map(|(bill_id, amount)| Allocation { bill_id, amount })
            .collect(),
        payment_method_id: s.method_id.clone(),
        payment_method: method,
        payment_id: s.payment_id.clone(),
        cancel_reason: s.cancel_reason.clone(),
        created_at: from_ms(s.created_at),
        version: i32::try_from(s.version).unwrap_or(i32::MAX),
    })
}

/// One of the member's scheduled payments.
pub fn get(conn: &Connection, member_id: &str, id: &str) -> ApiResult<ScheduledPayment> {
    let s = load(conn, member_id, id)?.ok_or_else(|| ApiError::new(ErrorCode::ScheduledPaymentNotFound))?;
    view(conn, &s)
}

/// The member's scheduled payments, soonest first.
pub fn list(conn: &Connection, member_id: &str) -> ApiResult<Vec<ScheduledPayment>> {
    let rows = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM scheduled_payments WHERE member_id = ?1 ORDER BY pay_on, created_at, id"
        ))?
        .query_map([member_id], from_row)?
        .collect::<Result<Vec<_>, _>>()?;
    rows.into_iter().map(|r| view(conn, &finish(r)?)).collect()
}

/// A request checked: amounts, bills, date, method and the bank authorization.
struct Checked {
    allocations: Vec<(String, Money)>,
    ach: Option<(&'static str, String)>,
}

/// `kept`: the bank debit authorization already accepted for this method (a change that keeps
/// the bank account need not accept it again).
fn check(
    tx: &Connection,
    member_id: &str,
    req: &ScheduledPaymentRequest,
    today: NaiveDate,
    kept: Option<(&str, &str)>,
) -> ApiResult<Checked> {
    if req.allocations.is_empty() {
        return Err(ApiError::validation("/allocations", "Choose at least one bill."));
    }
    let mut out: Vec<(String, Money)> = Vec::with_capacity(req.allocations.len());
    let mut earliest_due: Option<NaiveDate> = None;
    let mut stmt = tx.prepare_cached(
        "SELECT total_charges_cents - insurance_paid_cents - adjustments_cents - settled_cents - other_payments_cents - pending_cents,
                due_date
         FROM bills WHERE id = ?1 AND member_id = ?2",
    )?;
    for (i, a) in req.allocations.iter().enumerate() {
        let amount = validate::payment_amount(&a.amount)
            .map_err(|e| ApiError::invalid(&format!("/allocations/{i}/amount"), e))?;
        if out.iter().any(|(b, _)| *b == a.bill_id) {
            return Err(ApiError::new(ErrorCode::DuplicateBill).at(&format!("/allocations/{i}/bill_id")));
        }
        let Some((payable, due)) = stmt
            .query_row(params![a.bill_id, member_id], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
            })
            .optional()?
        else {
            return Err(ApiError::new(ErrorCode::BillNotFound).at(&format!("/allocations/{i}/bill_id")));
        };
        validate::within_payable(amount, Money::from_cents(payable.max(0)))
            .map_err(|e| ApiError::invalid(&format!("/allocations/{i}/amount"), e))?;
        let due = parse_date(&due)?;
        earliest_due = Some(earliest_due.map_or(due, |d| d.min(due)));
        out.push((a.bill_id.clone(), amount));
    }
    // Up to the due date; a bill already past due can only be paid today.
    let last = earliest_due.unwrap_or(today).max(today);
    if req.pay_on < today || req.pay_on > last {
        return Err(ApiError::with_message(
            ErrorCode::InvalidPayOn,
            format!(
                "Choose a date from today to {}, the due date of the bills you are paying.",
                last.format("%b %-d, %Y")
            ),
        )
        .with_param("max", last.format("%Y-%m-%d").to_string())
        .at("/pay_on"));
    }
    let (method, _) = method_summary(tx, member_id, &req.payment_method_id)?
        .ok_or_else(|| ApiError::new(ErrorCode::PaymentMethodNotFound).at("/payment_method_id"))?;
    let ach = match (method.kind, &req.ach_authorization) {
        (PaymentMethodType::Card, _) => None,
        (PaymentMethodType::BankAccount, Some(a)) => match autopay::authorization_text(&a.text_version) {
            Some((AchAuthorizationKind::Single, text)) => Some((text, a.text_version.clone())),
            _ => return Err(ApiError::new(ErrorCode::AchAuthorizationRequired).at("/ach_authorization")),
        },
        (PaymentMethodType::BankAccount, None) => match kept {
            Some((method, version)) if method == req.payment_method_id => match autopay::authorization_text(version) {
                Some((AchAuthorizationKind::Single, text)) => Some((text, version.to_string())),
                _ => return Err(ApiError::new(ErrorCode::AchAuthorizationRequired).at("/ach_authorization")),
            },
            _ => return Err(ApiError::new(ErrorCode::AchAuthorizationRequired).at("/ach_authorization")),
        },
    };
    Ok(Checked { allocations: out, ach })
}

fn write_allocations(tx: &Connection, id: &str, allocations: &[(String, Money)]) -> ApiResult<()> {
    tx.execute("DELETE FROM scheduled_allocations WHERE scheduled_id = ?1", [id])?;
    for (bill, amount) in allocations {
        tx.execute(
            "INSERT INTO scheduled_allocations (scheduled_id, bill_id, amount_cents) VALUES (?1, ?2, ?3)",
            params![id, bill, amount.cents()],
        )?;
    }
    Ok(())
}

fn touch_it(tx: &Connection, member_id: &str, id: &str, now: DateTime<Utc>) -> ApiResult<()> {
    touch(tx, member_id, SyncEntity::ScheduledPayment, id, SyncOp::Upsert, now)
}

/// Schedules a payment, once per key. Answers whether it was made now.
pub fn create(
    tx: &Connection,
    member_id: &str,
    key: &str,
    req: &ScheduledPaymentRequest,
    today: NaiveDate,
    client: &str,
    now: DateTime<Utc>,
) -> ApiResult<(bool, ScheduledPayment)> {
    lock_member(tx, member_id)?;
    // A request sent again with its key (a lost answer, a double click) gets the one it made.
    let made: Option<String> = tx
        .query_row(
            "SELECT id FROM scheduled_payments WHERE member_id = ?1 AND idempotency_key = ?2",
            params![member_id, key],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(id) = made {
        return get(tx, member_id, &id).map(|s| (false, s));
    }
    let checked = check(tx, member_id, req, today, None)?;
    let id = random_id(&mut rand::thread_rng(), "sch");
    tx.execute(
        "INSERT INTO scheduled_payments (id, member_id, status, pay_on, payment_method_id, ach_text, ach_text_version,
            ach_accepted_at, client, idempotency_key, created_at, updated_at)
         VALUES (?1, ?2, 'scheduled', ?3, ?4, ?5, ?6, ?7, ?8, ?10, ?9, ?9)",
        params![
            id,
            member_id,
            date_str(req.pay_on),
            req.payment_method_id,
            checked.ach.as_ref().map(|(t, _)| *t),
            checked.ach.as_ref().map(|(_, v)| v.clone()),
            checked.ach.as_ref().map(|_| ms(now)),
            client,
            ms(now),
            key,
        ],
    )?;
    write_allocations(tx, &id, &checked.allocations)?;
    touch_it(tx, member_id, &id, now)?;
    get(tx, member_id, &id).map(|s| (true, s))
}

/// Whether the member may still change it: scheduled, and before its date.
/// Whether a question about one of its bills is open: it then waits (no reminder, no charge),
/// and stays changeable past its date, until the question is closed.
fn on_hold(conn: &Connection, allocations: &[(String, Money)]) -> ApiResult<bool> {
    crate::conversations::any_on_hold(conn, allocations.iter().map(|(bill, _)| bill.as_str()))
}

fn changeable(conn: &Connection, s: &Stored, if_match: Precondition, today: NaiveDate) -> ApiResult<()> {
    if_match.check(s.version)?;
    let waiting = today >= s.pay_on && on_hold(conn, &allocations_of(conn, &s.id)?)?;
    if s.status != ScheduledStatus::Scheduled || (today >= s.pay_on && !waiting) {
        return Err(ApiError::new(ErrorCode::TooLateToChange));
    }
    Ok(())
}

/// Changes its date, bills, amounts or method, until the day before. Keeping the bank account keeps
/// its accepted debit authorization.
#[allow(clippy::too_many_arguments)]
pub fn update(
    tx: &Connection,
    member_id: &str,
    id: &str,
    if_match: Precondition,
    req: &ScheduledPaymentRequest,
    today: NaiveDate,
    client: &str,
    now: DateTime<Utc>,
) -> ApiResult<ScheduledPayment> {
    lock_member(tx, member_id)?;
    let s = load(tx, member_id, id)?.ok_or_else(|| ApiError::new(ErrorCode::ScheduledPaymentNotFound))?;
    changeable(tx, &s, if_match, today)?;
    let kept = s.ach_version.as_deref().map(|v| (s.method_id.as_str(), v));
    let checked = check(tx, member_id, req, today, kept)?;
    tx.execute(
        "UPDATE scheduled_payments SET pay_on = ?2, payment_method_id = ?3, ach_text = ?4, ach_text_version = ?5,
            ach_accepted_at = ?6, client = ?7, version = version + 1, updated_at = ?8
         WHERE id = ?1",
        params![
            id,
            date_str(req.pay_on),
            req.payment_method_id,
            checked.ach.as_ref().map(|(t, _)| *t),
            checked.ach.as_ref().map(|(_, v)| v.clone()),
            checked.ach.as_ref().map(|_| ms(now)),
            client,
            ms(now),
        ],
    )?;
    write_allocations(tx, id, &checked.allocations)?;
    touch_it(tx, member_id, id, now)?;
    get(tx, member_id, id)
}

/// Cancels it, until the day before.
pub fn cancel(
    tx: &Connection,
    member_id: &str,
    id: &str,
    if_match: Precondition,
    today: NaiveDate,
    now: DateTime<Utc>,
) -> ApiResult<ScheduledPayment> {
    lock_member(tx, member_id)?;
    let s = load(tx, member_id, id)?.ok_or_else(|| ApiError::new(ErrorCode::ScheduledPaymentNotFound))?;
    changeable(tx, &s, if_match, today)?;
    tx.execute(
        "UPDATE scheduled_payments SET status = 'cancelled', cancel_reason = 'member', version = version + 1, updated_at = ?2
         WHERE id = ?1",
        params![id, ms(now)],
    )?;
    touch_it(tx, member_id, id, now)?;
    get(tx, member_id, id)
}

/// The engine claims the payment in its claim transaction: still scheduled, and only once.
pub fn claim(tx: &Connection, member_id: &str, id: &str, now: DateTime<Utc>) -> ApiResult<()> {
    let claimed = tx.execute(
        "UPDATE scheduled_payments SET status = 'processing', updated_at = ?3
         WHERE id = ?1 AND member_id = ?2 AND status = 'scheduled'",
        params![id, member_id, ms(now)],
    )?;
    if claimed != 1 {
        return Err(ApiError::new(ErrorCode::IdempotencyKeyInUse).detail("this scheduled payment was already handled"));
    }
    touch_it(tx, member_id, id, now)
}

/// The claim was undone: it waits for its date again.
pub fn unclaim(tx: &Connection, id: &str) -> ApiResult<()> {
    tx.execute(
        "UPDATE scheduled_payments SET status = 'scheduled' WHERE id = ?1 AND status = 'processing'",
        [id],
    )?;
    Ok(())
}

/// Its payment was made (whatever its outcome: the payment says).
pub fn made(tx: &Connection, member_id: &str, id: &str, payment_id: &str, now: DateTime<Utc>) -> ApiResult<()> {
    tx.execute(
        "UPDATE scheduled_payments SET status = 'made', payment_id = ?2, updated_at = ?3 WHERE id = ?1",
        params![id, payment_id, ms(now)],
    )?;
    touch_it(tx, member_id, id, now)
}

/// Bills that a scheduled payment will pay (for the bill's own view).
pub fn scheduled_for_bill(conn: &Connection, bill_id: &str) -> ApiResult<Option<(NaiveDate, Money)>> {
    let row: Option<(String, i64)> = conn
        .prepare_cached(
            "SELECT s.pay_on, a.amount_cents FROM scheduled_allocations a JOIN scheduled_payments s ON s.id = a.scheduled_id
             WHERE a.bill_id = ?1 AND s.status = 'scheduled' ORDER BY s.pay_on LIMIT 1",
        )?
        .query_row([bill_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    row.map(|(d, c)| Ok((parse_date(&d)?, Money::from_cents(c))))
        .transpose()
}

/// What one pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RunSummary {
    pub reminders: usize,
    pub attempted: usize,
    pub made: usize,
    pub declined: usize,
    pub cancelled: usize,
}

const PLAN_BATCH: usize = 100;

/// One scheduled payment's part of the pass: the reminder the day before, or on its date the
/// charge (of what is still payable) or, with nothing left, its cancellation.
fn plan_one(
    tx: &Connection,
    head: &Letterhead,
    s: &Stored,
    today: NaiveDate,
    now: DateTime<Utc>,
    summary: &mut RunSummary,
    charges: &mut Vec<Intent>,
) -> ApiResult<()> {
    let scheduled = allocations_of(tx, &s.id)?;
    if on_hold(tx, &scheduled)? {
        // A question about one of its bills is open: no reminder and no charge until it is
        // closed; then the next pass charges it, its date having come.
        return Ok(());
    }
    let total: Money = scheduled.iter().map(|(_, m)| *m).sum();
    let Some((method, _)) = method_summary(tx, &s.member_id, &s.method_id)? else {
        return Ok(());
    };
    if today < s.pay_on {
        if today >= s.pay_on.checked_sub_days(Days::new(1)).unwrap_or(s.pay_on) {
            let providers = providers(tx, &scheduled)?;
            if mail::enqueue_once(
                tx,
                head,
                &s.member_id,
                &format!("scheduled:{}", s.id),
                "reminder",
                now,
                |first, l| {
                    Ok(templates::scheduled_reminder(
                        l, first, total, &method, s.pay_on, &providers,
                    ))
                },
            )? {
                summary.reminders += 1;
            }
        }
        return Ok(());
    }
    let mut stmt = tx.prepare_cached(
        "SELECT total_charges_cents - insurance_paid_cents - adjustments_cents - settled_cents - other_payments_cents - pending_cents
         FROM bills WHERE id = ?1",
    )?;
    let mut allocations = Vec::new();
    for (bill, amount) in &scheduled {
        let payable: i64 = stmt.query_row([bill], |r| r.get(0))?;
        let part = (*amount).min(Money::from_cents(payable.max(0)));
        if part.is_positive() {
            allocations.push((bill.clone(), part));
        }
    }
    if allocations.is_empty() {
        let changed = tx.execute(
            "UPDATE scheduled_payments SET status = 'cancelled', cancel_reason = 'nothing_to_pay', version = version + 1,
                updated_at = ?2
             WHERE id = ?1 AND status = 'scheduled'",
            params![s.id, ms(now)],
        )?;
        if changed == 1 {
            touch_it(tx, &s.member_id, &s.id, now)?;
            mail::enqueue_once(
                tx,
                head,
                &s.member_id,
                &format!("scheduled:{}", s.id),
                "cancelled",
                now,
                |first, l| Ok(templates::scheduled_cancelled(l, first, total, s.pay_on)),
            )?;
            summary.cancelled += 1;
        }
        return Ok(());
    }
    let body = json!({"scheduled": s.id});
    charges.push(Intent {
        member_id: s.member_id.clone(),
        key: format!("scheduled:{}", s.id),
        fingerprint: payments::fingerprint("SCHEDULED", "/v1/scheduled-payments", &body),
        fingerprint_as_kept: payments::fingerprint_as_kept("SCHEDULED", "/v1/scheduled-payments", &body),
        source: PaymentSource::Scheduled,
        method: MethodRef::Saved(s.method_id.clone()),
        allocations,
        ach: match (&s.ach_text, &s.ach_version) {
            (Some(text), Some(version)) => Some(AchAcceptance {
                text: text.clone(),
                version: version.clone(),
            }),
            _ => None,
        },
        client: Some("scheduled".into()),
        autopay_bill: None,
        scheduled: Some(Scheduled::OneTime(s.id.clone())),
    });
    Ok(())
}

fn providers(tx: &Connection, allocations: &[(String, Money)]) -> ApiResult<String> {
    let mut names: Vec<String> = Vec::new();
    for (bill, _) in allocations {
        let name: String = tx.query_row("SELECT provider FROM bills WHERE id = ?1", [bill], |r| r.get(0))?;
        if !names.contains(&name) {
            names.push(name);
        }
    }
    Ok(names.join(", "))
}

/// The pass: reminders for tomorrow's payments and today's charges, a batch of members per
/// transaction (claimed, so servers divide them), then the charges through the payment engine.
pub async fn run(state: &AppState) -> ApiResult<RunSummary> {
    let today = state.business.today();
    let head = state.letterhead();
    let horizon = date_str(today + Days::new(1));
    let due: Vec<(String, String)> = state
        .db
        .read(move |conn| {
            let mut stmt = conn.prepare(
                "SELECT member_id, id FROM scheduled_payments WHERE status = 'scheduled' AND pay_on <= ?1 ORDER BY member_id, id",
            )?;
            let rows = stmt.query_map([horizon], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await?;
    let mut summary = RunSummary::default();
    let mut charges = Vec::new();
    for batch in due.chunks(PLAN_BATCH) {
        let (batch, head) = (batch.to_vec(), head.clone());
        let now = state.now();
        let (planned, due) = state
            .db
            .transaction(move |tx| {
                let mut summary = RunSummary::default();
                let mut charges = Vec::new();
                let members: Vec<String> = batch.iter().map(|(m, _)| m.clone()).collect();
                let claimed = claim_members(tx, &members)?;
                for (member, id) in &batch {
                    if claimed.binary_search(member).is_err() {
                        continue;
                    }
                    if let Some(s) = load(tx, member, id)?
                        && s.status == ScheduledStatus::Scheduled
                    {
                        plan_one(tx, &head, &s, today, now, &mut summary, &mut charges)?;
                    }
                }
                Ok((summary, charges))
            })
            .await?;
        summary.reminders += planned.reminders;
        summary.cancelled += planned.cancelled;
        charges.extend(due);
    }
    state.mail_queued();
    let c = payments::charge_planned(
        state,
        charges,
        autopay::BATCH,
        ErrorCode::IdempotencyKeyInUse,
        "scheduled payment",
    )
    .await;
    summary.attempted += c.attempted;
    summary.made += c.charged + c.held;
    summary.declined += c.declined;
    Ok(summary)
}
