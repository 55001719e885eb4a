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
/// Its IANA name (a constant: naming a `Tz` links the whole time zone database).
pub const DEFAULT_PLAN_TIME_ZONE_NAME: &str = "America/Los_Angeles";

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

    /// The zone's UTC offsets from `from_year` to `to_year`, as data ([`ZoneRules`]): what the
    /// desktop app needs to put an instant on the plan's calendar without a time zone database.
    pub fn rules(&self, from_year: i32, to_year: i32) -> ZoneRules {
        use chrono::{Offset, TimeZone};
        ZoneRules::scan(self.tz.name(), from_year, to_year, |instant| {
            let o = self.tz.offset_from_utc_datetime(&instant.naive_utc());
            (o.fix().local_minus_utc(), o.to_string())
        })
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

    #[test]
    fn zone_rules_as_data_give_the_same_dates_and_times_as_the_time_zone_database() {
        for zone in [
            "America/Los_Angeles",
            "America/New_York",
            "America/Phoenix",
            "Pacific/Honolulu",
            "America/Sao_Paulo",
        ] {
            let calendar = BusinessCalendar::for_zone(zone).unwrap();
            let rules = calendar.rules(2015, 2040);
            assert_eq!(rules.name, zone);
            // Every 7 hours and 13 minutes over the span: the same wall clock and abbreviation.
            let mut t = Utc.with_ymd_and_hms(2015, 1, 1, 0, 0, 0).unwrap();
            while t.year() < 2041 {
                let local = t.with_timezone(&calendar.time_zone());
                let (wall, abbreviation) = rules.local(t);
                assert_eq!(wall, local.naive_local(), "{zone} at {t}");
                assert_eq!(abbreviation, local.format("%Z").to_string(), "{zone} at {t}");
                assert_eq!(rules.date_at(t), calendar.date_at(t));
                t += chrono::Duration::minutes(7 * 60 + 13);
            }
        }
        let la = BusinessCalendar::default().rules(2026, 2026);
        // The change to daylight time: Mar 8, 2026, 2:00 PST = 10:00 UTC.
        let spring = Utc.with_ymd_and_hms(2026, 3, 8, 10, 0, 0).unwrap();
        assert_eq!(la.local(spring - chrono::Duration::seconds(1)).1, "PST");
        assert_eq!(la.local(spring).1, "PDT");
        assert_eq!(la.changes.len(), 3, "January, March and November");
    }

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

/// From `from` (seconds since 1970, UTC) the zone is `offset_seconds` ahead of UTC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetChange {
    pub from: i64,
    pub offset_seconds: i32,
    /// "PST", "PDT", or the offset ("-03") where the zone has no abbreviation.
    pub abbreviation: String,
}

/// A time zone as data: its name and its offsets over a span of years, as the server states
/// them in `GET /v1/plan`. Before the first change, the first offset; after the last, the last.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneRules {
    pub name: String,
    /// Oldest first; never empty for a zone made by [`BusinessCalendar::rules`].
    pub changes: Vec<OffsetChange>,
}

impl ZoneRules {
    /// A zone's rules from its offset at any instant (seconds ahead of UTC, and its
    /// abbreviation), from `from_year` to `to_year`: offsets change at most a few times a year, so
    /// it looks day by day, then finds the second.
    pub fn scan(
        name: &str,
        from_year: i32,
        to_year: i32,
        offset_at: impl Fn(DateTime<Utc>) -> (i32, String),
    ) -> ZoneRules {
        let jan1 = |y: i32| {
            NaiveDate::from_ymd_opt(y, 1, 1)
                .unwrap_or_default()
                .and_hms_opt(0, 0, 0)
                .unwrap_or_default()
                .and_utc()
                .timestamp()
        };
        let at = |t: i64| offset_at(DateTime::from_timestamp(t, 0).unwrap_or_default());
        let (start, end) = (jan1(from_year), jan1(to_year + 1));
        let (offset_seconds, abbreviation) = at(start);
        let mut changes = vec![OffsetChange {
            from: start,
            offset_seconds,
            abbreviation,
        }];
        let mut t = start;
        while t < end {
            let next = t + 86_400;
            let (o, _) = at(next);
            if changes.last().is_some_and(|c| c.offset_seconds != o) {
                let (mut lo, mut hi) = (t, next);
                while hi - lo > 1 {
                    let mid = lo + (hi - lo) / 2;
                    if at(mid).0 == o { hi = mid } else { lo = mid }
                }
                let (offset_seconds, abbreviation) = at(hi);
                changes.push(OffsetChange {
                    from: hi,
                    offset_seconds,
                    abbreviation,
                });
            }
            t = next;
        }
        ZoneRules {
            name: name.to_string(),
            changes,
        }
    }

    /// A zone that is UTC (what a plan's facts without offsets are read as, with its name kept).
    pub fn utc(name: &str) -> ZoneRules {
        ZoneRules {
            name: name.to_string(),
            changes: vec![OffsetChange {
                from: i64::MIN,
                offset_seconds: 0,
                abbreviation: "UTC".into(),
            }],
        }
    }

    fn change_at(&self, instant: DateTime<Utc>) -> Option<&OffsetChange> {
        let t = instant.timestamp();
        let after = self.changes.partition_point(|c| c.from <= t);
        self.changes.get(after.saturating_sub(1))
    }

    /// The zone's wall-clock time at an instant, and the zone's abbreviation then.
    pub fn local(&self, instant: DateTime<Utc>) -> (chrono::NaiveDateTime, &str) {
        match self.change_at(instant) {
            Some(c) => (
                instant.naive_utc() + chrono::Duration::seconds(i64::from(c.offset_seconds)),
                c.abbreviation.as_str(),
            ),
            None => (instant.naive_utc(), "UTC"),
        }
    }

    /// The zone's calendar date at an instant.
    pub fn date_at(&self, instant: DateTime<Utc>) -> NaiveDate {
        self.local(instant).0.date()
    }
}
