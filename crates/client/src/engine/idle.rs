//! The idle lock: activity (input and changes the person starts, never reads or the background
//! sync), the warning [`IDLE_WARNING`] before the lock, the lock itself (on a kiosk: the end of
//! whoever's session it was), and the unlock with the password, checked against the copy's key so
//! it works offline. Wrong passwords are counted in the encrypted copy, so a restart does not
//! reset them.

use std::time::Duration;

use super::{Engine, Phase, lock};
use crate::cache;
use crate::error::{ClientCode, ClientError, ClientResult};
use crate::keys;
use crate::types::*;

/// The idle warning comes this long before the lock.
pub const IDLE_WARNING: Duration = Duration::from_secs(30);

/// Wrong passwords on the idle lock before the member is signed out.
pub const UNLOCK_ATTEMPTS: u32 = 10;
pub(super) const UNLOCK_FAILURES_KEY: &str = "unlock_failures";

/// How long a kiosk's detached sign-out may take before it is given up (the token then simply
/// expires on the server).
const KIOSK_REVOKE_WITHIN: Duration = Duration::from_secs(5);

impl Engine {
    /// Changes the idle time before locking (a setting).
    pub fn set_idle_lock_after(&self, after: Duration) {
        lock(&self.0.idle).lock_after = after;
    }

    /// Activity for the idle lock: input in the window (the shell's `record_activity` command)
    /// and changes the person starts (paying, saving, changing). Reads, the background sync and
    /// the screens' reload after a sync never count, or the lock would never fire.
    pub fn record_activity(&self) {
        let now = self.now();
        let mut idle = lock(&self.0.idle);
        idle.activity = now;
        idle.warned = false;
    }

    /// Whether someone may be using the app: a member's session (even locked), a guest flow, a
    /// request under way, or any activity in the last `quiet`. Kiosk updates wait until this is
    /// false.
    pub async fn in_use(&self, quiet: Duration) -> bool {
        if !matches!(&*self.0.phase.lock().await, Phase::SignedOut) || self.guest_active().await {
            return true;
        }
        self.requests_in_flight() || self.idle_for() < quiet
    }

    /// Time since the last activity.
    pub(super) fn idle_for(&self) -> Duration {
        let since = lock(&self.0.idle).activity;
        (self.now() - since).to_std().unwrap_or_default()
    }

    /// Whether a request to the service is under way.
    pub(super) fn requests_in_flight(&self) -> bool {
        self.0.busy.load(std::sync::atomic::Ordering::SeqCst) > 0
    }

    /// Locks now (also done by [`Engine::check_idle`] after the idle time).
    pub async fn lock(&self) {
        if self.is_kiosk() {
            self.end_kiosk_session().await;
            return;
        }
        let mut phase = self.0.phase.lock().await;
        if let Phase::Active(s) = std::mem::replace(&mut *phase, Phase::SignedOut) {
            *phase = Phase::Locked(s);
            drop(phase);
            self.emit(Event::Locked);
        } else if let Phase::Locked(s) = std::mem::replace(&mut *phase, Phase::SignedOut) {
            *phase = Phase::Locked(s);
        }
    }

    /// Kiosk: ends whoever's session this is (member or guest), drops every object of theirs, and
    /// tells the UI to start over at once; the session's revocation runs on its own afterwards (a
    /// slow or absent network never keeps the previous patient on screen).
    pub async fn end_kiosk_session(&self) {
        let revoke = self.0.api.detach_sign_out(KIOSK_REVOKE_WITHIN).await;
        let _ = self.end_session(true, true).await;
        self.end_guest().await;
        self.emit(Event::SessionEnded);
        if let Some(revoke) = revoke {
            tokio::spawn(revoke);
        }
    }

    /// Unlocks with the password (checked against the copy's key, so it works offline too). After
    /// five wrong passwords each try waits longer; after [`UNLOCK_ATTEMPTS`] the member is signed
    /// out.
    pub async fn unlock(&self, password: &str) -> ClientResult<()> {
        let session = match &*self.0.phase.lock().await {
            Phase::Locked(s) => s.clone(),
            Phase::Active(_) => return Ok(()),
            Phase::SignedOut => return Err(ClientError::not_signed_in()),
        };
        let dir = session.dir.clone().ok_or_else(ClientError::not_signed_in)?;
        // Failures are kept in the encrypted copy, so restarting the app does not reset them.
        let failures: u32 = session
            .cache
            .run(|c| cache::meta(c, UNLOCK_FAILURES_KEY))
            .await?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        if failures >= 5 {
            tokio::time::sleep(Duration::from_millis(250 * u64::from((failures - 4).min(20)))).await;
        }
        let pw = password.to_string();
        let ok = tokio::task::spawn_blocking(move || keys::open_with_password(&dir, &pw).is_ok())
            .await
            .map_err(ClientError::internal)?;
        let count = if ok { 0 } else { failures + 1 };
        session
            .cache
            .run(move |c| cache::set_meta(c, UNLOCK_FAILURES_KEY, &count.to_string()))
            .await?;
        if !ok && count >= UNLOCK_ATTEMPTS {
            // Too many wrong passwords on a locked screen: sign out (tokens dropped, the session
            // revoked when reachable); the copy stays, for an offline unlock with the password.
            let _ = self.end_session(true, false).await;
            self.emit(Event::SessionEnded);
            return Err(ClientError::of(ClientCode::UnlockAttemptsExceeded));
        }
        if !ok {
            return Err(ClientError::of(ClientCode::WrongUnlockPassword));
        }
        *self.0.phase.lock().await = Phase::Active(session);
        self.record_activity();
        Ok(())
    }

    /// Warns before, and locks after, `idle_lock_after` without activity. The shell calls this
    /// every few seconds.
    pub async fn check_idle(&self) {
        let member = matches!(&*self.0.phase.lock().await, Phase::Active(_));
        // On a kiosk a guest flow counts too; nobody's session times out mid-payment.
        if !(member || (self.is_kiosk() && self.guest_active().await)) {
            return;
        }
        if self.requests_in_flight() {
            self.record_activity();
            return;
        }
        let idle = self.idle_for();
        let warning = {
            let mut state = lock(&self.0.idle);
            if idle >= state.lock_after {
                None
            } else if idle + IDLE_WARNING >= state.lock_after && !state.warned {
                state.warned = true;
                Some(Some((state.lock_after - idle).as_secs() as u32))
            } else {
                Some(None)
            }
        };
        match warning {
            None => self.lock().await,
            Some(Some(seconds_left)) => self.emit(Event::IdleWarning { seconds_left }),
            Some(None) => {}
        }
    }
}
