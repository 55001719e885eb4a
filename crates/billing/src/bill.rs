//! Bills, line items and the arithmetic between them.
//!
//! `amount_due = total_charges - insurance_paid - adjustments` (adjustments are reductions and
//! never negative); `balance = amount_due - settled payments`; `pending_amount` is what payments
//! not yet settled cover; `payable = balance - pending_amount`.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::Money;

/// Who issued the bill.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub enum BillKind {
    /// A facility bill (hospital, surgery center, lab).
    Hospital,
    /// A clinician's bill.
    Professional,
}

impl BillKind {
    pub fn as_str(self) -> &'static str {
        match self {
            BillKind::Hospital => "hospital",
            BillKind::Professional => "professional",
        }
    }

    pub fn parse(s: &str) -> Option<BillKind> {
        match s {
            "hospital" => Some(BillKind::Hospital),
            "professional" => Some(BillKind::Professional),
            _ => None,
        }
    }
}

/// Where a bill stands, from settled payments only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub enum BillStatus {
    /// Nothing settled yet and something is owed.
    Open,
    /// Some payments settled; a balance remains.
    PartiallyPaid,
    /// Nothing remains to pay.
    Paid,
}

impl BillStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            BillStatus::Open => "open",
            BillStatus::PartiallyPaid => "partially_paid",
            BillStatus::Paid => "paid",
        }
    }

    pub fn parse(s: &str) -> Option<BillStatus> {
        match s {
            "open" => Some(BillStatus::Open),
            "partially_paid" => Some(BillStatus::PartiallyPaid),
            "paid" => Some(BillStatus::Paid),
            _ => None,
        }
    }
}

/// The charges of a bill as the provider issued them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Charges {
    pub total_charges: Money,
    pub insurance_paid: Money,
    pub adjustments: Money,
}

/// Derived amounts of a bill at one moment. Read top to bottom they are the member's statement:
/// amount billed - insurance paid - discounts = your responsibility (`amount_due`) - payments you
/// made (`payments_made`) - other payments received (`other_payments`) = `balance`, - processing
/// (`pending_amount`) = you owe now (`payable`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Balances {
    pub amount_due: Money,
    pub payments_made: Money,
    pub other_payments: Money,
    pub balance: Money,
    pub pending_amount: Money,
    pub payable: Money,
    pub status: BillStatus,
}

/// Amounts that cannot belong to a real bill.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BillError {
    #[error("amounts cannot be negative")]
    Negative,
    #[error("insurance payments and adjustments exceed the total charges")]
    CreditBalance,
    #[error("payments received, settled and pending exceed the amount due")]
    Overpaid,
    #[error("line items do not add up to the bill's {0}")]
    LineItemsMismatch(&'static str),
    #[error("line item {index}: {problem}")]
    LineItem { index: usize, problem: &'static str },
    #[error("a bill needs at least one line item")]
    NoLineItems,
    #[error("dates are out of order: {0}")]
    Dates(&'static str),
}

impl Charges {
    pub fn amount_due(&self) -> Result<Money, BillError> {
        if [self.total_charges, self.insurance_paid, self.adjustments]
            .iter()
            .any(|m| m.is_negative())
        {
            return Err(BillError::Negative);
        }
        let due = self
            .total_charges
            .checked_sub(self.insurance_paid)
            .and_then(|m| m.checked_sub(self.adjustments))
            .ok_or(BillError::CreditBalance)?;
        if due.is_negative() {
            return Err(BillError::CreditBalance);
        }
        Ok(due)
    }

    /// Balances given what was paid elsewhere (`other`: at the provider's office or by another
    /// party, as the plan's import says), what the member's payments settled and what is still
    /// pending.
    pub fn balances(&self, other: Money, settled: Money, pending: Money) -> Result<Balances, BillError> {
        let amount_due = self.amount_due()?;
        if other.is_negative() || settled.is_negative() || pending.is_negative() {
            return Err(BillError::Negative);
        }
        let balance = amount_due
            .checked_sub(settled)
            .and_then(|m| m.checked_sub(other))
            .ok_or(BillError::Overpaid)?;
        let payable = balance.checked_sub(pending).ok_or(BillError::Overpaid)?;
        if balance.is_negative() || payable.is_negative() {
            return Err(BillError::Overpaid);
        }
        let status = if balance.is_zero() {
            BillStatus::Paid
        } else if settled.is_positive() || other.is_positive() {
            BillStatus::PartiallyPaid
        } else {
            BillStatus::Open
        };
        Ok(Balances {
            amount_due,
            payments_made: settled,
            other_payments: other,
            balance,
            pending_amount: pending,
            payable,
            status,
        })
    }
}

/// One service on a bill.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineItem {
    pub service_date: NaiveDate,
    pub description: String,
    /// CPT or HCPCS code.
    pub code: String,
    pub quantity: u32,
    pub charge: Money,
    pub insurance_paid: Money,
    pub adjustment: Money,
    pub patient_responsibility: Money,
}

/// Checks a bill's line items against its charges and dates: every column adds up, every line's
/// responsibility is its charge less insurance and adjustment, and services fall inside the
/// bill's service period.
pub fn check_line_items(
    charges: &Charges,
    service_from: NaiveDate,
    service_to: NaiveDate,
    items: &[LineItem],
) -> Result<(), BillError> {
    if service_from > service_to {
        return Err(BillError::Dates("service period ends before it starts"));
    }
    if items.is_empty() {
        return Err(BillError::NoLineItems);
    }
    for (index, item) in items.iter().enumerate() {
        let line = Charges {
            total_charges: item.charge,
            insurance_paid: item.insurance_paid,
            adjustments: item.adjustment,
        };
        let owed = line.amount_due().map_err(|_| BillError::LineItem {
            index,
            problem: "insurance and adjustment exceed the charge",
        })?;
        if owed != item.patient_responsibility {
            return Err(BillError::LineItem {
                index,
                problem: "patient responsibility is not charge - insurance paid - adjustment",
            });
        }
        if item.quantity == 0 {
            return Err(BillError::LineItem {
                index,
                problem: "quantity must be at least 1",
            });
        }
        if item.service_date < service_from || item.service_date > service_to {
            return Err(BillError::LineItem {
                index,
                problem: "service date is outside the bill's service period",
            });
        }
    }
    let sum = |f: fn(&LineItem) -> Money| items.iter().map(f).sum::<Money>();
    if sum(|i| i.charge) != charges.total_charges {
        return Err(BillError::LineItemsMismatch("total charges"));
    }
    if sum(|i| i.insurance_paid) != charges.insurance_paid {
        return Err(BillError::LineItemsMismatch("insurance paid"));
    }
    if sum(|i| i.adjustment) != charges.adjustments {
        return Err(BillError::LineItemsMismatch("adjustments"));
    }
    Ok(())
}

/// A bill is overdue when something is still payable after its due date (plan's calendar).
pub fn is_overdue(due_date: NaiveDate, payable: Money, business_date: NaiveDate) -> bool {
    payable.is_positive() && due_date < business_date
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(s: &str) -> Money {
        Money::parse(s).unwrap()
    }

    fn charges() -> Charges {
        Charges {
            total_charges: m("1000.00"),
            insurance_paid: m("600.00"),
            adjustments: m("150.00"),
        }
    }

    #[test]
    fn balances_follow_the_formula() {
        let b = charges().balances(Money::ZERO, Money::ZERO, Money::ZERO).unwrap();
        assert_eq!(
            (b.amount_due, b.balance, b.payable, b.status),
            (m("250.00"), m("250.00"), m("250.00"), BillStatus::Open)
        );

        let b = charges().balances(Money::ZERO, m("100.00"), m("50.00")).unwrap();
        assert_eq!(b.balance, m("150.00"));
        assert_eq!(b.pending_amount, m("50.00"));
        assert_eq!(b.payable, m("100.00"));
        assert_eq!(b.status, BillStatus::PartiallyPaid);

        let b = charges().balances(Money::ZERO, Money::ZERO, m("250.00")).unwrap();
        assert_eq!(
            (b.payable, b.status),
            (Money::ZERO, BillStatus::Open),
            "pending does not settle"
        );

        let b = charges().balances(Money::ZERO, m("250.00"), Money::ZERO).unwrap();
        assert_eq!(b.status, BillStatus::Paid);

        // Paid at the provider's office: the statement still adds up to what is owed now.
        let b = charges().balances(m("40.00"), m("100.00"), m("10.00")).unwrap();
        assert_eq!(
            (b.payments_made, b.other_payments, b.balance, b.payable, b.status),
            (
                m("100.00"),
                m("40.00"),
                m("110.00"),
                m("100.00"),
                BillStatus::PartiallyPaid
            )
        );
        let adds_up = [b.payments_made, b.other_payments, b.pending_amount]
            .into_iter()
            .try_fold(b.amount_due, Money::checked_sub);
        assert_eq!(adds_up, Some(b.payable));
        let b = charges().balances(m("250.00"), Money::ZERO, Money::ZERO).unwrap();
        assert_eq!(b.status, BillStatus::Paid, "paid in full elsewhere");
    }

    #[test]
    fn impossible_amounts_are_errors() {
        assert_eq!(
            charges().balances(Money::ZERO, m("300.00"), Money::ZERO),
            Err(BillError::Overpaid)
        );
        assert_eq!(
            charges().balances(Money::ZERO, m("200.00"), m("60.00")),
            Err(BillError::Overpaid)
        );
        assert_eq!(
            charges().balances(m("60.00"), m("200.00"), Money::ZERO),
            Err(BillError::Overpaid)
        );
        assert_eq!(
            charges().balances(Money::from_cents(-100), Money::ZERO, Money::ZERO),
            Err(BillError::Negative)
        );
        let credit = Charges {
            total_charges: m("10.00"),
            insurance_paid: m("11.00"),
            adjustments: Money::ZERO,
        };
        assert_eq!(credit.amount_due(), Err(BillError::CreditBalance));
    }

    #[test]
    fn line_items_must_add_up() {
        let d = |s| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let item = |charge: &str, ins: &str, adj: &str, resp: &str| LineItem {
            service_date: d("2026-03-02"),
            description: "Office visit".into(),
            code: "99213".into(),
            quantity: 1,
            charge: m(charge),
            insurance_paid: m(ins),
            adjustment: m(adj),
            patient_responsibility: m(resp),
        };
        let items = vec![
            item("600.00", "400.00", "100.00", "100.00"),
            item("400.00", "200.00", "50.00", "150.00"),
        ];
        assert_eq!(
            check_line_items(&charges(), d("2026-03-01"), d("2026-03-03"), &items),
            Ok(())
        );

        let mut wrong = items.clone();
        wrong[1].patient_responsibility = m("149.99");
        assert!(matches!(
            check_line_items(&charges(), d("2026-03-01"), d("2026-03-03"), &wrong),
            Err(BillError::LineItem { index: 1, .. })
        ));

        let short = vec![items[0].clone()];
        assert_eq!(
            check_line_items(&charges(), d("2026-03-01"), d("2026-03-03"), &short),
            Err(BillError::LineItemsMismatch("total charges"))
        );
        assert!(check_line_items(&charges(), d("2026-03-03"), d("2026-03-02"), &items).is_err());
        assert!(check_line_items(&charges(), d("2026-03-03"), d("2026-03-04"), &items).is_err());
    }

    #[test]
    fn overdue_needs_a_payable_amount_past_its_due_date() {
        let d = |s| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert!(is_overdue(d("2026-11-01"), m("1.00"), d("2026-11-02")));
        assert!(!is_overdue(d("2026-11-02"), m("1.00"), d("2026-11-02")));
        assert!(!is_overdue(d("2026-11-01"), Money::ZERO, d("2026-11-02")));
    }
}
