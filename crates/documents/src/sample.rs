//! Made-up inputs for this crate's tests and benchmarks: a bill with any number of line items,
//! and a year of payments. Fictional names and numbers only.

use carebill_api::types::{
    Allocation, Bill, BillDetail, BillPayment, Funding, LineItem, Locale, Payment, PaymentMethodSummary,
    PaymentMethodType, PaymentSource, PaymentStatus,
};
use carebill_billing::{BillKind, BillStatus, Money};
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};

use crate::Holder;

pub fn holder(locale: Locale) -> Holder {
    Holder {
        name: "Jordan Lee".into(),
        member_id: "M200000001".into(),
        locale,
        plan_name: "Carebill Demo Health Plan".into(),
    }
}

fn cents(c: i64) -> Money {
    Money::from_cents(c)
}

/// A bill with `lines` line items of $125.00 billed, $80.00 insurance paid and $20.00 discount
/// each (so $25.00 the member's), and one $25.00 card payment applied.
pub fn bill(id: &str, provider: &str, lines: usize) -> BillDetail {
    let n = lines as i64;
    let day = NaiveDate::from_ymd_opt(2026, 3, 2).unwrap_or_default();
    let line_items = (0..lines)
        .map(|i| LineItem {
            service_date: day + Duration::days((i % 5) as i64),
            description: format!("Office visit, established patient, moderate complexity, item {}", i + 1),
            code: format!("{}", 99200 + (i % 20)),
            quantity: 1,
            charge: cents(12_500),
            insurance_paid: cents(8_000),
            adjustment: cents(2_000),
            patient_responsibility: cents(2_500),
        })
        .collect();
    let payment = BillPayment {
        payment_id: format!("pay_{id}"),
        confirmation_number: "CB-7K2M-9QXP".into(),
        status: PaymentStatus::Succeeded,
        amount: cents(2_500),
        payment_method: card(Some(Funding::HsaFsa)),
        created_at: at(2026, 4, 1, 18),
        settled_at: Some(at(2026, 4, 1, 18)),
        source: PaymentSource::Member,
    };
    BillDetail {
        bill: Bill {
            id: id.into(),
            account_number: "ACCT-448812".into(),
            statement_number: format!("ST-{id}"),
            kind: BillKind::Professional,
            patient_name: Some("Riley Lee".into()),
            provider: provider.into(),
            facility: "Bayside Clinic, 100 Harbor Way".into(),
            service_date_from: day,
            service_date_to: day + Duration::days(4.min(n.saturating_sub(1))),
            statement_date: NaiveDate::from_ymd_opt(2026, 3, 20).unwrap_or_default(),
            due_date: NaiveDate::from_ymd_opt(2026, 4, 19).unwrap_or_default(),
            total_charges: cents(12_500 * n),
            insurance_paid: cents(8_000 * n),
            adjustments: cents(2_000 * n),
            amount_due: cents(2_500 * n),
            payments_made: cents(2_500),
            other_payments: cents(0),
            balance: cents(2_500 * n - 2_500),
            pending_amount: cents(0),
            payable: cents(2_500 * n - 2_500),
            status: BillStatus::PartiallyPaid,
            billing_phone: Some("1-800-555-0199".into()),
            payment_plan_id: None,
            claim_number: None,
            open_conversation_id: None,
        },
        line_items,
        payments: vec![payment],
    }
}

pub fn card(funding: Option<Funding>) -> PaymentMethodSummary {
    PaymentMethodSummary {
        kind: PaymentMethodType::Card,
        brand: "visa".into(),
        last4: "1000".into(),
        funding,
    }
}

pub fn bank() -> PaymentMethodSummary {
    PaymentMethodSummary {
        kind: PaymentMethodType::BankAccount,
        brand: "Harbor Credit Union".into(),
        last4: "6789".into(),
        funding: None,
    }
}

pub fn at(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, 0, 0).single().unwrap_or_default()
}

/// A payment of `amount_cents` split evenly (the last bill gets the odd cents) over `bills`.
pub fn payment(
    id: &str,
    created_at: DateTime<Utc>,
    amount_cents: i64,
    bills: &[&str],
    status: PaymentStatus,
    method: PaymentMethodSummary,
    source: PaymentSource,
) -> Payment {
    let n = bills.len().max(1) as i64;
    let share = amount_cents / n;
    let allocations = bills
        .iter()
        .enumerate()
        .map(|(i, b)| Allocation {
            bill_id: (*b).into(),
            amount: cents(if i as i64 == n - 1 {
                amount_cents - share * (n - 1)
            } else {
                share
            }),
        })
        .collect();
    Payment {
        id: id.into(),
        status,
        amount: cents(amount_cents),
        allocations,
        confirmation_number: format!("CB-{}", id.trim_start_matches("pay_").to_uppercase()),
        payment_method: method,
        created_at,
        settled_at: None,
        failure: None,
        idempotency_key: None,
        source,
    }
}

/// `count` succeeded payments over 2026, on three providers' bills, of odd amounts.
pub fn year_of_payments(count: usize) -> (Vec<Payment>, Vec<Bill>) {
    let bills: Vec<Bill> = ["Bayside Medical Group", "Harbor Imaging", "Northside Pediatrics"]
        .iter()
        .enumerate()
        .map(|(i, p)| bill(&format!("bil_{i}"), p, 1).bill)
        .collect();
    let start = at(2026, 1, 1, 9);
    let payments = (0..count)
        .map(|i| {
            let b = &bills[i % bills.len()].id;
            let c = &bills[(i + 1) % bills.len()].id;
            let on: Vec<&str> = if i % 4 == 0 { vec![b, c] } else { vec![b] };
            payment(
                &format!("pay_{i:05}"),
                start + Duration::minutes((i as i64 * 524_160) / count.max(1) as i64),
                1_001 + (i as i64 * 37) % 50_000,
                &on,
                PaymentStatus::Succeeded,
                if i % 3 == 0 { bank() } else { card(None) },
                if i % 10 == 0 {
                    PaymentSource::Guest
                } else {
                    PaymentSource::Member
                },
            )
        })
        .collect();
    (payments, bills)
}
