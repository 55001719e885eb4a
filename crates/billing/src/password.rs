//! Password rules after NIST SP 800-63B rev. 4: length over composition, and a refusal list.
//!
//! At least [`MIN_CHARS`] characters (Unicode code points), up to [`MAX_CHARS`]; no rules about
//! character classes. A password is refused when it is on a list of commonly used passwords
//! (the entries of zxcvbn's list of 30,000 that are long enough, MIT licensed; also reversed or
//! in l33t), made of repeats or sequences, or contains the member's email address or member ID.

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

/// The entries of zxcvbn's list of 30,000 common passwords (zxcvbn 3.1.1, `PASSWORDS` in its
/// `frequency_lists.rs`, MIT licensed; its notice is in the app's third-party notices) that have
/// at least [`MIN_CHARS`] characters. These 31 are the only ones this rule can meet: a password
/// equal to any other entry, or to its reversal or l33t spelling, has the same number of
/// characters and is refused as too short first. The test below checks every one, and its
/// variants, against zxcvbn itself.
const COMMON: [&str; 31] = [
    "mailcreated5240",
    "polniypizdec0211",
    "123456789987654321",
    "1qaz2wsx3edc4rfv",
    "momsanaladventure",
    "hd764nw5d7e1vb1",
    "qazwsxedcrfvtgb",
    "23176djivanfros",
    "123456789qwerty",
    "12345678900987654321",
    "qwerty123456789",
    "polniypizdec110211",
    "12345678987654321",
    "q1w2e3r4t5y6u7i8",
    "zqjphsyf6ctifgu",
    "lhbjkjubz2957704",
    "1qazxsw23edcvfr4",
    "nemvxyheqdd5oqxyxyzi",
    "1234qwerasdfzxcv",
    "q1w2e3r4t5y6u7i8o9p0",
    "passwordstandard",
    "1234567890qwerty",
    "1234567890987654321",
    "bpgjldsgjldthnf",
    "1qa2ws3ed4rf5tg",
    "qwertyuiop12345",
    "1234567887654321",
    "111222333444555",
    "122333444455555",
    "zxcvbnm123456789",
    "qwertasdfgzxcvb",
];

/// zxcvbn's l33t table: a letter, and the characters written for it.
const L33T: [(char, &str); 12] = [
    ('a', "4@"),
    ('b', "8"),
    ('c', "({[<"),
    ('e', "3"),
    ('g', "69"),
    ('i', "1!|"),
    ('l', "1|7"),
    ('o', "0"),
    ('s', "$5"),
    ('t', "+7"),
    ('x', "%"),
    ('z', "2"),
];

/// On the list of common passwords, in any case, reversed, or in l33t (as zxcvbn matches it:
/// each substitute character stands for one letter throughout the password).
fn is_common(password: &str) -> bool {
    let lower: Vec<char> = password.to_lowercase().chars().collect();
    COMMON.iter().any(|entry| {
        entry.chars().eq(lower.iter().copied())
            || entry.chars().eq(lower.iter().rev().copied())
            || is_l33t_of(&lower, entry)
    })
}

/// `password` is `word` with some letters written as l33t substitutes, one meaning per
/// substitute character: a `1` that stands for `i` cannot also stand for `l`, or for itself.
fn is_l33t_of(password: &[char], word: &str) -> bool {
    if password.len() != word.chars().count() {
        return false;
    }
    let is_substitute = |c: char| L33T.iter().any(|(_, subs)| subs.contains(c));
    let mut meaning: Vec<(char, char)> = Vec::new();
    password.iter().zip(word.chars()).all(|(&p, w)| {
        let stands = p == w || L33T.iter().any(|&(letter, subs)| letter == w && subs.contains(p));
        if !stands {
            return false;
        }
        if !is_substitute(p) {
            return true;
        }
        match meaning.iter().find(|(c, _)| *c == p) {
            Some(&(_, m)) => m == w,
            None => {
                meaning.push((p, w));
                true
            }
        }
    })
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
        assert_eq!(check_plain("PasswordStandard"), Err(WeakReason::Common));
        assert_eq!(check_plain("dradnatsdrowssap"), Err(WeakReason::Common));
        assert_eq!(check_plain("p@$$w0rd$t@nd@rd"), Err(WeakReason::Common));
        assert_eq!(check_plain("momsanaladventure!"), Ok(()));
        // A `1` that stands for `l` cannot also be itself in the same password.
        assert!(is_common("pa$swordstandard"));
        assert!(!is_common("po1niypizdec0211"));
        assert!(!is_l33t_of(&['1', '1'], "il"));
        assert!(is_l33t_of(&['1', '1'], "ii"));
    }

    /// What zxcvbn says: the best explanation it finds for the whole password is one entry of
    /// its list of common passwords (the rule before this list).
    fn zxcvbn_says_common(password: &str) -> bool {
        use zxcvbn::matching::patterns::MatchPattern;
        let n = password.chars().count();
        match zxcvbn::zxcvbn(password, &[]).sequence() {
            [only] if only.i == 0 && only.j + 1 == n => {
                matches!(&only.pattern, MatchPattern::Dictionary(d) if format!("{:?}", d.dictionary_name) == "Passwords")
            }
            _ => false,
        }
    }

    /// Every entry, in capitals, reversed and in l33t, is refused: all that zxcvbn refused, and
    /// more, because zxcvbn lets a cheaper explanation win (`qwertyuiop12345` is a keyboard row
    /// and a sequence to it, not a listed password). Nothing longer than an entry is refused.
    #[test]
    fn the_list_refuses_all_that_zxcvbn_did_and_its_variants() {
        assert_eq!(
            MIN_CHARS, 15,
            "COMMON holds the entries of at least 15 characters: cut it again"
        );
        let l33t = |word: &str, letter: char| -> String {
            let sub = L33T
                .iter()
                .find(|(l, _)| *l == letter)
                .and_then(|(_, s)| s.chars().next());
            word.chars()
                .map(|c| if c == letter { sub.unwrap_or(c) } else { c })
                .collect()
        };
        let (mut variants, mut zxcvbn_refused) = (0, 0);
        for entry in COMMON {
            let mut refused = vec![entry.to_string(), entry.to_uppercase(), entry.chars().rev().collect()];
            // A letter in l33t, when its substitute is not already in the entry as itself.
            let spelled = L33T
                .iter()
                .filter(|(l, subs)| entry.contains(*l) && subs.chars().next().is_some_and(|c| !entry.contains(c)));
            refused.extend(spelled.map(|(l, _)| l33t(entry, *l)));
            for v in refused {
                assert!(is_common(&v), "{v:?}");
                zxcvbn_refused += usize::from(zxcvbn_says_common(&v));
                variants += 1;
            }
            for v in [format!("{entry}x"), format!("my {entry}")] {
                assert!(!is_common(&v) && !zxcvbn_says_common(&v), "{v:?}");
            }
        }
        assert!(
            variants > 31 * 4 && zxcvbn_refused > 31,
            "{variants} variants, {zxcvbn_refused} by zxcvbn"
        );
        for v in [
            "correct horse battery staple",
            "a quiet river under pale light",
            "p4ssw0rd but much longer",
        ] {
            assert!(!is_common(v) && !zxcvbn_says_common(v), "{v:?}");
        }
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
