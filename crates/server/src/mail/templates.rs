//! Every mail's words: subject and body from plain values, no database and no sending (the
//! callers look up the member and enqueue). A leaf: it imports nothing of the crate.

use carebill_api::types::{Payment, PaymentMethodSummary, PaymentMethodType, PaymentStatus, PlanInfo};
use carebill_billing::Money;
use carebill_billing::validate::CardBrand;
use chrono::NaiveDate;

/// A mail: subject and body.
pub struct Mail {
    pub subject: String,
    pub body: String,
}

/// What every mail ends with: who to call and when, and the plan's language-assistance notice.
pub fn footer(plan: &PlanInfo) -> String {
    let services = &plan.member_services;
    let taglines: String = plan
        .language_assistance
        .iter()
        .map(|t| format!("{}\n", t.text))
        .collect();
    format!(
        "\n--\nQuestions about a bill or a payment? Call {} member services at {} (TTY {}), {}.\n\n{taglines}",
        plan.name, services.phone, services.tty, services.hours.en
    )
}

/// "Visa ending 4242", "Chase Bank account ending 6789".
pub fn method_label(m: &PaymentMethodSummary) -> String {
    match m.kind {
        PaymentMethodType::Card => format!("{} ending {}", brand_name(&m.brand), m.last4),
        PaymentMethodType::BankAccount => format!("{} account ending {}", m.brand, m.last4),
    }
}

/// The display name of a card brand as stored (`visa` -> `Visa`); anything else as it is.
fn brand_name(brand: &str) -> &str {
    match CardBrand::from_wire(brand) {
        Some(known) => known.display_name(),
        None => brand,
    }
}

/// A receipt's facts, one per line: confirmation number, amount, method, date and status.
pub fn receipt_summary(p: &Payment) -> String {
    let status = match p.status {
        PaymentStatus::Pending => "Pending. Bank payments usually settle in 2 business days.",
        _ => "Paid.",
    };
    format!(
        "Confirmation number: {}\nAmount: {}\nPaid with: {}\nDate: {}\nStatus: {status}\n",
        p.confirmation_number,
        p.amount.display_usd(),
        method_label(&p.payment_method),
        p.created_at.format("%b %-d, %Y"),
    )
}

/// The member's receipt; `bills` are each bill's label and the amount paid on it.
pub fn receipt(first_name: &str, p: &Payment, bills: &[(String, Money)]) -> Mail {
    let lines: String = bills
        .iter()
        .map(|(label, amount)| format!("  {label}: {}\n", amount.display_usd()))
        .collect();
    Mail {
        subject: format!("Carebill receipt {}", p.confirmation_number),
        body: format!(
            "Hello {first_name},\n\nThank you. We received your payment.\n\n{}\nBills paid:\n{lines}\n\
             Keep this email for your records. You can also see this payment in Carebill under Payment history.\n",
            receipt_summary(p)
        ),
    }
}

/// The receipt a guest asks for at a kiosk: only what the confirmation screen showed.
pub fn guest_receipt(p: &Payment) -> Mail {
    Mail {
        subject: format!("Carebill receipt {}", p.confirmation_number),
        body: format!(
            "Thank you. We received your payment.\n\n{}\nKeep this email for your records.\n",
            receipt_summary(p)
        ),
    }
}

/// Autopay's notice before a charge.
pub fn autopay_notice(
    first: &str,
    amount: Money,
    method: &PaymentMethodSummary,
    charge_date: NaiveDate,
    provider: &str,
    skip_deadline: NaiveDate,
) -> Mail {
    Mail {
        subject: "Carebill autopay: an upcoming charge".into(),
        body: format!(
            "Hello {first},\n\nAutopay will charge {} to {} on {} for your bill from {provider}.\n\n\
             To skip this charge, open Carebill, go to Autopay and choose Skip before the end of {}.\n",
            amount.display_usd(),
            method_label(method),
            charge_date.format("%A, %b %-d, %Y"),
            skip_deadline.format("%A, %b %-d, %Y"),
        ),
    }
}

/// A bill autopay did not charge because it is over the member's maximum.
pub fn autopay_over_limit(first: &str, provider: &str, payable: Money, max: Money) -> Mail {
    Mail {
        subject: "Carebill autopay did not charge a bill".into(),
        body: format!(
            "Hello {first},\n\nAutopay did not charge your bill from {provider} because {} is more than your maximum of {} per charge.\n\n\
             Nothing was charged. Please pay this bill yourself in Carebill, or raise your autopay maximum.\n",
            payable.display_usd(),
            max.display_usd(),
        ),
    }
}

/// An autopay charge the card or bank declined (`reason`: the decline's message).
pub fn autopay_declined(first: &str, p: &Payment, provider: &str, reason: &str) -> Mail {
    Mail {
        subject: "Carebill autopay: a charge was declined".into(),
        body: format!(
            "Hello {first},\n\nAutopay tried to charge {} to {} for your bill from {provider}, and it was declined: {reason}\n\n\
             The bill is still open and autopay will not try again. Please pay it in Carebill, and consider updating your autopay payment method.\n",
            p.amount.display_usd(),
            method_label(&p.payment_method),
        ),
    }
}

/// The 6-digit code that confirms a registration's address.
pub fn confirmation_code(first_name: &str, code: &str) -> Mail {
    Mail {
        subject: "Your Carebill confirmation code".into(),
        body: format!(
            "Hello {first_name},\n\nYour Carebill confirmation code is {code}.\nIt expires in 15 minutes.\n\n\
             If you did not create a Carebill account, you can ignore this message.\n"
        ),
    }
}

/// To the owner of an address someone else tried to register with.
pub fn address_in_use() -> Mail {
    Mail {
        subject: "Someone tried to register with your email address".into(),
        body: "Hello,\n\nSomeone tried to create a Carebill account with this email address, which already \
               has an account. If it was you, sign in, or use \"Forgot password\" on the sign-in screen.\n\n\
               If it was not you, you can ignore this message: nothing changed.\n"
            .into(),
    }
}

/// A password reset code (`code` as shown: `ABCD-EFGH`).
pub fn reset_code(first_name: &str, code: &str) -> Mail {
    Mail {
        subject: "Your Carebill password reset code".into(),
        body: format!(
            "Hello {first_name},\n\nSomeone asked to reset the password of your Carebill account.\n\n\
             Your reset code is {code}. It works once and expires in 30 minutes.\n\n\
             If this was not you, ignore this message: your password has not changed.\n"
        ),
    }
}

/// After a password change or reset.
pub fn password_changed(first_name: &str) -> Mail {
    Mail {
        subject: "Your Carebill password was changed".into(),
        body: format!(
            "Hello {first_name},\n\nThe password of your Carebill account was just changed, and other devices were signed out.\n\n\
             If this was not you, reset your password now from the sign-in screen (\"Forgot password\") and contact member services.\n"
        ),
    }
}

/// A bank payment the bank returned (`code`: the ACH return code, `reason` its meaning).
pub fn payment_returned(first_name: &str, p: &Payment, code: &str, reason: &str) -> Mail {
    Mail {
        subject: "Your Carebill bank payment was returned".into(),
        body: format!(
            "Hello {first_name},\n\nYour bank returned the payment {} of {} ({code}: {reason}).\n\n\
             The bills it was paying are open again. Please pay them in Carebill with another payment method, \
             or check with your bank first.\n",
            p.confirmation_number,
            p.amount.display_usd(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn card_brands_read_as_people_know_them() {
        let card = |brand: &str| PaymentMethodSummary {
            kind: PaymentMethodType::Card,
            brand: brand.into(),
            last4: "4242".into(),
        };
        assert_eq!(method_label(&card("visa")), "Visa ending 4242");
        assert_eq!(method_label(&card("amex")), "American Express ending 4242");
        assert_eq!(method_label(&card("Card")), "Card ending 4242");
    }
}
