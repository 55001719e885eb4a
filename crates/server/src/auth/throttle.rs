//! Sign-in throttling and per-address rate limits, in memory, on the security clock.
//!
//! Failures are counted per normalized login (whether or not an account has it, so answers
//! reveal nothing) and per (login, client address). After [`FREE_FAILURES`] consecutive
//! failures each further one imposes a growing delay, answered 429 `too_many_attempts`. The
//! login-only delay is capped low ([`LOGIN_CAP`]) so a stranger can slow a member down but never
//! lock them out; the (login, address) delay grows further. A success clears both.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Duration, Utc};

use crate::clock::Clock;

pub const FREE_FAILURES: u32 = 5;
pub const LOGIN_CAP: Duration = Duration::seconds(60);
pub const LOGIN_ADDRESS_CAP: Duration = Duration::minutes(15);
/// Entries idle this long are forgotten.
const IDLE: Duration = Duration::hours(24);
const MAX_ENTRIES: usize = 200_000;

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    blocked_until: DateTime<Utc>,
    last: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    started: DateTime<Utc>,
    count: u32,
}

pub struct Throttle {
    clock: Arc<dyn Clock>,
    failures: Mutex<HashMap<String, Failures>>,
    windows: Mutex<HashMap<String, Window>>,
}

/// How long to wait, in whole seconds (at least 1).
pub type RetryAfter = u64;

fn seconds(d: Duration) -> RetryAfter {
    (d.num_milliseconds().max(0) as u64).div_ceil(1000).max(1)
}

impl Throttle {
    pub fn new(clock: Arc<dyn Clock>) -> Throttle {
        Throttle {
            clock,
            failures: Mutex::new(HashMap::new()),
            windows: Mutex::new(HashMap::new()),
        }
    }

    fn keys(login: &str, client: &str) -> [(String, Duration); 2] {
        [
            (format!("l\u{0}{login}"), LOGIN_CAP),
            (format!("la\u{0}{login}\u{0}{client}"), LOGIN_ADDRESS_CAP),
        ]
    }

    /// `Err(retry_after)` while a delay is in force for this login or this login and address.
    pub fn check_sign_in(&self, login: &str, client: &str) -> Result<(), RetryAfter> {
        let now = self.clock.now();
        let map = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        let wait = Self::keys(login, client)
            .iter()
            .filter_map(|(k, _)| map.get(k))
            .map(|f| f.blocked_until - now)
            .filter(|d| *d > Duration::zero())
            .max();
        match wait {
            Some(d) => Err(seconds(d)),
            None => Ok(()),
        }
    }

    pub fn record_failure(&self, login: &str, client: &str) {
        let now = self.clock.now();
        let mut map = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        if map.len() >= MAX_ENTRIES {
            map.retain(|_, f| now - f.last < IDLE);
        }
        for (key, cap) in Self::keys(login, client) {
            let entry = map.entry(key).or_insert(Failures {
                count: 0,
                blocked_until: now,
                last: now,
            });
            if now - entry.last >= IDLE {
                entry.count = 0;
            }
            entry.count += 1;
            entry.last = now;
            if entry.count > FREE_FAILURES {
                let exponent = (entry.count - FREE_FAILURES - 1).min(20);
                let delay = Duration::seconds(1i64 << exponent).min(cap);
                entry.blocked_until = now + delay;
            }
        }
    }

    pub fn record_success(&self, login: &str, client: &str) {
        let mut map = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        for (key, _) in Self::keys(login, client) {
            map.remove(&key);
        }
    }

    /// A fixed-window rate limit: at most `max` events per `window` for `key`.
    pub fn rate_limit(&self, key: &str, max: u32, window: Duration) -> Result<(), RetryAfter> {
        let now = self.clock.now();
        let mut map = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        if map.len() >= MAX_ENTRIES {
            map.retain(|_, w| now - w.started < window);
        }
        let w = map.entry(key.to_string()).or_insert(Window { started: now, count: 0 });
        if now - w.started >= window {
            *w = Window { started: now, count: 0 };
        }
        if w.count >= max {
            return Err(seconds(w.started + window - now));
        }
        w.count += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    fn throttle() -> (Arc<ManualClock>, Throttle) {
        let clock = ManualClock::new(Utc::now());
        let t = Throttle::new(clock.clone());
        (clock, t)
    }

    #[test]
    fn five_failures_are_free_then_delays_grow() {
        let (clock, t) = throttle();
        for _ in 0..5 {
            assert!(t.check_sign_in("a@x.com", "1.1.1.1").is_ok());
            t.record_failure("a@x.com", "1.1.1.1");
        }
        assert!(t.check_sign_in("a@x.com", "1.1.1.1").is_ok());
        t.record_failure("a@x.com", "1.1.1.1");
        assert_eq!(t.check_sign_in("a@x.com", "1.1.1.1"), Err(1));
        clock.advance(Duration::seconds(1));
        t.record_failure("a@x.com", "1.1.1.1");
        assert_eq!(t.check_sign_in("a@x.com", "1.1.1.1"), Err(2));
        clock.advance(Duration::seconds(2));
        assert!(t.check_sign_in("a@x.com", "1.1.1.1").is_ok());
    }

    #[test]
    fn a_stranger_can_delay_but_never_lock_out_a_login() {
        let (clock, t) = throttle();
        for _ in 0..40 {
            t.record_failure("victim@x.com", "6.6.6.6");
        }
        // The attacker's own address is held for the long cap...
        assert_eq!(t.check_sign_in("victim@x.com", "6.6.6.6"), Err(15 * 60));
        // ...the member elsewhere waits at most the short cap, then gets in.
        assert_eq!(t.check_sign_in("victim@x.com", "2.2.2.2"), Err(60));
        clock.advance(LOGIN_CAP);
        assert!(t.check_sign_in("victim@x.com", "2.2.2.2").is_ok());
        t.record_success("victim@x.com", "2.2.2.2");
        assert!(t.check_sign_in("victim@x.com", "2.2.2.2").is_ok());
    }

    #[test]
    fn rate_limit_windows_reset() {
        let (clock, t) = throttle();
        for _ in 0..3 {
            assert!(t.rate_limit("k", 3, Duration::minutes(1)).is_ok());
        }
        assert_eq!(t.rate_limit("k", 3, Duration::minutes(1)), Err(60));
        clock.advance(Duration::minutes(1));
        assert!(t.rate_limit("k", 3, Duration::minutes(1)).is_ok());
    }
}
