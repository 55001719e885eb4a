//! Autopay: one rule per member, the charges it schedules, and the scheduler run that makes
//! them.
//!
//! A rule covers bills issued after it was set up; open bills from before are listed with a
//! "pay now" hint and never charged automatically. Each bill is charged by autopay at most once
//! (`autopay_bills`, claimed in the payment's own claim transaction, key `autopay:{bill_id}`).
//! Charges run on the business clock in batches, through the same exactly-once payment engine.

use crate::mail::Letterhead;
use crate::sql::{Connection, OptionalExtension, params};
use carebill_api::ErrorCode;
use carebill_api::types::{
    AchAuthorization, AchAuthorizationKind, Autopay, AutopayAmount, AutopayTiming, Locale, NotCoveredBill,
    PaymentMethodSummary, PaymentMethodType, PaymentSource, SyncEntity, SyncOp, UpcomingCharge, UpcomingStatus,
};
use carebill_billing::autopay::{self as rules, Amount, Rule, Timing};
use carebill_billing::{BusinessCalendar, Money};
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::json;

use crate::error::{ApiError, ApiResult};
use crate::mail;
use crate::mail::templates;
use crate::payments::{self, AchAcceptance, Intent, MethodRef};
use crate::state::AppState;
use crate::store::{claim_members, date_str, from_ms, lock_member, ms, parse_date, touch};

/// Bills charged per batch of the scheduler (three transactions a batch).
pub const BATCH: usize = 250;

pub const SINGLE_AUTHORIZATION_VERSION: &str = "2026-11-single";
pub const RECURRING_AUTHORIZATION_VERSION: &str = "2026-11-recurring";
/// The same authorizations in Spanish: their own versions, so a record says which words were accepted.
pub const SINGLE_AUTHORIZATION_VERSION_ES: &str = "2026-11-single-es";
pub const RECURRING_AUTHORIZATION_VERSION_ES: &str = "2026-11-recurring-es";

const SINGLE_TEXT: &str = "I authorize Carebill to electronically debit the bank account I selected for the total shown, on or after today, \
     to pay the medical bills listed. This is a one-time authorization. The debit will appear on my statement as CAREBILL. \
     If the bank returns the debit, the bills stay unpaid and I will be told. I can ask member services to cancel this \
     payment only before it is sent to my bank.";

const SINGLE_TEXT_ES: &str = "Autorizo a Carebill a debitar electrónicamente de la cuenta bancaria que elegí el total indicado, hoy o después, \
     para pagar las facturas médicas de la lista. Esta es una autorización para un solo pago. El débito aparecerá en mi \
     estado de cuenta como CAREBILL. Si el banco devuelve el débito, las facturas quedan sin pagar y se me avisará. Puedo \
     pedir a Servicios para Miembros que cancelen este pago solo antes de que se envíe a mi banco.";

const RECURRING_TEXT: &str = "I authorize Carebill to electronically debit the bank account I selected each time a new bill is issued, for the \
     amount my autopay settings determine and never more than my maximum per charge, on or after the scheduled date. \
     Carebill will email me before each debit. This authorization stays in effect until I turn off autopay or choose \
     another payment method, which I can do in the app at any time; a scheduled debit can be skipped until 3 business \
     days before its date.";

const RECURRING_TEXT_ES: &str = "Autorizo a Carebill a debitar electrónicamente de la cuenta bancaria que elegí cada vez que se emita una factura \
     nueva, la cantidad que determine mi configuración de pago automático y nunca más que mi máximo por cobro, en la fecha \
     programada o después. Carebill me enviará un correo electrónico antes de cada débito. Esta autorización sigue vigente \
     hasta que yo desactive el pago automático o elija otra forma de pago, lo que puedo hacer en la aplicación en cualquier \
     momento; un débito programado se puede omitir hasta 3 días hábiles antes de su fecha.";

/// A payment plan's instalments from a bank account (NACHA: amount, schedule, how to cancel).
pub const INSTALMENTS_VERSION: &str = "2026-12-instalments";
pub const INSTALMENTS_VERSION_ES: &str = "2026-12-instalments-es";
/// A payment plan's instalments on a card (the card networks' instalment rules).
pub const CARD_INSTALMENTS_VERSION: &str = "2026-12-card-instalments";
pub const CARD_INSTALMENTS_VERSION_ES: &str = "2026-12-card-instalments-es";

const INSTALMENTS_TEXT: &str = "I authorize Carebill to electronically debit the bank account I selected for each payment of my payment plan,      in the amounts and on the dates of the schedule shown to me with this authorization (a date that is not a business day moves      to the next one), until the bills on the plan are paid. There is no interest and no fee. Carebill will email me before each      debit. A lower balance only shortens the schedule; Carebill will never debit more than the monthly amount shown without my      new authorization. I can pause or cancel the plan, or choose another payment method, in the app at any time before a      debit's date. The debits will appear on my statement as CAREBILL.";

const INSTALMENTS_TEXT_ES: &str = "Autorizo a Carebill a debitar electrónicamente de la cuenta bancaria que elegí cada pago de mi plan de pagos,      por las cantidades y en las fechas del calendario que se me muestra con esta autorización (una fecha que no sea día hábil pasa      al siguiente), hasta que se paguen las facturas del plan. No hay intereses ni cargos. Carebill me enviará un correo electrónico      antes de cada débito. Un saldo menor solo acorta el calendario; Carebill nunca debitará más que el pago mensual indicado sin mi      nueva autorización. Puedo pausar o cancelar el plan, o elegir otra forma de pago, en la aplicación en cualquier momento antes      de la fecha de un débito. Los débitos aparecerán en mi estado de cuenta como CAREBILL.";

const CARD_INSTALMENTS_TEXT: &str = "I authorize Carebill to charge the card I selected for each payment of my payment plan, in the amounts and on      the dates of the schedule shown to me with this authorization (a date that is not a business day moves to the next one),      until the bills on the plan are paid. This is an installment agreement for the total shown, with no interest and no fee.      Carebill will email me before each charge and a receipt after it. A lower balance only shortens the schedule; Carebill will      never charge more than the monthly amount shown without my new authorization. I can pause or cancel the plan, or choose      another payment method, in the app at any time before a charge's date.";

const CARD_INSTALMENTS_TEXT_ES: &str = "Autorizo a Carebill a cargar a la tarjeta que elegí cada pago de mi plan de pagos, por las cantidades y en      las fechas del calendario que se me muestra con esta autorización (una fecha que no sea día hábil pasa al siguiente), hasta      que se paguen las facturas del plan. Este es un acuerdo de pagos a plazos por el total indicado, sin intereses ni cargos.      Carebill me enviará un correo electrónico antes de cada cargo y un recibo después. Un saldo menor solo acorta el calendario;      Carebill nunca cargará más que el pago mensual indicado sin mi nueva autorización. Puedo pausar o cancelar el plan, o elegir      otra forma de pago, en la aplicación en cualquier momento antes de la fecha de un cargo.";

/// The authorization a member reads, in their language, with its version.
pub fn authorization(kind: AchAuthorizationKind, locale: Locale) -> AchAuthorization {
    let version = match (kind, locale) {
        (AchAuthorizationKind::Single, Locale::En) => SINGLE_AUTHORIZATION_VERSION,
        (AchAuthorizationKind::Single, Locale::Es) => SINGLE_AUTHORIZATION_VERSION_ES,
        (AchAuthorizationKind::Recurring, Locale::En) => RECURRING_AUTHORIZATION_VERSION,
        (AchAuthorizationKind::Recurring, Locale::Es) => RECURRING_AUTHORIZATION_VERSION_ES,
        (AchAuthorizationKind::Instalments, Locale::En) => INSTALMENTS_VERSION,
        (AchAuthorizationKind::Instalments, Locale::Es) => INSTALMENTS_VERSION_ES,
        (AchAuthorizationKind::CardInstalments, Locale::En) => CARD_INSTALMENTS_VERSION,
        (AchAuthorizationKind::CardInstalments, Locale::Es) => CARD_INSTALMENTS_VERSION_ES,
    };
    let (_, text) = authorization_text(version).expect("every current version has its text");
    AchAuthorization {
        text: text.to_string(),
        text_version: version.to_string(),
    }
}

/// Which authorization a version is and its exact words; `None` for a version never offered.
pub fn authorization_text(version: &str) -> Option<(AchAuthorizationKind, &'static str)> {
    match version {
        SINGLE_AUTHORIZATION_VERSION => Some((AchAuthorizationKind::Single, SINGLE_TEXT)),
        SINGLE_AUTHORIZATION_VERSION_ES => Some((AchAuthorizationKind::Single, SINGLE_TEXT_ES)),
        RECURRING_AUTHORIZATION_VERSION => Some((AchAuthorizationKind::Recurring, RECURRING_TEXT)),
        RECURRING_AUTHORIZATION_VERSION_ES => Some((AchAuthorizationKind::Recurring, RECURRING_TEXT_ES)),
        INSTALMENTS_VERSION => Some((AchAuthorizationKind::Instalments, INSTALMENTS_TEXT)),
        INSTALMENTS_VERSION_ES => Some((AchAuthorizationKind::Instalments, INSTALMENTS_TEXT_ES)),
        CARD_INSTALMENTS_VERSION => Some((AchAuthorizationKind::CardInstalments, CARD_INSTALMENTS_TEXT)),
        CARD_INSTALMENTS_VERSION_ES => Some((AchAuthorizationKind::CardInstalments, CARD_INSTALMENTS_TEXT_ES)),
        _ => None,
    }
}

/// A member's stored rule.
#[derive(Debug, Clone)]
pub struct StoredRule {
    pub member_id: String,
    pub payment_method_id: String,
    pub rule: Rule,
    pub enabled_at: i64,
    pub covers_from: NaiveDate,
    pub updated_at: i64,
    pub ach_text_version: Option<String>,
}

pub fn to_domain(amount: AutopayAmount, max: Money, timing: AutopayTiming) -> Result<Rule, ApiError> {
    let amount = match amount {
        AutopayAmount::StatementBalance => Amount::StatementBalance,
        AutopayAmount::Fixed { value } => Amount::Fixed(value),
    };
    let timing = match timing {
        AutopayTiming::DueDate => Timing::DueDate,
        AutopayTiming::DaysBeforeDue { days } => Timing::DaysBeforeDue(days),
        AutopayTiming::DayOfMonth { day } => Timing::DayOfMonth(day),
    };
    Rule::new(amount, max, timing).map_err(|(field, invalid)| ApiError::invalid(field, invalid))
}

fn wire_amount(rule: &Rule) -> AutopayAmount {
    match rule.amount {
        Amount::StatementBalance => AutopayAmount::StatementBalance,
        Amount::Fixed(value) => AutopayAmount::Fixed { value },
    }
}

fn wire_timing(rule: &Rule) -> AutopayTiming {
    match rule.timing {
        Timing::DueDate => AutopayTiming::DueDate,
        Timing::DaysBeforeDue(days) => AutopayTiming::DaysBeforeDue { days },
        Timing::DayOfMonth(day) => AutopayTiming::DayOfMonth { day },
    }
}

const RULE_COLUMNS: &str = "member_id, payment_method_id, amount_type, fixed_cents, max_cents, timing_type, timing_value, \
    enabled_at, covers_from, updated_at, ach_text_version";

fn rule_from_row(r: &crate::sql::Row<'_>) -> crate::sql::Result<Option<StoredRule>> {
    let amount_type: String = r.get(2)?;
    let fixed: Option<i64> = r.get(3)?;
    let timing_type: String = r.get(5)?;
    let value: Option<i64> = r.get(6)?;
    let amount = match (amount_type.as_str(), fixed) {
        ("fixed", Some(c)) => Amount::Fixed(Money::from_cents(c)),
        _ => Amount::StatementBalance,
    };
    let value = value.unwrap_or(1).clamp(1, 31) as u32;
    let timing = match timing_type.as_str() {
        "days_before_due" => Timing::DaysBeforeDue(value),
        "day_of_month" => Timing::DayOfMonth(value),
        _ => Timing::DueDate,
    };
    let covers: String = r.get(8)?;
    Ok(Rule::new(amount, Money::from_cents(r.get(4)?), timing)
        .ok()
        .map(|rule| StoredRule {
            member_id: r.get(0).unwrap_or_default(),
            payment_method_id: r.get(1).unwrap_or_default(),
            rule,
            enabled_at: r.get(7).unwrap_or_default(),
            covers_from: NaiveDate::parse_from_str(&covers, "%Y-%m-%d").unwrap_or_default(),
            updated_at: r.get(9).unwrap_or_default(),
            ach_text_version: r.get(10).unwrap_or_default(),
        }))
}

pub fn load_rule(conn: &Connection, member_id: &str) -> ApiResult<Option<StoredRule>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {RULE_COLUMNS} FROM autopay_rules WHERE member_id = ?1"
        ))?
        .query_row([member_id], rule_from_row)
        .optional()?
        .flatten())
}

/// Refuses an autopay charge planned earlier when the member's rule no longer allows it: turned
/// off, turned on again later (a new rule covers only bills issued after it), another method,
/// or a maximum below the amount.
/// Turns autopay off: the rule goes, and the app hears of it through the change feed.
pub fn delete_rule(tx: &Connection, member_id: &str, now: DateTime<Utc>) -> ApiResult<()> {
    lock_member(tx, member_id)?;
    if tx.execute("DELETE FROM autopay_rules WHERE member_id = ?1", [member_id])? == 0 {
        return Err(ApiError::new(ErrorCode::AutopayNotFound));
    }
    touch(tx, member_id, SyncEntity::Autopay, "autopay", SyncOp::Delete, now)
}

pub fn check_still_authorized(
    tx: &Connection,
    member_id: &str,
    bill_id: &str,
    method_id: Option<&str>,
    amount: Money,
) -> ApiResult<()> {
    let refused = |why: &str| Err(ApiError::new(ErrorCode::AutopayNotFound).detail(why.to_string()));
    let Some(stored) = load_rule(tx, member_id)? else {
        return refused("autopay was turned off");
    };
    if method_id != Some(stored.payment_method_id.as_str()) {
        return refused("autopay's payment method changed");
    }
    if amount > stored.rule.max_amount {
        return refused("the amount is above autopay's maximum");
    }
    let issued_at: Option<i64> = tx
        .query_row(
            "SELECT issued_at FROM bills WHERE id = ?1 AND member_id = ?2",
            params![bill_id, member_id],
            |r| r.get(0),
        )
        .optional()?
        .flatten();
    if issued_at.is_none_or(|at| at < stored.enabled_at) {
        return refused("autopay does not cover this bill");
    }
    if crate::plans::bill_on_plan(tx, bill_id)? {
        return refused("the bill is on a payment plan");
    }
    Ok(())
}

/// Saves a rule. A new rule covers bills issued from now on; an edit keeps the coverage.
#[allow(clippy::too_many_arguments)]
pub fn save_rule(
    tx: &Connection,
    member_id: &str,
    payment_method_id: &str,
    rule: &Rule,
    ach_version: Option<&str>,
    client: &str,
    business_now: DateTime<Utc>,
    today: NaiveDate,
    now: DateTime<Utc>,
) -> ApiResult<()> {
    lock_member(tx, member_id)?;
    let (amount_type, fixed) = match rule.amount {
        Amount::StatementBalance => ("statement_balance", None),
        Amount::Fixed(v) => ("fixed", Some(v.cents())),
    };
    let (timing_type, value) = match rule.timing {
        Timing::DueDate => ("due_date", None),
        Timing::DaysBeforeDue(n) => ("days_before_due", Some(i64::from(n))),
        Timing::DayOfMonth(d) => ("day_of_month", Some(i64::from(d))),
    };
    tx.execute(
        "INSERT INTO autopay_rules (member_id, payment_method_id, amount_type, fixed_cents, max_cents, timing_type, timing_value,
            enabled_at, covers_from, updated_at, ach_text_version, ach_accepted_at, ach_client)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
         ON CONFLICT(member_id) DO UPDATE SET payment_method_id = excluded.payment_method_id, amount_type = excluded.amount_type,
            fixed_cents = excluded.fixed_cents, max_cents = excluded.max_cents, timing_type = excluded.timing_type,
            timing_value = excluded.timing_value, updated_at = excluded.updated_at, ach_text_version = excluded.ach_text_version,
            ach_accepted_at = excluded.ach_accepted_at, ach_client = excluded.ach_client",
        params![
            member_id,
            payment_method_id,
            amount_type,
            fixed,
            rule.max_amount.cents(),
            timing_type,
            value,
            ms(business_now),
            date_str(today),
            ms(now),
            ach_version,
            ach_version.map(|_| ms(now)),
            ach_version.map(|_| client.to_string()),
        ],
    )?;
    touch(tx, member_id, SyncEntity::Autopay, "autopay", SyncOp::Upsert, now)
}

/// A bill autopay may charge, with what autopay did with it so far.
struct Candidate {
    bill_id: String,
    statement_date: NaiveDate,
    due_date: NaiveDate,
    payable: Money,
    skipped: bool,
    notice_sent: bool,
    outcome: Option<String>,
    provider: String,
    /// A question about the bill is open (the `conversations_bill_open` index, as `conversations::any_on_hold` asks it).
    held: bool,
}

fn candidates(conn: &Connection, member_id: &str, enabled_at: i64) -> ApiResult<Vec<Candidate>> {
    let mut stmt = conn.prepare_cached(
        "SELECT b.id, b.statement_date, b.due_date,
                b.total_charges_cents - b.insurance_paid_cents - b.adjustments_cents - b.settled_cents - b.other_payments_cents - b.pending_cents,
                ab.skipped_at IS NOT NULL, ab.notice_sent_at IS NOT NULL, ab.outcome, b.provider,
                EXISTS (SELECT 1 FROM conversations q WHERE q.bill_id = b.id AND q.status != 'closed')
         FROM bills b LEFT JOIN autopay_bills ab ON ab.bill_id = b.id
         WHERE b.member_id = ?1 AND b.issued_at >= ?2 AND b.payment_plan_id IS NULL
         ORDER BY b.due_date, b.id",
    )?;
    let rows = stmt.query_map(params![member_id, enabled_at], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, i64>(3)?,
            r.get::<_, Option<bool>>(4)?,
            r.get::<_, Option<bool>>(5)?,
            r.get::<_, Option<String>>(6)?,
            r.get::<_, String>(7)?,
            r.get::<_, bool>(8)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (bill_id, statement, due, payable, skipped, notice, outcome, provider, held) = row?;
        out.push(Candidate {
            bill_id,
            statement_date: parse_date(&statement)?,
            due_date: parse_date(&due)?,
            payable: Money::from_cents(payable),
            skipped: skipped.unwrap_or(false),
            notice_sent: notice.unwrap_or(false),
            outcome,
            provider,
            held,
        });
    }
    Ok(out)
}

fn upcoming_for(c: &Candidate, rule: &Rule, today: NaiveDate, cal: &BusinessCalendar) -> UpcomingCharge {
    let charge_date = rules::charge_date(rule.timing, c.statement_date, c.due_date, cal);
    let skip_deadline = rules::skip_deadline(charge_date, cal);
    let amount = rule.charge_amount(c.payable);
    let status = if c.skipped {
        UpcomingStatus::Skipped
    } else if c.held {
        UpcomingStatus::UnderReview
    } else if amount.is_none() {
        UpcomingStatus::OverLimit
    } else {
        UpcomingStatus::Scheduled
    };
    UpcomingCharge {
        bill_id: c.bill_id.clone(),
        charge_date,
        amount: amount.unwrap_or(c.payable),
        status,
        skip_deadline,
        can_skip: status == UpcomingStatus::Scheduled && today <= skip_deadline,
    }
}

/// The charges autopay will make (or was told to skip), soonest first.
pub fn upcoming(
    conn: &Connection,
    stored: &StoredRule,
    today: NaiveDate,
    cal: &BusinessCalendar,
) -> ApiResult<Vec<UpcomingCharge>> {
    let mut list: Vec<UpcomingCharge> = candidates(conn, &stored.member_id, stored.enabled_at)?
        .iter()
        .filter(|c| c.outcome.is_none() && c.payable.is_positive())
        .map(|c| upcoming_for(c, &stored.rule, today, cal))
        .collect();
    list.sort_by(|a, b| (a.charge_date, &a.bill_id).cmp(&(b.charge_date, &b.bill_id)));
    Ok(list)
}

pub(crate) fn method_summary(
    conn: &Connection,
    member_id: &str,
    id: &str,
) -> ApiResult<Option<(PaymentMethodSummary, String)>> {
    Ok(conn
        .query_row(
            "SELECT kind, COALESCE(CASE kind WHEN 'card' THEN brand ELSE bank_name END, 'Bank account'), last4, processor_ref, funding
             FROM payment_methods WHERE id = ?1 AND member_id = ?2 AND deleted_at IS NULL",
            params![id, member_id],
            |r| {
                let kind: String = r.get(0)?;
                Ok((
                    PaymentMethodSummary {
                        kind: PaymentMethodType::parse(&kind).unwrap_or(PaymentMethodType::Card),
                        brand: r.get(1)?,
                        last4: r.get(2)?,
                        funding: crate::store::methods::funding_from_text(r.get(4)?),
                    },
                    r.get(3)?,
                ))
            },
        )
        .optional()?)
}

/// The member's autopay as the API shows it.
pub fn view(
    conn: &Connection,
    member_id: &str,
    today: NaiveDate,
    cal: &BusinessCalendar,
) -> ApiResult<Option<Autopay>> {
    let Some(stored) = load_rule(conn, member_id)? else {
        return Ok(None);
    };
    let (summary, _) = method_summary(conn, member_id, &stored.payment_method_id)?
        .ok_or_else(|| ApiError::internal("autopay method missing"))?;
    let mut stmt = conn.prepare_cached(
        "SELECT id, total_charges_cents - insurance_paid_cents - adjustments_cents - settled_cents - other_payments_cents - pending_cents, due_date
         FROM bills WHERE member_id = ?1 AND issued_at < ?2
           AND total_charges_cents - insurance_paid_cents - adjustments_cents - settled_cents - other_payments_cents - pending_cents > 0
         ORDER BY due_date, id",
    )?;
    let not_covered = stmt
        .query_map(params![member_id, stored.enabled_at], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?, r.get::<_, String>(2)?))
        })?
        .map(|row| {
            let (bill_id, payable, due) = row?;
            Ok(NotCoveredBill {
                bill_id,
                payable: Money::from_cents(payable),
                due_date: parse_date(&due)?,
            })
        })
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(Some(Autopay {
        payment_method_id: stored.payment_method_id.clone(),
        payment_method: summary,
        amount: wire_amount(&stored.rule),
        max_amount: stored.rule.max_amount,
        timing: wire_timing(&stored.rule),
        covers_bills_from: stored.covers_from,
        updated_at: from_ms(stored.updated_at),
        upcoming: upcoming(conn, &stored, today, cal)?,
        not_covered,
    }))
}

/// Marks a scheduled charge skipped, until its deadline.
pub fn skip(
    tx: &Connection,
    member_id: &str,
    bill_id: &str,
    today: NaiveDate,
    cal: &BusinessCalendar,
    now: DateTime<Utc>,
) -> ApiResult<UpcomingCharge> {
    lock_member(tx, member_id)?;
    let stored = load_rule(tx, member_id)?.ok_or_else(|| ApiError::new(ErrorCode::AutopayNotFound))?;
    let charge = upcoming(tx, &stored, today, cal)?
        .into_iter()
        .find(|u| u.bill_id == bill_id)
        .ok_or_else(|| ApiError::new(ErrorCode::BillNotFound).at("/bill_id"))?;
    if charge.status == UpcomingStatus::Skipped {
        return Ok(charge);
    }
    if today > charge.skip_deadline {
        return Err(ApiError::with_message(
            ErrorCode::TooLateToSkip,
            format!(
                "It is too late to skip this charge: charges can be skipped until 3 business days before they are made (here, until {}).",
                charge.skip_deadline.format("%b %-d, %Y")
            ),
        )
        .at("/bill_id"));
    }
    tx.execute(
        "INSERT INTO autopay_bills (bill_id, member_id, skipped_at, updated_at) VALUES (?1, ?2, ?3, ?3)
         ON CONFLICT(bill_id) DO UPDATE SET skipped_at = excluded.skipped_at, updated_at = excluded.updated_at",
        params![bill_id, member_id, ms(now)],
    )?;
    touch(tx, member_id, SyncEntity::Autopay, "autopay", SyncOp::Upsert, now)?;
    Ok(UpcomingCharge {
        status: UpcomingStatus::Skipped,
        can_skip: false,
        ..charge
    })
}

fn notice_mail(
    tx: &Connection,
    head: &Letterhead,
    member_id: &str,
    c: &Candidate,
    u: &UpcomingCharge,
    method: &PaymentMethodSummary,
    now: DateTime<Utc>,
) -> ApiResult<()> {
    mail::enqueue_for_member(tx, head, member_id, now, |first, locale| {
        Ok(templates::autopay_notice(
            locale,
            first,
            u.amount,
            method,
            u.charge_date,
            &c.provider,
            u.skip_deadline,
        ))
    })
}

fn over_limit_mail(
    tx: &Connection,
    head: &Letterhead,
    member_id: &str,
    c: &Candidate,
    max: Money,
    now: DateTime<Utc>,
) -> ApiResult<()> {
    mail::enqueue_for_member(tx, head, member_id, now, |first, locale| {
        Ok(templates::autopay_over_limit(
            locale,
            first,
            &c.provider,
            c.payable,
            max,
        ))
    })
}

/// What one scheduler pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RunSummary {
    pub notices: usize,
    pub over_limit: usize,
    pub attempted: usize,
    pub charged: usize,
    pub declined: usize,
    /// Charges that did not match their payment and wait for the billing office.
    pub held: usize,
}

/// Sends due notices, records over-limit bills and charges due bills, in batches.
/// The one autopay charge of a bill: its key (`autopay:<bill>`, which no member key can be) and
/// fingerprint depend on the bill alone, so every pass, replica and retry plans the same payment.
pub fn charge_intent(
    member_id: &str,
    bill_id: &str,
    method_id: &str,
    amount: Money,
    ach: Option<AchAcceptance>,
) -> Intent {
    Intent {
        member_id: member_id.to_string(),
        key: format!("autopay:{bill_id}"),
        fingerprint: payments::fingerprint("AUTOPAY", "/v1/autopay", &json!({"bill_id": bill_id})),
        fingerprint_as_kept: payments::fingerprint_as_kept("AUTOPAY", "/v1/autopay", &json!({"bill_id": bill_id})),
        source: PaymentSource::Autopay,
        method: MethodRef::Saved(method_id.to_string()),
        allocations: vec![(bill_id.to_string(), amount)],
        ach,
        client: Some("autopay".into()),
        autopay_bill: Some(bill_id.to_string()),
        scheduled: None,
    }
}

/// Members planned in one transaction.
const PLAN_BATCH: usize = 100;

/// One member's part of the pass: notices and over-limit bills recorded (each by a conditional
/// write, and mailed only if this pass wrote it), and the charges due today added to `charges`.
#[allow(clippy::too_many_arguments)]
fn plan_member(
    tx: &Connection,
    member_id: &str,
    today: NaiveDate,
    cal: &BusinessCalendar,
    head: &Letterhead,
    now: DateTime<Utc>,
    summary: &mut RunSummary,
    charges: &mut Vec<Intent>,
) -> ApiResult<()> {
    let Some(stored) = load_rule(tx, member_id)? else {
        return Ok(());
    };
    let Some((method, _)) = method_summary(tx, member_id, &stored.payment_method_id)? else {
        return Ok(());
    };
    let ach = (method.kind == PaymentMethodType::BankAccount).then(|| {
        let version = stored.ach_text_version.clone().unwrap_or_default();
        let text = authorization_text(&version).map_or(RECURRING_TEXT, |(_, t)| t);
        AchAcceptance {
            text: text.to_string(),
            version,
        }
    });
    let mut touched = false;
    for c in candidates(tx, member_id, stored.enabled_at)? {
        // A bill under review (a question about it is open) gets no notice and no charge.
        if c.outcome.is_some() || c.skipped || c.held || !c.payable.is_positive() {
            continue;
        }
        let u = upcoming_for(&c, &stored.rule, today, cal);
        // The notice is recorded by a conditional write and mailed only if this
        // pass wrote it: passes on several servers mail it once.
        if !c.notice_sent && today >= rules::notice_date(u.charge_date, cal) && u.status == UpcomingStatus::Scheduled {
            let recorded = tx.execute(
                "INSERT INTO autopay_bills (bill_id, member_id, notice_sent_at, updated_at) VALUES (?1, ?2, ?3, ?3)
                 ON CONFLICT(bill_id) DO UPDATE SET notice_sent_at = excluded.notice_sent_at
                 WHERE autopay_bills.notice_sent_at IS NULL",
                params![c.bill_id, member_id, ms(now)],
            )?;
            if recorded == 1 {
                notice_mail(tx, head, member_id, &c, &u, &method, now)?;
                summary.notices += 1;
            }
        }
        if today < u.charge_date {
            continue;
        }
        match stored.rule.charge_amount(c.payable) {
            None => {
                let recorded = tx.execute(
                    "INSERT INTO autopay_bills (bill_id, member_id, outcome, updated_at) VALUES (?1, ?2, 'over_limit', ?3)
                     ON CONFLICT(bill_id) DO UPDATE SET outcome = 'over_limit', updated_at = excluded.updated_at
                     WHERE autopay_bills.outcome IS NULL",
                    params![c.bill_id, member_id, ms(now)],
                )?;
                if recorded == 1 {
                    over_limit_mail(tx, head, member_id, &c, stored.rule.max_amount, now)?;
                    summary.over_limit += 1;
                    touched = true;
                }
            }
            Some(amount) => charges.push(charge_intent(
                member_id,
                &c.bill_id,
                &stored.payment_method_id,
                amount,
                ach.clone(),
            )),
        }
    }
    if touched {
        touch(tx, member_id, SyncEntity::Autopay, "autopay", SyncOp::Upsert, now)?;
    }
    Ok(())
}

pub async fn run(state: &AppState) -> ApiResult<RunSummary> {
    let today = state.business.today();
    let cal = *state.business.calendar();
    let head = state.letterhead();
    let members: Vec<String> = state
        .db
        .read(|conn| {
            let mut stmt = conn.prepare("SELECT member_id FROM autopay_rules ORDER BY member_id")?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await?;
    // Plan the pass, and record notices and over-limit bills, a batch of members per transaction.
    // Each batch claims its members first (member locks, `SKIP LOCKED`): servers running the pass
    // at once divide the members, and a member skipped here is planned by the next pass.
    let mut summary = RunSummary::default();
    let mut charges: Vec<Intent> = Vec::new();
    for batch in members.chunks(PLAN_BATCH) {
        let (batch, head) = (batch.to_vec(), head.clone());
        let now = state.now();
        let (planned, due) = state
            .db
            .transaction(move |tx| {
                let mut summary = RunSummary::default();
                let mut charges = Vec::new();
                for member_id in claim_members(tx, &batch)? {
                    plan_member(tx, &member_id, today, &cal, &head, now, &mut summary, &mut charges)?;
                }
                Ok((summary, charges))
            })
            .await?;
        summary.notices += planned.notices;
        summary.over_limit += planned.over_limit;
        charges.extend(due);
    }
    state.mail_queued();
    let c = payments::charge_planned(state, charges, BATCH, ErrorCode::AutopayNotFound, "autopay").await;
    summary.attempted += c.attempted;
    summary.charged += c.charged;
    summary.held += c.held;
    summary.declined += c.declined;
    Ok(summary)
}
