//! Claims beside bills: which claim a bill is probably for, and the categories of an EOB that
//! explain what the member owes. Pure rules; the server and the app bring the data.

use chrono::NaiveDate;

use crate::Money;

/// The adjudication categories that make up what a member owes, in the order a member reads them
/// ("Deductible $400.00 - Coinsurance $232.56"). CARIN's codes.
pub const MEMBER_COST_CATEGORIES: [&str; 4] = ["deductible", "copay", "coinsurance", "noncovered"];

/// A claim number as bills and claims carry it: 1 to 64 letters, digits and `- . _ /`.
pub fn is_claim_number(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 64
        && n.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'/'))
}

/// A provider's name reduced to what identifies it: lower case letters and digits in words,
/// without punctuation and without the words that vary between a bill and a claim ("the",
/// "inc", "llc", "pc", "md", ...). "St. Mary's Medical Center, Inc." and "ST MARYS MEDICAL
/// CENTER" give the same key.
pub fn provider_key(name: &str) -> String {
    const NOISE: [&str; 14] = [
        "the", "inc", "llc", "llp", "pc", "pa", "md", "do", "pllc", "corp", "co", "ltd", "of", "and",
    ];
    name.split(|c: char| c.is_whitespace() || c == ',' || c == '-' || c == '/' || c == '&')
        .map(|w| {
            w.chars()
                .filter(|c| c.is_alphanumeric())
                .flat_map(char::to_lowercase)
                .collect::<String>()
        })
        .filter(|w| !w.is_empty() && !NOISE.contains(&w.as_str()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// What a bill says, for matching.
#[derive(Debug, Clone, Copy)]
pub struct BillFacts<'a> {
    pub provider: &'a str,
    pub facility: &'a str,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub total_charges: Money,
    /// The member's responsibility (`amount_due`).
    pub responsibility: Money,
}

/// What a claim says, for matching.
#[derive(Debug, Clone, Copy)]
pub struct ClaimFacts<'a> {
    pub provider: Option<&'a str>,
    pub facility: Option<&'a str>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub submitted: Option<Money>,
    pub member_liability: Option<Money>,
}

/// Whether a bill without a claim number is probably for this claim: the same provider (either
/// name of one equals either name of the other, as [`provider_key`]s), service dates that
/// overlap, and the same amount (the charges the provider submitted, or what the member owes).
/// Only "probably": a bill can match several claims and a claim several bills.
pub fn probably_same(bill: &BillFacts<'_>, claim: &ClaimFacts<'_>) -> bool {
    let bill_names = [provider_key(bill.provider), provider_key(bill.facility)];
    let same_provider = [claim.provider, claim.facility]
        .into_iter()
        .flatten()
        .map(provider_key)
        .any(|k| !k.is_empty() && bill_names.contains(&k));
    let (Some(from), to) = (claim.from, claim.to) else {
        return false;
    };
    let to = to.unwrap_or(from);
    let overlaps = from <= bill.to && bill.from <= to;
    let same_amount =
        claim.submitted == Some(bill.total_charges) || claim.member_liability == Some(bill.responsibility);
    same_provider && overlaps && same_amount
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn m(s: &str) -> Money {
        s.parse().unwrap()
    }

    #[test]
    fn provider_names_reduce_to_the_same_key() {
        assert_eq!(
            provider_key("St. Mary's Medical Center, Inc."),
            "st marys medical center"
        );
        assert_eq!(provider_key("ST MARYS MEDICAL CENTER"), "st marys medical center");
        assert_eq!(provider_key("Bay Family Practice, P.C."), "bay family practice");
        assert_ne!(provider_key("Bay Family Practice"), provider_key("Bay Imaging"));
        assert_eq!(provider_key(" , - "), "");
    }

    #[test]
    fn a_probable_match_needs_provider_dates_and_amount() {
        let bill = BillFacts {
            provider: "Bay Family Practice, P.C.",
            facility: "Bay Clinic",
            from: d("2026-03-02"),
            to: d("2026-03-02"),
            total_charges: m("250.00"),
            responsibility: m("45.00"),
        };
        let claim = ClaimFacts {
            provider: Some("BAY FAMILY PRACTICE"),
            facility: None,
            from: Some(d("2026-03-01")),
            to: Some(d("2026-03-05")),
            submitted: Some(m("250.00")),
            member_liability: Some(m("40.00")),
        };
        assert!(probably_same(&bill, &claim));
        // By what the member owes when the charges differ.
        let by_owed = ClaimFacts {
            submitted: Some(m("260.00")),
            member_liability: Some(m("45.00")),
            ..claim
        };
        assert!(probably_same(&bill, &by_owed));
        let other_amounts = ClaimFacts {
            submitted: Some(m("260.00")),
            ..claim
        };
        assert!(!probably_same(&bill, &other_amounts));
        let other_dates = ClaimFacts {
            from: Some(d("2026-03-03")),
            to: None,
            ..claim
        };
        assert!(!probably_same(&bill, &other_dates));
        let other_provider = ClaimFacts {
            provider: Some("Bay Imaging"),
            ..claim
        };
        assert!(!probably_same(&bill, &other_provider));
        // The claim's facility may be the bill's provider.
        let by_facility = ClaimFacts {
            provider: Some("Dr. Lee"),
            facility: Some("Bay Clinic"),
            ..claim
        };
        assert!(probably_same(&bill, &by_facility));
        let no_dates = ClaimFacts {
            from: None,
            to: None,
            ..claim
        };
        assert!(!probably_same(&bill, &no_dates));
    }
}
