//! Reminders the scheduler decides from the bills' dates and the charges it will make: a new bill
//! (for paperless members, the new statement's delivery), a bill due in 7 days, a bill 1 day past
//! due, and a card or bank account that will not work for a scheduled charge (autopay, a plan's
//! instalment, a scheduled payment).
//!
//! Each is decided exactly once per bill (or charge) and event, however many passes, restarts and
//! servers: `mail::enqueue_once` writes the decision to `notices` and the mail to the outbox in
//! one transaction, and delivery from the outbox is at least once. A mail the member switched off
//! is decided too, without a mail (`mail::decide_once`): switching it on later sends nothing old. A pass that stops half way
//! (a crash, a restart) leaves the members it finished decided and the rest to the next pass.
//!
//! Nothing is sent for a bill already paid, fully processing, on a payment plan, paid by a
//! scheduled payment, about to be charged by autopay, or under review (a question about it is
//! open with the billing office): the member has nothing to do. Only the statement's delivery to a
//! paperless member is sent whatever covers the bill: it replaces the paper.
//!
//! Reminders start with the first start of a server that has them (`reminders_from` in
//! `settings`): bills issued before it and dates that passed before it are never announced, so an
//! upgrade does not mail every member about every old bill. A reminder whose day the scheduler
//! missed (the server was down) is still sent up to [`CATCH_UP_DAYS`] late, never later.

use carebill_api::types::{Bill, Locale, NoticeKind, PaymentMethodSummary, PaymentMethodType, UpcomingStatus};
use carebill_billing::Money;
use carebill_billing::calendar::BusinessCalendar;
use chrono::{DateTime, Days, NaiveDate, Utc};

use crate::error::ApiResult;
use crate::mail::templates::{self, BillFacts, MethodProblem, ScheduledCharge};
use crate::mail::{self, Letterhead};
use crate::notifications;
use crate::sql::{Connection, params};
use crate::state::AppState;
use crate::store::{BALANCE_SQL, claim_members, date_str, ms, parse_date, setting};
use crate::{autopay, scheduled, store};

/// The instant reminders started on this database (milliseconds), written by the first pass.
pub const REMINDERS_FROM_KEY: &str = "reminders_from";
/// The business day whose method check was last claimed.
pub const METHODS_CHECKED_KEY: &str = "methods_checked_on";
use carebill_billing::reminders::{ATTENTION_AHEAD_DAYS, CATCH_UP_DAYS, DUE_SOON_DAYS, OVERDUE_DAYS};
/// Bank returns that mean the account itself will not work again (closed, not found, invalid).
const ACCOUNT_RETURN_CODES: [&str; 3] = ["R02", "R03", "R04"];
/// Members per transaction.
const BATCH: usize = 100;

/// What one pass decided.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RunSummary {
    pub new_bills: usize,
    pub statements: usize,
    pub due_soon: usize,
    pub overdue: usize,
    pub method_attention: usize,
}

/// A reminder about a bill.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BillEvent {
    New,
    DueSoon,
    Overdue,
}

impl BillEvent {
    fn name(self) -> &'static str {
        match self {
            BillEvent::New => "new_bill",
            BillEvent::DueSoon => "due_soon",
            BillEvent::Overdue => "overdue",
        }
    }
}

/// A bill some reminder may be due for.
#[derive(Debug, Clone)]
struct BillCandidate {
    id: String,
    member_id: String,
    event: BillEvent,
}

/// A scheduled charge whose payment method may need attention.
#[derive(Debug, Clone)]
struct ChargeCandidate {
    member_id: String,
    /// The notice's entity: the charge, so each charge is told of once.
    entity: String,
    charge: ScheduledCharge,
    method_id: String,
    amount: Money,
    on: NaiveDate,
}

/// The pass: the day's bill reminders and the method checks, a batch of members per transaction
/// (claimed, so servers divide them).
pub async fn run(state: &AppState) -> ApiResult<RunSummary> {
    // Bills are issued on the business clock (the demo's can be moved ahead): the windows are read
    // on it; decisions are recorded at the real instant.
    let (now, business_now) = (state.now(), state.business.now());
    let cal = *state.business.calendar();
    let today = state.business.today();
    // Written at start (app.rs): every server that runs this pass has it.
    let from = state
        .db
        .read(|conn| setting(conn, REMINDERS_FROM_KEY))
        .await?
        .and_then(|from| from.parse::<i64>().ok())
        .unwrap_or(ms(business_now));
    // The methods of the coming charges are checked once a business day, by the first pass (of
    // whichever server) that claims the day: the check reads every autopay member's upcoming
    // charges, too much for every pass. A day whose check fails half way is caught up the next
    // day, well within the 10 days ahead.
    let check_methods = state.db.transaction(move |tx| claim_method_check(tx, today)).await?;
    let (bills, charges) = state
        .db
        .read(move |conn| {
            let bills = bill_candidates(conn, from, &cal, today, business_now)?;
            let charges = if check_methods {
                charge_candidates(conn, &cal, today)?
            } else {
                Vec::new()
            };
            Ok((bills, charges))
        })
        .await?;
    let mut members: Vec<String> = bills
        .iter()
        .map(|b| b.member_id.clone())
        .chain(charges.iter().map(|c| c.member_id.clone()))
        .collect();
    members.sort_unstable();
    members.dedup();
    let mut summary = RunSummary::default();
    let head = state.letterhead();
    for batch in members.chunks(BATCH) {
        let batch = batch.to_vec();
        let (bills, charges, head) = (
            bills
                .iter()
                .filter(|b| batch.binary_search(&b.member_id).is_ok())
                .cloned()
                .collect::<Vec<_>>(),
            charges
                .iter()
                .filter(|c| batch.binary_search(&c.member_id).is_ok())
                .cloned()
                .collect::<Vec<_>>(),
            head.clone(),
        );
        let done = state
            .db
            .transaction(move |tx| {
                let claimed = claim_members(tx, &batch)?;
                let mut summary = RunSummary::default();
                for bill in bills.iter().filter(|b| claimed.binary_search(&b.member_id).is_ok()) {
                    decide_bill(tx, &head, bill, &cal, today, now, &mut summary)?;
                }
                for charge in charges.iter().filter(|c| claimed.binary_search(&c.member_id).is_ok()) {
                    if decide_charge(tx, &head, charge, now)? {
                        summary.method_attention += 1;
                    }
                }
                Ok(summary)
            })
            .await?;
        summary.new_bills += done.new_bills;
        summary.statements += done.statements;
        summary.due_soon += done.due_soon;
        summary.overdue += done.overdue;
        summary.method_attention += done.method_attention;
    }
    if summary != RunSummary::default() {
        state.mail_queued();
    }
    Ok(summary)
}

/// Claims today's method check: true for the one caller that moves `methods_checked_on` to
/// `today` (a conditional upsert, so two servers never both claim the day).
fn claim_method_check(tx: &Connection, today: NaiveDate) -> ApiResult<bool> {
    Ok(tx.execute(
        "INSERT INTO settings (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value WHERE settings.value < excluded.value",
        params![METHODS_CHECKED_KEY, date_str(today)],
    )? == 1)
}

/// The bills a reminder is due for today and not yet decided: issued since reminders started (and
/// in the last [`CATCH_UP_DAYS`]), due within 7 days, or a day past due, with a balance.
fn bill_candidates(
    conn: &Connection,
    from: i64,
    cal: &BusinessCalendar,
    today: NaiveDate,
    now: DateTime<Utc>,
) -> ApiResult<Vec<BillCandidate>> {
    let from_date = cal.date_at(DateTime::from_timestamp_millis(from).unwrap_or(now));
    let issued_since = from.max(ms(now) - (i64::from(CATCH_UP_DAYS) + 1) * 86_400_000);
    let day = |d: Option<NaiveDate>| date_str(d.unwrap_or(today));
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT b.id, b.member_id, b.due_date, b.issued_at FROM bills b
         WHERE {BALANCE_SQL} > 0
           AND ((b.due_date >= ?1 AND b.due_date <= ?2) OR (b.issued_at >= ?3 AND b.issued_at <= ?4))
         ORDER BY b.member_id, b.id"
    ))?;
    let rows = stmt.query_map(
        params![
            day(today.checked_sub_days(Days::new(u64::from(OVERDUE_DAYS + CATCH_UP_DAYS)))),
            day(today.checked_add_days(Days::new(u64::from(DUE_SOON_DAYS)))),
            issued_since,
            ms(now),
        ],
        |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, i64>(3)?,
            ))
        },
    )?;
    let mut decided = conn.prepare_cached("SELECT 1 FROM notices WHERE entity = ?1 AND event = ?2")?;
    let mut out = Vec::new();
    for row in rows {
        let (id, member_id, due, issued_at) = row?;
        let due = parse_date(&due)?;
        let mut events = Vec::new();
        if issued_at >= issued_since && issued_at <= ms(now) {
            events.push(BillEvent::New);
        }
        if let Some(event) = date_event(due, today, from_date) {
            events.push(event);
        }
        for event in events {
            if !decided.exists(params![bill_entity(&id), event.name()])? {
                out.push(BillCandidate {
                    id: id.clone(),
                    member_id: member_id.clone(),
                    event,
                });
            }
        }
    }
    Ok(out)
}

/// Which dated reminder a bill due on `due` has today: its day came (at most [`CATCH_UP_DAYS`]
/// ago) and was not before reminders started.
fn date_event(due: NaiveDate, today: NaiveDate, from: NaiveDate) -> Option<BillEvent> {
    let within = |day: Option<NaiveDate>| {
        day.is_some_and(|day| day >= from && day <= today && today <= day + Days::new(u64::from(CATCH_UP_DAYS)))
    };
    if today < due && within(due.checked_sub_days(Days::new(u64::from(DUE_SOON_DAYS)))) {
        Some(BillEvent::DueSoon)
    } else if within(due.checked_add_days(Days::new(u64::from(OVERDUE_DAYS)))) {
        Some(BillEvent::Overdue)
    } else {
        None
    }
}

fn bill_entity(id: &str) -> String {
    format!("bill:{id}")
}

/// Why a bill's member has nothing to do about it, if so: paid, fully processing, on a plan, paid
/// by a scheduled payment, about to be charged by autopay, or under review.
fn covered(
    conn: &Connection,
    member_id: &str,
    bill: &Bill,
    cal: &BusinessCalendar,
    today: NaiveDate,
) -> ApiResult<bool> {
    if !bill.balance.is_positive()
        || !bill.payable.is_positive()
        || bill.payment_plan_id.is_some()
        || bill.open_conversation_id.is_some()
        || scheduled::scheduled_for_bill(conn, &bill.id)?.is_some()
    {
        return Ok(true);
    }
    let Some(rule) = autopay::load_rule(conn, member_id)? else {
        return Ok(false);
    };
    Ok(autopay::upcoming(conn, &rule, today, cal)?
        .iter()
        .any(|c| c.bill_id == bill.id && c.status == UpcomingStatus::Scheduled))
}

/// A bill reminder's words.
type Template = fn(Locale, &str, &BillFacts<'_>) -> templates::Mail;

/// Decides one bill's reminder in the pass's transaction.
fn decide_bill(
    tx: &Connection,
    head: &Letterhead,
    candidate: &BillCandidate,
    cal: &BusinessCalendar,
    today: NaiveDate,
    now: DateTime<Utc>,
    summary: &mut RunSummary,
) -> ApiResult<()> {
    let Some(bill) = store::bill(tx, &candidate.member_id, &candidate.id)? else {
        return Ok(());
    };
    let facts = BillFacts {
        provider: &bill.provider,
        owed: bill.balance,
        due: bill.due_date,
    };
    let member_id = &candidate.member_id;
    let prefs = notifications::get(tx, member_id)?;
    let (entity, event) = (bill_entity(&candidate.id), candidate.event.name());
    let enqueue = |write: Template| {
        mail::enqueue_once(tx, head, member_id, &entity, event, now, |first, l| {
            Ok(write(l, first, &facts))
        })
    };
    let (write, count, wanted, statement): (Template, &mut usize, bool, bool) = match candidate.event {
        // The statement's delivery: a paperless member gets it whatever covers the bill.
        BillEvent::New if prefs.paperless => (templates::new_statement, &mut summary.statements, true, true),
        BillEvent::New => (templates::new_bill, &mut summary.new_bills, prefs.new_bill.email, false),
        BillEvent::DueSoon => (templates::due_soon, &mut summary.due_soon, prefs.due_soon.email, false),
        BillEvent::Overdue => (templates::overdue, &mut summary.overdue, prefs.overdue.email, false),
    };
    if !bill.balance.is_positive() || (!statement && covered(tx, member_id, &bill, cal, today)?) {
        // Nothing to do for now; decided if that changes while the day's window lasts.
        return Ok(());
    }
    if !wanted {
        // Switched off: decided, without a mail, so turning the switch on later sends nothing old.
        mail::decide_once(tx, member_id, &entity, event, now)?;
        return Ok(());
    }
    if enqueue(write)? {
        *count += 1;
    }
    Ok(())
}

/// The charges of the next [`ATTENTION_AHEAD_DAYS`] whose method was not yet checked: scheduled
/// payments, plans' next instalments and autopay's scheduled charges.
fn charge_candidates(conn: &Connection, cal: &BusinessCalendar, today: NaiveDate) -> ApiResult<Vec<ChargeCandidate>> {
    let horizon = today + Days::new(u64::from(ATTENTION_AHEAD_DAYS));
    let mut out = Vec::new();
    dated_charges(
        conn,
        "SELECT s.id, s.member_id, s.pay_on, s.payment_method_id,
                (SELECT CAST(COALESCE(SUM(a.amount_cents), 0) AS BIGINT) FROM scheduled_allocations a WHERE a.scheduled_id = s.id)
         FROM scheduled_payments s WHERE s.status = 'scheduled' AND s.pay_on >= ?1 AND s.pay_on <= ?2",
        (today, horizon),
        ScheduledCharge::ScheduledPayment,
        |id, _| format!("scheduled:{id}"),
        &mut out,
    )?;
    dated_charges(
        conn,
        "SELECT id, member_id, next_date, payment_method_id, monthly_cents FROM payment_plans
         WHERE status IN ('active', 'behind') AND next_date >= ?1 AND next_date <= ?2",
        (today, horizon),
        ScheduledCharge::Instalment,
        |id, on| format!("instalment:{id}:{on}"),
        &mut out,
    )?;
    // Autopay: the members with a rule and a bill with a balance issued by the horizon.
    let members: Vec<String> = conn
        .prepare_cached(&format!(
            "SELECT DISTINCT r.member_id FROM autopay_rules r JOIN bills b ON b.member_id = r.member_id
             WHERE {BALANCE_SQL} > 0 AND b.statement_date <= ?1 ORDER BY r.member_id"
        ))?
        .query_map([date_str(horizon)], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for member_id in members {
        let Some(rule) = autopay::load_rule(conn, &member_id)? else {
            continue;
        };
        for c in autopay::upcoming(conn, &rule, today, cal)? {
            if c.status == UpcomingStatus::Scheduled && c.charge_date >= today && c.charge_date <= horizon {
                out.push(ChargeCandidate {
                    member_id: member_id.clone(),
                    entity: format!("autopay:{}", c.bill_id),
                    charge: ScheduledCharge::Autopay,
                    method_id: rule.payment_method_id.clone(),
                    amount: c.amount,
                    on: c.charge_date,
                });
            }
        }
    }
    let mut decided = conn.prepare_cached("SELECT 1 FROM notices WHERE entity = ?1 AND event = 'method_attention'")?;
    let mut undecided = Vec::with_capacity(out.len());
    for c in out {
        if !decided.exists([&c.entity])? && method_problem(conn, &c.member_id, &c.method_id, c.on)?.is_some() {
            undecided.push(c);
        }
    }
    Ok(undecided)
}

/// The charges `sql` finds between the two dates (`?1`, `?2`), as (id, member, date, method,
/// amount in cents), each told of as `entity(id, date)`.
fn dated_charges(
    conn: &Connection,
    sql: &str,
    (from, through): (NaiveDate, NaiveDate),
    charge: ScheduledCharge,
    entity: fn(&str, &str) -> String,
    out: &mut Vec<ChargeCandidate>,
) -> ApiResult<()> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map(params![date_str(from), date_str(through)], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, i64>(4)?,
        ))
    })?;
    for row in rows {
        let (id, member_id, on, method_id, cents) = row?;
        out.push(ChargeCandidate {
            member_id,
            entity: entity(&id, &on),
            charge,
            method_id,
            amount: Money::from_cents(cents),
            on: parse_date(&on)?,
        });
    }
    Ok(())
}

/// How a method is named in a mail, and why it will not work for a charge on `on`, if it will
/// not. A method that is gone altogether has nothing to name.
fn method_problem(
    conn: &Connection,
    member_id: &str,
    method_id: &str,
    on: NaiveDate,
) -> ApiResult<Option<(PaymentMethodSummary, MethodProblem)>> {
    let Some((method, removed)) = store::methods::load_method_even_removed(conn, member_id, method_id)? else {
        return Ok(None);
    };
    let problem = if removed {
        Some(MethodProblem::Removed)
    } else if method.kind == PaymentMethodType::Card {
        match (method.exp_month, method.exp_year) {
            (Some(month), Some(year)) if carebill_billing::reminders::card_expired_by(month, year, on) => {
                Some(MethodProblem::CardExpires { month, year })
            }
            _ => None,
        }
    } else {
        conn.prepare_cached(
            "SELECT 1 FROM payments WHERE payment_method_id = ?1 AND status = 'returned'
               AND failure_code IN (?2, ?3, ?4) LIMIT 1",
        )?
        .exists(params![
            method_id,
            ACCOUNT_RETURN_CODES[0],
            ACCOUNT_RETURN_CODES[1],
            ACCOUNT_RETURN_CODES[2]
        ])?
        .then_some(MethodProblem::AccountReturned)
    };
    Ok(problem.map(|p| (method.summary(), p)))
}

/// Decides one charge's method notice in the pass's transaction (the problem read again).
fn decide_charge(tx: &Connection, head: &Letterhead, c: &ChargeCandidate, now: DateTime<Utc>) -> ApiResult<bool> {
    let Some((method, problem)) = method_problem(tx, &c.member_id, &c.method_id, c.on)? else {
        return Ok(false);
    };
    if !notifications::wants_email(tx, &c.member_id, NoticeKind::MethodAttention)? {
        mail::decide_once(tx, &c.member_id, &c.entity, "method_attention", now)?;
        return Ok(false);
    }
    mail::enqueue_once(
        tx,
        head,
        &c.member_id,
        &c.entity,
        "method_attention",
        now,
        |first, l| {
            Ok(templates::method_attention(
                l, first, &method, problem, c.charge, c.amount, c.on,
            ))
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn a_dated_reminder_comes_on_its_day_or_up_to_six_days_late_never_before_reminders_started() {
        let from = d("2026-12-01");
        let due = d("2026-12-20");
        assert_eq!(date_event(due, d("2026-12-12"), from), None);
        assert_eq!(date_event(due, d("2026-12-13"), from), Some(BillEvent::DueSoon));
        assert_eq!(date_event(due, d("2026-12-19"), from), Some(BillEvent::DueSoon));
        assert_eq!(date_event(due, d("2026-12-20"), from), None, "on the due date: neither");
        assert_eq!(date_event(due, d("2026-12-21"), from), Some(BillEvent::Overdue));
        assert_eq!(date_event(due, d("2026-12-27"), from), Some(BillEvent::Overdue));
        assert_eq!(date_event(due, d("2026-12-28"), from), None, "too late to be news");
        // Reminders started after the day: never announced.
        assert_eq!(date_event(due, d("2026-12-14"), d("2026-12-14")), None);
        assert_eq!(
            date_event(due, d("2026-12-21"), d("2026-12-14")),
            Some(BillEvent::Overdue)
        );
    }
}
