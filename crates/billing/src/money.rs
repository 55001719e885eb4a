//! Exact US-dollar amounts.
//!
//! A [`Money`] is a [`Decimal`] that always has exactly two decimal places. On the wire it is a
//! string (`"1234.56"`), never a float.
//!
//! Rounding strategy: amounts that come from outside (requests, imports) are never rounded; more
//! than two decimals is an error. Amounts the system computes (a share of a charge, a fixed
//! fraction) are rounded once, at the end, half-to-even ("banker's rounding",
//! [`ROUNDING`]), so repeated splits do not drift in one direction.

use std::fmt;
use std::iter::Sum;
use std::str::FromStr;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The one rounding strategy used for computed amounts.
pub const ROUNDING: RoundingStrategy = RoundingStrategy::MidpointNearestEven;

/// The largest amount the system accepts: $99,999,999.99.
pub const MAX_CENTS: i64 = 9_999_999_999;

/// The wire format accepted by [`Money::parse`], as a regular expression (used in the API schema).
pub const WIRE_PATTERN: &str = r"^(0|[1-9][0-9]{0,7})(\.[0-9]{1,2})?$";

/// An exact amount of US dollars with exactly two decimal places.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Money(Decimal);

/// Why a string is not an amount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("Enter an amount.")]
    Empty,
    #[error("Enter an amount in dollars and cents, like 125.50.")]
    Malformed,
    #[error("Amounts can have at most two decimal places.")]
    TooManyDecimals,
    #[error("Amounts cannot be negative.")]
    Negative,
    #[error("The amount is too large.")]
    TooLarge,
}

impl Money {
    pub const ZERO: Money = Money(Decimal::from_parts(0, 0, 0, false, 2));

    /// An amount from a whole number of cents.
    pub fn from_cents(cents: i64) -> Money {
        Money(Decimal::new(cents, 2))
    }

    /// The amount in cents. Exact: a `Money` always has two decimal places.
    pub fn cents(self) -> i64 {
        // Invariant: scale is 2 and |cents| <= MAX_CENTS, so the mantissa fits in i64.
        i64::try_from(self.0.mantissa()).unwrap_or(if self.0.is_sign_negative() { i64::MIN } else { i64::MAX })
    }

    /// Parses the wire format: digits, optionally a point and one or two digits. No sign, no
    /// exponent, no spaces, no thousands separators, no leading zeros. `"12.3"` is `12.30`.
    pub fn parse(s: &str) -> Result<Money, MoneyError> {
        if s.is_empty() {
            return Err(MoneyError::Empty);
        }
        if s.starts_with('-') {
            return Err(MoneyError::Negative);
        }
        let (whole, frac) = match s.split_once('.') {
            Some((w, f)) => (w, Some(f)),
            None => (s, None),
        };
        let all_digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
        if !all_digits(whole) || (whole.len() > 1 && whole.starts_with('0')) {
            return Err(MoneyError::Malformed);
        }
        let frac = match frac {
            None => "",
            Some(f) if !all_digits(f) => return Err(MoneyError::Malformed),
            Some(f) if f.len() > 2 => return Err(MoneyError::TooManyDecimals),
            Some(f) => f,
        };
        if whole.len() > 8 {
            return Err(MoneyError::TooLarge);
        }
        let mut cents: i64 = whole.parse::<i64>().map_err(|_| MoneyError::TooLarge)? * 100;
        match frac.len() {
            1 => cents += i64::from(frac.as_bytes()[0] - b'0') * 10,
            2 => cents += frac.parse::<i64>().map_err(|_| MoneyError::Malformed)?,
            _ => {}
        }
        Money::try_from_cents(cents)
    }

    /// An amount from cents, refusing values beyond [`MAX_CENTS`] in either direction.
    pub fn try_from_cents(cents: i64) -> Result<Money, MoneyError> {
        if cents.abs() > MAX_CENTS {
            return Err(MoneyError::TooLarge);
        }
        Ok(Money::from_cents(cents))
    }

    /// An exact decimal with at most two decimal places; never rounds.
    pub fn from_decimal_exact(d: Decimal) -> Result<Money, MoneyError> {
        let normalized = d.normalize();
        if normalized.scale() > 2 {
            return Err(MoneyError::TooManyDecimals);
        }
        Self::rescaled(d)
    }

    /// A computed decimal rounded to cents with [`ROUNDING`].
    pub fn round(d: Decimal) -> Result<Money, MoneyError> {
        Self::rescaled(d.round_dp_with_strategy(2, ROUNDING))
    }

    fn rescaled(mut d: Decimal) -> Result<Money, MoneyError> {
        d.rescale(2);
        if d.mantissa().abs() > i128::from(MAX_CENTS) {
            return Err(MoneyError::TooLarge);
        }
        Ok(Money(d))
    }

    /// `self * numerator / denominator`, rounded once with [`ROUNDING`]. `None` if the
    /// denominator is zero or the result is out of range.
    pub fn mul_ratio(self, numerator: i64, denominator: i64) -> Option<Money> {
        if denominator == 0 {
            return None;
        }
        let product = self.0.checked_mul(Decimal::from(numerator))?;
        let ratio = product.checked_div(Decimal::from(denominator))?;
        Money::round(ratio).ok()
    }

    pub fn checked_add(self, other: Money) -> Option<Money> {
        Money::try_from_cents(self.cents().checked_add(other.cents())?).ok()
    }

    pub fn checked_sub(self, other: Money) -> Option<Money> {
        Money::try_from_cents(self.cents().checked_sub(other.cents())?).ok()
    }

    /// `self - other`, but never below zero.
    pub fn saturating_sub(self, other: Money) -> Money {
        Money::from_cents((self.cents() - other.cents()).max(0))
    }

    pub fn min(self, other: Money) -> Money {
        if self <= other { self } else { other }
    }

    pub fn is_zero(self) -> bool {
        self.0.is_zero()
    }

    pub fn is_positive(self) -> bool {
        self.0.is_sign_positive() && !self.0.is_zero()
    }

    pub fn is_negative(self) -> bool {
        self.0.is_sign_negative() && !self.0.is_zero()
    }

    pub fn as_decimal(self) -> Decimal {
        self.0
    }

    /// For people: `$1,234.56`.
    pub fn display_usd(self) -> String {
        let cents = self.cents();
        let sign = if cents < 0 { "-" } else { "" };
        let abs = cents.unsigned_abs();
        let whole = (abs / 100).to_string();
        let mut grouped = String::with_capacity(whole.len() + whole.len() / 3);
        for (i, ch) in whole.chars().enumerate() {
            if i > 0 && (whole.len() - i).is_multiple_of(3) {
                grouped.push(',');
            }
            grouped.push(ch);
        }
        format!("{sign}${grouped}.{:02}", abs % 100)
    }
}

impl fmt::Display for Money {
    /// The wire format: `1234.56`, always two decimals.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cents = self.cents();
        let sign = if cents < 0 { "-" } else { "" };
        let abs = cents.unsigned_abs();
        write!(f, "{sign}{}.{:02}", abs / 100, abs % 100)
    }
}

impl fmt::Debug for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Money({self})")
    }
}

impl FromStr for Money {
    type Err = MoneyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Money::parse(s)
    }
}

impl Sum for Money {
    /// Saturates at the maximum; totals of validated amounts never get near it.
    fn sum<I: Iterator<Item = Money>>(iter: I) -> Money {
        let cents = iter.fold(0i64, |acc, m| acc.saturating_add(m.cents()));
        Money::from_cents(cents.clamp(-MAX_CENTS, MAX_CENTS))
    }
}

impl Serialize for Money {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Money {
    /// Only strings: a JSON number would already have passed through a float.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Money;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an amount as a string, like \"125.50\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Money, E> {
                Money::parse(v).map_err(E::custom)
            }
        }
        d.deserialize_str(Visitor)
    }
}

/// Amounts that may be negative on the wire: what a claim states (a reversal line, an adjusted
/// total), never a payment. `#[serde(deserialize_with = "signed::deserialize")]`, or
/// `signed::option` for an `Option<Money>` (with `default`).
pub mod signed {
    use serde::{Deserialize, Deserializer};

    use super::Money;

    pub fn parse(s: &str) -> Result<Money, super::MoneyError> {
        match s.strip_prefix('-') {
            Some(rest) => Money::parse(rest).map(|m| Money::from_cents(-m.cents())),
            None => Money::parse(s),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Money, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        parse(&s).map_err(serde::de::Error::custom)
    }

    pub fn option<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Money>, D::Error> {
        let s = <Option<std::borrow::Cow<'de, str>>>::deserialize(d)?;
        s.map(|s| parse(&s).map_err(serde::de::Error::custom)).transpose()
    }
}

#[cfg(feature = "specta")]
impl specta::Type for Money {
    /// A string like "1234.56" in TypeScript.
    fn definition(types: &mut specta::Types) -> specta::datatype::DataType {
        <String as specta::Type>::definition(types)
    }
}

#[cfg(feature = "openapi")]
mod openapi {
    use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaType, Type};
    use utoipa::openapi::{RefOr, schema::SchemaFormat};

    impl utoipa::PartialSchema for super::Money {
        fn schema() -> RefOr<Schema> {
            ObjectBuilder::new()
                .schema_type(SchemaType::Type(Type::String))
                .format(Some(SchemaFormat::Custom("decimal".into())))
                .pattern(Some(super::WIRE_PATTERN))
                .description(Some(
                    "US dollars as a string with at most two decimals (responses always two).",
                ))
                .examples(["125.50"])
                .into()
        }
    }

    impl utoipa::ToSchema for super::Money {
        fn name() -> std::borrow::Cow<'static, str> {
            "Money".into()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_wire_format() {
        assert_eq!(Money::parse("0").unwrap().cents(), 0);
        assert_eq!(Money::parse("12").unwrap().cents(), 1200);
        assert_eq!(Money::parse("12.3").unwrap().cents(), 1230);
        assert_eq!(Money::parse("12.34").unwrap().cents(), 1234);
        assert_eq!(Money::parse("0.05").unwrap().cents(), 5);
        assert_eq!(Money::parse("99999999.99").unwrap().cents(), MAX_CENTS);
    }

    #[test]
    fn rejects_everything_else() {
        for (input, err) in [
            ("", MoneyError::Empty),
            ("-0", MoneyError::Negative),
            ("-1.00", MoneyError::Negative),
            ("1e3", MoneyError::Malformed),
            ("12.345", MoneyError::TooManyDecimals),
            ("1.", MoneyError::Malformed),
            (".5", MoneyError::Malformed),
            ("+1", MoneyError::Malformed),
            (" 1", MoneyError::Malformed),
            ("1 ", MoneyError::Malformed),
            ("1,000.00", MoneyError::Malformed),
            ("01.00", MoneyError::Malformed),
            ("NaN", MoneyError::Malformed),
            ("１２", MoneyError::Malformed),
            ("100000000", MoneyError::TooLarge),
        ] {
            assert_eq!(Money::parse(input), Err(err), "input {input:?}");
        }
    }

    #[test]
    fn always_prints_two_decimals() {
        assert_eq!(Money::parse("12.3").unwrap().to_string(), "12.30");
        assert_eq!(Money::from_cents(5).to_string(), "0.05");
        assert_eq!(Money::ZERO.to_string(), "0.00");
        assert_eq!(Money::from_cents(-150).to_string(), "-1.50");
        assert_eq!(Money::from_cents(123_456_789).display_usd(), "$1,234,567.89");
        assert_eq!(Money::from_cents(100_000).display_usd(), "$1,000.00");
        assert_eq!(Money::from_cents(99).display_usd(), "$0.99");
    }

    #[test]
    fn serializes_as_a_string_and_refuses_json_numbers() {
        let m = Money::from_cents(1234);
        assert_eq!(serde_json::to_string(&m).unwrap(), "\"12.34\"");
        assert_eq!(serde_json::from_str::<Money>("\"12.34\"").unwrap(), m);
        assert!(serde_json::from_str::<Money>("12.34").is_err());
        assert!(serde_json::from_str::<Money>("\"12.345\"").is_err());
    }

    #[test]
    fn rounds_half_to_even_only_when_asked() {
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        assert_eq!(Money::round(d("0.125")).unwrap().cents(), 12);
        assert_eq!(Money::round(d("0.135")).unwrap().cents(), 14);
        assert_eq!(Money::round(d("2.675")).unwrap().cents(), 268);
        assert_eq!(Money::from_decimal_exact(d("1.005")), Err(MoneyError::TooManyDecimals));
        assert_eq!(Money::from_decimal_exact(d("1.50000")).unwrap().cents(), 150);
        // 100.00 * 1/3 = 33.333.. -> 33.33; 3 parts do not sum back, which callers must handle.
        assert_eq!(Money::from_cents(10000).mul_ratio(1, 3).unwrap().cents(), 3333);
        assert_eq!(Money::from_cents(1).mul_ratio(1, 2).unwrap().cents(), 0);
        assert_eq!(Money::from_cents(3).mul_ratio(1, 2).unwrap().cents(), 2);
        assert!(Money::from_cents(1).mul_ratio(1, 0).is_none());
    }

    #[test]
    fn arithmetic_is_checked() {
        let a = Money::from_cents(MAX_CENTS);
        assert!(a.checked_add(Money::from_cents(1)).is_none());
        assert_eq!(
            Money::from_cents(500).checked_sub(Money::from_cents(700)),
            Some(Money::from_cents(-200))
        );
        assert_eq!(
            Money::from_cents(500).saturating_sub(Money::from_cents(700)),
            Money::ZERO
        );
        let total: Money = [1, 2, 3].into_iter().map(Money::from_cents).sum();
        assert_eq!(total.cents(), 6);
    }
}
