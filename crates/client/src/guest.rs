//! Guest pay at a clinic kiosk: one bill found by its statement, paid with a card or bank account
//! that is never saved. Everything lives in memory and goes when the guest's session ends.
//!
//! Exactly once: a review gets its idempotency key when it is made, every send of that review
//! (retries, a double click, "try again") uses that key, and two submissions of one review are
//! serialized so the second answers with the first one's outcome.

use std::collections::HashMap;
use std::time::Duration;

use carebill_api::types::{
    AchAuthorizationAcceptance, BillDetail, GuestLookupRequest, GuestPaymentRequest, GuestReceiptRequest, Payment,
    PaymentMethodSummary, PaymentMethodType, ProcessorToken,
};

use crate::api::PaymentAnswer;
use crate::engine::{Engine, PaymentReview, ReviewLine, SubmitOutcome, answer_may_follow};
use crate::error::{ClientError, ClientResult, ErrorKind};
use crate::outbox;

/// A guest's lookup and what they reviewed (in memory only).
#[derive(Debug, Default)]
pub(crate) struct GuestFlow {
    token: String,
    bill: Option<BillDetail>,
    reviews: HashMap<String, GuestReview>,
}

#[derive(Debug, Clone)]
struct GuestReview {
    review: PaymentReview,
    request: GuestPaymentRequest,
    key: String,
    outcome: Option<SubmitOutcome>,
}

fn no_lookup() -> ClientError {
    ClientError::new(
        ErrorKind::Unauthenticated,
        "guest_session_ended",
        "Look up the bill again to continue.",
    )
}

impl Engine {
    /// Finds a bill by what is printed on the statement and starts a guest flow for it.
    pub async fn guest_lookup(&self, req: GuestLookupRequest) -> ClientResult<BillDetail> {
        let session = self.api().guest_lookup(&req).await?;
        let bill = self.api().guest_bill(&session.guest_token).await?;
        *self.guest_state().lock().await = Some(GuestFlow {
            token: session.guest_token,
            bill: Some(bill.clone()),
            reviews: HashMap::new(),
        });
        self.record_activity();
        Ok(bill)
    }

    /// The looked-up bill, fresh from the server.
    pub async fn guest_bill(&self) -> ClientResult<BillDetail> {
        let mut flow = self.guest_state().lock().await;
        let f = flow.as_mut().ok_or_else(no_lookup)?;
        let bill = self.api().guest_bill(&f.token).await?;
        f.bill = Some(bill.clone());
        Ok(bill)
    }

    /// Checks an amount and a tokenized method, and returns what to review (with a new key).
    pub async fn guest_prepare(&self, amount: &str, token: ProcessorToken) -> ClientResult<PaymentReview> {
        let mut flow = self.guest_state().lock().await;
        let f = flow.as_mut().ok_or_else(no_lookup)?;
        let bill = f.bill.clone().ok_or_else(no_lookup)?;
        let invalid = |e: carebill_billing::validate::Invalid| ClientError::validation(e.code, e.message, "/amount");
        let amount = carebill_billing::validate::payment_amount(amount).map_err(invalid)?;
        carebill_billing::validate::within_payable(amount, bill.bill.payable).map_err(invalid)?;
        let method = PaymentMethodSummary {
            kind: token.kind,
            brand: match token.kind {
                PaymentMethodType::Card => token.brand.clone().unwrap_or_else(|| "Card".into()),
                PaymentMethodType::BankAccount => token.bank_name.clone().unwrap_or_else(|| "Bank account".into()),
            },
            last4: token.last4.clone(),
        };
        let ach_authorization = if token.kind == PaymentMethodType::BankAccount {
            Some(self.api().ach_authorization(false).await?)
        } else {
            None
        };
        let review = PaymentReview {
            review_id: outbox::new_key().replace("cb-", "rv-"),
            lines: vec![ReviewLine {
                bill_id: bill.bill.id.clone(),
                provider: bill.bill.provider.clone(),
                statement_number: bill.bill.statement_number.clone(),
                amount,
            }],
            total: amount,
            method,
            ach_authorization: ach_authorization.clone(),
        };
        let request = GuestPaymentRequest {
            amount: amount.to_string(),
            token: token.token,
            ach_authorization: ach_authorization.map(|a| AchAuthorizationAcceptance {
                text_version: a.text_version,
            }),
        };
        f.reviews.insert(
            review.review_id.clone(),
            GuestReview {
                review: review.clone(),
                request,
                key: outbox::new_key(),
                outcome: None,
            },
        );
        Ok(review)
    }

    /// Pays a reviewed guest payment, exactly once per review (see the module documentation).
    pub async fn guest_submit(&self, review_id: &str, accept_ach: bool) -> ClientResult<SubmitOutcome> {
        // Held for the whole submission: a second click waits, then answers with the outcome.
        let mut flow = self.guest_state().lock().await;
        let f = flow.as_mut().ok_or_else(no_lookup)?;
        let token = f.token.clone();
        let stored = f.reviews.get(review_id).cloned().ok_or_else(|| {
            ClientError::new(
                ErrorKind::NotFound,
                "review_expired",
                "This payment review is no longer available. Start the payment again.",
            )
        })?;
        if let Some(outcome) = stored.outcome {
            return Ok(outcome);
        }
        if stored.review.ach_authorization.is_some() && !accept_ach {
            return Err(ClientError::validation(
                "ach_authorization_required",
                "Accept the bank payment authorization to pay from a bank account.",
                "/ach_authorization",
            ));
        }
        let _busy = self.busy();
        let deadline = tokio::time::Instant::now() + self.config().submit_patience;
        let outcome = loop {
            match self.api().guest_pay(&token, &stored.key, &stored.request).await {
                Ok(PaymentAnswer::Paid(payment)) => break SubmitOutcome::Paid { payment: *payment },
                Ok(PaymentAnswer::Declined(error)) => break SubmitOutcome::Declined { error },
                Err(e) if answer_may_follow(&e) => {
                    if tokio::time::Instant::now() >= deadline {
                        // Not known yet: "try again" sends the same review with the same key.
                        return Ok(SubmitOutcome::PendingConfirmation {
                            intent_id: review_id.to_string(),
                            bill_ids: stored.review.lines.iter().map(|l| l.bill_id.clone()).collect(),
                        });
                    }
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
                Err(e) => {
                    // Refused before anything happened: this review cannot be sent again.
                    f.reviews.remove(review_id);
                    return Err(e);
                }
            }
        };
        if let Some(r) = f.reviews.get_mut(review_id) {
            r.outcome = Some(outcome.clone());
        }
        Ok(outcome)
    }

    /// Mails the receipt of this guest's payment to an address they type (kept nowhere).
    pub async fn guest_receipt(&self, confirmation_number: &str, email: &str) -> ClientResult<()> {
        let flow = self.guest_state().lock().await;
        let f = flow.as_ref().ok_or_else(no_lookup)?;
        carebill_billing::validate::email(email).map_err(|e| ClientError::validation(e.code, e.message, "/email"))?;
        let req = GuestReceiptRequest {
            confirmation_number: confirmation_number.to_string(),
            email: email.trim().to_string(),
        };
        self.api().guest_receipt(&f.token, &req).await
    }

    /// A payment this guest made, by its confirmation number, as the engine recorded it: receipts
    /// (QR code, print) are built from this, never from what the screen sends.
    pub async fn guest_paid(&self, confirmation_number: &str) -> ClientResult<Payment> {
        let flow = self.guest_state().lock().await;
        let f = flow.as_ref().ok_or_else(no_lookup)?;
        f.reviews
            .values()
            .find_map(|r| match &r.outcome {
                Some(SubmitOutcome::Paid { payment }) if payment.confirmation_number == confirmation_number => {
                    Some(payment.clone())
                }
                _ => None,
            })
            .ok_or_else(|| {
                ClientError::new(
                    ErrorKind::NotFound,
                    "payment_not_found",
                    "There is no payment with that confirmation number in this session.",
                )
            })
    }

    /// Whether a guest flow is under way.
    pub async fn guest_active(&self) -> bool {
        self.guest_state().lock().await.is_some()
    }

    /// Drops everything of the guest.
    pub async fn end_guest(&self) {
        *self.guest_state().lock().await = None;
    }
}
