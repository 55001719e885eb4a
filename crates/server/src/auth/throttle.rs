//! Sign-in throttling and per-address rate limits, in memory, on the security clock.
//!
//! Failures are counted per account (its email and member ID are one key; a login no account
//! has is its own key, so answers reveal nothing) and per (account, client address). An attempt
//! is counted *before* its password is checked ([`Throttle::begin_sign_in`]), so concurrent
//! guesses cannot all slip past the check; a success clears the count. After [`FREE_FAILURES`]
//! consecutive failures each further one imposes a growing delay, answered 429
//! `too_many_attempts`. The account-only delay is capped low ([`LOGIN_CAP`]) so a stranger can
//! slow a member down but never lock them out; the (account, address) delay grows further.
//!
//! Addresses are bucketed ([`address_bucket`]): an IPv6 client is its /64, which one subscriber
//! usually holds whole. The maps are bounded: when full, stale entries are swept and, if that is
//! not enough, the least recently used quarter is evicted, at most once per [`MAX_ENTRIES`] / 4
//! insertions, so a flood of fresh addresses costs amortized O(1) per call.
//!
//! Several servers on one PostgreSQL database share their counts through the `rate_limits`
//! table ([`Throttle::share`]): otherwise N servers would allow N times the attempts. Each
//! check is then one short transaction (a window is one upsert; a sign-in attempt locks its two
//! rows), and a server remembers the blocks it has seen, so a flood from a blocked key is
//! answered from memory with no database write. A server alone on its SQLite file keeps the
//! counts in memory, as before.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use chrono::{DateTime, Duration, Utc};

use carebill_api::ErrorCode;

use crate::clock::Clock;
use crate::db::Db;
use crate::error::{ApiError, ApiResult};
use crate::sql::{Connection, OptionalExtension, params};
use crate::state::AppState;
use crate::store::ms;

pub const FREE_FAILURES: u32 = 5;
pub const LOGIN_CAP: Duration = Duration::seconds(60);
pub const LOGIN_ADDRESS_CAP: Duration = Duration::minutes(15);
/// Entries idle this long are forgotten.
const IDLE: Duration = Duration::hours(24);
pub const MAX_ENTRIES: usize = 200_000;

/// The part of a client address that limits count against: the address itself for IPv4 (and
/// anything unparsable), the /64 network for IPv6.
pub fn address_bucket(client: &str) -> String {
    match client.parse::<IpAddr>() {
        Ok(IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_none() => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        Ok(IpAddr::V6(v6)) => v6.to_ipv4_mapped().map(|v4| v4.to_string()).unwrap_or_default(),
        _ => client.to_string(),
    }
}

/// A bounded map: when it is full, entries older than `stale` go first, then the least recently
/// used quarter. The sweep runs once per quarter of the capacity inserted, never per call.
struct Bounded<V> {
    map: HashMap<String, V>,
    capacity: usize,
}

impl<V: Copy> Bounded<V> {
    fn new(capacity: usize) -> Bounded<V> {
        Bounded {
            map: HashMap::new(),
            capacity,
        }
    }

    fn make_room(&mut self, key: &str, last: impl Fn(&V) -> DateTime<Utc>, stale: impl Fn(&V) -> bool) {
        if self.map.len() < self.capacity || self.map.contains_key(key) {
            return;
        }
        self.map.retain(|_, v| !stale(v));
        let keep = self.capacity - self.capacity / 4;
        if self.map.len() > keep {
            let mut ages: Vec<(DateTime<Utc>, String)> = self.map.iter().map(|(k, v)| (last(v), k.clone())).collect();
            let cut = self.map.len() - keep;
            ages.select_nth_unstable_by(cut - 1, |a, b| a.0.cmp(&b.0));
            for (_, key) in &ages[..cut] {
                self.map.remove(key);
            }
        }
    }
}

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
    failures: Mutex<Bounded<Failures>>,
    windows: Mutex<Bounded<Window>>,
    /// The database whose `rate_limits` the servers share, once [`Throttle::share`] set it.
    shared: OnceLock<Arc<Db>>,
    /// Blocks seen in the shared counts, until they end: answered without the database.
    known_blocks: Mutex<Bounded<DateTime<Utc>>>,
}

/// How long to wait, in whole seconds (at least 1).
pub type RetryAfter = u64;

fn seconds(d: Duration) -> RetryAfter {
    (d.num_milliseconds().max(0) as u64).div_ceil(1000).max(1)
}

impl Throttle {
    pub fn new(clock: Arc<dyn Clock>) -> Throttle {
        Throttle::with_capacity(clock, MAX_ENTRIES)
    }

    fn with_capacity(clock: Arc<dyn Clock>, capacity: usize) -> Throttle {
        Throttle {
            clock,
            failures: Mutex::new(Bounded::new(capacity)),
            windows: Mutex::new(Bounded::new(capacity)),
            shared: OnceLock::new(),
            known_blocks: Mutex::new(Bounded::new(capacity)),
        }
    }

    /// Counts in `db`'s `rate_limits` from now on, shared with every server on that database.
    pub fn share(&self, db: Arc<Db>) {
        let _ = self.shared.set(db);
    }

    /// A block this server has already seen for `key`, still in force.
    fn known_block(&self, key: &str, now: DateTime<Utc>) -> Option<RetryAfter> {
        let blocks = self.known_blocks.lock().unwrap_or_else(PoisonError::into_inner);
        blocks
            .map
            .get(key)
            .filter(|until| **until > now)
            .map(|until| seconds(*until - now))
    }

    fn remember_block(&self, key: &str, until: DateTime<Utc>, now: DateTime<Utc>) {
        let mut blocks = self.known_blocks.lock().unwrap_or_else(PoisonError::into_inner);
        blocks.make_room(key, |u| *u, |u| *u <= now);
        blocks.map.insert(key.to_string(), until);
    }

    /// A failed shared check: logged, and answered as a short block (fail closed: a throttle
    /// that cannot count does not let attempts through uncounted).
    fn unavailable(e: ApiError) -> RetryAfter {
        tracing::warn!(error = %e, "the shared throttle could not be read; refusing for now");
        1
    }

    /// `who` is the account (`account:ID`) when the login names one, else the normalized login.
    fn keys(who: &str, client: &str) -> [(String, Duration); 2] {
        let bucket = address_bucket(client);
        [
            (format!("l\u{0}{who}"), LOGIN_CAP),
            (format!("la\u{0}{who}\u{0}{bucket}"), LOGIN_ADDRESS_CAP),
        ]
    }

    /// Starts a sign-in attempt: `Err(retry_after)` while a delay is in force for this account
    /// or this account and address; otherwise the attempt is counted as a failure *now*, under
    /// the lock, before the password is checked ([`Throttle::record_success`] clears it).
    pub async fn begin_sign_in(&self, who: &str, client: &str) -> Result<(), RetryAfter> {
        let Some(db) = self.shared.get() else {
            return self.begin_sign_in_here(who, client);
        };
        let now = self.clock.now();
        let keys = Self::keys(who, client).map(|(k, cap)| (stored_key(&k), cap));
        if let Some(wait) = keys.iter().filter_map(|(k, _)| self.known_block(k, now)).max() {
            return Err(wait);
        }
        match db.transaction(move |tx| shared_sign_in(tx, &keys, now)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(blocks)) => {
                for (key, until) in &blocks {
                    self.remember_block(key, *until, now);
                }
                let until = blocks.iter().map(|(_, u)| *u).max().unwrap_or(now);
                Err(seconds(until - now))
            }
            Err(e) => Err(Self::unavailable(e)),
        }
    }

    fn begin_sign_in_here(&self, who: &str, client: &str) -> Result<(), RetryAfter> {
        let now = self.clock.now();
        let mut failures = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        let keys = Self::keys(who, client);
        let wait = keys
            .iter()
            .filter_map(|(k, _)| failures.map.get(k))
            .map(|f| f.blocked_until - now)
            .filter(|d| *d > Duration::zero())
            .max();
        if let Some(d) = wait {
            return Err(seconds(d));
        }
        Self::count_failure(&mut failures, keys, now);
        Ok(())
    }

    /// Counts a failure without an attempt (tests that set up a blocked login).
    #[cfg(test)]
    fn record_failure(&self, who: &str, client: &str) {
        let now = self.clock.now();
        let mut failures = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        Self::count_failure(&mut failures, Self::keys(who, client), now);
    }

    fn count_failure(failures: &mut Bounded<Failures>, keys: [(String, Duration); 2], now: DateTime<Utc>) {
        for (key, cap) in keys {
            failures.make_room(&key, |f| f.last, |f| now - f.last >= IDLE);
            let entry = failures.map.entry(key).or_insert(Failures {
                count: 0,
                blocked_until: now,
                last: now,
            });
            count_one(entry, cap, now);
        }
    }

    pub async fn record_success(&self, who: &str, client: &str) {
        if let Some(db) = self.shared.get() {
            let keys = Self::keys(who, client).map(|(k, _)| stored_key(&k));
            {
                // A success clears the blocks this server remembers too (another server forgets
                // its own when they end, as a block it saw was in force when it saw it).
                let mut blocks = self.known_blocks.lock().unwrap_or_else(PoisonError::into_inner);
                for key in &keys {
                    blocks.map.remove(key);
                }
            }
            let cleared = db
                .transaction(move |tx| {
                    for key in &keys {
                        tx.execute("DELETE FROM rate_limits WHERE key = ?1", [key])?;
                    }
                    Ok(())
                })
                .await;
            if let Err(e) = cleared {
                tracing::warn!(error = %e, "a sign-in's failures could not be cleared");
            }
            return;
        }
        self.record_success_here(who, client);
    }

    fn record_success_here(&self, who: &str, client: &str) {
        let mut failures = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        for (key, _) in Self::keys(who, client) {
            failures.map.remove(&key);
        }
    }

    /// A fixed-window rate limit: at most `max` events per `window` for `key`.
    pub async fn rate_limit(&self, key: &str, max: u32, window: Duration) -> Result<(), RetryAfter> {
        let Some(db) = self.shared.get() else {
            return self.rate_limit_here(key, max, window);
        };
        let now = self.clock.now();
        let key = stored_key(key);
        if let Some(wait) = self.known_block(&key, now) {
            return Err(wait);
        }
        let k = key.clone();
        let counted = db
            .transaction(move |tx| {
                Ok(tx.query_row(
                    "INSERT INTO rate_limits (key, count, started_at, blocked_until, last_at) VALUES (?1, 1, ?2, 0, ?2)
                     ON CONFLICT (key) DO UPDATE SET
                       count = CASE WHEN rate_limits.started_at <= ?3 THEN 1 ELSE rate_limits.count + 1 END,
                       started_at = CASE WHEN rate_limits.started_at <= ?3 THEN ?2 ELSE rate_limits.started_at END,
                       last_at = ?2
                     RETURNING count, started_at",
                    params![k, ms(now), ms(now - window)],
                    |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)),
                )?)
            })
            .await;
        match counted {
            Ok((count, started)) if count > i64::from(max) => {
                let until = crate::store::from_ms(started) + window;
                self.remember_block(&key, until, now);
                Err(seconds(until - now))
            }
            Ok(_) => Ok(()),
            Err(e) => Err(Self::unavailable(e)),
        }
    }

    fn rate_limit_here(&self, key: &str, max: u32, window: Duration) -> Result<(), RetryAfter> {
        let now = self.clock.now();
        let mut windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        windows.make_room(key, |w| w.started, |w| now - w.started >= window);
        let w = windows
            .map
            .entry(key.to_string())
            .or_insert(Window { started: now, count: 0 });
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

/// A key as the shared table keeps it: its SHA-256, in hex. The table then holds no login name,
/// address or email, and a key can hold any character.
fn stored_key(key: &str) -> String {
    use sha2::{Digest, Sha256};
    crate::ids::hex(&Sha256::digest(key.as_bytes()))
}

/// Keys blocked, with when each block ends.
type Blocks = Vec<(String, DateTime<Utc>)>;

/// A sign-in attempt in the shared counts: `Err` with the blocks in force (nothing counted), or
/// the failure counted for both keys, as [`Throttle::begin_sign_in`] does in memory. The keys'
/// rows are created, then locked (`FOR UPDATE`), always in the same order.
fn shared_sign_in(
    tx: &Connection,
    keys: &[(String, Duration); 2],
    now: DateTime<Utc>,
) -> ApiResult<Result<(), Blocks>> {
    let mut rows = Vec::with_capacity(keys.len());
    for (key, _) in keys {
        tx.execute(
            "INSERT INTO rate_limits (key, count, started_at, blocked_until, last_at) VALUES (?1, 0, ?2, 0, ?2)
             ON CONFLICT (key) DO NOTHING",
            params![key, ms(now)],
        )?;
        let row = tx
            .query_row(
                &format!(
                    "SELECT count, blocked_until, last_at FROM rate_limits WHERE key = ?1{}",
                    crate::store::for_update(tx)
                ),
                [key],
                |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?)),
            )
            .optional()?
            .unwrap_or((0, 0, ms(now)));
        rows.push(row);
    }
    let blocks: Blocks = keys
        .iter()
        .zip(&rows)
        .filter(|(_, (_, blocked, _))| *blocked > ms(now))
        .map(|((key, _), (_, blocked, _))| (key.clone(), crate::store::from_ms(*blocked)))
        .collect();
    if !blocks.is_empty() {
        return Ok(Err(blocks));
    }
    for ((key, cap), (count, blocked, last)) in keys.iter().zip(rows) {
        let mut f = Failures {
            count: u32::try_from(count).unwrap_or(u32::MAX),
            blocked_until: crate::store::from_ms(blocked),
            last: crate::store::from_ms(last),
        };
        count_one(&mut f, *cap, now);
        tx.execute(
            "UPDATE rate_limits SET count = ?2, blocked_until = ?3, last_at = ?4 WHERE key = ?1",
            params![key, i64::from(f.count), ms(f.blocked_until), ms(f.last)],
        )?;
    }
    Ok(Ok(()))
}

/// One more failure for one key: counts restart after [`IDLE`]; past [`FREE_FAILURES`] each
/// failure blocks for twice as long as the one before, up to `cap`.
fn count_one(entry: &mut Failures, cap: Duration, now: DateTime<Utc>) {
    if now - entry.last >= IDLE {
        entry.count = 0;
    }
    entry.count = entry.count.saturating_add(1);
    entry.last = now;
    if entry.count > FREE_FAILURES {
        let exponent = (entry.count - FREE_FAILURES - 1).min(20);
        let delay = Duration::seconds(1i64 << exponent).min(cap);
        entry.blocked_until = now + delay;
    }
}

/// Per-address limits (registration, reset requests, sign-in), unless turned off for load tests.
pub async fn address_limit(state: &AppState, what: &str, client: &str, max: u32, window: Duration) -> ApiResult<()> {
    if state.config.address_limits {
        state
            .throttle
            .rate_limit(&format!("{what}\u{0}{}", address_bucket(client)), max, window)
            .await
            .map_err(|retry_after| ApiError::new(ErrorCode::RateLimited).retry_after(retry_after))?;
    }
    Ok(())
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
        for _ in 0..6 {
            assert!(t.begin_sign_in_here("a@x.com", "1.1.1.1").is_ok());
        }
        assert_eq!(t.begin_sign_in_here("a@x.com", "1.1.1.1"), Err(1));
        clock.advance(Duration::seconds(1));
        assert!(t.begin_sign_in_here("a@x.com", "1.1.1.1").is_ok());
        assert_eq!(t.begin_sign_in_here("a@x.com", "1.1.1.1"), Err(2));
        clock.advance(Duration::seconds(2));
        assert!(t.begin_sign_in_here("a@x.com", "1.1.1.1").is_ok());
    }

    #[test]
    fn a_stranger_can_delay_but_never_lock_out_a_login() {
        let (clock, t) = throttle();
        for _ in 0..40 {
            t.record_failure("victim@x.com", "6.6.6.6");
        }
        // The attacker's own address is held for the long cap...
        assert_eq!(t.begin_sign_in_here("victim@x.com", "6.6.6.6"), Err(15 * 60));
        // ...the member elsewhere waits at most the short cap, then gets in.
        assert_eq!(t.begin_sign_in_here("victim@x.com", "2.2.2.2"), Err(60));
        clock.advance(LOGIN_CAP);
        assert!(t.begin_sign_in_here("victim@x.com", "2.2.2.2").is_ok());
        t.record_success_here("victim@x.com", "2.2.2.2");
        assert!(t.begin_sign_in_here("victim@x.com", "2.2.2.2").is_ok());
    }

    #[test]
    fn rate_limit_windows_reset() {
        let (clock, t) = throttle();
        for _ in 0..3 {
            assert!(t.rate_limit_here("k", 3, Duration::minutes(1)).is_ok());
        }
        assert_eq!(t.rate_limit_here("k", 3, Duration::minutes(1)), Err(60));
        clock.advance(Duration::minutes(1));
        assert!(t.rate_limit_here("k", 3, Duration::minutes(1)).is_ok());
    }

    /// Review finding 5: many guesses at once are counted as they start, not as they end.
    #[test]
    fn concurrent_attempts_are_counted_before_their_passwords_are_checked() {
        let (_, t) = throttle();
        let started = (0..40)
            .filter(|_| t.begin_sign_in_here("account:7", "1.1.1.1").is_ok())
            .count();
        assert_eq!(started, 6, "five free attempts and the one that sets the first delay");
    }

    /// Review findings 5 and 12: an IPv6 client is its /64; IPv4-mapped addresses are IPv4.
    #[test]
    fn ipv6_clients_count_per_64() {
        assert_eq!(address_bucket("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(address_bucket("2001:db8:1:2:bbbb::9"), "2001:db8:1:2::/64");
        assert_eq!(address_bucket("::ffff:192.0.2.1"), "192.0.2.1");
        assert_eq!(address_bucket("192.0.2.1"), "192.0.2.1");
        let (_, t) = throttle();
        for client in ["2001:db8:1:2::1", "2001:db8:1:2::2"] {
            assert!(
                t.rate_limit_here(&address_bucket(client), 2, Duration::minutes(1))
                    .is_ok()
            );
        }
        assert!(
            t.rate_limit_here(&address_bucket("2001:db8:1:2:ffff::1"), 2, Duration::minutes(1))
                .is_err()
        );
        assert!(
            t.rate_limit_here(&address_bucket("2001:db8:1:3::1"), 2, Duration::minutes(1))
                .is_ok()
        );
    }

    /// Review finding 16: a flood of fresh keys keeps the maps bounded, sweeps rarely, and the
    /// most recent keys survive the eviction.
    #[test]
    fn a_flood_of_fresh_keys_stays_bounded_and_evicts_the_oldest() {
        let clock = ManualClock::new(Utc::now());
        let t = Throttle::with_capacity(clock.clone(), 1_000);
        for i in 0..10_000 {
            clock.advance(Duration::milliseconds(1));
            assert!(t.rate_limit_here(&format!("k{i}"), 1, Duration::hours(1)).is_ok());
            let len = t.windows.lock().unwrap().map.len();
            assert!(len <= 1_000, "{len}");
        }
        // The newest keys are still limited; the oldest were evicted.
        assert!(t.rate_limit_here("k9999", 1, Duration::hours(1)).is_err());
        assert!(t.rate_limit_here("k0", 1, Duration::hours(1)).is_ok());
        for i in 0..5_000 {
            t.record_failure(&format!("login{i}"), "1.1.1.1");
        }
        assert!(t.failures.lock().unwrap().map.len() <= 1_000);
    }
}
