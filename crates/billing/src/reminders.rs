//! When a member is reminded: the days the billing service's mail reminders and the app's desktop
//! notices both count, so the two never disagree about a bill or a card.

use chrono::{Datelike, NaiveDate};

/// "Due in 7 days".
pub const DUE_SOON_DAYS: u32 = 7;
/// "1 day overdue".
pub const OVERDUE_DAYS: u32 = 1;
/// How late a reminder whose day was missed (the service was down, the app not opened) may still
/// come; a bill long past due is on the bills screen, not news.
pub const CATCH_UP_DAYS: u32 = 6;
/// How far ahead a scheduled charge's card or bank account is checked.
pub const ATTENTION_AHEAD_DAYS: u32 = 10;

/// The last day a card works: the end of its expiry month. `None` for a month that is not one.
pub fn card_good_through(month: u32, year: i32) -> Option<NaiveDate> {
    if !(1..=12).contains(&month) {
        return None;
    }
    let (next_year, next_month) = if month == 12 { (year + 1, 1) } else { (year, month + 1) };
    NaiveDate::from_ymd_opt(next_year, next_month, 1)?.pred_opt()
}

/// Whether a card that expires in `month`/`year` no longer works on `on` (it works through the
/// last day of its month).
pub fn card_expired_by(month: u32, year: i32, on: NaiveDate) -> bool {
    (on.year(), on.month()) > (year, month)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn a_card_works_through_the_last_day_of_its_month() {
        assert_eq!(card_good_through(2, 2028), Some(day("2028-02-29")));
        assert_eq!(card_good_through(12, 2027), Some(day("2027-12-31")));
        assert_eq!(card_good_through(13, 2027), None);
        assert_eq!(card_good_through(0, 2027), None);
        assert!(!card_expired_by(2, 2028, day("2028-02-29")));
        assert!(card_expired_by(2, 2028, day("2028-03-01")));
        assert!(card_expired_by(12, 2027, day("2028-01-01")));
        assert!(!card_expired_by(12, 2027, day("2027-01-01")));
    }

    #[test]
    fn the_two_answers_agree_on_every_day_around_an_expiry() {
        let through = card_good_through(6, 2030).unwrap();
        for offset in -40..40 {
            let on = through + chrono::Duration::days(offset);
            assert_eq!(card_expired_by(6, 2030, on), on > through, "{on}");
        }
    }
}
