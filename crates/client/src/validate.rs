//! Checks while the member types, for the UI (through the shell's `validate_*` commands): the
//! billing crate's rules, the server's own, answered as a [`ClientError`] that points at the
//! field. Nothing here talks to the service.

use carebill_billing::validate::{self, CardBrand};
use carebill_billing::{Invalid, Money};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::error::{ClientCode, ClientError, ClientResult};

/// A rule's refusal at `field`. The specific `invalid_*` codes of payment details pass through
/// (the UI words them per field); the rest are `validation_failed`, as the server answers them.
fn invalid(field: &str, e: Invalid) -> ClientError {
    let code = if e.code.starts_with("invalid_")
        && !matches!(
            e.code,
            "invalid_email" | "invalid_name" | "invalid_member_id" | "invalid_date"
        ) {
        e.code
    } else {
        "validation_failed"
    };
    ClientError::validation(code, e.message, field).with_params(&e.params)
}

/// The password rules the server applies (length, common list, repeats, sequences, identifiers).
pub fn password(password: &str, email: Option<&str>, member_id: Option<&str>) -> ClientResult<()> {
    carebill_billing::password::check(
        password,
        carebill_billing::password::PasswordContext { email, member_id },
    )
    .map_err(|r| ClientError::validation("weak_password", r.message(), "/password").with_reason(r.as_str()))
}

pub fn email(email: &str) -> ClientResult<String> {
    validate::email(email).map_err(|e| invalid("/email", e))
}

/// A member ID in the plan's format (`Engine::member_id_rule`).
pub fn member_id(member_id: &str, rule: &validate::MemberIdRule) -> ClientResult<String> {
    rule.check(member_id).map_err(|e| invalid("/member_id", e))
}

/// A first (`which` = "first") or last ("last") name.
pub fn name(name: &str, which: &str) -> ClientResult<String> {
    let label = if which == "last" { "last name" } else { "first name" };
    validate::person_name(name, label).map_err(|e| invalid(&format!("/{which}_name"), e))
}

/// A date of birth from its three fields, on `today`; answers `YYYY-MM-DD`.
pub fn date_of_birth(day: &str, month: &str, year: &str, today: NaiveDate) -> ClientResult<String> {
    let pad = |s: &str, n: usize| format!("{:0>n$}", s.trim());
    let iso = format!("{}-{}-{}", pad(year, 4), pad(month, 2), pad(day, 2));
    // The form asks for month, day and year (the US order), never for `YYYY-MM-DD`.
    let digits = |s: &str, most: usize| {
        !s.trim().is_empty() && s.trim().len() <= most && s.trim().bytes().all(|b| b.is_ascii_digit())
    };
    if !(digits(month, 2) && digits(day, 2) && year.trim().len() == 4 && digits(year, 4))
        || validate::iso_date(&iso).is_err()
    {
        return Err(invalid(
            "/date_of_birth",
            Invalid::new(
                "invalid_date",
                "Enter a real date of birth as month, day and year, like 04 12 1985 for April 12, 1985.",
            ),
        ));
    }
    validate::date_of_birth(&iso, today)
        .map(|d| d.format("%Y-%m-%d").to_string())
        .map_err(|e| invalid("/date_of_birth", e))
}

/// An amount for one bill: more than 0, at most two decimals, at most what can be paid
/// (`payable`, as the bill shows it: "125.50").
pub fn amount(amount: &str, payable: &str) -> ClientResult<Money> {
    let payable = Money::parse(payable).map_err(ClientError::internal)?;
    let invalid = |e: Invalid| ClientError::validation(e.code, e.message, "/amount").with_params(&e.params);
    let m = validate::payment_amount(amount).map_err(invalid)?;
    validate::within_payable(m, payable).map_err(invalid)?;
    Ok(m)
}

/// What the card number typed so far says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct CardCheck {
    /// `visa`, `mastercard`, `amex`, `discover` or `unknown` (from the first digits).
    pub brand: String,
    pub brand_name: String,
    pub cvc_length: u32,
}

/// Recognises the brand as the number is typed; with `complete`, checks the whole number.
pub fn card_number(number: &str, complete: bool) -> ClientResult<CardCheck> {
    let digits = validate::normalize_card_number(number);
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ClientError::of(ClientCode::CardDigitsOnly).at("/number"));
    }
    if complete {
        validate::card_number(&digits).map_err(|e| invalid("/number", e))?;
    }
    let brand = CardBrand::from_number(&digits);
    Ok(CardCheck {
        brand: brand.as_str().into(),
        brand_name: brand.display_name().into(),
        cvc_length: brand.cvc_len() as u32,
    })
}

pub fn card_expiry(month: u32, year: i32, today: NaiveDate) -> ClientResult<()> {
    validate::card_expiry(month, year, today).map_err(|e| invalid("/exp_month", e))
}

/// The security code, for the brand the number shows.
pub fn card_cvc(cvc: &str, number: &str) -> ClientResult<()> {
    validate::card_cvc(cvc, CardBrand::from_number(&validate::normalize_card_number(number)))
        .map_err(|e| invalid("/cvc", e))
}

pub fn postal_code(postal_code: &str) -> ClientResult<()> {
    validate::postal_code(postal_code.trim()).map_err(|e| invalid("/postal_code", e))
}

pub fn routing_number(routing_number: &str) -> ClientResult<()> {
    validate::routing_number(routing_number.trim()).map_err(|e| invalid("/routing_number", e))
}

/// The account number, and (when typed) its confirmation.
pub fn account_number(account_number: &str, confirmation: Option<&str>) -> ClientResult<()> {
    validate::bank_account_number(account_number.trim()).map_err(|e| invalid("/account_number", e))?;
    match confirmation {
        Some(c) if c.trim() != account_number.trim() => {
            Err(ClientError::of(ClientCode::AccountNumbersDiffer).at("/account_number_confirm"))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_point_at_the_field_with_the_servers_codes() {
        let e = email("not an address").unwrap_err();
        assert_eq!(
            (e.code.as_str(), e.field.as_deref()),
            ("validation_failed", Some("/email"))
        );
        let e = card_number("4242 4242 4242 4241", true).unwrap_err();
        assert_eq!(
            (e.code.as_str(), e.field.as_deref()),
            ("invalid_card_number", Some("/number"))
        );
        let e = card_number("4242-abcd", false).unwrap_err();
        assert_eq!(e.code, "invalid_card_number");
        let e = account_number("000123456789", Some("000123456780")).unwrap_err();
        assert_eq!(
            (e.code.as_str(), e.field.as_deref()),
            ("account_numbers_differ", Some("/account_number_confirm"))
        );
        let e = password("password", None, None).unwrap_err();
        assert_eq!(
            (e.code.as_str(), e.field.as_deref()),
            ("weak_password", Some("/password"))
        );
    }

    #[test]
    fn good_input_is_answered_normalized() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
        assert_eq!(date_of_birth("5", "4", "1985", today).unwrap(), "1985-04-05");
        assert_eq!(amount("125.5", "200.00").unwrap(), Money::from_cents(12_550));
        assert!(amount("250.00", "200.00").is_err(), "more than can be paid");
        let check = card_number("4242 4242 4242 4242", true).unwrap();
        assert_eq!((check.brand.as_str(), check.cvc_length), ("visa", 3));
        account_number("000123456789", Some(" 000123456789 ")).unwrap();
    }

    #[test]
    fn a_date_of_birth_is_month_day_year_and_its_error_says_so() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
        assert_eq!(
            date_of_birth(" 12 ", "04", "1985", today).unwrap(),
            "1985-04-12",
            "April 12"
        );
        for (day, month, year) in [
            ("31", "2", "1985"),
            ("12", "13", "1985"),
            ("12", "4", "85"),
            ("", "4", "1985"),
            ("1.5", "4", "1985"),
        ] {
            let e = date_of_birth(day, month, year, today).unwrap_err();
            assert_eq!(
                (e.code.as_str(), e.field.as_deref()),
                ("validation_failed", Some("/date_of_birth")),
                "{month}/{day}/{year}"
            );
            assert!(e.message.contains("month, day and year"), "{}", e.message);
        }
        let future = date_of_birth("1", "1", "2027", today).unwrap_err();
        assert!(future.message.contains("in the past"), "{}", future.message);
    }
}
