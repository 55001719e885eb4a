//! Payment plans: a member spreads open bills over monthly instalments, inside the health plan's
//! policy, and the scheduler charges each instalment exactly once through the payment engine.
//!
//! What is stored is the agreement (monthly amount, day, method, the authorization accepted, the
//! date of the next instalment) and what happened (`plan_instalments`). What is still to come is
//! worked out from what the plan's bills owe now (`carebill_billing::plans::schedule`), so a lower
//! balance shortens the schedule and a higher one lengthens it without a write; a schedule that
//! no longer fits the longest term asks the member for new terms and never raises the amount.
//!
//! Exactly once: an instalment is named by its plan and its own date, its key is
//! `plan:{plan}:{date}` (no member key contains `:`), and the claim transaction inserts its row
//! and moves the plan's next date in the same transaction that claims the key. A second pass, a
//! second server or a retry finds the row and charges nothing.
//!
//! Missed instalments (declined, or a bank debit returned) put the plan behind by their amounts
//! (`behind_cents` since `behind_since`); any payment on the plan's bills made after that counts
//! towards catching up, so "Pay now" is an ordinary payment. More misses than the policy allows end
//! the plan, and its bills return to normal.

use carebill_api::ErrorCode;
use carebill_api::types::{
    Allocation, InstalmentStatus, PaymentMethodSummary, PaymentMethodType, PaymentPlan, PaymentPlanRequest,
    PaymentPlanStatus, PaymentSource, PlanBill, PlanInstalment, ScheduledInstalment, SyncEntity, SyncOp,
};
use carebill_billing::plans::{self as rules, Policy, Terms};
use carebill_billing::{BusinessCalendar, Money};
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde_json::json;

use crate::autopay::{self, method_summary};
use crate::error::{ApiError, ApiResult};
use crate::ids::random_id;
use crate::mail::templates::{self, PlanEnd, PlanFacts};
use crate::mail::{self, Letterhead};
use crate::payments::{self, AchAcceptance, Intent, MethodRef, Scheduled};
use crate::sql::{Connection, OptionalExtension, params};
use crate::state::AppState;
use crate::store::{claim_members, date_str, from_ms, lock_member, ms, parse_date, touch};

/// A plan as stored.
#[derive(Debug, Clone)]
pub struct StoredPlan {
    pub id: String,
    pub member_id: String,
    pub number: String,
    pub status: PaymentPlanStatus,
    pub monthly: Money,
    pub day: u32,
    pub method_id: String,
    pub first_date: NaiveDate,
    pub next_date: NaiveDate,
    pub paused_until: Option<NaiveDate>,
    pub behind: Money,
    pub behind_since: Option<i64>,
    pub misses: u32,
    pub needs_authorization: bool,
    pub auth_text: String,
    pub auth_version: String,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

const PLAN_COLUMNS: &str = "id, member_id, number, status, monthly_cents, day_of_month, payment_method_id, first_date, \
    next_date, paused_until, behind_cents, behind_since, misses, needs_authorization, auth_text, auth_text_version, version, \
    created_at, updated_at";

fn plan_from_row(r: &crate::sql::Row<'_>) -> crate::sql::Result<(StoredPlan, [String; 4])> {
    let status: String = r.get(3)?;
    let dates: [String; 3] = [r.get(7)?, r.get(8)?, r.get::<_, Option<String>>(9)?.unwrap_or_default()];
    Ok((
        StoredPlan {
            id: r.get(0)?,
            member_id: r.get(1)?,
            number: r.get(2)?,
            status: PaymentPlanStatus::parse(&status).unwrap_or(PaymentPlanStatus::Ended),
            monthly: Money::from_cents(r.get(4)?),
            day: r.get::<_, i64>(5)?.clamp(1, 28) as u32,
            method_id: r.get(6)?,
            first_date: NaiveDate::MIN,
            next_date: NaiveDate::MIN,
            paused_until: None,
            behind: Money::from_cents(r.get(10)?),
            behind_since: r.get(11)?,
            misses: r.get::<_, i64>(12)?.max(0) as u32,
            needs_authorization: r.get::<_, i64>(13)? != 0,
            auth_text: r.get(14)?,
            auth_version: r.get(15)?,
            version: r.get(16)?,
            created_at: r.get(17)?,
            updated_at: r.get(18)?,
        },
        [dates[0].clone(), dates[1].clone(), dates[2].clone(), status],
    ))
}

fn finish(row: (StoredPlan, [String; 4])) -> ApiResult<StoredPlan> {
    let (mut plan, [first, next, paused, _]) = row;
    plan.first_date = parse_date(&first)?;
    plan.next_date = parse_date(&next)?;
    plan.paused_until = if paused.is_empty() {
        None
    } else {
        Some(parse_date(&paused)?)
    };
    Ok(plan)
}

/// The member's plan `id`.
pub fn load(conn: &Connection, member_id: &str, id: &str) -> ApiResult<Option<StoredPlan>> {
    conn.prepare_cached(&format!(
        "SELECT {PLAN_COLUMNS} FROM payment_plans WHERE id = ?1 AND member_id = ?2"
    ))?
    .query_row(params![id, member_id], plan_from_row)
    .optional()?
    .map(finish)
    .transpose()
}

fn load_any(conn: &Connection, id: &str) -> ApiResult<Option<StoredPlan>> {
    conn.prepare_cached(&format!("SELECT {PLAN_COLUMNS} FROM payment_plans WHERE id = ?1"))?
        .query_row([id], plan_from_row)
        .optional()?
        .map(finish)
        .transpose()
}

/// A bill of a plan, as it stands.
struct BillRow {
    id: String,
    provider: String,
    statement: String,
    due: NaiveDate,
    /// Owed, not counting payments in flight.
    balance: Money,
    /// What can be paid now.
    payable: Money,
    on_plan: bool,
}

/// Every bill that was ever on the plan, oldest due date first (then statement number): the
/// order instalments pay them in.
fn bills_of(conn: &Connection, plan_id: &str) -> ApiResult<Vec<BillRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT b.id, b.provider, b.statement_number, b.due_date,
                b.total_charges_cents - b.insurance_paid_cents - b.adjustments_cents - b.settled_cents - b.other_payments_cents,
                b.pending_cents, b.payment_plan_id
         FROM plan_bills pb JOIN bills b ON b.id = pb.bill_id
         WHERE pb.plan_id = ?1 ORDER BY b.due_date, b.statement_number, b.id",
    )?;
    let rows = stmt
        .query_map([plan_id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, i64>(4)?,
                r.get::<_, i64>(5)?,
                r.get::<_, Option<String>>(6)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    rows.into_iter()
        .map(|(id, provider, statement, due, balance, pending, plan)| {
            Ok(BillRow {
                id,
                provider,
                statement,
                due: parse_date(&due)?,
                balance: Money::from_cents(balance.max(0)),
                payable: Money::from_cents((balance - pending).max(0)),
                on_plan: plan.as_deref() == Some(plan_id),
            })
        })
        .collect()
}

/// The bills an instalment pays now, oldest first, with what each can take.
fn payable_bills(bills: &[BillRow]) -> Vec<(String, Money)> {
    bills
        .iter()
        .filter(|b| b.on_plan && b.payable.is_positive())
        .map(|b| (b.id.clone(), b.payable))
        .collect()
}

/// What the member paid on the plan's bills by hand since the plan fell behind: it counts
/// towards catching up.
fn paid_since(conn: &Connection, plan_id: &str, since: i64) -> ApiResult<Money> {
    let cents: i64 = conn
        .prepare_cached(
            "SELECT CAST(COALESCE(SUM(a.amount_cents), 0) AS BIGINT) FROM payment_allocations a
             JOIN payments p ON p.id = a.payment_id
             JOIN plan_bills pb ON pb.bill_id = a.bill_id AND pb.plan_id = ?1
             WHERE p.created_at >= ?2 AND p.source != 'payment_plan' AND p.status IN ('succeeded', 'pending')",
        )?
        .query_row(params![plan_id, since], |r| r.get(0))?;
    Ok(Money::from_cents(cents))
}

/// What the plan is behind by now (missed amounts less what was paid since).
fn behind_now(conn: &Connection, plan: &StoredPlan) -> ApiResult<Money> {
    match plan.behind_since {
        Some(since) if plan.behind.is_positive() => Ok(plan.behind.saturating_sub(paid_since(conn, &plan.id, since)?)),
        _ => Ok(Money::ZERO),
    }
}

/// The date of the next instalment, after a pause.
fn effective_next(plan: &StoredPlan) -> NaiveDate {
    match plan.paused_until {
        Some(until) if until > plan.next_date => rules::first_nominal(until, plan.day),
        _ => plan.next_date,
    }
}

fn instalments_of(conn: &Connection, plan_id: &str) -> ApiResult<Vec<PlanInstalment>> {
    let mut stmt = conn.prepare_cached(
        "SELECT nominal_date, charge_date, amount_cents, status, payment_id FROM plan_instalments
         WHERE plan_id = ?1 ORDER BY nominal_date",
    )?;
    let rows = stmt
        .query_map([plan_id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, Option<String>>(4)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut allocs = conn.prepare_cached(
        "SELECT bill_id, amount_cents FROM payment_allocations WHERE payment_id = ?1 ORDER BY bill_id",
    )?;
    let mut out = Vec::with_capacity(rows.len());
    for (nominal, charge, cents, status, payment_id) in rows {
        let allocations = match &payment_id {
            Some(p) => allocs
                .query_map([p], |r| {
                    Ok(Allocation {
                        bill_id: r.get(0)?,
                        amount: Money::from_cents(r.get(1)?),
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?,
            None => Vec::new(),
        };
        out.push(PlanInstalment {
            nominal_date: parse_date(&nominal)?,
            charge_date: parse_date(&charge)?,
            amount: Money::from_cents(cents),
            status: InstalmentStatus::parse(&status).unwrap_or(InstalmentStatus::Processing),
            payment_id,
            allocations,
        });
    }
    Ok(out)
}

/// The plan as the API shows it.
pub fn view(conn: &Connection, plan: &StoredPlan, cal: &BusinessCalendar) -> ApiResult<PaymentPlan> {
    let bills = bills_of(conn, &plan.id)?;
    let (method, _) = method_summary(conn, &plan.member_id, &plan.method_id)?.unwrap_or((
        PaymentMethodSummary {
            kind: PaymentMethodType::Card,
            brand: String::new(),
            last4: String::new(),
            funding: None,
        },
        String::new(),
    ));
    let instalments = instalments_of(conn, &plan.id)?;
    let open = plan.status.is_open();
    let payable: Money = payable_bills(&bills).iter().map(|(_, m)| *m).sum();
    let schedule: Vec<ScheduledInstalment> = if open {
        rules::schedule(payable, plan.monthly, effective_next(plan), cal)
            .into_iter()
            .map(|i| ScheduledInstalment {
                nominal_date: i.nominal,
                charge_date: i.charge_date,
                amount: i.amount,
            })
            .collect()
    } else {
        Vec::new()
    };
    let paid_count = instalments
        .iter()
        .filter(|i| i.status == InstalmentStatus::Paid)
        .count() as u32;
    let behind = if open { behind_now(conn, plan)? } else { Money::ZERO };
    let status = match plan.status {
        PaymentPlanStatus::Behind if !behind.is_positive() => PaymentPlanStatus::Active,
        s => s,
    };
    Ok(PaymentPlan {
        id: plan.id.clone(),
        number: plan.number.clone(),
        status,
        monthly_amount: plan.monthly,
        day_of_month: plan.day,
        payment_method_id: plan.method_id.clone(),
        payment_method: method,
        balance: bills.iter().filter(|b| b.on_plan).map(|b| b.balance).sum(),
        bills: bills
            .iter()
            .map(|b| PlanBill {
                bill_id: b.id.clone(),
                provider: b.provider.clone(),
                statement_number: b.statement.clone(),
                due_date: b.due,
                payable: b.payable,
                on_plan: b.on_plan,
            })
            .collect(),
        first_date: plan.first_date,
        paid_count,
        total_count: paid_count + schedule.len() as u32,
        instalments,
        schedule,
        pay_now: rules::allocate(behind, &payable_bills(&bills))
            .into_iter()
            .map(|(bill_id, amount)| Allocation {
                bill_id: bill_id.to_string(),
                amount,
            })
            .collect(),
        behind_amount: behind,
        misses: if behind.is_positive() { plan.misses } else { 0 },
        paused_until: plan.paused_until.filter(|_| plan.status == PaymentPlanStatus::Paused),
        needs_authorization: open && plan.needs_authorization,
        authorization_version: plan.auth_version.clone(),
        created_at: from_ms(plan.created_at),
        updated_at: from_ms(plan.updated_at),
        version: i32::try_from(plan.version).unwrap_or(i32::MAX),
    })
}

/// The member's plans, newest first.
pub fn list(conn: &Connection, member_id: &str, cal: &BusinessCalendar) -> ApiResult<Vec<PaymentPlan>> {
    let rows = conn
        .prepare_cached(&format!(
            "SELECT {PLAN_COLUMNS} FROM payment_plans WHERE member_id = ?1 ORDER BY created_at DESC, id"
        ))?
        .query_map([member_id], plan_from_row)?
        .collect::<Result<Vec<_>, _>>()?;
    rows.into_iter().map(|r| view(conn, &finish(r)?, cal)).collect()
}

/// One plan of the member's, or `payment_plan_not_found`.
pub fn get(conn: &Connection, member_id: &str, id: &str, cal: &BusinessCalendar) -> ApiResult<PaymentPlan> {
    let plan = load(conn, member_id, id)?.ok_or_else(|| ApiError::new(ErrorCode::PaymentPlanNotFound))?;
    view(conn, &plan, cal)
}

/// What a change is made against (`If-Match`): the version the member saw, or `*` (whatever
/// it is now, said explicitly).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precondition {
    Missing,
    Any,
    Version(i64),
    /// A value that names no version: it matches none.
    Unknown,
}

impl Precondition {
    /// `"3"`, `W/"3"`, `3` or `*`.
    pub fn parse(header: Option<&str>) -> Precondition {
        let Some(raw) = header else {
            return Precondition::Missing;
        };
        let v = raw.trim();
        if v == "*" {
            return Precondition::Any;
        }
        v.trim_start_matches("W/")
            .trim_matches('"')
            .parse()
            .map_or(Precondition::Unknown, Precondition::Version)
    }

    /// Refuses a change made against another version than `current` (412), or made blind (428).
    pub fn check(self, current: i64) -> ApiResult<()> {
        match self {
            Precondition::Missing => Err(ApiError::new(ErrorCode::PreconditionRequired)),
            Precondition::Any => Ok(()),
            Precondition::Version(v) if v == current => Ok(()),
            Precondition::Version(_) | Precondition::Unknown => Err(ApiError::new(ErrorCode::ChangedElsewhere)),
        }
    }
}

fn check_version(plan: &StoredPlan, if_match: Precondition) -> ApiResult<()> {
    if_match.check(plan.version)
}

/// The shape of a plan request, checked before anything is read: bills (1 to 50), the
/// day, the months and the amount's form.
pub fn check_shape(req: &PaymentPlanRequest) -> ApiResult<()> {
    if req.bill_ids.is_empty() || req.bill_ids.len() > 50 {
        return Err(ApiError::validation("/bill_ids", "Choose 1 to 50 bills."));
    }
    if let Some((i, _)) = req
        .bill_ids
        .iter()
        .enumerate()
        .find(|(_, b)| b.is_empty() || b.len() > 64)
    {
        return Err(ApiError::new(ErrorCode::BillNotFound).at(&format!("/bill_ids/{i}")));
    }
    rules::check_day(req.day_of_month).map_err(|(f, e)| ApiError::invalid(f, e))?;
    if let Some(n) = req.months
        && !(1..=120).contains(&n)
    {
        return Err(ApiError::new(ErrorCode::PlanTooLong).at("/months"));
    }
    Ok(())
}

fn check_open(plan: &StoredPlan) -> ApiResult<()> {
    if !plan.status.is_open() {
        return Err(ApiError::new(ErrorCode::PaymentPlanClosed));
    }
    Ok(())
}

/// Terms checked against the bills, the policy and the method.
struct Checked {
    bills: Vec<String>,
    monthly: Money,
    day: u32,
    method_id: String,
    method: PaymentMethodSummary,
    auth_text: &'static str,
    auth_version: String,
}

/// Checks a request's bills, terms, method and authorization. `plan_id`: the plan being changed,
/// whose own bills are allowed (and kept).
fn check_request(
    tx: &Connection,
    member_id: &str,
    req: &PaymentPlanRequest,
    plan_id: Option<&str>,
    policy: &Policy,
) -> ApiResult<Checked> {
    let mut ids: Vec<String> = Vec::new();
    for (i, id) in req.bill_ids.iter().enumerate() {
        if ids.contains(id) {
            return Err(ApiError::new(ErrorCode::DuplicateBill).at(&format!("/bill_ids/{i}")));
        }
        ids.push(id.clone());
    }
    if ids.is_empty() {
        return Err(ApiError::validation("/bill_ids", "Choose at least one bill."));
    }
    if let Some(plan_id) = plan_id {
        for b in bills_of(tx, plan_id)? {
            if b.on_plan && b.payable.is_positive() && !ids.contains(&b.id) {
                ids.push(b.id);
            }
        }
    }
    let mut stmt = tx.prepare_cached(
        "SELECT total_charges_cents - insurance_paid_cents - adjustments_cents - settled_cents - other_payments_cents - pending_cents,
                payment_plan_id
         FROM bills WHERE id = ?1 AND member_id = ?2",
    )?;
    let mut balance = Money::ZERO;
    for (i, id) in ids.iter().enumerate() {
        let field = format!("/bill_ids/{i}");
        let Some((payable, on)) = stmt
            .query_row(params![id, member_id], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, Option<String>>(1)?))
            })
            .optional()?
        else {
            return Err(ApiError::new(ErrorCode::BillNotFound).at(&field));
        };
        if on.is_some() && on.as_deref() != plan_id {
            return Err(ApiError::new(ErrorCode::BillOnPaymentPlan).at(&field));
        }
        if payable <= 0 {
            return Err(ApiError::new(ErrorCode::NothingToPay).at(&field));
        }
        balance = balance.checked_add(Money::from_cents(payable)).unwrap_or(balance);
    }
    rules::check_balance(balance, policy).map_err(|(f, e)| ApiError::invalid(f, e))?;
    let terms = match (req.monthly_amount, req.months) {
        (Some(m), None) => Terms::Monthly(m),
        (None, Some(n)) => Terms::Months(n),
        _ => return Err(ApiError::new(ErrorCode::PlanTermsRequired).at("/monthly_amount")),
    };
    if let Terms::Monthly(m) = terms
        && (m.is_negative() || m.as_decimal().scale() > 2)
    {
        return Err(ApiError::new(ErrorCode::InvalidAmount).at("/monthly_amount"));
    }
    let monthly = rules::monthly_amount(balance, terms, policy).map_err(|(f, e)| ApiError::invalid(f, e))?;
    let day = rules::check_day(req.day_of_month).map_err(|(f, e)| ApiError::invalid(f, e))?;
    let (method, _) = method_summary(tx, member_id, &req.payment_method_id)?
        .ok_or_else(|| ApiError::new(ErrorCode::PaymentMethodNotFound).at("/payment_method_id"))?;
    let wanted = match method.kind {
        PaymentMethodType::BankAccount => carebill_api::types::AchAuthorizationKind::Instalments,
        PaymentMethodType::Card => carebill_api::types::AchAuthorizationKind::CardInstalments,
    };
    let auth_text = match autopay::authorization_text(&req.authorization.text_version) {
        Some((kind, text)) if kind == wanted => text,
        _ => {
            return Err(ApiError::with_message(
                ErrorCode::PlanAuthorizationRequired,
                match method.kind {
                    PaymentMethodType::BankAccount => {
                        "Accept the payment plan's bank debit authorization to pay the plan from this bank account."
                    }
                    PaymentMethodType::Card => {
                        "Accept the payment plan's card authorization to pay the plan with this card."
                    }
                },
            )
            .at("/authorization/text_version"));
        }
    };
    Ok(Checked {
        bills: ids,
        monthly,
        day,
        method_id: req.payment_method_id.clone(),
        method,
        auth_text,
        auth_version: req.authorization.text_version.clone(),
    })
}

fn plan_number(rng: &mut impl rand::Rng) -> String {
    crate::ids::confirmation_number(rng).replacen("CB-", "PP-", 1)
}

/// The plan's bills join it (and say so on the bill), each change in the feed.
fn attach_bills(
    tx: &Connection,
    member_id: &str,
    plan_id: &str,
    bills: &[String],
    now: DateTime<Utc>,
) -> ApiResult<()> {
    for bill in bills {
        tx.execute(
            "INSERT INTO plan_bills (plan_id, bill_id, added_at) VALUES (?1, ?2, ?3) ON CONFLICT (plan_id, bill_id) DO NOTHING",
            params![plan_id, bill, ms(now)],
        )?;
        tx.execute(
            "UPDATE bills SET payment_plan_id = ?2 WHERE id = ?1",
            params![bill, plan_id],
        )?;
        touch(tx, member_id, SyncEntity::Bill, bill, SyncOp::Upsert, now)?;
    }
    Ok(())
}

/// The plan lets go of its bills: they are paid, or the plan stopped.
fn release_bills(
    tx: &Connection,
    member_id: &str,
    plan_id: &str,
    only_paid: bool,
    now: DateTime<Utc>,
) -> ApiResult<usize> {
    let sql = if only_paid {
        "SELECT id FROM bills WHERE payment_plan_id = ?1
           AND total_charges_cents - insurance_paid_cents - adjustments_cents - settled_cents - other_payments_cents <= 0"
    } else {
        "SELECT id FROM bills WHERE payment_plan_id = ?1"
    };
    let ids: Vec<String> = tx
        .prepare_cached(sql)?
        .query_map([plan_id], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for id in &ids {
        // The plan hears of it first, while the bill still names it.
        touch(tx, member_id, SyncEntity::Bill, id, SyncOp::Upsert, now)?;
        tx.execute("UPDATE bills SET payment_plan_id = NULL WHERE id = ?1", [id])?;
    }
    Ok(ids.len())
}

fn touch_plan(tx: &Connection, member_id: &str, plan_id: &str, now: DateTime<Utc>) -> ApiResult<()> {
    touch(tx, member_id, SyncEntity::PaymentPlan, plan_id, SyncOp::Upsert, now)
}

fn facts_mail(
    tx: &Connection,
    plan: &StoredPlan,
    cal: &BusinessCalendar,
    method: &PaymentMethodSummary,
    f: impl FnOnce(&PlanFacts<'_>) -> templates::Mail,
) -> ApiResult<templates::Mail> {
    let bills = bills_of(tx, &plan.id)?;
    let payable: Money = payable_bills(&bills).iter().map(|(_, m)| *m).sum();
    let schedule: Vec<(NaiveDate, Money)> = rules::schedule(payable, plan.monthly, effective_next(plan), cal)
        .into_iter()
        .map(|i| (i.charge_date, i.amount))
        .collect();
    let mut providers: Vec<String> = Vec::new();
    for b in bills.iter().filter(|b| b.on_plan) {
        if !providers.contains(&b.provider) {
            providers.push(b.provider.clone());
        }
    }
    Ok(f(&PlanFacts {
        number: &plan.number,
        monthly: plan.monthly,
        method,
        schedule: &schedule,
        providers: &providers,
    }))
}

/// Sets up a plan: checked against the policy, the bills and the method, with the authorization
/// stored with its words; the bills join it and the confirmation is mailed. Answers whether it was
/// made now (`false`: the key's plan, made before).
#[allow(clippy::too_many_arguments)]
pub fn create(
    tx: &Connection,
    head: &Letterhead,
    member_id: &str,
    key: &str,
    req: &PaymentPlanRequest,
    today: NaiveDate,
    cal: &BusinessCalendar,
    client: &str,
    now: DateTime<Utc>,
) -> ApiResult<(bool, PaymentPlan)> {
    lock_member(tx, member_id)?;
    // A request sent again with its key (a lost answer, a double click) gets the plan it made.
    let made: Option<String> = tx
        .query_row(
            "SELECT id FROM payment_plans WHERE member_id = ?1 AND idempotency_key = ?2",
            params![member_id, key],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(id) = made {
        return get(tx, member_id, &id, cal).map(|p| (false, p));
    }
    let policy = head.plan.payment_plans.to_domain();
    let checked = check_request(tx, member_id, req, None, &policy)?;
    let mut rng = rand::thread_rng();
    let (id, number) = (random_id(&mut rng, "ppl"), plan_number(&mut rng));
    let first = rules::first_nominal(today, checked.day);
    tx.execute(
        "INSERT INTO payment_plans (id, member_id, number, status, monthly_cents, day_of_month, payment_method_id, first_date,
            next_date, auth_text, auth_text_version, auth_accepted_at, auth_client, idempotency_key, created_at, updated_at)
         VALUES (?1, ?2, ?3, 'active', ?4, ?5, ?6, ?7, ?7, ?8, ?9, ?10, ?11, ?12, ?10, ?10)",
        params![
            id,
            member_id,
            number,
            checked.monthly.cents(),
            i64::from(checked.day),
            checked.method_id,
            date_str(first),
            checked.auth_text,
            checked.auth_version,
            ms(now),
            client,
            key,
        ],
    )?;
    attach_bills(tx, member_id, &id, &checked.bills, now)?;
    touch_plan(tx, member_id, &id, now)?;
    let plan = load(tx, member_id, &id)?.ok_or_else(|| ApiError::internal("plan vanished"))?;
    mail::enqueue_once(
        tx,
        head,
        member_id,
        &format!("plan:{id}"),
        "confirmed:1",
        now,
        |first_name, locale| {
            facts_mail(tx, &plan, cal, &checked.method, |f| {
                templates::plan_confirmed(locale, first_name, f, false)
            })
        },
    )?;
    view(tx, &plan, cal).map(|p| (true, p))
}

/// New terms for an open plan: more bills, another amount or number of months, another day or
/// method. Each needs the authorization again; the term counts from the next instalment.
#[allow(clippy::too_many_arguments)]
pub fn update(
    tx: &Connection,
    head: &Letterhead,
    member_id: &str,
    id: &str,
    if_match: Precondition,
    req: &PaymentPlanRequest,
    today: NaiveDate,
    cal: &BusinessCalendar,
    client: &str,
    now: DateTime<Utc>,
) -> ApiResult<PaymentPlan> {
    lock_member(tx, member_id)?;
    let plan = load(tx, member_id, id)?.ok_or_else(|| ApiError::new(ErrorCode::PaymentPlanNotFound))?;
    check_version(&plan, if_match)?;
    check_open(&plan)?;
    let policy = head.plan.payment_plans.to_domain();
    let checked = check_request(tx, member_id, req, Some(id), &policy)?;
    // Never two instalments in one month: the next is no earlier than the month after the last.
    let last: Option<String> = tx
        .query_row(
            "SELECT MAX(nominal_date) FROM plan_instalments WHERE plan_id = ?1",
            [id],
            |r| r.get(0),
        )
        .optional()?
        .flatten();
    let mut from = today;
    if let Some(last) = last {
        let after = rules::next_nominal(parse_date(&last)?.with_day(1).unwrap_or(today));
        from = from.max(after);
    }
    let next = rules::first_nominal(from.max(effective_next(&plan).with_day(1).unwrap_or(from)), checked.day);
    tx.execute(
        "UPDATE payment_plans SET monthly_cents = ?2, day_of_month = ?3, payment_method_id = ?4, first_date = ?5, next_date = ?5,
            needs_authorization = 0, auth_text = ?6, auth_text_version = ?7, auth_accepted_at = ?8, auth_client = ?9,
            version = version + 1, updated_at = ?8
         WHERE id = ?1",
        params![
            id,
            checked.monthly.cents(),
            i64::from(checked.day),
            checked.method_id,
            date_str(next),
            checked.auth_text,
            checked.auth_version,
            ms(now),
            client,
        ],
    )?;
    attach_bills(tx, member_id, id, &checked.bills, now)?;
    touch_plan(tx, member_id, id, now)?;
    let plan = load(tx, member_id, id)?.ok_or_else(|| ApiError::internal("plan vanished"))?;
    mail::enqueue_once(
        tx,
        head,
        member_id,
        &format!("plan:{id}"),
        &format!("confirmed:{}", plan.version),
        now,
        |first_name, locale| {
            facts_mail(tx, &plan, cal, &checked.method, |f| {
                templates::plan_confirmed(locale, first_name, f, true)
            })
        },
    )?;
    view(tx, &plan, cal)
}

/// Pauses an open plan until a date within the policy: no instalment is charged before it.
#[allow(clippy::too_many_arguments)]
pub fn pause(
    tx: &Connection,
    head: &Letterhead,
    member_id: &str,
    id: &str,
    if_match: Precondition,
    until: NaiveDate,
    today: NaiveDate,
    cal: &BusinessCalendar,
    now: DateTime<Utc>,
) -> ApiResult<PaymentPlan> {
    lock_member(tx, member_id)?;
    let plan = load(tx, member_id, id)?.ok_or_else(|| ApiError::new(ErrorCode::PaymentPlanNotFound))?;
    check_version(&plan, if_match)?;
    check_open(&plan)?;
    rules::check_pause(today, until, &head.plan.payment_plans.to_domain()).map_err(|(f, e)| ApiError::invalid(f, e))?;
    tx.execute(
        "UPDATE payment_plans SET status = 'paused', paused_until = ?2, version = version + 1, updated_at = ?3 WHERE id = ?1",
        params![id, date_str(until), ms(now)],
    )?;
    touch_plan(tx, member_id, id, now)?;
    get(tx, member_id, id, cal)
}

/// Ends a pause now.
pub fn resume(
    tx: &Connection,
    member_id: &str,
    id: &str,
    if_match: Precondition,
    today: NaiveDate,
    cal: &BusinessCalendar,
    now: DateTime<Utc>,
) -> ApiResult<PaymentPlan> {
    lock_member(tx, member_id)?;
    let plan = load(tx, member_id, id)?.ok_or_else(|| ApiError::new(ErrorCode::PaymentPlanNotFound))?;
    check_version(&plan, if_match)?;
    check_open(&plan)?;
    if plan.status == PaymentPlanStatus::Paused {
        end_pause(tx, &plan, today, now)?;
    }
    get(tx, member_id, id, cal)
}

fn end_pause(tx: &Connection, plan: &StoredPlan, today: NaiveDate, now: DateTime<Utc>) -> ApiResult<()> {
    let next = rules::first_nominal(today.max(plan.next_date), plan.day);
    let status = if plan.behind.is_positive() { "behind" } else { "active" };
    tx.execute(
        "UPDATE payment_plans SET status = ?2, paused_until = NULL, next_date = ?3, version = version + 1, updated_at = ?4
         WHERE id = ?1 AND status = 'paused'",
        params![plan.id, status, date_str(next), ms(now)],
    )?;
    touch_plan(tx, &plan.member_id, &plan.id, now)
}

/// Cancels an open plan: nothing more is charged, and its bills return to normal.
pub fn cancel(
    tx: &Connection,
    head: &Letterhead,
    member_id: &str,
    id: &str,
    if_match: Precondition,
    cal: &BusinessCalendar,
    now: DateTime<Utc>,
) -> ApiResult<PaymentPlan> {
    lock_member(tx, member_id)?;
    let plan = load(tx, member_id, id)?.ok_or_else(|| ApiError::new(ErrorCode::PaymentPlanNotFound))?;
    check_version(&plan, if_match)?;
    check_open(&plan)?;
    close(tx, head, &plan, PlanEnd::Cancelled, now)?;
    get(tx, member_id, id, cal)
}

/// The plan stops (paid, cancelled or ended): its bills leave it and the member is told, once.
fn close(tx: &Connection, head: &Letterhead, plan: &StoredPlan, why: PlanEnd, now: DateTime<Utc>) -> ApiResult<()> {
    let balance: Money = bills_of(tx, &plan.id)?
        .iter()
        .filter(|b| b.on_plan)
        .map(|b| b.balance)
        .sum();
    let status = match why {
        PlanEnd::Completed => "completed",
        PlanEnd::Cancelled => "cancelled",
        PlanEnd::Missed => "ended",
    };
    let changed = tx.execute(
        "UPDATE payment_plans SET status = ?2, version = version + 1, updated_at = ?3
         WHERE id = ?1 AND status IN ('active', 'paused', 'behind')",
        params![plan.id, status, ms(now)],
    )?;
    if changed != 1 {
        return Ok(());
    }
    touch_plan(tx, &plan.member_id, &plan.id, now)?;
    release_bills(tx, &plan.member_id, &plan.id, false, now)?;
    mail::enqueue_once(
        tx,
        head,
        &plan.member_id,
        &format!("plan:{}", plan.id),
        "closed",
        now,
        |first, locale| Ok(templates::plan_ended(locale, first, &plan.number, why, balance)),
    )?;
    Ok(())
}

/// Whether a bill may be charged by autopay: not while a plan pays it.
pub fn bill_on_plan(conn: &Connection, bill_id: &str) -> ApiResult<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM bills WHERE id = ?1 AND payment_plan_id IS NOT NULL")?
        .exists([bill_id])?)
}

// ---------------------------------------------------------------------------------------------
// The engine's side: claiming an instalment, and what its outcome does to the plan.

/// The key of a plan's instalment: its plan and its own date.
pub fn instalment_key(plan_id: &str, nominal: NaiveDate) -> String {
    format!("plan:{plan_id}:{}", date_str(nominal))
}

/// Claims an instalment in the payment's claim transaction: the plan must still be open, unpaused,
/// on this method and waiting for exactly this instalment. Its row is written and the plan moves
/// to the next month in the same transaction, so it is never charged twice.
#[allow(clippy::too_many_arguments)]
pub fn claim_instalment(
    tx: &Connection,
    member_id: &str,
    plan_id: &str,
    nominal: NaiveDate,
    charge_date: NaiveDate,
    method_id: Option<&str>,
    amount: Money,
    now: DateTime<Utc>,
) -> ApiResult<()> {
    let refused = |why: &str| Err(ApiError::new(ErrorCode::PaymentPlanClosed).detail(why.to_string()));
    let Some(plan) = load(tx, member_id, plan_id)? else {
        return refused("no such plan");
    };
    if !matches!(plan.status, PaymentPlanStatus::Active | PaymentPlanStatus::Behind) {
        return refused("the plan is not active");
    }
    if method_id != Some(plan.method_id.as_str()) {
        return refused("the plan's payment method changed");
    }
    if plan.next_date != nominal || amount > plan.monthly {
        return refused("the plan's terms changed");
    }
    let claimed = tx.execute(
        "INSERT INTO plan_instalments (plan_id, nominal_date, charge_date, amount_cents, status, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, 'processing', ?5, ?5) ON CONFLICT (plan_id, nominal_date) DO NOTHING",
        params![plan_id, date_str(nominal), date_str(charge_date), amount.cents(), ms(now)],
    )?;
    if claimed != 1 {
        return Err(ApiError::new(ErrorCode::IdempotencyKeyInUse).detail("this instalment was already charged"));
    }
    tx.execute(
        "UPDATE payment_plans SET next_date = ?3, updated_at = ?4 WHERE id = ?1 AND next_date = ?2",
        params![
            plan_id,
            date_str(nominal),
            date_str(rules::next_nominal(nominal)),
            ms(now)
        ],
    )?;
    touch_plan(tx, member_id, plan_id, now)
}

/// An instalment's claim was undone (its payment never started): the plan waits for it again.
pub fn unclaim_instalment(tx: &Connection, plan_id: &str, nominal: NaiveDate) -> ApiResult<()> {
    tx.execute(
        "DELETE FROM plan_instalments WHERE plan_id = ?1 AND nominal_date = ?2 AND status = 'processing'",
        params![plan_id, date_str(nominal)],
    )?;
    tx.execute(
        "UPDATE payment_plans SET next_date = ?2 WHERE id = ?1 AND next_date = ?3",
        params![plan_id, date_str(nominal), date_str(rules::next_nominal(nominal))],
    )?;
    Ok(())
}

/// What an instalment's charge came to: paid (a bank debit on its way counts), missed, or held
/// for the billing office (it stays `processing`).
#[allow(clippy::too_many_arguments)]
pub fn instalment_outcome(
    tx: &Connection,
    head: &Letterhead,
    member_id: &str,
    plan_id: &str,
    nominal: NaiveDate,
    payment: &carebill_api::types::Payment,
    declined: Option<&str>,
    now: DateTime<Utc>,
) -> ApiResult<()> {
    let status = match (declined, payment.status) {
        (Some(_), _) => InstalmentStatus::Missed,
        (None, carebill_api::types::PaymentStatus::NeedsReview) => InstalmentStatus::Processing,
        (None, _) => InstalmentStatus::Paid,
    };
    tx.execute(
        "UPDATE plan_instalments SET status = ?3, payment_id = ?4, updated_at = ?5 WHERE plan_id = ?1 AND nominal_date = ?2",
        params![plan_id, date_str(nominal), status.as_str(), payment.id, ms(now)],
    )?;
    touch_plan(tx, member_id, plan_id, now)?;
    if let Some(code) = declined {
        record_miss(tx, head, plan_id, nominal, payment.amount, code, false, now)?;
    }
    Ok(())
}

/// A bank debit of an instalment came back: it is missed after all.
pub fn instalment_returned(
    tx: &Connection,
    head: &Letterhead,
    payment_id: &str,
    amount: Money,
    code: &str,
    now: DateTime<Utc>,
) -> ApiResult<()> {
    let found: Option<(String, String)> = tx
        .query_row(
            "SELECT plan_id, nominal_date FROM plan_instalments WHERE payment_id = ?1",
            [payment_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let Some((plan_id, nominal)) = found else {
        return Ok(());
    };
    tx.execute(
        "UPDATE plan_instalments SET status = 'missed', updated_at = ?3 WHERE plan_id = ?1 AND nominal_date = ?2",
        params![plan_id, nominal, ms(now)],
    )?;
    record_miss(tx, head, &plan_id, parse_date(&nominal)?, amount, code, true, now)
}

/// A missed instalment: the plan is behind by it, the member is told once, and a miss beyond
/// the policy ends the plan.
#[allow(clippy::too_many_arguments)]
fn record_miss(
    tx: &Connection,
    head: &Letterhead,
    plan_id: &str,
    nominal: NaiveDate,
    amount: Money,
    code: &str,
    returned: bool,
    now: DateTime<Utc>,
) -> ApiResult<()> {
    let Some(plan) = load_any(tx, plan_id)? else {
        return Ok(());
    };
    touch_plan(tx, &plan.member_id, plan_id, now)?;
    if !plan.status.is_open() {
        return Ok(());
    }
    // Misses made up since count no more.
    let caught_up = !behind_now(tx, &plan)?.is_positive();
    let (behind, misses, since) = if caught_up {
        (amount, 1, ms(now))
    } else {
        (
            plan.behind.checked_add(amount).unwrap_or(plan.behind),
            plan.misses + 1,
            plan.behind_since.unwrap_or(ms(now)),
        )
    };
    let policy = head.plan.payment_plans.to_domain();
    let status = if plan.status == PaymentPlanStatus::Paused {
        "paused"
    } else {
        "behind"
    };
    tx.execute(
        "UPDATE payment_plans SET status = ?2, behind_cents = ?3, behind_since = ?4, misses = ?5, version = version + 1, updated_at = ?6
         WHERE id = ?1",
        params![plan_id, status, behind.cents(), since, i64::from(misses), ms(now)],
    )?;
    let plan = load_any(tx, plan_id)?.ok_or_else(|| ApiError::internal("plan vanished"))?;
    if misses > policy.misses_allowed {
        return close(tx, head, &plan, PlanEnd::Missed, now);
    }
    let reason = |l| {
        if returned {
            templates::ach_return_reason(l, code)
        } else {
            templates::decline_reason(l, code)
        }
    };
    let left = policy.misses_allowed - misses;
    mail::enqueue_once(
        tx,
        head,
        &plan.member_id,
        &instalment_key(plan_id, nominal),
        "missed",
        now,
        |first, locale| {
            Ok(templates::plan_behind(
                locale,
                first,
                &plan.number,
                behind,
                reason(locale),
                left,
            ))
        },
    )?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The scheduler's pass.

/// What one pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RunSummary {
    pub notices: usize,
    pub attempted: usize,
    pub charged: usize,
    pub declined: usize,
    pub held: usize,
    pub completed: usize,
}

/// Members planned in one transaction.
const PLAN_BATCH: usize = 100;

/// The one charge of an instalment: its key and fingerprint depend on the plan and the date
/// alone, so every pass, replica and retry plans the same payment.
fn instalment_intent(
    plan: &StoredPlan,
    i: &rules::Instalment,
    allocations: Vec<(String, Money)>,
    bank: bool,
) -> Intent {
    let body = json!({"plan": plan.id, "date": date_str(i.nominal)});
    Intent {
        member_id: plan.member_id.clone(),
        key: instalment_key(&plan.id, i.nominal),
        fingerprint: payments::fingerprint("PLAN", "/v1/payment-plans", &body),
        fingerprint_as_kept: payments::fingerprint_as_kept("PLAN", "/v1/payment-plans", &body),
        source: PaymentSource::PaymentPlan,
        method: MethodRef::Saved(plan.method_id.clone()),
        allocations,
        ach: bank.then(|| AchAcceptance {
            text: plan.auth_text.clone(),
            version: plan.auth_version.clone(),
        }),
        client: Some("payment_plan".into()),
        autopay_bill: None,
        scheduled: Some(Scheduled::Instalment {
            plan_id: plan.id.clone(),
            nominal: i.nominal,
            charge_date: i.charge_date,
        }),
    }
}

/// One plan's part of the pass: a pause that ended, bills that left, completion, the need for
/// new terms, the notice, and the instalment due today.
#[allow(clippy::too_many_arguments)]
fn plan_one(
    tx: &Connection,
    head: &Letterhead,
    plan: &StoredPlan,
    today: NaiveDate,
    cal: &BusinessCalendar,
    now: DateTime<Utc>,
    summary: &mut RunSummary,
    charges: &mut Vec<Intent>,
) -> ApiResult<()> {
    let policy = head.plan.payment_plans.to_domain();
    let mut plan = plan.clone();
    if plan.status == PaymentPlanStatus::Paused {
        match plan.paused_until {
            Some(until) if until > today => return Ok(()),
            _ => {
                end_pause(tx, &plan, today, now)?;
                plan = load_any(tx, &plan.id)?.ok_or_else(|| ApiError::internal("plan vanished"))?;
            }
        }
    }
    if plan.status == PaymentPlanStatus::Behind && !behind_now(tx, &plan)?.is_positive() {
        tx.execute(
            "UPDATE payment_plans SET status = 'active', behind_cents = 0, behind_since = NULL, misses = 0,
                version = version + 1, updated_at = ?2
             WHERE id = ?1 AND status = 'behind'",
            params![plan.id, ms(now)],
        )?;
        touch_plan(tx, &plan.member_id, &plan.id, now)?;
    }
    if release_bills(tx, &plan.member_id, &plan.id, true, now)? > 0 {
        touch_plan(tx, &plan.member_id, &plan.id, now)?;
    }
    let bills = bills_of(tx, &plan.id)?;
    if !bills.iter().any(|b| b.on_plan) {
        close(tx, head, &plan, PlanEnd::Completed, now)?;
        summary.completed += 1;
        return Ok(());
    }
    let payable = payable_bills(&bills);
    let total: Money = payable.iter().map(|(_, m)| *m).sum();
    let schedule = rules::schedule(total, plan.monthly, plan.next_date, cal);
    if !plan.needs_authorization && !rules::within_term(plan.first_date, plan.next_date, schedule.len() as u32, &policy)
    {
        tx.execute(
            "UPDATE payment_plans SET needs_authorization = 1, version = version + 1, updated_at = ?2 WHERE id = ?1",
            params![plan.id, ms(now)],
        )?;
        touch_plan(tx, &plan.member_id, &plan.id, now)?;
        let balance: Money = bills.iter().filter(|b| b.on_plan).map(|b| b.balance).sum();
        mail::enqueue_once(
            tx,
            head,
            &plan.member_id,
            &format!("plan:{}", plan.id),
            &format!("reauthorize:{}", plan.version),
            now,
            |first, locale| {
                Ok(templates::plan_needs_authorization(
                    locale,
                    first,
                    &plan.number,
                    balance,
                    plan.monthly,
                ))
            },
        )?;
    }
    // A question about one of the plan's bills is open: the instalment waits (no notice, no
    // charge, not a miss) until it is closed; then the next pass charges it, its date having come.
    if crate::conversations::any_on_hold(tx, bills.iter().filter(|b| b.on_plan).map(|b| b.id.as_str()))? {
        return Ok(());
    }
    let Some(next) = schedule.first() else {
        return Ok(());
    };
    let Some((method, _)) = method_summary(tx, &plan.member_id, &plan.method_id)? else {
        return Ok(());
    };
    let notice_on = next
        .charge_date
        .checked_sub_days(chrono::Days::new(u64::from(policy.notice_days)))
        .unwrap_or(next.charge_date);
    if today >= notice_on
        && today < next.charge_date
        && mail::enqueue_once(
            tx,
            head,
            &plan.member_id,
            &instalment_key(&plan.id, next.nominal),
            "notice",
            now,
            |first, locale| {
                Ok(templates::instalment_notice(
                    locale,
                    first,
                    &plan.number,
                    next.amount,
                    &method,
                    next.charge_date,
                ))
            },
        )?
    {
        summary.notices += 1;
    }
    if today >= next.charge_date {
        let allocations = rules::allocate(next.amount, &payable)
            .into_iter()
            .map(|(b, m)| (b.to_string(), m))
            .collect();
        charges.push(instalment_intent(
            &plan,
            next,
            allocations,
            method.kind == PaymentMethodType::BankAccount,
        ));
    }
    Ok(())
}

/// Plans whose next instalment is within the notice period (or paused, to resume): the pass
/// looks at no other plan, so its cost follows the instalments due, not the plans open. A plan
/// whose bills were paid off by someone else is closed when its next instalment comes near,
/// without a charge; until then it shows an empty schedule.
fn due_plans(conn: &Connection, horizon: NaiveDate) -> ApiResult<Vec<(String, String)>> {
    let mut stmt = conn.prepare(
        "SELECT member_id, id FROM payment_plans
         WHERE status IN ('active', 'paused', 'behind') AND (next_date <= ?1 OR status = 'paused')
         ORDER BY member_id, id",
    )?;
    let rows = stmt.query_map([date_str(horizon)], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// The pass: every open plan whose next instalment is near is looked at (a batch of members per transaction, members claimed
/// with `SKIP LOCKED` so servers divide them), then the instalments due are charged in batches
/// through the payment engine.
pub async fn run(state: &AppState) -> ApiResult<RunSummary> {
    let today = state.business.today();
    let cal = *state.business.calendar();
    let head = state.letterhead();
    let horizon = today + chrono::Days::new(u64::from(head.plan.payment_plans.notice_days) + 7);
    let plans: Vec<(String, String)> = state.db.read(move |conn| due_plans(conn, horizon)).await?;
    let mut summary = RunSummary::default();
    let mut charges: Vec<Intent> = Vec::new();
    let mut by_member: Vec<(String, Vec<String>)> = Vec::new();
    for (member, id) in plans {
        match by_member.last_mut() {
            Some((m, ids)) if *m == member => ids.push(id),
            _ => by_member.push((member, vec![id])),
        }
    }
    for batch in by_member.chunks(PLAN_BATCH) {
        let (batch, head) = (batch.to_vec(), head.clone());
        let now = state.now();
        let (planned, due) = state
            .db
            .transaction(move |tx| {
                let mut summary = RunSummary::default();
                let mut charges = Vec::new();
                let members: Vec<String> = batch.iter().map(|(m, _)| m.clone()).collect();
                let claimed = claim_members(tx, &members)?;
                for (member, ids) in &batch {
                    if claimed.binary_search(member).is_err() {
                        continue;
                    }
                    for id in ids {
                        let Some(plan) = load(tx, member, id)? else { continue };
                        if plan.status.is_open() {
                            plan_one(tx, &head, &plan, today, &cal, now, &mut summary, &mut charges)?;
                        }
                    }
                }
                Ok((summary, charges))
            })
            .await?;
        summary.notices += planned.notices;
        summary.completed += planned.completed;
        charges.extend(due);
    }
    state.mail_queued();
    let c = payments::charge_planned(
        state,
        charges,
        autopay::BATCH,
        ErrorCode::PaymentPlanClosed,
        "instalment",
    )
    .await;
    summary.attempted += c.attempted;
    summary.charged += c.charged;
    summary.held += c.held;
    summary.declined += c.declined;
    Ok(summary)
}
