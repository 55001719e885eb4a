//! Business days: the U.S. Federal Reserve's holiday schedule, in the plan's time zone.
//!
//! ACH settles, autopay charges and skip deadlines fall on business days. A business day is a
//! weekday that is not a Federal Reserve holiday. The Fed observes a holiday that falls on a
//! Sunday on the following Monday; one that falls on a Saturday is not moved (banks are open the
//! Friday before).

use chrono::{DateTime, Datelike, Days, NaiveDate, Utc, Weekday};
use chrono_tz::Tz;

/// The plan's time zone unless configured otherwise.
pub const DEFAULT_PLAN_TIME_ZONE: Tz = chrono_tz::America::Los_Angeles;

/// Business-day arithmetic in one plan time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BusinessCalendar {
    tz: Tz,
}

impl Default for BusinessCalendar {
    fn default() -> Self {
        BusinessCalendar::new(DEFAULT_PLAN_TIME_ZONE)
    }
}

impl BusinessCalendar {
    pub fn new(tz: Tz) -> BusinessCalendar {
        BusinessCalendar { tz }
    }

    /// A calendar for an IANA zone name such as `America/Chicago`.
    pub fn for_zone(name: &str) -> Option<BusinessCalendar> {
        name.parse::<Tz>().ok().map(BusinessCalendar::new)
    }

    pub fn time_zone(&self) -> Tz {
        self.tz
    }

    /// The plan's calendar date at an instant.
    pub fn date_at(&self, instant: DateTime<Utc>) -> NaiveDate {
        instant.with_timezone(&self.tz).date_naive()
    }

    pub fn is_business_day(&self, date: NaiveDate) -> bool {
        !matches!(date.weekday(), Weekday::Sat | Weekday::Sun) && !is_fed_holiday(date)
    }

    /// `date` if it is a business day, else the next one.
    pub fn on_or_after(&self, date: NaiveDate) -> NaiveDate {
        let mut d = date;
        while !self.is_business_day(d) {
            d = d + Days::new(1);
        }
        d
    }

    /// `date` if it is a business day, else the previous one.
    pub fn on_or_before(&self, date: NaiveDate) -> NaiveDate {
        let mut d = date;
        while !self.is_business_day(d) {
            d = d - Days::new(1);
        }
        d
    }

    /// The `n`-th business day after `date` (`date` itself need not be a business day).
    pub fn add_business_days(&self, date: NaiveDate, n: u32) -> NaiveDate {
        let mut d = date;
        let mut left = n;
        while left > 0 {
            d = d + Days::new(1);
            if self.is_business_day(d) {
                left -= 1;
            }
        }
        d
    }

    /// The `n`-th business day before `date`.
    pub fn sub_business_days(&self, date: NaiveDate, n: u32) -> NaiveDate {
        let mut d = date;
        let mut left = n;
        while left > 0 {
            d = d - Days::new(1);
            if self.is_business_day(d) {
                left -= 1;
            }
        }
        d
    }
}

fn nth_weekday(year: i32, month: u32, weekday: Weekday, n: u8) -> NaiveDate {
    NaiveDate::from_weekday_of_month_opt(year, month, weekday, n)
        .unwrap_or_else(|| NaiveDate::from_ymd_opt(year, month, 1).unwrap_or_default())
}

fn last_weekday(year: i32, month: u32, weekday: Weekday) -> NaiveDate {
    let (ny, nm) = if month == 12 { (year + 1, 1) } else { (year, month + 1) };
    let mut d = NaiveDate::from_ymd_opt(ny, nm, 1).unwrap_or_default() - Days::new(1);
    while d.weekday() != weekday {
        d = d - Days::new(1);
    }
    d
}

/// Federal Reserve holidays, as observed (Sunday moves to Monday; Saturday does not move).
pub fn is_fed_holiday(date: NaiveDate) -> bool {
    let y = date.year();
    let fixed = |m: u32, d: u32| {
        let day = NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default();
        if day.weekday() == Weekday::Sun {
            day + Days::new(1)
        } else {
            day
        }
    };
    let mut holidays = vec![
        fixed(1, 1),                         // New Year's Day
        nth_weekday(y, 1, Weekday::Mon, 3),  // Birthday of Martin Luther King, Jr.
        nth_weekday(y, 2, Weekday::Mon, 3),  // Washington's Birthday
        last_weekday(y, 5, Weekday::Mon),    // Memorial Day
        fixed(7, 4),                         // Independence Day
        nth_weekday(y, 9, Weekday::Mon, 1),  // Labor Day
        nth_weekday(y, 10, Weekday::Mon, 2), // Columbus Day
        fixed(11, 11),                       // Veterans Day
        nth_weekday(y, 11, Weekday::Thu, 4), // Thanksgiving Day
        fixed(12, 25),                       // Christmas Day
    ];
    if y >= 2022 {
        holidays.push(fixed(6, 19)); // Juneteenth National Independence Day
    }
    holidays.contains(&date)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn fed_holidays_2026() {
        for h in [
            "2026-01-01",
            "2026-01-19",
            "2026-02-16",
            "2026-05-25",
            "2026-06-19",
            "2026-07-04",
            "2026-09-07",
            "2026-10-12",
            "2026-11-11",
            "2026-11-26",
            "2026-12-25",
        ] {
            assert!(is_fed_holiday(day(h)), "{h}");
        }
        assert!(
            !is_fed_holiday(day("2026-07-03")),
            "Saturday holidays are not moved to Friday"
        );
        assert!(!is_fed_holiday(day("2026-11-27")));
    }

    #[test]
    fn sunday_holidays_move_to_monday() {
        // 2027-07-04 is a Sunday: observed Monday 2027-07-05.
        assert!(is_fed_holiday(day("2027-07-05")));
        // 2022-12-25 is a Sunday.
        assert!(is_fed_holiday(day("2022-12-26")));
        // Memorial Day when May has five Mondays (2026-05-25) and when it has four.
        assert!(is_fed_holiday(day("2027-05-31")));
        assert!(
            !is_fed_holiday(day("2021-06-18")),
            "Juneteenth not observed by the Fed before 2022"
        );
    }

    #[test]
    fn business_day_arithmetic() {
        let cal = BusinessCalendar::default();
        // Thanksgiving Thursday 2026-11-26; Friday is a business day.
        assert_eq!(cal.on_or_after(day("2026-11-26")), day("2026-11-27"));
        assert_eq!(cal.add_business_days(day("2026-11-25"), 2), day("2026-11-30"));
        assert_eq!(cal.add_business_days(day("2026-12-24"), 1), day("2026-12-28"));
        assert_eq!(cal.sub_business_days(day("2026-11-30"), 3), day("2026-11-24"));
        assert_eq!(cal.on_or_before(day("2026-11-29")), day("2026-11-27"));
        // Leap day 2028 is a Tuesday.
        assert!(cal.is_business_day(day("2028-02-29")));
    }

    #[test]
    fn plan_date_uses_the_plan_time_zone() {
        let cal = BusinessCalendar::default();
        let late_utc = Utc.with_ymd_and_hms(2026, 11, 28, 5, 0, 0).unwrap();
        assert_eq!(cal.date_at(late_utc), day("2026-11-27"));
        let ny = BusinessCalendar::for_zone("America/New_York").unwrap();
        assert_eq!(ny.date_at(late_utc), day("2026-11-28"));
        assert!(BusinessCalendar::for_zone("Mars/Olympus").is_none());
    }
}
