//! Autopay rules: when a bill is charged, how much, and until when a charge can be skipped.
//!
//! A charge date that falls on a weekend or a Federal Reserve holiday moves to the next business
//! day. A charge can be skipped until [`SKIP_DEADLINE_BUSINESS_DAYS`] business days before it; the
//! member is told [`NOTICE_LEAD_BUSINESS_DAYS`] business days before that deadline.

use chrono::{Datelike, Days, Months, NaiveDate};

use crate::calendar::BusinessCalendar;
use crate::money::Money;
use crate::validate::Invalid;

pub const SKIP_DEADLINE_BUSINESS_DAYS: u32 = 3;
pub const NOTICE_LEAD_BUSINESS_DAYS: u32 = 2;
pub const MAX_DAYS_BEFORE_DUE: u32 = 28;

/// When, relative to a bill, autopay charges it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timing {
    /// On the due date.
    DueDate,
    /// This many calendar days before the due date (never before the statement date).
    DaysBeforeDue(u32),
    /// On this day of the month (the last day in shorter months), the first one on or after
    /// the statement date.
    DayOfMonth(u32),
}

/// How much autopay charges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Amount {
    /// Whatever can be paid on the bill.
    StatementBalance,
    /// A fixed amount (or less, if less can be paid).
    Fixed(Money),
}

/// An autopay rule, checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub amount: Amount,
    pub max_amount: Money,
    pub timing: Timing,
}

impl Rule {
    /// Checks the parts of a rule; errors name the field (JSON Pointer) at fault.
    pub fn new(amount: Amount, max_amount: Money, timing: Timing) -> Result<Rule, (&'static str, Invalid)> {
        if !max_amount.is_positive() {
            return Err((
                "/max_amount",
                Invalid::new("invalid_amount", "Enter a maximum greater than 0."),
            ));
        }
        if let Amount::Fixed(v) = amount {
            if !v.is_positive() {
                return Err((
                    "/amount/value",
                    Invalid::new("invalid_amount", "Enter a fixed amount greater than 0."),
                ));
            }
            if v > max_amount {
                return Err((
                    "/amount/value",
                    Invalid::new(
                        "invalid_amount",
                        "The fixed amount is more than the maximum per charge, so nothing would ever be charged.",
                    ),
                ));
            }
        }
        match timing {
            Timing::DaysBeforeDue(n) if n == 0 || n > MAX_DAYS_BEFORE_DUE => Err((
                "/timing/days",
                Invalid::new(
                    "validation_failed",
                    format!("Choose 1 to {MAX_DAYS_BEFORE_DUE} days before the due date."),
                ),
            )),
            Timing::DayOfMonth(d) if !(1..=31).contains(&d) => Err((
                "/timing/day",
                Invalid::new("validation_failed", "Choose a day of the month from 1 to 31."),
            )),
            _ => Ok(Rule {
                amount,
                max_amount,
                timing,
            }),
        }
    }

    /// What the rule would charge on a bill with `payable` left, or `None` when above the maximum.
    pub fn charge_amount(&self, payable: Money) -> Option<Money> {
        let wanted = match self.amount {
            Amount::StatementBalance => payable,
            Amount::Fixed(v) => v.min(payable),
        };
        (wanted <= self.max_amount).then_some(wanted)
    }
}

fn last_day_of_month(year: i32, month: u32) -> u32 {
    let first = NaiveDate::from_ymd_opt(year, month, 1).unwrap_or_default();
    let next = first.checked_add_months(Months::new(1)).unwrap_or(first);
    (next - first).num_days() as u32
}

/// The business day on which autopay charges a bill.
pub fn charge_date(
    timing: Timing,
    statement_date: NaiveDate,
    due_date: NaiveDate,
    cal: &BusinessCalendar,
) -> NaiveDate {
    let raw = match timing {
        Timing::DueDate => due_date,
        Timing::DaysBeforeDue(n) => due_date
            .checked_sub_days(Days::new(u64::from(n)))
            .unwrap_or(due_date)
            .max(statement_date),
        Timing::DayOfMonth(day) => {
            let in_month = |d: NaiveDate| {
                NaiveDate::from_ymd_opt(d.year(), d.month(), day.min(last_day_of_month(d.year(), d.month())))
                    .unwrap_or(d)
            };
            let this_month = in_month(statement_date);
            if this_month >= statement_date {
                this_month
            } else {
                in_month(
                    statement_date
                        .checked_add_months(Months::new(1))
                        .unwrap_or(statement_date)
                        .with_day(1)
                        .unwrap_or(statement_date),
                )
            }
        }
    };
    cal.on_or_after(raw)
}

/// The last day a scheduled charge can be skipped.
pub fn skip_deadline(charge_date: NaiveDate, cal: &BusinessCalendar) -> NaiveDate {
    cal.sub_business_days(charge_date, SKIP_DEADLINE_BUSINESS_DAYS)
}

/// The day the member is told about an upcoming charge.
pub fn notice_date(charge_date: NaiveDate, cal: &BusinessCalendar) -> NaiveDate {
    cal.sub_business_days(skip_deadline(charge_date, cal), NOTICE_LEAD_BUSINESS_DAYS)
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

    #[test]
    fn due_date_charges_move_off_weekends_and_holidays() {
        let cal = BusinessCalendar::default();
        assert_eq!(
            charge_date(Timing::DueDate, d("2026-11-01"), d("2026-12-01"), &cal),
            d("2026-12-01")
        );
        // Saturday -> Monday.
        assert_eq!(
            charge_date(Timing::DueDate, d("2026-11-01"), d("2026-12-05"), &cal),
            d("2026-12-07")
        );
        // Christmas (Friday) -> Monday.
        assert_eq!(
            charge_date(Timing::DueDate, d("2026-11-25"), d("2026-12-25"), &cal),
            d("2026-12-28")
        );
        // Thanksgiving -> Friday.
        assert_eq!(
            charge_date(Timing::DueDate, d("2026-10-27"), d("2026-11-26"), &cal),
            d("2026-11-27")
        );
    }

    #[test]
    fn days_before_due_never_precede_the_statement() {
        let cal = BusinessCalendar::default();
        assert_eq!(
            charge_date(Timing::DaysBeforeDue(5), d("2026-11-01"), d("2026-12-01"), &cal),
            d("2026-11-27")
        );
        assert_eq!(
            charge_date(Timing::DaysBeforeDue(28), d("2026-11-20"), d("2026-12-01"), &cal),
            d("2026-11-20")
        );
        // Across a year end: 2027-01-04 minus 3 days is Friday 2027-01-01 (New Year's Day) -> Monday.
        assert_eq!(
            charge_date(Timing::DaysBeforeDue(3), d("2026-12-01"), d("2027-01-04"), &cal),
            d("2027-01-04")
        );
    }

    #[test]
    fn day_of_month_clamps_to_short_months_and_leap_years() {
        let cal = BusinessCalendar::default();
        // Day 31 in February 2028 (leap year) is the 29th, a Tuesday.
        assert_eq!(
            charge_date(Timing::DayOfMonth(31), d("2028-02-02"), d("2028-03-03"), &cal),
            d("2028-02-29")
        );
        // February 2027 has 28 days; the 28th is a Sunday -> Monday March 1.
        assert_eq!(
            charge_date(Timing::DayOfMonth(30), d("2027-02-10"), d("2027-03-12"), &cal),
            d("2027-03-01")
        );
        // Statement after this month's day: next month's.
        assert_eq!(
            charge_date(Timing::DayOfMonth(15), d("2026-11-20"), d("2026-12-20"), &cal),
            d("2026-12-15")
        );
        // Across the year end: 2027-01-15 is a Friday.
        assert_eq!(
            charge_date(Timing::DayOfMonth(15), d("2026-12-16"), d("2027-01-15"), &cal),
            d("2027-01-15")
        );
        // On the statement date itself.
        assert_eq!(
            charge_date(Timing::DayOfMonth(2), d("2026-12-02"), d("2027-01-01"), &cal),
            d("2026-12-02")
        );
    }

    #[test]
    fn skip_deadline_and_notice_count_business_days() {
        let cal = BusinessCalendar::default();
        // Charge Monday 2026-11-30: three business days before is Tuesday 11-24 (Thanksgiving and
        // the weekend do not count); the notice goes two business days before that, 11-20.
        assert_eq!(skip_deadline(d("2026-11-30"), &cal), d("2026-11-24"));
        assert_eq!(notice_date(d("2026-11-30"), &cal), d("2026-11-20"));
    }

    #[test]
    fn amounts_are_capped_by_payable_and_refused_over_the_maximum() {
        let rule = Rule::new(Amount::StatementBalance, m("500.00"), Timing::DueDate).unwrap();
        assert_eq!(rule.charge_amount(m("120.00")), Some(m("120.00")));
        assert_eq!(rule.charge_amount(m("500.00")), Some(m("500.00")));
        assert_eq!(rule.charge_amount(m("500.01")), None);
        let fixed = Rule::new(Amount::Fixed(m("50.00")), m("100.00"), Timing::DueDate).unwrap();
        assert_eq!(fixed.charge_amount(m("20.00")), Some(m("20.00")));
        assert_eq!(fixed.charge_amount(m("900.00")), Some(m("50.00")));
    }

    #[test]
    fn bad_rules_name_their_field() {
        assert_eq!(
            Rule::new(Amount::StatementBalance, Money::ZERO, Timing::DueDate)
                .unwrap_err()
                .0,
            "/max_amount"
        );
        assert_eq!(
            Rule::new(Amount::Fixed(m("200.00")), m("100.00"), Timing::DueDate)
                .unwrap_err()
                .0,
            "/amount/value"
        );
        assert_eq!(
            Rule::new(Amount::StatementBalance, m("1.00"), Timing::DaysBeforeDue(0))
                .unwrap_err()
                .0,
            "/timing/days"
        );
        assert_eq!(
            Rule::new(Amount::StatementBalance, m("1.00"), Timing::DayOfMonth(32))
                .unwrap_err()
                .0,
            "/timing/day"
        );
    }
}
