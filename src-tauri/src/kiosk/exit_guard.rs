//! Leaving kiosk mode: the admin passcode, with throttled attempts.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::password_hash::PasswordHash;
use argon2::{Argon2, PasswordVerifier};

/// Exit attempts: three tries, then a wait that doubles with every further failure (30 s up to
/// 15 minutes). Success resets it.
#[derive(Debug, Default)]
pub struct ExitGuard {
    state: Mutex<(u32, Option<Instant>)>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum ExitCheck {
    Allowed,
    Wrong { wait_secs: u64 },
    Waiting { wait_secs: u64 },
    NoPasscode,
}

impl ExitGuard {
    pub fn check(&self, hash: Option<&str>, passcode: &str) -> ExitCheck {
        let Some(hash) = hash else { return ExitCheck::NoPasscode };
        let mut state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(until) = state.1 {
            let now = Instant::now();
            if until > now {
                return ExitCheck::Waiting {
                    wait_secs: (until - now).as_secs() + 1,
                };
            }
        }
        let ok = PasswordHash::new(hash)
            .map(|parsed| Argon2::default().verify_password(passcode.as_bytes(), &parsed).is_ok())
            .unwrap_or(false);
        if ok {
            *state = (0, None);
            return ExitCheck::Allowed;
        }
        state.0 += 1;
        let wait_secs = if state.0 >= 3 {
            (30u64 << (state.0 - 3).min(5)).min(900)
        } else {
            0
        };
        state.1 = (wait_secs > 0).then(|| Instant::now() + Duration::from_secs(wait_secs));
        ExitCheck::Wrong { wait_secs }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kiosk::system_config::hash_passcode;

    #[test]
    fn the_passcode_needs_eight_characters_and_wrong_ones_wait_longer() {
        assert!(hash_passcode("1234567").is_err());
        let hash = hash_passcode("front-desk-42").unwrap();
        let guard = ExitGuard::default();
        assert_eq!(guard.check(None, "anything"), ExitCheck::NoPasscode);
        assert_eq!(guard.check(Some(&hash), "nope"), ExitCheck::Wrong { wait_secs: 0 });
        assert_eq!(guard.check(Some(&hash), "nope"), ExitCheck::Wrong { wait_secs: 0 });
        assert_eq!(guard.check(Some(&hash), "nope"), ExitCheck::Wrong { wait_secs: 30 });
        // Even the right passcode waits now.
        assert!(matches!(
            guard.check(Some(&hash), "front-desk-42"),
            ExitCheck::Waiting { .. }
        ));
        let fresh = ExitGuard::default();
        assert_eq!(fresh.check(Some(&hash), "front-desk-42"), ExitCheck::Allowed);
    }
}
