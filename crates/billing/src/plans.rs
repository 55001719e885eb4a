//! Payment plans: the plan's policy, the member's terms, and the schedule they make.
//!
//! A plan's schedule is never stored as a list of future amounts. It is worked out from what is
//! still owed on the plan's bills: equal monthly instalments of the agreed amount, the last one
//! smaller, on the chosen day of the month (moved to the next business day, as autopay moves a
//! charge). So a balance that goes down (an insurance adjustment, a payment made by hand) shortens
//! the schedule by itself, and one that goes up adds instalments at the same amount.

use chrono::{Datelike, Months, NaiveDate};

use crate::calendar::BusinessCalendar;
use crate::money::Money;
use crate::validate::Invalid;

/// Days of the month a plan can charge on: every month has them.
pub const LAST_DAY: u32 = 28;

/// What the health plan allows, from the server's config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// The least a set of bills must add up to before a plan is offered.
    pub min_balance: Money,
    /// The least monthly instalment.
    pub min_monthly: Money,
    /// The longest plan, in monthly instalments.
    pub max_months: u32,
    /// Days before each instalment that the member is told about it.
    pub notice_days: u32,
    /// Missed instalments not yet made up that a plan survives; one more ends it.
    pub misses_allowed: u32,
    /// The longest pause, in days.
    pub max_pause_days: u32,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            min_balance: Money::from_cents(10_000),
            min_monthly: Money::from_cents(2_500),
            max_months: 24,
            notice_days: 3,
            misses_allowed: 2,
            max_pause_days: 60,
        }
    }
}

/// How the member chose the size of the instalments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Terms {
    /// This much each month.
    Monthly(Money),
    /// This many months.
    Months(u32),
}

/// One instalment of a schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Instalment {
    /// The chosen day in its month: the instalment's identity, whatever the calendar does.
    pub nominal: NaiveDate,
    /// The business day it is charged on.
    pub charge_date: NaiveDate,
    pub amount: Money,
}

fn bad(field: &'static str, code: &'static str, message: String) -> (&'static str, Invalid) {
    (field, Invalid::new(code, message))
}

/// Whether a set of bills owing `balance` can go on a plan.
pub fn check_balance(balance: Money, policy: &Policy) -> Result<(), (&'static str, Invalid)> {
    if balance < policy.min_balance {
        return Err((
            "/bill_ids",
            Invalid::new(
                "plan_below_minimum",
                format!(
                    "A payment plan needs bills that add up to at least {}; these add up to {}.",
                    policy.min_balance.display_usd(),
                    balance.display_usd()
                ),
            )
            .with("min", policy.min_balance.display_usd()),
        ));
    }
    Ok(())
}

/// The day of the month instalments are charged on: 1 to 28.
pub fn check_day(day: u32) -> Result<u32, (&'static str, Invalid)> {
    if !(1..=LAST_DAY).contains(&day) {
        return Err(bad(
            "/day_of_month",
            "invalid_day_of_month",
            format!("Choose a day from 1 to {LAST_DAY}: every month has those days."),
        ));
    }
    Ok(day)
}

/// The monthly amount the terms make for a balance, checked against the policy.
///
/// A number of months divides the balance and rounds the instalment up to the cent, so the
/// last instalment is the one that is smaller (never larger, never a stray cent after it).
pub fn monthly_amount(balance: Money, terms: Terms, policy: &Policy) -> Result<Money, (&'static str, Invalid)> {
    let max = policy.max_months;
    match terms {
        Terms::Months(n) => {
            if n == 0 || n > max {
                return Err((
                    "/months",
                    Invalid::new("plan_too_long", format!("Choose from 1 to {max} months."))
                        .with("max", max.to_string()),
                ));
            }
            let cents = balance.cents();
            let monthly = Money::from_cents((cents + i64::from(n) - 1) / i64::from(n));
            if monthly < policy.min_monthly && balance >= policy.min_monthly {
                let most = (cents / policy.min_monthly.cents()).max(1);
                return Err((
                    "/months",
                    Invalid::new(
                        "instalment_too_small",
                        format!(
                            "Payments must be at least {} a month: choose {most} months or fewer.",
                            policy.min_monthly.display_usd()
                        ),
                    )
                    .with("min", policy.min_monthly.display_usd())
                    .with("months", most.to_string()),
                ));
            }
            Ok(monthly)
        }
        Terms::Monthly(m) => {
            if m < policy.min_monthly {
                return Err((
                    "/monthly_amount",
                    Invalid::new(
                        "instalment_too_small",
                        format!(
                            "Payments must be at least {} a month.",
                            policy.min_monthly.display_usd()
                        ),
                    )
                    .with("min", policy.min_monthly.display_usd()),
                ));
            }
            if count(balance, m) > max {
                let least = Money::from_cents((balance.cents() + i64::from(max) - 1) / i64::from(max));
                return Err((
                    "/monthly_amount",
                    Invalid::new(
                        "plan_too_long",
                        format!(
                            "A plan can last at most {max} months: pay at least {} a month.",
                            least.display_usd()
                        ),
                    )
                    .with("max", max.to_string())
                    .with("min", least.display_usd()),
                ));
            }
            Ok(m)
        }
    }
}

/// How many instalments of `monthly` pay `balance`.
pub fn count(balance: Money, monthly: Money) -> u32 {
    if !balance.is_positive() || !monthly.is_positive() {
        return 0;
    }
    let n = (balance.cents() + monthly.cents() - 1) / monthly.cents();
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The chosen day in the month of `date`.
fn in_month(date: NaiveDate, day: u32) -> NaiveDate {
    date.with_day(day.min(LAST_DAY)).unwrap_or(date)
}

/// The first date on or after `from` that falls on `day` of its month.
pub fn first_nominal(from: NaiveDate, day: u32) -> NaiveDate {
    let this_month = in_month(from, day);
    if this_month >= from {
        this_month
    } else {
        next_nominal(this_month)
    }
}

/// The same day a month later.
pub fn next_nominal(nominal: NaiveDate) -> NaiveDate {
    nominal.checked_add_months(Months::new(1)).unwrap_or(nominal)
}

/// The instalments still to come: `monthly` each until `balance` is paid, the last one smaller,
/// starting at `next` (a nominal date) and a month apart.
pub fn schedule(balance: Money, monthly: Money, next: NaiveDate, cal: &BusinessCalendar) -> Vec<Instalment> {
    let mut left = balance;
    let mut nominal = next;
    let mut out = Vec::with_capacity(count(balance, monthly).min(1200) as usize);
    while left.is_positive() && monthly.is_positive() && out.len() < 1200 {
        let amount = monthly.min(left);
        out.push(Instalment {
            nominal,
            charge_date: cal.on_or_after(nominal),
            amount,
        });
        left = left.saturating_sub(amount);
        nominal = next_nominal(nominal);
    }
    out
}

/// Months from `start` to `nominal`: 0 for the same month.
pub fn months_between(start: NaiveDate, nominal: NaiveDate) -> u32 {
    let a = start.year() * 12 + start.month0() as i32;
    let b = nominal.year() * 12 + nominal.month0() as i32;
    u32::try_from(b - a).unwrap_or(0)
}

/// Whether a schedule starting at `next` still ends within the plan's term, counted from the
/// plan's first instalment `first`.
pub fn within_term(first: NaiveDate, next: NaiveDate, instalments: u32, policy: &Policy) -> bool {
    instalments == 0 || months_between(first, next) + instalments <= policy.max_months
}

/// A pause: until a date within the policy's longest pause, after today.
pub fn check_pause(today: NaiveDate, until: NaiveDate, policy: &Policy) -> Result<(), (&'static str, Invalid)> {
    let days = (until - today).num_days();
    if days < 1 || days > i64::from(policy.max_pause_days) {
        return Err((
            "/until",
            Invalid::new(
                "pause_too_long",
                format!(
                    "A plan can be paused for 1 to {} days: choose a date after today and no later than that.",
                    policy.max_pause_days
                ),
            )
            .with("days", policy.max_pause_days.to_string()),
        ));
    }
    Ok(())
}

/// How much of `amount` goes to each bill: the bills in the order given (oldest due date first,
/// then statement number), each up to what can be paid on it.
pub fn allocate(amount: Money, bills: &[(String, Money)]) -> Vec<(&str, Money)> {
    let mut left = amount;
    let mut out = Vec::new();
    for (id, payable) in bills {
        if !left.is_positive() {
            break;
        }
        let part = left.min(*payable);
        if part.is_positive() {
            out.push((id.as_str(), part));
            left = left.saturating_sub(part);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }
    fn m(s: &str) -> Money {
        Money::parse(s).unwrap()
    }
    fn cal() -> BusinessCalendar {
        BusinessCalendar::for_zone("America/New_York").unwrap()
    }

    #[test]
    fn a_schedule_adds_up_to_the_cent_and_only_the_last_instalment_differs() {
        let p = Policy::default();
        for (balance, months) in [
            ("1000.00", 6),
            ("100.00", 3),
            ("2345.67", 24),
            ("99.99", 1),
            ("100.00", 4),
        ] {
            let balance = m(balance);
            let monthly = monthly_amount(balance, Terms::Months(months), &p).unwrap();
            let s = schedule(balance, monthly, d("2026-12-15"), &cal());
            assert_eq!(s.len() as u32, months, "{balance} over {months}");
            assert_eq!(s.iter().map(|i| i.amount).sum::<Money>(), balance);
            assert!(s[..s.len() - 1].iter().all(|i| i.amount == monthly));
            assert!(s.last().unwrap().amount <= monthly);
        }
    }

    #[test]
    fn instalments_on_a_weekend_or_holiday_move_to_the_next_business_day() {
        let s = schedule(m("300.00"), m("100.00"), d("2026-12-25"), &cal());
        // Christmas (Friday), then Monday 2027-01-25 and Thursday 2027-02-25.
        assert_eq!(s[0].charge_date, d("2026-12-28"));
        assert_eq!(s[0].nominal, d("2026-12-25"));
        assert_eq!(s[1].charge_date, d("2027-01-25"));
        let s = schedule(m("50.00"), m("50.00"), d("2026-11-28"), &cal());
        assert_eq!(s[0].charge_date, d("2026-11-30"), "a Saturday moves to Monday");
    }

    #[test]
    fn terms_outside_the_policy_are_refused_with_the_field_and_the_limit() {
        let p = Policy::default();
        let (field, e) = monthly_amount(m("1000.00"), Terms::Monthly(m("24.99")), &p).unwrap_err();
        assert_eq!((field, e.code), ("/monthly_amount", "instalment_too_small"));
        let (field, e) = monthly_amount(m("1000.00"), Terms::Monthly(m("25.00")), &p).unwrap_err();
        assert_eq!((field, e.code), ("/monthly_amount", "plan_too_long"));
        assert!(e.message.contains("$41.67"), "{}", e.message);
        assert_eq!(
            monthly_amount(m("1000.00"), Terms::Monthly(m("41.67")), &p),
            Ok(m("41.67"))
        );
        let (field, e) = monthly_amount(m("1000.00"), Terms::Months(25), &p).unwrap_err();
        assert_eq!((field, e.code), ("/months", "plan_too_long"));
        let (_, e) = monthly_amount(m("1000.00"), Terms::Months(0), &p).unwrap_err();
        assert_eq!(e.code, "plan_too_long");
        let (field, e) = monthly_amount(m("120.00"), Terms::Months(6), &p).unwrap_err();
        assert_eq!((field, e.code), ("/months", "instalment_too_small"));
        assert!(e.message.contains("4 months or fewer"), "{}", e.message);
        for day in [0, 29, 30, 31] {
            assert_eq!(check_day(day).unwrap_err().1.code, "invalid_day_of_month");
        }
        assert_eq!(check_day(28), Ok(28));
        assert_eq!(check_balance(m("99.99"), &p).unwrap_err().1.code, "plan_below_minimum");
        assert!(check_balance(m("100.00"), &p).is_ok());
    }

    #[test]
    fn the_first_instalment_is_today_or_later_and_the_term_counts_from_the_first() {
        assert_eq!(first_nominal(d("2026-12-01"), 15), d("2026-12-15"));
        assert_eq!(first_nominal(d("2026-12-15"), 15), d("2026-12-15"));
        assert_eq!(first_nominal(d("2026-12-16"), 15), d("2027-01-15"));
        assert_eq!(months_between(d("2026-12-15"), d("2027-02-15")), 2);
        let p = Policy::default();
        assert!(within_term(d("2026-12-15"), d("2027-02-15"), 22, &p));
        assert!(!within_term(d("2026-12-15"), d("2027-02-15"), 23, &p));
    }

    #[test]
    fn an_instalment_pays_the_oldest_bill_first_and_never_more_than_a_bill_owes() {
        let bills = vec![("a".to_string(), m("30.00")), ("b".to_string(), m("100.00"))];
        assert_eq!(allocate(m("50.00"), &bills), vec![("a", m("30.00")), ("b", m("20.00"))]);
        assert_eq!(allocate(m("20.00"), &bills), vec![("a", m("20.00"))]);
        assert_eq!(
            allocate(m("500.00"), &bills).iter().map(|(_, a)| *a).sum::<Money>(),
            m("130.00")
        );
    }

    #[test]
    fn a_pause_is_within_the_policy() {
        let p = Policy::default();
        assert!(check_pause(d("2026-12-01"), d("2027-01-30"), &p).is_ok());
        assert_eq!(
            check_pause(d("2026-12-01"), d("2027-01-31"), &p).unwrap_err().1.code,
            "pause_too_long"
        );
        assert!(check_pause(d("2026-12-01"), d("2026-12-01"), &p).is_err());
    }
}
