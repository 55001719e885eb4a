//! Member payments, exactly once. A review is checked against the copy (`review::check_draft`)
//! and kept in memory; submitting it writes an outbox entry with the idempotency key before
//! anything is sent (two submissions of one review share the entry and the key), then sends it
//! until the answer is known or patience runs out ("being confirmed"). The background confirms
//! what stayed unknown: re-sent with the same key within the resend window, otherwise settled
//! from the synced history or the server's record of the key, and never sent again.

use carebill_api::types::*;
use carebill_billing::validate;

use super::{Engine, Session, StoredReview, lock, no_saving_on_kiosks};
use crate::api::PaymentAnswer;
use crate::cache;
use crate::error::{ClientCode, ClientError, ClientResult, ErrorKind};
use crate::outbox::{self, Request, State as OutboxState};
use crate::review::{self, DraftMethod, PaymentDraft, PaymentReview, SubmitOutcome};
use crate::types::*;

impl Engine {
    /// Tokenizes card or bank details at the processor. The details live only for this call.
    pub async fn tokenize(&self, mut details: TokenRequest) -> ClientResult<ProcessorToken> {
        if !(self.is_kiosk() && self.guest_active().await) {
            self.acting_session().await?;
        }
        // The number as typed may be grouped any way; the processor gets its digits.
        if let TokenRequest::Card(card) = &mut details {
            card.number = validate::normalize_card_number(&card.number);
        }
        self.0.api.tokenize(&details).await
    }

    pub async fn bank_name(&self, routing: &str) -> ClientResult<Option<String>> {
        validate::routing_number(routing).map_err(|e| ClientError::validation(e.code, e.message, "/routing_number"))?;
        self.0.api.bank_name(routing).await
    }

    /// Checks a payment and returns what to review. Rules are the server's (same codes).
    pub async fn prepare_payment(&self, draft: PaymentDraft) -> ClientResult<PaymentReview> {
        let s = self.acting_session().await?;
        let d = draft.clone();
        let today = self.freshness(&s).await?.business_date;
        let (checked, (pay_on, plans_after)) = s
            .cache
            .run(move |c| {
                let checked = review::check_draft(c, &d)?;
                let bills: Vec<String> = checked.allocations.iter().map(|(b, _)| b.clone()).collect();
                let after = review::plans_after(c, &checked.allocations)?;
                Ok((checked, (review::check_pay_on(c, d.pay_on, &bills, today)?, after)))
            })
            .await?;
        if pay_on.is_some() && matches!(draft.method, DraftMethod::New { save: false, .. }) {
            return Err(ClientError::of(ClientCode::ScheduleNeedsSavedMethod).at("/payment_method_id"));
        }
        let ach_authorization = if checked.method.kind == PaymentMethodType::BankAccount {
            Some(self.0.api.ach_authorization(false, self.language()).await?)
        } else {
            None
        };
        let mut review = review::new_review(
            checked.lines,
            checked.method,
            ach_authorization,
            self.0.api.business_date(),
        );
        review.pay_on = pay_on;
        review.plans_after = plans_after;
        lock(&self.0.reviews).insert(
            review.review_id.clone(),
            StoredReview {
                draft,
                review: review.clone(),
                allocations: checked.allocations,
            },
        );
        Ok(review)
    }

    /// Pays a reviewed payment, exactly once: submitting the same review again (a double click)
    /// answers with the first submission.
    pub async fn submit_payment(&self, review_id: &str, accept_ach: bool) -> ClientResult<SubmitOutcome> {
        let s = self.acting_session().await?;
        let id = review_id.to_string();
        if let Some(existing) = s.cache.run(move |c| outbox::get(c, &id)).await? {
            return self.drive_payment(&s, existing).await;
        }
        let (draft, review, allocations) = {
            let reviews = lock(&self.0.reviews);
            let stored = reviews.get(review_id).ok_or_else(review::review_expired)?;
            (stored.draft.clone(), stored.review.clone(), stored.allocations.clone())
        };
        review::check_ach_accepted(&review, accept_ach)?;
        if self.is_kiosk() && matches!(draft.method, DraftMethod::New { save: true, .. }) {
            return Err(no_saving_on_kiosks());
        }
        let _busy = self.busy();
        let (payment_method_id, token) = match &draft.method {
            DraftMethod::Saved { payment_method_id } => (Some(payment_method_id.clone()), None),
            DraftMethod::New { token, save: true } => {
                (Some(self.0.api.add_payment_method(&token.token).await?.id), None)
            }
            DraftMethod::New { token, save: false } => (None, Some(token.token.clone())),
        };
        if let (Some(pay_on), Some(method)) = (review.pay_on, &payment_method_id) {
            return self
                .schedule_review(&s, review_id, pay_on, method, &review, &allocations)
                .await;
        }
        let request = CreatePaymentRequest {
            payment_method_id,
            token,
            allocations: allocations
                .iter()
                .map(|(b, a)| AllocationRequest {
                    bill_id: b.clone(),
                    amount: a.to_string(),
                })
                .collect(),
            ach_authorization: review.ach_authorization.as_ref().map(|a| AchAuthorizationAcceptance {
                text_version: a.text_version.clone(),
            }),
        };
        let bills: Vec<String> = allocations.iter().map(|(b, _)| b.clone()).collect();
        let id = review_id.to_string();
        let now = self.now();
        // Get or insert in one step: two submissions of one review share one entry and one key.
        let entry = s
            .cache
            .run(move |c| match outbox::get(c, &id)? {
                Some(existing) => Ok(existing),
                None => cache::durable(c, |c| outbox::insert(c, &id, &Request::Payment(request), &bills, now)),
            })
            .await?;
        self.drive_payment(&s, entry).await
    }

    /// Schedules a reviewed payment for its date: one outbox entry per review (named after it), so
    /// submitting the same review twice schedules it once.
    async fn schedule_review(
        &self,
        s: &Session,
        review_id: &str,
        pay_on: chrono::NaiveDate,
        method: &str,
        review: &PaymentReview,
        allocations: &[(String, carebill_billing::Money)],
    ) -> ClientResult<SubmitOutcome> {
        let request = ScheduledPaymentRequest {
            pay_on,
            payment_method_id: method.to_string(),
            allocations: allocations
                .iter()
                .map(|(b, a)| AllocationRequest {
                    bill_id: b.clone(),
                    amount: a.to_string(),
                })
                .collect(),
            ach_authorization: review.ach_authorization.as_ref().map(|a| AchAuthorizationAcceptance {
                text_version: a.text_version.clone(),
            }),
        };
        let (id, now) = (format!("sc-{review_id}"), self.now());
        let bills: Vec<String> = allocations.iter().map(|(b, _)| b.clone()).collect();
        let entry = s
            .cache
            .run(move |c| match outbox::get(c, &id)? {
                Some(existing) => Ok(existing),
                None => cache::durable(c, |c| {
                    outbox::insert(c, &id, &Request::CreateScheduled(request), &bills, now)
                }),
            })
            .await?;
        let value = match (&entry.state, &entry.result) {
            (OutboxState::Done, Some(v)) => v.clone(),
            _ => self.drive_write(s, entry, true).await?,
        };
        self.sync().await.ok();
        Ok(SubmitOutcome::Scheduled {
            scheduled: serde_json::from_value(value)?,
        })
    }

    /// Sends a payment entry with its key until the answer is known or patience runs out.
    pub(super) async fn drive_payment(&self, s: &Session, entry: outbox::Entry) -> ClientResult<SubmitOutcome> {
        if let Some(outcome) = outcome_of(&entry)? {
            return Ok(outcome);
        }
        let Request::Payment(req) = &entry.request else {
            return Err(ClientError::internal("not a payment"));
        };
        let pending = || SubmitOutcome::PendingConfirmation {
            intent_id: entry.id.clone(),
            bill_ids: entry.bill_ids.clone(),
        };
        let entry_ref = &entry;
        let sent = review::send_until_known(self.0.config.submit_patience, move || async move {
            let (id, now) = (entry_ref.id.clone(), self.now());
            s.cache.run(move |c| outbox::record_attempt(c, &id, now)).await?;
            self.0.api.create_payment(&entry_ref.key, req).await
        })
        .await;
        match sent {
            Ok(Some(answer)) => self.settle_payment(s, &entry, answer).await,
            Ok(None) => Ok(pending()),
            Err(e) if e.kind == ErrorKind::SessionExpired => {
                self.session_refused();
                Ok(pending())
            }
            Err(e) => {
                // Refused before anything happened (validation, not found): nothing was stored.
                let (id, now, err) = (entry.id.clone(), self.now(), e.clone());
                s.cache
                    .run(move |c| outbox::resolve(c, &id, OutboxState::Failed, None, Some(&err), now))
                    .await?;
                self.emit(Event::PaymentResolved {
                    intent_id: entry.id.clone(),
                });
                Err(e)
            }
        }
    }

    pub(super) async fn settle_payment(
        &self,
        s: &Session,
        entry: &outbox::Entry,
        answer: PaymentAnswer,
    ) -> ClientResult<SubmitOutcome> {
        let (id, now) = (entry.id.clone(), self.now());
        let outcome = match answer {
            PaymentAnswer::Paid(p) => {
                let value = serde_json::to_value(&p)?;
                s.cache
                    .run(move |c| {
                        cache::upsert_payment(c, &p)?;
                        outbox::resolve(c, &id, OutboxState::Done, Some(&value), None, now)
                    })
                    .await?;
                outcome_of(
                    &s.cache
                        .run({
                            let id = entry.id.clone();
                            move |c| outbox::get(c, &id)
                        })
                        .await?
                        .ok_or_else(|| ClientError::internal("outbox entry vanished"))?,
                )?
            }
            PaymentAnswer::Declined(e) => {
                let payment = e.payment.as_ref().map(serde_json::to_value).transpose()?;
                let err = e.clone();
                s.cache
                    .run(move |c| outbox::resolve(c, &id, OutboxState::Done, payment.as_ref(), Some(&err), now))
                    .await?;
                Some(SubmitOutcome::Declined { error: e })
            }
        };
        self.emit(Event::PaymentResolved {
            intent_id: entry.id.clone(),
        });
        self.request_sync();
        outcome.ok_or_else(|| ClientError::internal("payment answer lost"))
    }

    /// Confirms every unresolved intent: re-sends within the resend window with the same key;
    /// older payments are looked up in the synced history by key and never re-sent.
    pub async fn resolve_unresolved(&self) -> ClientResult<u32> {
        let s = self.online_session().await?;
        let entries = s.cache.run(|c| outbox::unresolved(c)).await?;
        let mut resolved = 0;
        // Reconciling old payments needs a sync that succeeded in this pass, so the copy is not
        // out of date; it is done once, and only when an old payment waits.
        let mut synced: Option<bool> = None;
        for entry in entries {
            let age = self.now() - entry.created_at;
            if let Request::Payment(_) = &entry.request {
                if age > outbox::RESEND_WINDOW {
                    if *synced.get_or_insert(self.sync().await.is_ok()) && self.reconcile(&s, &entry).await? {
                        resolved += 1;
                        self.emit(Event::PaymentResolved {
                            intent_id: entry.id.clone(),
                        });
                    }
                    continue;
                }
                if let Ok(SubmitOutcome::Paid { .. } | SubmitOutcome::Declined { .. }) =
                    self.drive_payment(&s, entry).await
                {
                    resolved += 1;
                }
            } else if outbox::is_message(&entry.request) {
                // A message waits for a connection however long it takes, and is sent once.
                if self.drive_message(&s, entry).await.is_ok() {
                    resolved += 1;
                }
            } else if age > outbox::WRITE_RESEND_WINDOW {
                // A change whose answer never came, from long ago: never re-sent (the member may
                // have changed their mind elsewhere since); the sync shows what the server has.
                let (id, now) = (entry.id.clone(), self.now());
                if s.cache
                    .run(move |c| outbox::resolve(c, &id, OutboxState::Unknown, None, None, now))
                    .await?
                {
                    resolved += 1;
                }
            } else if self.drive_write(&s, entry, false).await.is_ok() {
                resolved += 1;
            }
        }
        resolved += self.recheck_unknown(&s).await?;
        Ok(resolved)
    }

    /// Settles a payment too old to re-send: from the synced history when it is there, else from
    /// the server by its key. `Unknown` ("it never reached the server") only on the server's word;
    /// while the server may still be charging it, or cannot be asked, it stays pending.
    pub(super) async fn reconcile(&self, s: &Session, entry: &outbox::Entry) -> ClientResult<bool> {
        let key = entry.key.clone();
        let mut payment = s.cache.run(move |c| cache::payment_by_key(c, &key)).await?;
        if payment.is_none() {
            match self.0.api.payment_by_key(&entry.key).await {
                Ok(Some(p)) => {
                    let stored = p.clone();
                    s.cache.run(move |c| cache::upsert_payment(c, &stored)).await?;
                    payment = Some(p);
                }
                Ok(None) => {}
                Err(_) => return Ok(false),
            }
        }
        let state = if payment.is_some() {
            OutboxState::Done
        } else {
            OutboxState::Unknown
        };
        let value = payment.map(serde_json::to_value).transpose()?;
        let (id, now) = (entry.id.clone(), self.now());
        s.cache
            .run(move |c| outbox::resolve(c, &id, state, value.as_ref(), None, now))
            .await
    }

    /// Payments once concluded `Unknown` that the synced history now shows: settled after all.
    pub(super) async fn recheck_unknown(&self, s: &Session) -> ClientResult<u32> {
        let now = self.now();
        let settled = s
            .cache
            .run(move |c| {
                let mut settled = Vec::new();
                for entry in outbox::unknown(c)? {
                    if let Some(p) = cache::payment_by_key(c, &entry.key)? {
                        let value = serde_json::to_value(p)?;
                        if outbox::settle_unknown(c, &entry.id, &value, now)? {
                            settled.push(entry.id);
                        }
                    }
                }
                Ok(settled)
            })
            .await?;
        for id in &settled {
            self.emit(Event::PaymentResolved { intent_id: id.clone() });
        }
        Ok(settled.len() as u32)
    }
}

/// The outcome an answered entry records, if it was answered.
fn outcome_of(entry: &outbox::Entry) -> ClientResult<Option<SubmitOutcome>> {
    match entry.state {
        OutboxState::Pending => Ok(None),
        OutboxState::Done => match (&entry.error, &entry.result) {
            (Some(e), _) => Ok(Some(SubmitOutcome::Declined { error: e.clone() })),
            (None, Some(v)) => Ok(Some(SubmitOutcome::Paid {
                payment: serde_json::from_value(v.clone())?,
            })),
            (None, None) => Err(ClientError::internal("answered entry without an answer")),
        },
        OutboxState::Failed => Err(entry
            .error
            .clone()
            .unwrap_or_else(|| ClientError::internal("failed entry without an error"))),
        OutboxState::Unknown => Err(ClientError::of(ClientCode::PaymentNotReceived)),
    }
}
