//! Time, passed in.
//!
//! Two clocks: the *security* clock (real time: tokens, throttles, codes) and the *business*
//! clock (the security clock plus an offset that demo mode can advance: due dates, settlement,
//! autopay). Tests drive both by moving a [`ManualClock`], never by sleeping.

use std::sync::{Arc, Mutex, PoisonError};

use carebill_billing::BusinessCalendar;
use chrono::{DateTime, Duration, NaiveDate, Utc};

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
}

/// The operating system's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that only moves when told to.
#[derive(Debug)]
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> Arc<ManualClock> {
        Arc::new(ManualClock(Mutex::new(start)))
    }

    pub fn advance(&self, by: Duration) {
        let mut now = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        *now += by;
    }

    pub fn set(&self, to: DateTime<Utc>) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = to;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The business clock: security time plus an offset (persisted by the caller).
pub struct BusinessClock {
    base: Arc<dyn Clock>,
    offset: Mutex<Duration>,
    calendar: BusinessCalendar,
}

impl BusinessClock {
    pub fn new(base: Arc<dyn Clock>, offset: Duration, calendar: BusinessCalendar) -> BusinessClock {
        BusinessClock {
            base,
            offset: Mutex::new(offset),
            calendar,
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.base.now() + self.offset()
    }

    pub fn offset(&self) -> Duration {
        *self.offset.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn set_offset(&self, offset: Duration) {
        *self.offset.lock().unwrap_or_else(PoisonError::into_inner) = offset;
    }

    /// The plan's current business date.
    pub fn today(&self) -> NaiveDate {
        self.calendar.date_at(self.now())
    }

    pub fn calendar(&self) -> &BusinessCalendar {
        &self.calendar
    }
}
