//! Guest pay at a clinic kiosk: one bill found by its statement, paid with a card or bank account
//! that is never saved. Everything lives in memory and goes when the guest's session ends.
//!
//! Exactly once: a review gets its idempotency key when it is made, every send of that review
//! (retries, a double click, "try again") uses that key, and two submissions of one review are
//! serialized so the second answers with the first one's outcome.

use std::collections::HashMap;

use carebill_api::types::{
    AchAuthorizationAcceptance, BillDetail, GuestLookupRequest, GuestPaymentRequest, GuestReceiptRequest, Payment,
    PaymentMethodType, ProcessorToken,
};

use super::Engine;
use crate::api::PaymentAnswer;
use crate::error::{ClientCode, ClientError, ClientResult};
use crate::outbox;
use crate::review::{self, PaymentReview, SubmitOutcome};
use crate::types::GuestBillView;

/// A guest's lookup and what they reviewed (in memory only).
#[derive(Debug, Default)]
pub(super) struct GuestFlow {
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
    ClientError::of(ClientCode::NoGuestLookup)
}

impl Engine {
    /// Finds a bill by what is printed on the statement and starts a guest flow for it.
    pub async fn guest_lookup(&self, req: GuestLookupRequest) -> ClientResult<GuestBillView> {
        let session = self.0.api.guest_lookup(&req).await?;
        let bill = self.0.api.guest_bill(&session.guest_token).await?;
        *self.0.guest.lock().await = Some(GuestFlow {
            token: session.guest_token,
            bill: Some(bill.clone()),
            reviews: HashMap::new(),
        });
        self.record_activity();
        Ok(self.guest_view(bill))
    }

    /// The looked-up bill, fresh from the server.
    pub async fn guest_bill(&self) -> ClientResult<GuestBillView> {
        let mut flow = self.0.guest.lock().await;
        let f = flow.as_mut().ok_or_else(no_lookup)?;
        let bill = self.0.api.guest_bill(&f.token).await?;
        f.bill = Some(bill.clone());
        Ok(self.guest_view(bill))
    }

    /// Overdue on the plan's business date (which every answer of the service carries).
    fn guest_view(&self, bill: BillDetail) -> GuestBillView {
        let overdue = self
            .0
            .api
            .business_date()
            .is_some_and(|today| carebill_billing::bill::is_overdue(bill.bill.due_date, bill.bill.payable, today));
        GuestBillView { bill, overdue }
    }

    /// Checks an amount and a tokenized method, and returns what to review (with a new key).
    pub async fn guest_prepare(&self, amount: &str, token: ProcessorToken) -> ClientResult<PaymentReview> {
        let mut flow = self.0.guest.lock().await;
        let f = flow.as_mut().ok_or_else(no_lookup)?;
        let bill = f.bill.clone().ok_or_else(no_lookup)?;
        let line = review::review_line(&bill, amount, "/amount")?;
        let amount = line.amount;
        let ach_authorization = if token.kind == PaymentMethodType::BankAccount {
            Some(self.0.api.ach_authorization(false, self.language()).await?)
        } else {
            None
        };
        let review = review::new_review(
            vec![line],
            review::token_summary(&token),
            ach_authorization.clone(),
            self.0.api.business_date(),
        );
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
        let mut flow = self.0.guest.lock().await;
        let f = flow.as_mut().ok_or_else(no_lookup)?;
        let token = f.token.clone();
        let stored = f.reviews.get(review_id).cloned().ok_or_else(review::review_expired)?;
        if let Some(outcome) = stored.outcome {
            return Ok(outcome);
        }
        review::check_ach_accepted(&stored.review, accept_ach)?;
        let _busy = self.busy();
        let api = &self.0.api;
        let stored_ref = &stored;
        let token_ref = &token;
        let sent = review::send_until_known(self.0.config.submit_patience, move || {
            api.guest_pay(token_ref, &stored_ref.key, &stored_ref.request)
        })
        .await;
        let outcome = match sent {
            Ok(Some(PaymentAnswer::Paid(payment))) => SubmitOutcome::Paid { payment: *payment },
            Ok(Some(PaymentAnswer::Declined(error))) => SubmitOutcome::Declined { error },
            // Not known yet: "try again" sends the same review with the same key.
            Ok(None) => {
                return Ok(SubmitOutcome::PendingConfirmation {
                    intent_id: review_id.to_string(),
                    bill_ids: stored.review.lines.iter().map(|l| l.bill_id.clone()).collect(),
                });
            }
            Err(e) => {
                // Refused before anything happened: this review cannot be sent again.
                f.reviews.remove(review_id);
                return Err(e);
            }
        };
        if let Some(r) = f.reviews.get_mut(review_id) {
            r.outcome = Some(outcome.clone());
        }
        Ok(outcome)
    }

    /// Mails the receipt of this guest's payment to an address they type (kept nowhere).
    pub async fn guest_receipt(&self, confirmation_number: &str, email: &str) -> ClientResult<()> {
        let flow = self.0.guest.lock().await;
        let f = flow.as_ref().ok_or_else(no_lookup)?;
        carebill_billing::validate::email(email).map_err(|e| ClientError::validation(e.code, e.message, "/email"))?;
        let req = GuestReceiptRequest {
            confirmation_number: confirmation_number.to_string(),
            email: email.trim().to_string(),
            locale: Some(self.language()),
        };
        self.0.api.guest_receipt(&f.token, &req).await
    }

    /// A payment this guest made, by its confirmation number, as the engine recorded it: receipts
    /// (QR code, print) are built from this, never from what the screen sends.
    pub async fn guest_paid(&self, confirmation_number: &str) -> ClientResult<Payment> {
        let flow = self.0.guest.lock().await;
        let f = flow.as_ref().ok_or_else(no_lookup)?;
        f.reviews
            .values()
            .find_map(|r| match &r.outcome {
                Some(SubmitOutcome::Paid { payment }) if payment.confirmation_number == confirmation_number => {
                    Some(payment.clone())
                }
                _ => None,
            })
            .ok_or_else(|| ClientError::of(ClientCode::NotInThisSession))
    }

    /// Whether a guest flow is under way.
    pub async fn guest_active(&self) -> bool {
        self.0.guest.lock().await.is_some()
    }

    /// Drops everything of the guest.
    pub async fn end_guest(&self) {
        *self.0.guest.lock().await = None;
    }
}
