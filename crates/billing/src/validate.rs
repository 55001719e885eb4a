//! Input rules shared by the server, the client and the UI (through the client).
//!
//! Every rule returns a [`Invalid`] with a stable code and a sentence for people, so the same
//! rule answers the same way wherever it runs.

use chrono::{Datelike, NaiveDate};

use crate::Money;

/// A broken rule: a stable `code`, a `message` for people, and the values the message names as
/// named `params` (so an app can word the same refusal in another language).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Invalid {
    pub code: &'static str,
    pub message: String,
    pub params: Vec<(&'static str, String)>,
}

impl Invalid {
    pub fn new(code: &'static str, message: impl Into<String>) -> Invalid {
        Invalid {
            code,
            message: message.into(),
            params: Vec::new(),
        }
    }

    /// A value the message names, by name.
    pub fn with(mut self, name: &'static str, value: impl Into<String>) -> Invalid {
        self.params.push((name, value.into()));
        self
    }
}

type Rule<T> = Result<T, Invalid>;

/// The Luhn (mod 10) checksum over a string of ASCII digits.
pub fn luhn_valid(digits: &str) -> bool {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                let dd = d * 2;
                if dd > 9 { dd - 9 } else { dd }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// The ABA routing-number checksum: weights 3, 7, 1 repeated over nine digits.
pub fn aba_routing_valid(routing: &str) -> bool {
    if routing.len() != 9 || !routing.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let sum: u32 = routing
        .bytes()
        .zip([3u32, 7, 1].iter().cycle())
        .map(|(b, w)| u32::from(b - b'0') * w)
        .sum();
    sum.is_multiple_of(10)
}

/// Card networks recognised from the number's prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardBrand {
    Visa,
    Mastercard,
    Amex,
    Discover,
    Unknown,
}

impl CardBrand {
    /// The networks with a name (not `Unknown`).
    pub const KNOWN: [CardBrand; 4] = [
        CardBrand::Visa,
        CardBrand::Mastercard,
        CardBrand::Amex,
        CardBrand::Discover,
    ];

    /// The brand a stored or wire code names (`visa`), if it names one.
    pub fn from_wire(code: &str) -> Option<CardBrand> {
        CardBrand::KNOWN.into_iter().find(|b| b.as_str() == code)
    }

    pub fn from_number(digits: &str) -> CardBrand {
        let prefix = |n: usize| digits.get(..n).and_then(|p| p.parse::<u32>().ok());
        if digits.starts_with('4') {
            CardBrand::Visa
        } else if matches!(prefix(2), Some(51..=55)) || matches!(prefix(4), Some(2221..=2720)) {
            CardBrand::Mastercard
        } else if matches!(prefix(2), Some(34 | 37)) {
            CardBrand::Amex
        } else if digits.starts_with("6011") || digits.starts_with("65") || matches!(prefix(3), Some(644..=649)) {
            CardBrand::Discover
        } else {
            CardBrand::Unknown
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CardBrand::Visa => "visa",
            CardBrand::Mastercard => "mastercard",
            CardBrand::Amex => "amex",
            CardBrand::Discover => "discover",
            CardBrand::Unknown => "unknown",
        }
    }

    pub fn display_name(self) -> &'static str {
        match self {
            CardBrand::Visa => "Visa",
            CardBrand::Mastercard => "Mastercard",
            CardBrand::Amex => "American Express",
            CardBrand::Discover => "Discover",
            CardBrand::Unknown => "Card",
        }
    }

    pub fn cvc_len(self) -> usize {
        if self == CardBrand::Amex { 4 } else { 3 }
    }
}

/// Strips spaces and dashes people type between card-number groups.
pub fn normalize_card_number(input: &str) -> String {
    input.chars().filter(|c| !matches!(c, ' ' | '-')).collect()
}

/// A card number: 13 to 19 digits passing Luhn. Returns the digits.
/// 13 to 19 digits passing the Luhn check, optionally grouped by single spaces or dashes
/// (`4242 4242 4242 4242`, `4242-4242-4242-4242`), as the API's schema says.
pub fn card_number(input: &str) -> Rule<String> {
    let digits = normalize_card_number(input);
    let b = input.as_bytes();
    let grouped = b.first().is_some_and(u8::is_ascii_digit)
        && b.last().is_some_and(u8::is_ascii_digit)
        && b.windows(2).all(|w| w[0].is_ascii_digit() || w[1].is_ascii_digit());
    if !grouped || digits.len() < 13 || digits.len() > 19 || !luhn_valid(&digits) {
        return Err(Invalid::new(
            "invalid_card_number",
            "Enter a valid card number, as it appears on your card.",
        ));
    }
    Ok(digits)
}

/// A card expiry that is this month or later (cards expire at the end of their month).
pub fn card_expiry(month: u32, year: i32, today: NaiveDate) -> Rule<()> {
    let invalid = || {
        Invalid::new(
            "invalid_expiry",
            "Enter an expiry date in the future, as it appears on your card.",
        )
    };
    if !(1..=12).contains(&month) || !(2000..=2099).contains(&year) {
        return Err(invalid());
    }
    if crate::reminders::card_expired_by(month, year, today) || year > today.year() + 20 {
        return Err(invalid());
    }
    Ok(())
}

pub fn card_cvc(cvc: &str, brand: CardBrand) -> Rule<()> {
    let ok_len = if brand == CardBrand::Unknown {
        cvc.len() == 3 || cvc.len() == 4
    } else {
        cvc.len() == brand.cvc_len()
    };
    if !ok_len || !cvc.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Invalid::new(
            "invalid_cvc",
            format!("Enter the {}-digit security code from your card.", brand.cvc_len()),
        )
        .with("digits", brand.cvc_len().to_string()));
    }
    Ok(())
}

pub fn routing_number(input: &str) -> Rule<()> {
    if !aba_routing_valid(input) {
        return Err(Invalid::new(
            "invalid_routing_number",
            "Enter a valid 9-digit routing number, as it appears on your checks.",
        ));
    }
    Ok(())
}

pub fn bank_account_number(input: &str) -> Rule<()> {
    if !(4..=17).contains(&input.len()) || !input.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Invalid::new(
            "invalid_account_number",
            "Enter an account number of 4 to 17 digits.",
        ));
    }
    Ok(())
}

/// US ZIP code: 5 digits, optionally `-` and 4 more.
pub fn postal_code(input: &str) -> Rule<()> {
    let b = input.as_bytes();
    let digits = |s: &[u8]| s.iter().all(u8::is_ascii_digit);
    let ok = (b.len() == 5 && digits(b)) || (b.len() == 10 && digits(&b[..5]) && b[5] == b'-' && digits(&b[6..]));
    if !ok {
        return Err(Invalid::new(
            "invalid_postal_code",
            "Enter a 5-digit ZIP code, like 94110.",
        ));
    }
    Ok(())
}

/// The default member ID format: the letter M and nine digits, like `M200000001`.
pub const DEFAULT_MEMBER_ID_PATTERN: &str = "M[0-9]{9}";
pub const DEFAULT_MEMBER_ID_EXAMPLE: &str = "M200000002";

/// A plan's member ID format: a regular expression that must match the whole ID after trimming
/// and upper-casing (each plan prints its own: the CARIN examples use 11 digits, others mix
/// letters and digits), and an example printed in the hint and the refusal.
///
/// The expression is `regex_lite`'s: the `regex` crate's syntax without Unicode classes
/// (`\p{..}`), nested classes or class set operations, with `\d`, `\w` and `\s` meaning ASCII.
/// An ID is ASCII letters, digits and hyphens anyway, so nothing a member types matches
/// differently; the smaller engine keeps 1 MB out of the app (docs/PERFORMANCE.md, issue 23).
#[derive(Debug, Clone)]
pub struct MemberIdRule {
    whole: regex_lite::Regex,
    pattern: String,
    example: String,
}

impl Default for MemberIdRule {
    fn default() -> MemberIdRule {
        MemberIdRule::new(DEFAULT_MEMBER_ID_PATTERN, DEFAULT_MEMBER_ID_EXAMPLE).expect("the default rule is valid")
    }
}

impl MemberIdRule {
    /// The rule, or why the configuration cannot be one: a pattern that is not a regular
    /// expression, longer than 200 characters, that could accept an empty ID or more than 30
    /// characters is refused, and so is an example it does not accept.
    pub fn new(pattern: &str, example: &str) -> Result<MemberIdRule, String> {
        if pattern.trim().is_empty() || pattern.chars().count() > 200 {
            return Err("member_id_pattern must be 1 to 200 characters".into());
        }
        let whole = regex_lite::RegexBuilder::new(&format!("^(?:{pattern})$"))
            .size_limit(1 << 20)
            .build()
            .map_err(|e| format!("member_id_pattern is not a regular expression: {e}"))?;
        let rule = MemberIdRule {
            whole,
            pattern: pattern.to_string(),
            example: example.trim().to_ascii_uppercase(),
        };
        if rule.whole.is_match("") {
            return Err("member_id_pattern must not accept an empty member ID".into());
        }
        if rule.example.is_empty() || rule.check(example).is_err() {
            return Err(format!(
                "member_id_example {example:?} does not match member_id_pattern"
            ));
        }
        Ok(rule)
    }

    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    pub fn example(&self) -> &str {
        &self.example
    }

    /// The member ID, trimmed and upper-cased, if it is in the plan's format (at most 30
    /// characters of letters, digits and hyphens, whatever the pattern allows).
    pub fn check(&self, input: &str) -> Rule<String> {
        let upper = input.trim().to_ascii_uppercase();
        let plain =
            !upper.is_empty() && upper.len() <= 30 && upper.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !plain || !self.whole.is_match(&upper) {
            return Err(Invalid::new(
                "invalid_member_id",
                format!(
                    "Enter your member ID as it appears on your card, like {}.",
                    self.example
                ),
            )
            .with("example", self.example.clone()));
        }
        Ok(upper)
    }
}

/// A member ID in the default format ([`DEFAULT_MEMBER_ID_PATTERN`]). Case-insensitive on input.
pub fn member_id(input: &str) -> Rule<String> {
    MemberIdRule::default().check(input)
}

/// A person's name: 1 to 100 characters of letters (any script), spaces, hyphens, apostrophes
/// and periods, with at least one letter. Surrounding spaces are trimmed.
pub fn person_name(input: &str, which: &str) -> Rule<String> {
    let trimmed = input.trim();
    let len = trimmed.chars().count();
    let allowed = |c: char| c.is_alphabetic() || matches!(c, ' ' | '-' | '\'' | '.' | '’');
    if len == 0 || len > 100 || !trimmed.chars().all(allowed) || !trimmed.chars().any(char::is_alphabetic) {
        return Err(Invalid::new(
            "invalid_name",
            format!("Enter your {which} using letters, spaces, hyphens or apostrophes."),
        ));
    }
    Ok(trimmed.to_string())
}

/// Names compared the way people expect: case-insensitive, accents and spacing kept.
pub fn names_match(a: &str, b: &str) -> bool {
    let norm = |s: &str| {
        s.split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .replace('’', "'")
            .to_lowercase()
    };
    norm(a) == norm(b)
}

/// An email address: one `@`, a non-empty local part, a domain with a dot, no spaces, at most
/// 254 characters. Returned lower-cased (the login key).
pub fn email(input: &str) -> Rule<String> {
    let e = input.trim().to_lowercase();
    let ok = e.len() <= 254
        && !e.chars().any(|c| c.is_whitespace() || c.is_control())
        && match e.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && local.len() <= 64
                    && !domain.contains('@')
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !domain.contains("..")
            }
            None => false,
        };
    if !ok {
        return Err(Invalid::new(
            "invalid_email",
            "Enter an email address like name@example.com.",
        ));
    }
    Ok(e)
}

/// A calendar date in `YYYY-MM-DD` form, exactly.
pub fn iso_date(input: &str) -> Rule<NaiveDate> {
    let b = input.as_bytes();
    let shape = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    let parsed = shape
        .then(|| NaiveDate::parse_from_str(input, "%Y-%m-%d").ok())
        .flatten();
    parsed.ok_or_else(|| {
        Invalid::new(
            "invalid_date",
            "Enter a real date in the form YYYY-MM-DD, like 1985-04-12.",
        )
    })
}

/// A date of birth: a real date, not in the future, not before 1900.
pub fn date_of_birth(input: &str, today: NaiveDate) -> Rule<NaiveDate> {
    let d = iso_date(input)?;
    if d > today || d.year() < 1900 {
        return Err(Invalid::new(
            "invalid_date",
            "Enter your date of birth; it must be in the past.",
        ));
    }
    Ok(d)
}

/// A phone number as printed for people: 3 to 15 digits with spaces and `+ - ( ) .` (`711` for
/// the TTY relay, `1-800-555-0142`, `(415) 555-0100`). Returned trimmed.
pub fn phone(input: &str) -> Rule<String> {
    let p = input.trim();
    let digits = p.chars().filter(char::is_ascii_digit).count();
    if (3..=15).contains(&digits) && p.len() <= 30 && p.chars().all(|c| c.is_ascii_digit() || " +-().".contains(c)) {
        Ok(p.to_string())
    } else {
        Err(Invalid::new(
            "invalid_phone",
            "Enter a phone number of 3 to 15 digits, like 1-800-555-0142.",
        ))
    }
}

/// Last four digits, for display.
/// An amount to pay as typed: more than 0, at most two decimals (never rounded), surrounding
/// spaces ignored. The one rule for the server, the engine, guest pay and the UI's checks.
pub fn payment_amount(input: &str) -> Rule<Money> {
    Money::parse(input.trim())
        .ok()
        .filter(|m| m.is_positive())
        .ok_or_else(|| {
            Invalid::new(
                "invalid_amount",
                "Enter an amount greater than 0 with at most two decimal places, like 125.50.",
            )
        })
}

/// An amount may not be more than what can be paid on the bill now (`payable`).
pub fn within_payable(amount: Money, payable: Money) -> Rule<()> {
    if amount > payable {
        return Err(Invalid::new(
            "amount_exceeds_balance",
            format!("The most you can pay on this bill now is {}.", payable.display_usd()),
        )
        .with("max", payable.display_usd()));
    }
    Ok(())
}

pub fn last4(digits: &str) -> String {
    let n = digits.len();
    digits[n.saturating_sub(4)..].to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn phone_numbers_as_printed() {
        for ok in ["711", "1-800-555-0142", "(415) 555-0100", "+1 415.555.0100"] {
            assert!(super::phone(ok).is_ok(), "{ok}");
        }
        for bad in ["", "12", "call us", "1-800-FLOWERS", "1234567890123456", "555\n0100"] {
            assert_eq!(super::phone(bad).map_err(|e| e.code), Err("invalid_phone"), "{bad:?}");
        }
    }

    #[test]
    fn stored_brand_codes_name_their_brand() {
        for brand in CardBrand::KNOWN {
            assert_eq!(CardBrand::from_wire(brand.as_str()), Some(brand));
        }
        assert_eq!(CardBrand::from_wire("unknown"), None);
        assert_eq!(CardBrand::from_wire("Visa"), None, "codes are lower case");
    }

    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn luhn_accepts_test_cards_and_rejects_typos() {
        for n in [
            "4242424242424242",
            "4000056655665556",
            "5555555555554444",
            "5200828282828210",
            "378282246310005",
            "6011111111111117",
            "4000000000000002",
        ] {
            assert!(luhn_valid(n), "{n}");
        }
        assert!(!luhn_valid("4242424242424241"));
        assert!(!luhn_valid(""));
        assert!(!luhn_valid("42424242a4242424"));
    }

    #[test]
    fn payment_amounts_are_positive_with_two_decimals_and_at_most_payable() {
        assert_eq!(payment_amount(" 125.50 ").unwrap(), Money::from_cents(12_550));
        assert_eq!(payment_amount("7").unwrap(), Money::from_cents(700));
        for bad in ["", "0", "0.00", "-1", "1.005", "abc", "1e3", "1,000"] {
            assert_eq!(payment_amount(bad).unwrap_err().code, "invalid_amount", "{bad}");
        }
        let payable = Money::from_cents(10_000);
        assert!(within_payable(Money::from_cents(10_000), payable).is_ok());
        let over = within_payable(Money::from_cents(10_001), payable).unwrap_err();
        assert_eq!(over.code, "amount_exceeds_balance");
        assert_eq!(over.message, "The most you can pay on this bill now is $100.00.");
    }

    #[test]
    fn card_numbers_are_normalized_and_checked() {
        assert_eq!(card_number("4242 4242 4242 4242").unwrap(), "4242424242424242");
        assert_eq!(
            card_number("4242-4242-4242-4241").unwrap_err().code,
            "invalid_card_number"
        );
        assert_eq!(card_number("42").unwrap_err().code, "invalid_card_number");
        assert_eq!(card_number("4242-4242-4242-4242").unwrap(), "4242424242424242");
        for odd in [
            "4242  4242 4242 4242",
            " 4242424242424242",
            "4242424242424242-",
            "4242 -4242424242424",
        ] {
            assert_eq!(card_number(odd).unwrap_err().code, "invalid_card_number", "{odd}");
        }
    }

    #[test]
    fn brands_come_from_prefixes() {
        assert_eq!(CardBrand::from_number("4242424242424242"), CardBrand::Visa);
        assert_eq!(CardBrand::from_number("5555555555554444"), CardBrand::Mastercard);
        assert_eq!(CardBrand::from_number("2221000000000009"), CardBrand::Mastercard);
        assert_eq!(CardBrand::from_number("378282246310005"), CardBrand::Amex);
        assert_eq!(CardBrand::from_number("6011111111111117"), CardBrand::Discover);
        assert_eq!(CardBrand::from_number("9999"), CardBrand::Unknown);
    }

    #[test]
    fn aba_checksum() {
        assert!(aba_routing_valid("110000000"));
        assert!(aba_routing_valid("021000021"));
        assert!(!aba_routing_valid("110000001"));
        assert!(!aba_routing_valid("11000000"));
        assert!(!aba_routing_valid("11000000a"));
    }

    #[test]
    fn expiry_is_end_of_month() {
        let today = day("2026-11-27");
        assert!(card_expiry(11, 2026, today).is_ok());
        assert!(card_expiry(10, 2026, today).is_err());
        assert!(card_expiry(13, 2027, today).is_err());
        assert!(card_expiry(1, 2060, today).is_err());
    }

    #[test]
    fn cvc_length_depends_on_brand() {
        assert!(card_cvc("123", CardBrand::Visa).is_ok());
        assert!(card_cvc("1234", CardBrand::Visa).is_err());
        assert!(card_cvc("1234", CardBrand::Amex).is_ok());
        assert!(card_cvc("12a", CardBrand::Visa).is_err());
    }

    #[test]
    fn member_ids_names_and_emails() {
        assert_eq!(member_id(" m200000002 ").unwrap(), "M200000002");
        assert!(member_id("M2000000").is_err());
        assert!(member_id("X200000002").is_err());
        let eleven = MemberIdRule::new("[0-9]{11}", "12345678901").unwrap();
        assert_eq!(eleven.check(" 12345678901 ").unwrap(), "12345678901");
        assert!(eleven.check("M200000002").is_err());
        // The whole ID: a pattern cannot match a part of it.
        assert!(eleven.check("123456789012").is_err());
        let mixed = MemberIdRule::new("[A-Z]{3}[0-9]{6}(-[0-9]{2})?", "XYZ123456-01").unwrap();
        assert_eq!(mixed.check("xyz123456").unwrap(), "XYZ123456");
        assert_eq!(mixed.check("xyz12345").unwrap_err().code, "invalid_member_id");
        assert!(MemberIdRule::new("[0-9]*", "1").is_err(), "accepts an empty ID");
        assert!(MemberIdRule::new("([", "1").is_err(), "not a regular expression");
        let perl = MemberIdRule::new(r"[A-Z]\d{8}", "H12345678").unwrap();
        assert_eq!(perl.check("h12345678").unwrap(), "H12345678");
        assert!(perl.check("H1234567").is_err());
        let refusal = MemberIdRule::new("[A-Z[0-9]]{5}", "AB123").unwrap_err();
        assert!(refusal.contains("not a regular expression"), "nested class: {refusal}");
        let refusal = MemberIdRule::new("(?:[0-9]{1000}){1000}", "1").unwrap_err();
        assert!(refusal.contains("not a regular expression"), "too large: {refusal}");
        assert!(
            MemberIdRule::new("[0-9]{4}", "12345").is_err(),
            "the example must match"
        );
        assert_eq!(person_name("  José María ", "first name").unwrap(), "José María");
        assert_eq!(person_name("O'Brien-Smith", "last name").unwrap(), "O'Brien-Smith");
        assert!(person_name("Robert'); DROP TABLE", "last name").is_err());
        assert!(person_name("", "first name").is_err());
        assert!(person_name("--", "first name").is_err());
        assert!(names_match("rivera", "RIVERA"));
        assert!(names_match("Mary  Ann", "mary ann"));
        assert!(!names_match("Rivera", "Riviera"));
        assert_eq!(email(" Demo@Carebill.Example ").unwrap(), "demo@carebill.example");
        for bad in ["", "a", "a@b", "a@@b.com", "a b@c.com", "@b.com", "a@.com", "a@b..com"] {
            assert!(email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn dates_are_strict() {
        assert_eq!(iso_date("1985-04-12").unwrap(), day("1985-04-12"));
        for bad in [
            "1985-4-12",
            "1985-02-30",
            "85-04-12",
            "1985/04/12",
            "",
            "1985-04-12T00:00:00Z",
        ] {
            assert!(iso_date(bad).is_err(), "{bad}");
        }
        let today = day("2026-11-27");
        assert!(date_of_birth("2026-11-28", today).is_err());
        assert!(date_of_birth("1899-12-31", today).is_err());
        assert!(date_of_birth("2024-02-29", today).is_ok());
    }

    #[test]
    fn postal_codes() {
        assert!(postal_code("94110").is_ok());
        assert!(postal_code("94110-1234").is_ok());
        assert!(postal_code("9411").is_err());
        assert!(postal_code("94110 1234").is_err());
    }
}
