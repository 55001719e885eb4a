//! What a member or a guest checks before paying, and how a payment is sent until its answer is
//! known. Shared by member pay (`engine/pay.rs`) and kiosk guest pay (`engine/guest.rs`); nothing
//! here holds an `Engine`.
//!
//! The amount rule is the billing crate's (`validate::payment_amount`, `within_payable`), so the
//! app refuses exactly what the server would, with the same codes and sentences.

use chrono::NaiveDate;
use std::future::Future;
use std::time::Duration;

use carebill_api::ErrorCode;
use carebill_api::types::{
    AchAuthorization, BillDetail, Payment, PaymentMethod, PaymentMethodSummary, PaymentMethodType, ProcessorToken,
    ScheduledPayment,
};
use carebill_billing::{Money, validate};
use rusqlite::Connection;
use serde::{Deserialize, Serialize};

use crate::cache;
use crate::error::{ClientCode, ClientError, ClientResult, ErrorKind};
use crate::outbox;

/// What is being paid with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum DraftMethod {
    Saved {
        payment_method_id: String,
    },
    /// A token from [`crate::Engine::tokenize`]; saved as a payment method first when `save` is set.
    New {
        token: ProcessorToken,
        save: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct DraftAllocation {
    pub bill_id: String,
    /// As typed: "125.50".
    pub amount: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct PaymentDraft {
    pub allocations: Vec<DraftAllocation>,
    pub method: DraftMethod,
    /// "Pay on": a later date (up to the bills' due date) schedules the payment instead; absent
    /// or today pays now.
    #[serde(default)]
    pub pay_on: Option<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ReviewLine {
    pub bill_id: String,
    pub provider: String,
    pub statement_number: String,
    pub amount: Money,
}

/// What the member checks before paying.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct PaymentReview {
    pub review_id: String,
    pub lines: Vec<ReviewLine>,
    pub total: Money,
    pub method: PaymentMethodSummary,
    /// For bank payments: the authorization to accept.
    pub ach_authorization: Option<AchAuthorization>,
    /// The plan's business date when the review was made: the day a card is charged, and the
    /// first day a bank debit may be made. `None` before the service has said its date.
    pub payment_date: Option<NaiveDate>,
    /// Set when the payment is scheduled for this later date instead of made now.
    pub pay_on: Option<NaiveDate>,
    /// The payment plans this payment pays into, as they will stand after it (same monthly
    /// amount, fewer payments): shown before the member confirms.
    pub plans_after: Vec<PlanAfterPayment>,
}

/// A payment plan after a payment on its bills: what is left of its schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct PlanAfterPayment {
    pub number: String,
    pub monthly_amount: Money,
    /// Payments left after this one (0: the plan is paid off).
    pub payments_left: u32,
    /// The last payment's date, when any is left.
    pub last_date: Option<NaiveDate>,
    pub last_amount: Option<Money>,
}

/// What the plans paying these bills have left after `allocations` are paid: the plan's payable
/// bills less what this payment puts on them, scheduled from the plan's next date with the same
/// monthly amount (the billing crate's rule, as the server works it out).
pub(crate) fn plans_after(conn: &Connection, allocations: &[(String, Money)]) -> ClientResult<Vec<PlanAfterPayment>> {
    let mut out = Vec::new();
    for plan in cache::payment_plans(conn)? {
        if !plan.status.is_open()
            || !plan
                .bills
                .iter()
                .any(|b| b.on_plan && allocations.iter().any(|(a, _)| *a == b.bill_id))
        {
            continue;
        }
        let Some(next) = plan.schedule.first() else { continue };
        let left: Money = plan
            .bills
            .iter()
            .filter(|b| b.on_plan)
            .map(|b| {
                let paying: Money = allocations
                    .iter()
                    .filter(|(a, _)| *a == b.bill_id)
                    .map(|(_, m)| *m)
                    .sum();
                b.payable.saturating_sub(paying)
            })
            .sum();
        let schedule = carebill_billing::plans::schedule(
            left,
            plan.monthly_amount,
            next.nominal_date,
            &carebill_billing::BusinessCalendar::default(),
        );
        out.push(PlanAfterPayment {
            number: plan.number.clone(),
            monthly_amount: plan.monthly_amount,
            payments_left: schedule.len() as u32,
            last_date: schedule.last().map(|i| i.charge_date),
            last_amount: schedule.last().map(|i| i.amount),
        });
    }
    Ok(out)
}

/// How a submitted payment ended, as far as is known.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum SubmitOutcome {
    Paid {
        payment: Payment,
    },
    Declined {
        error: ClientError,
    },
    /// Sent, and the answer is not known yet: do not pay these bills again; the engine keeps
    /// confirming and publishes `payment_resolved`.
    PendingConfirmation {
        intent_id: String,
        bill_ids: Vec<String>,
    },
    /// Scheduled for a later date: nothing is charged until then.
    Scheduled {
        scheduled: ScheduledPayment,
    },
}

/// A member's draft checked against the copy on this device.
pub(crate) struct Checked {
    pub lines: Vec<ReviewLine>,
    /// Bill ids and amounts, in the draft's order.
    pub allocations: Vec<(String, Money)>,
    pub method: PaymentMethodSummary,
}

/// Checks a member's draft: at least one bill, each once, none with a payment still being
/// confirmed, amounts by the shared rule and within what each bill can take, a method the member
/// has. Errors point at the field (`/allocations/0/amount`).
pub(crate) fn check_draft(conn: &Connection, draft: &PaymentDraft) -> ClientResult<Checked> {
    if draft.allocations.is_empty() {
        return Err(ClientError::of(ClientCode::NothingToPay).at("/allocations"));
    }
    let in_flight: Vec<String> = outbox::unresolved(conn)?.into_iter().flat_map(|e| e.bill_ids).collect();
    let mut lines = Vec::with_capacity(draft.allocations.len());
    let mut allocations: Vec<(String, Money)> = Vec::with_capacity(draft.allocations.len());
    for (i, a) in draft.allocations.iter().enumerate() {
        let bill_field = format!("/allocations/{i}/bill_id");
        if allocations.iter().any(|(b, _)| b == &a.bill_id) {
            return Err(ClientError::server(ErrorCode::DuplicateBill).at(&bill_field));
        }
        if in_flight.contains(&a.bill_id) {
            return Err(ClientError::of(ClientCode::PaymentInFlight).at(&bill_field));
        }
        let bill = cache::bill_detail(conn, &a.bill_id)?
            .ok_or_else(|| ClientError::server(ErrorCode::BillNotFound).at(&bill_field))?;
        let line = review_line(&bill, &a.amount, &format!("/allocations/{i}/amount"))?;
        allocations.push((a.bill_id.clone(), line.amount));
        lines.push(line);
    }
    let method = match &draft.method {
        DraftMethod::Saved { payment_method_id } => cache::payment_methods(conn)?
            .iter()
            .find(|m| &m.id == payment_method_id)
            .map(method_summary)
            .ok_or_else(|| ClientError::server(ErrorCode::PaymentMethodNotFound).at("/payment_method_id"))?,
        DraftMethod::New { token, .. } => token_summary(token),
    };
    Ok(Checked {
        lines,
        allocations,
        method,
    })
}

/// One bill's line: the amount as typed, checked by the shared rule and against what the bill
/// can take now. Errors point at `field`.
pub(crate) fn review_line(bill: &BillDetail, amount: &str, field: &str) -> ClientResult<ReviewLine> {
    let invalid = |e: validate::Invalid| ClientError::validation(e.code, e.message, field).with_params(&e.params);
    let amount = validate::payment_amount(amount).map_err(invalid)?;
    validate::within_payable(amount, bill.bill.payable).map_err(invalid)?;
    Ok(ReviewLine {
        bill_id: bill.bill.id.clone(),
        provider: bill.bill.provider.clone(),
        statement_number: bill.bill.statement_number.clone(),
        amount,
    })
}

/// A review with a new id; the total is the lines' sum.
pub(crate) fn new_review(
    lines: Vec<ReviewLine>,
    method: PaymentMethodSummary,
    ach_authorization: Option<AchAuthorization>,
    payment_date: Option<NaiveDate>,
) -> PaymentReview {
    PaymentReview {
        payment_date,
        pay_on: None,
        plans_after: Vec::new(),
        review_id: outbox::new_key().replace("cb-", "rv-"),
        total: lines.iter().map(|l| l.amount).sum(),
        lines,
        method,
        ach_authorization,
    }
}

/// A "Pay on" date: from today to the earliest due date of the bills paid (a bill already past
/// due can only be paid today); today itself means now. The server's rule, so the same refusal.
pub(crate) fn check_pay_on(
    conn: &Connection,
    pay_on: Option<NaiveDate>,
    bill_ids: &[String],
    today: NaiveDate,
) -> ClientResult<Option<NaiveDate>> {
    let Some(day) = pay_on else { return Ok(None) };
    let mut last: Option<NaiveDate> = None;
    for id in bill_ids {
        if let Some(d) = cache::bill_detail(conn, id)? {
            last = Some(last.map_or(d.bill.due_date, |l| l.min(d.bill.due_date)));
        }
    }
    let last = last.unwrap_or(today).max(today);
    if day < today || day > last {
        return Err(ClientError::validation(
            "invalid_pay_on",
            format!(
                "Choose a date from today to {}, the due date of the bills you are paying.",
                last.format("%b %-d, %Y")
            ),
            "/pay_on",
        )
        .with_params(&[("max", last.format("%Y-%m-%d").to_string())]));
    }
    Ok((day > today).then_some(day))
}

/// How a saved method is shown on a review and a receipt.
pub(crate) fn method_summary(m: &PaymentMethod) -> PaymentMethodSummary {
    PaymentMethodSummary {
        funding: m.funding,
        ..summary(m.kind, m.brand.as_deref(), m.bank_name.as_deref(), &m.last4)
    }
}

/// How a new (tokenized) card or bank account is shown on a review.
pub(crate) fn token_summary(t: &ProcessorToken) -> PaymentMethodSummary {
    PaymentMethodSummary {
        funding: t.funding,
        ..summary(t.kind, t.brand.as_deref(), t.bank_name.as_deref(), &t.last4)
    }
}

fn summary(kind: PaymentMethodType, brand: Option<&str>, bank_name: Option<&str>, last4: &str) -> PaymentMethodSummary {
    let name = match kind {
        PaymentMethodType::Card => brand.unwrap_or("Card"),
        PaymentMethodType::BankAccount => bank_name.unwrap_or("Bank account"),
    };
    PaymentMethodSummary {
        kind,
        brand: name.to_string(),
        last4: last4.to_string(),
        funding: None,
    }
}

pub(crate) fn review_expired() -> ClientError {
    ClientError::of(ClientCode::ReviewExpired)
}

/// A bank payment needs its authorization accepted before it is sent.
pub(crate) fn check_ach_accepted(review: &PaymentReview, accepted: bool) -> ClientResult<()> {
    if review.ach_authorization.is_some() && !accepted {
        return Err(ClientError::server(ErrorCode::AchAuthorizationRequired).at("/ach_authorization"));
    }
    Ok(())
}

/// A payment send that failed this way may still have been (or be about to be) handled by the
/// server: send it again with the same key rather than give up.
pub(crate) fn answer_may_follow(e: &ClientError) -> bool {
    matches!(
        e.kind,
        ErrorKind::Offline | ErrorKind::Server | ErrorKind::Conflict | ErrorKind::RateLimited
    )
}

/// How long to wait between sends of one payment.
const RESEND_EVERY: Duration = Duration::from_millis(300);

/// Sends (with the same key each time, which `send` must ensure) until the server answers or
/// refuses, or `patience` runs out: `Ok(Some(answer))`, `Err(refusal)` (nothing happened), or
/// `Ok(None)` (not known yet: the caller reports the payment as being confirmed).
pub(crate) async fn send_until_known<T, F, Fut>(patience: Duration, send: F) -> ClientResult<Option<T>>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ClientResult<T>>,
{
    send_every(patience, RESEND_EVERY, send).await
}

async fn send_every<T, F, Fut>(patience: Duration, every: Duration, mut send: F) -> ClientResult<Option<T>>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ClientResult<T>>,
{
    let deadline = tokio::time::Instant::now() + patience;
    loop {
        match send().await {
            Ok(answer) => return Ok(Some(answer)),
            Err(e) if answer_may_follow(&e) => {
                if tokio::time::Instant::now() >= deadline {
                    return Ok(None);
                }
                tokio::time::sleep(every).await;
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cards_and_bank_accounts_are_named_the_same_way_wherever_they_come_from() {
        let card = summary(PaymentMethodType::Card, None, None, "4242");
        assert_eq!(card.brand, "Card");
        let visa = summary(PaymentMethodType::Card, Some("Visa"), Some("ignored"), "4242");
        assert_eq!(visa.brand, "Visa");
        let bank = summary(PaymentMethodType::BankAccount, Some("ignored"), None, "6789");
        assert_eq!(bank.brand, "Bank account");
        let named = summary(PaymentMethodType::BankAccount, None, Some("First Sample Bank"), "6789");
        assert_eq!(named.brand, "First Sample Bank");
    }

    #[tokio::test]
    async fn a_send_is_repeated_while_the_answer_may_still_come_and_no_longer() {
        let mut tries = 0;
        let answer = send_every(Duration::from_secs(60), Duration::ZERO, || {
            tries += 1;
            let attempt = tries;
            async move {
                if attempt < 3 {
                    Err(ClientError::offline())
                } else {
                    Ok(attempt)
                }
            }
        })
        .await;
        assert_eq!(answer.unwrap(), Some(3));

        let mut sent = 0;
        let pending = send_every(Duration::from_millis(20), Duration::from_millis(5), || {
            sent += 1;
            async { Err::<(), _>(ClientError::offline()) }
        })
        .await;
        assert_eq!(pending.unwrap(), None, "patience ran out: not known yet");
        assert!(sent > 1, "it was sent again before giving up");

        let mut refused = 0;
        let refusal = send_until_known(Duration::from_secs(60), || {
            refused += 1;
            async { Err::<(), _>(ClientError::server(ErrorCode::BillNotFound)) }
        })
        .await;
        assert_eq!(refusal.unwrap_err().code, "bill_not_found");
        assert_eq!(refused, 1, "a refusal is final");
    }
}
