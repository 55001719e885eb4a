//! Payment plans and scheduled payments: read from the copy, previewed on the device with the
//! billing crate's rules and the plan's policy (so a member sees every instalment before anything
//! is sent, offline too), and changed through the outbox like autopay.

use carebill_api::ErrorCode;
use carebill_api::types::*;
use carebill_billing::plans::{self as rules, Terms};
use carebill_billing::{BusinessCalendar, Money, validate};

use super::Engine;
use crate::cache;
use crate::error::{ClientError, ClientResult};
use crate::outbox::Request;
use crate::types::*;

fn invalid((field, e): (&'static str, validate::Invalid)) -> ClientError {
    ClientError::validation(e.code, e.message, field).with_params(&e.params)
}

impl Engine {
    /// The plan's policy for payment plans (the defaults before the service has said).
    pub async fn plan_policy(&self) -> PaymentPlanPolicy {
        match self.plan().await {
            Ok(Some(plan)) => plan.payment_plans,
            _ => PaymentPlanPolicy::default(),
        }
    }

    /// Every payment plan of the member, newest first, from the copy.
    pub async fn payment_plans(&self) -> ClientResult<Vec<PaymentPlan>> {
        let s = self.session().await?;
        s.cache.run(|c| cache::payment_plans(c)).await
    }

    pub async fn payment_plan(&self, id: &str) -> ClientResult<PaymentPlan> {
        let id = id.to_string();
        self.payment_plans()
            .await?
            .into_iter()
            .find(|p| p.id == id)
            .ok_or_else(|| ClientError::server(ErrorCode::PaymentPlanNotFound))
    }

    /// Open bills that can go on a new plan together, when they reach the policy's minimum.
    pub(super) async fn plan_offer(&self) -> ClientResult<Option<PlanOffer>> {
        let s = self.session().await?;
        let candidates = s.cache.run(|c| cache::plan_candidates(c)).await?;
        let balance: Money = candidates.iter().map(|(_, m)| *m).sum();
        let policy = self.plan_policy().await;
        Ok(
            (balance >= policy.min_balance && !candidates.is_empty()).then(|| PlanOffer {
                bill_ids: candidates.into_iter().map(|(id, _)| id).collect(),
                balance,
            }),
        )
    }

    /// Whether this bill alone can go on a plan.
    pub(super) async fn bill_plan_offer(&self, bill: &Bill) -> bool {
        bill.payment_plan_id.is_none() && bill.payable >= self.plan_policy().await.min_balance
    }

    /// What a draft comes to: checked with the same rules as the service (bills, policy, day,
    /// method), every instalment with its date and amount, and the authorization to accept for
    /// the method's kind. `plan_id`: the plan whose terms change (its own bills are allowed).
    pub async fn preview_payment_plan(&self, draft: PlanDraft, plan_id: Option<String>) -> ClientResult<PlanPreview> {
        let s = self.session().await?;
        let f = self.freshness(&s).await?;
        let policy = self.plan_policy().await;
        let rules_policy = policy.to_domain();
        let (bills, methods, plans) = s
            .cache
            .run(|c| {
                let candidates = cache::plan_candidates(c)?;
                Ok((candidates, cache::payment_methods(c)?, cache::payment_plans(c)?))
            })
            .await?;
        let own: Vec<(String, Money)> = match &plan_id {
            Some(id) => plans
                .iter()
                .find(|p| &p.id == id)
                .ok_or_else(|| ClientError::server(ErrorCode::PaymentPlanNotFound))?
                .bills
                .iter()
                .filter(|b| b.on_plan && b.payable.is_positive())
                .map(|b| (b.bill_id.clone(), b.payable))
                .collect(),
            None => Vec::new(),
        };
        if draft.bill_ids.is_empty() && own.is_empty() {
            return Err(ClientError::server(ErrorCode::NothingToPay).at("/bill_ids"));
        }
        let mut balance = own.iter().map(|(_, m)| *m).sum::<Money>();
        for (i, id) in draft.bill_ids.iter().enumerate() {
            if own.iter().any(|(b, _)| b == id) {
                continue;
            }
            let (_, payable) = bills
                .iter()
                .find(|(b, _)| b == id)
                .ok_or_else(|| ClientError::server(ErrorCode::BillOnPaymentPlan).at(&format!("/bill_ids/{i}")))?;
            balance = balance.checked_add(*payable).unwrap_or(balance);
        }
        rules::check_balance(balance, &rules_policy).map_err(invalid)?;
        let terms = match (&draft.monthly_amount, draft.months) {
            (Some(m), None) => {
                Terms::Monthly(validate::payment_amount(m).map_err(|e| invalid(("/monthly_amount", e)))?)
            }
            (None, Some(n)) => Terms::Months(n),
            _ => return Err(ClientError::server(ErrorCode::PlanTermsRequired).at("/monthly_amount")),
        };
        let monthly = rules::monthly_amount(balance, terms, &rules_policy).map_err(invalid)?;
        let day = rules::check_day(draft.day_of_month).map_err(invalid)?;
        let method = methods
            .iter()
            .find(|m| m.id == draft.payment_method_id)
            .ok_or_else(|| ClientError::server(ErrorCode::PaymentMethodNotFound).at("/payment_method_id"))?;
        let card = method.kind == PaymentMethodType::Card;
        let authorization = self.0.api.plan_authorization(card, self.language()).await?;
        let first = rules::first_nominal(f.business_date, day);
        let schedule = rules::schedule(balance, monthly, first, &BusinessCalendar::default())
            .into_iter()
            .map(|i| ScheduledInstalment {
                nominal_date: i.nominal,
                charge_date: i.charge_date,
                amount: i.amount,
            })
            .collect();
        Ok(PlanPreview {
            balance,
            monthly_amount: monthly,
            schedule,
            method: PaymentMethodSummary {
                kind: method.kind,
                brand: if card {
                    method.brand.clone().unwrap_or_default()
                } else {
                    method.bank_name.clone().unwrap_or_default()
                },
                last4: method.last4.clone(),
                funding: method.funding,
            },
            authorization,
            policy,
        })
    }

    fn plan_request(draft: PlanDraft, monthly: Money, text_version: String) -> PaymentPlanRequest {
        PaymentPlanRequest {
            bill_ids: draft.bill_ids,
            // The amount the preview showed, so both sides compute the same schedule.
            monthly_amount: Some(monthly),
            months: None,
            day_of_month: draft.day_of_month,
            payment_method_id: draft.payment_method_id,
            authorization: AchAuthorizationAcceptance { text_version },
        }
    }

    /// Sets up a plan from a draft whose preview the member accepted (`text_version`: the
    /// authorization they read).
    pub async fn create_payment_plan(&self, draft: PlanDraft, text_version: String) -> ClientResult<PaymentPlan> {
        let preview = self.preview_payment_plan(draft.clone(), None).await?;
        let request = Engine::plan_request(draft, preview.monthly_amount, text_version);
        let v = self.write(Request::CreatePlan(request)).await?;
        self.sync().await.ok();
        Ok(serde_json::from_value(v)?)
    }

    /// New terms for a plan (more bills, another amount, day or method), against the version the
    /// member saw.
    pub async fn change_payment_plan(
        &self,
        id: String,
        version: i64,
        draft: PlanDraft,
        text_version: String,
    ) -> ClientResult<PaymentPlan> {
        let preview = self.preview_payment_plan(draft.clone(), Some(id.clone())).await?;
        let request = Engine::plan_request(draft, preview.monthly_amount, text_version);
        let v = self.write(Request::PutPlan { id, version, request }).await?;
        self.sync().await.ok();
        Ok(serde_json::from_value(v)?)
    }

    /// `pause` (until a date), `resume` or `cancel`.
    pub async fn payment_plan_action(&self, id: String, version: i64, action: PlanAction) -> ClientResult<PaymentPlan> {
        let (action, until) = match action {
            PlanAction::Pause { until } => ("pause", Some(until)),
            PlanAction::Resume => ("resume", None),
            PlanAction::Cancel => ("cancel", None),
        };
        let v = self
            .write(Request::PlanAction {
                id,
                version,
                action: action.into(),
                until,
            })
            .await?;
        self.sync().await.ok();
        Ok(serde_json::from_value(v)?)
    }

    /// Every scheduled payment, soonest first, from the copy.
    pub async fn scheduled_payments(&self) -> ClientResult<Vec<ScheduledPayment>> {
        let s = self.session().await?;
        s.cache.run(|c| cache::scheduled_payments(c)).await
    }

    /// Moves a scheduled payment to another date (until the day before its date): the same bills,
    /// amounts and method; the date is checked against the bills' due dates as the server checks it.
    pub async fn change_scheduled_payment(
        &self,
        id: String,
        version: i64,
        pay_on: chrono::NaiveDate,
    ) -> ClientResult<ScheduledPayment> {
        let s = self.session().await?;
        let today = self.freshness(&s).await?.business_date;
        let wanted = id.clone();
        let request = s
            .cache
            .run(move |c| {
                let held = cache::scheduled_payments(c)?
                    .into_iter()
                    .find(|x| x.id == wanted)
                    .ok_or_else(|| ClientError::server(ErrorCode::ScheduledPaymentNotFound))?;
                let bills: Vec<String> = held.allocations.iter().map(|a| a.bill_id.clone()).collect();
                match crate::review::check_pay_on(c, Some(pay_on), &bills, today)? {
                    Some(_) => Ok(ScheduledPaymentRequest {
                        pay_on,
                        payment_method_id: held.payment_method_id.clone(),
                        allocations: held
                            .allocations
                            .iter()
                            .map(|a| AllocationRequest {
                                bill_id: a.bill_id.clone(),
                                amount: a.amount.to_string(),
                            })
                            .collect(),
                        ach_authorization: None,
                    }),
                    // Today: that is paying now, not a scheduled payment.
                    None => Err(ClientError::server(ErrorCode::InvalidPayOn).at("/pay_on")),
                }
            })
            .await?;
        let v = self.write(Request::PutScheduled { id, version, request }).await?;
        self.sync().await.ok();
        Ok(serde_json::from_value(v)?)
    }

    /// Cancels a scheduled payment (until the day before its date).
    pub async fn cancel_scheduled_payment(&self, id: String, version: i64) -> ClientResult<ScheduledPayment> {
        let v = self.write(Request::CancelScheduled { id, version }).await?;
        self.sync().await.ok();
        Ok(serde_json::from_value(v)?)
    }
}
