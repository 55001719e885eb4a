//! Password rules after NIST SP 800-63B rev. 4: length over composition, and a refusal list.
//!
//! At least [`MIN_CHARS`] characters (Unicode code points), up to [`MAX_CHARS`]; no rules about
//! character classes. A password is refused when it is on a list of commonly used passwords
//! (zxcvbn's list of 30,000, MIT licensed), made of repeats or sequences, or contains the
//! member's email address or member ID.

use std::fmt;

/// Fewer characters than this is too short.
pub const MIN_CHARS: usize = 15;
/// More characters than this is refused (well above the 64 NIST asks to accept).
pub const MAX_CHARS: usize = 256;

/// Why a password is refused. `as_str` is the stable `reason` on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeakReason {
    TooShort,
    TooLong,
    Common,
    Repetitive,
    Sequential,
    ContainsEmail,
    ContainsMemberId,
}

impl WeakReason {
    pub const ALL: [WeakReason; 7] = [
        WeakReason::TooShort,
        WeakReason::TooLong,
        WeakReason::Common,
        WeakReason::Repetitive,
        WeakReason::Sequential,
        WeakReason::ContainsEmail,
        WeakReason::ContainsMemberId,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            WeakReason::TooShort => "too_short",
            WeakReason::TooLong => "too_long",
            WeakReason::Common => "common",
            WeakReason::Repetitive => "repetitive",
            WeakReason::Sequential => "sequential",
            WeakReason::ContainsEmail => "contains_email",
            WeakReason::ContainsMemberId => "contains_member_id",
        }
    }

    pub fn message(self) -> String {
        match self {
            WeakReason::TooShort => format!(
                "Use at least {MIN_CHARS} characters. A few unrelated words make a strong password that is easy to remember."
            ),
            WeakReason::TooLong => format!("Use at most {MAX_CHARS} characters."),
            WeakReason::Common => {
                "This password is on a list of commonly used passwords. Choose something less predictable.".into()
            }
            WeakReason::Repetitive => "Avoid repeated characters or patterns, like \"aaaa\" or \"abcabc\".".into(),
            WeakReason::Sequential => "Avoid sequences like \"abcd\" or \"1234\".".into(),
            WeakReason::ContainsEmail => "Do not include your email address in your password.".into(),
            WeakReason::ContainsMemberId => "Do not include your member ID in your password.".into(),
        }
    }
}

impl fmt::Display for WeakReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who the password belongs to, for the "contains" rules.
#[derive(Debug, Clone, Copy, Default)]
pub struct PasswordContext<'a> {
    pub email: Option<&'a str>,
    pub member_id: Option<&'a str>,
}

/// Checks a new password. The first rule broken is reported.
pub fn check(password: &str, ctx: PasswordContext<'_>) -> Result<(), WeakReason> {
    let len = password.chars().count();
    if len < MIN_CHARS {
        return Err(WeakReason::TooShort);
    }
    if len > MAX_CHARS {
        return Err(WeakReason::TooLong);
    }
    let lower = password.to_lowercase();
    if let Some(email) = ctx.email.map(str::to_lowercase).filter(|e| !e.is_empty()) {
        let local = email.split('@').next().unwrap_or_default();
        if lower.contains(&email) || (local.chars().count() >= 4 && lower.contains(local)) {
            return Err(WeakReason::ContainsEmail);
        }
    }
    if let Some(id) = ctx.member_id.map(str::to_lowercase).filter(|i| !i.is_empty()) {
        let digits: String = id.chars().filter(char::is_ascii_digit).collect();
        if lower.contains(&id) || (digits.len() >= 6 && lower.contains(&digits)) {
            return Err(WeakReason::ContainsMemberId);
        }
    }
    if is_repetitive(&lower) {
        return Err(WeakReason::Repetitive);
    }
    if is_sequential(&lower) {
        return Err(WeakReason::Sequential);
    }
    if is_common(password) {
        return Err(WeakReason::Common);
    }
    Ok(())
}

/// Few distinct characters, or a short unit repeated (`abcabcabc...`).
fn is_repetitive(s: &str) -> bool {
    let chars: Vec<char> = s.chars().collect();
    let mut distinct = chars.clone();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() <= 3 {
        return true;
    }
    let n = chars.len();
    (1..=n / 2).any(|period| (period..n).all(|i| chars[i] == chars[i - period]))
}

/// Mostly made of runs like `abcd`, `4321` or `7890` (digits wrap around).
fn is_sequential(s: &str) -> bool {
    let chars: Vec<char> = s.chars().filter(|c| !c.is_whitespace()).collect();
    if chars.len() < 3 {
        return false;
    }
    let step = |a: char, b: char| -> i32 {
        if a == '9' && b == '0' {
            1
        } else if a == '0' && b == '9' {
            -1
        } else {
            b as i32 - a as i32
        }
    };
    let mut covered = 0usize;
    let mut run_len = 1usize;
    let mut run_step = 0i32;
    for w in chars.windows(2) {
        let st = step(w[0], w[1]);
        let same_class = w[0].is_ascii_alphanumeric() && w[1].is_ascii_alphanumeric();
        if same_class && (st == 1 || st == -1) && (run_len == 1 || st == run_step) {
            run_step = st;
            run_len += 1;
        } else {
            if run_len >= 3 {
                covered += run_len;
            }
            run_len = 1;
            run_step = 0;
        }
    }
    if run_len >= 3 {
        covered += run_len;
    }
    covered * 10 >= chars.len() * 7
}

/// On zxcvbn's list of common passwords (also as l33t or reversed): the best explanation
/// zxcvbn finds for the whole password is a single entry of that list.
fn is_common(password: &str) -> bool {
    let entropy = zxcvbn::zxcvbn(password, &[]);
    let n = password.chars().count();
    match entropy.sequence() {
        [only] if only.i == 0 && only.j + 1 == n => match &only.pattern {
            zxcvbn::matching::patterns::MatchPattern::Dictionary(d) => {
                format!("{:?}", d.dictionary_name) == "Passwords"
            }
            _ => false,
        },
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_plain(pw: &str) -> Result<(), WeakReason> {
        check(pw, PasswordContext::default())
    }

    #[test]
    fn long_passphrases_pass_without_composition_rules() {
        assert_eq!(check_plain("correct horse battery staple"), Ok(()));
        assert_eq!(check_plain("all lower case but long enough"), Ok(()));
        assert_eq!(check_plain("mañana café niño jalapeño"), Ok(()));
        let sixty_four: String = "a quiet river under pale morning light, "
            .chars()
            .cycle()
            .take(64)
            .collect();
        assert_eq!(check_plain(&sixty_four), Ok(()));
    }

    #[test]
    fn length_limits_count_characters_not_bytes() {
        assert_eq!(check_plain("short one"), Err(WeakReason::TooShort));
        assert_eq!(check_plain("ééééé ééé éé ée"), Err(WeakReason::Repetitive));
        assert_eq!(check_plain(&"x y z ".repeat(60)), Err(WeakReason::TooLong));
    }

    #[test]
    fn refuses_repeats_and_sequences() {
        assert_eq!(check_plain("aaaaaaaaaaaaaaaa"), Err(WeakReason::Repetitive));
        assert_eq!(check_plain("abcabcabcabcabcabc"), Err(WeakReason::Repetitive));
        assert_eq!(check_plain("passwordpassword"), Err(WeakReason::Repetitive));
        assert_eq!(check_plain("abcdefghijklmnop"), Err(WeakReason::Sequential));
        assert_eq!(check_plain("123456789012345"), Err(WeakReason::Sequential));
        assert_eq!(check_plain("zyxwvu987654321"), Err(WeakReason::Sequential));
    }

    #[test]
    fn refuses_common_passwords_from_the_list() {
        assert_eq!(check_plain("1qaz2wsx3edc4rfv"), Err(WeakReason::Common));
    }

    #[test]
    fn refuses_the_members_own_identifiers() {
        let ctx = PasswordContext {
            email: Some("alex.rivera@example.com"),
            member_id: Some("M200000002"),
        };
        assert_eq!(
            check("my name is alex.rivera, hello", ctx),
            Err(WeakReason::ContainsEmail)
        );
        assert_eq!(
            check("my card says m200000002 ok", ctx),
            Err(WeakReason::ContainsMemberId)
        );
        assert_eq!(
            check("number 200000002 on my card", ctx),
            Err(WeakReason::ContainsMemberId)
        );
        assert_eq!(check("correct horse battery staple", ctx), Ok(()));
    }

    #[test]
    fn every_reason_has_a_code_and_message() {
        for r in WeakReason::ALL {
            assert!(!r.as_str().is_empty());
            assert!(r.message().ends_with('.'));
        }
    }
}
