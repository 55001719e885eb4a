//! The member's other changes (payment methods, autopay, payment plans, scheduled payments), with the payments' discipline: each is
//! written to the outbox before it is sent, and re-sent only while its answer may still come.

use carebill_api::types::*;

use super::{Engine, Session, no_saving_on_kiosks};
use crate::cache;
use crate::error::{ClientError, ClientResult, ErrorKind};
use crate::outbox::{self, Request, State as OutboxState};

impl Engine {
    pub(super) async fn write(&self, request: Request) -> ClientResult<serde_json::Value> {
        let s = self.acting_session().await?;
        let (id, now) = (outbox::new_key().replace("cb-", "wr-"), self.now());
        let entry = s
            .cache
            .run(move |c| cache::durable(c, |c| outbox::insert(c, &id, &request, &[], now)))
            .await?;
        self.drive_write(&s, entry, true).await
    }

    /// Sends a change. `told`: the member sees this call's outcome (the screen's own request), so
    /// any failure is final for this entry and it is never re-sent behind their back; the
    /// background re-sends only entries whose sender never heard back (a crash or a restart),
    /// within [`outbox::WRITE_RESEND_WINDOW`].
    pub(super) async fn drive_write(
        &self,
        s: &Session,
        entry: outbox::Entry,
        told: bool,
    ) -> ClientResult<serde_json::Value> {
        let api = &self.0.api;
        let result: ClientResult<serde_json::Value> = match &entry.request {
            Request::AddMethod { token } => api
                .add_payment_method(token)
                .await
                .and_then(|m| Ok(serde_json::to_value(m)?)),
            Request::RemoveMethod { id } => match api.remove_payment_method(id).await {
                Err(e) if e.code == "payment_method_not_found" && entry.attempts > 0 => Ok(serde_json::Value::Null),
                other => other.map(|_| serde_json::Value::Null),
            },
            Request::PutAutopay(req) => api.put_autopay(req).await.and_then(|a| Ok(serde_json::to_value(a)?)),
            Request::DeleteAutopay => match api.delete_autopay().await {
                Err(e) if e.code == "autopay_not_found" && entry.attempts > 0 => Ok(serde_json::Value::Null),
                other => other.map(|_| serde_json::Value::Null),
            },
            Request::Skip { bill_id } => api
                .skip_autopay(bill_id)
                .await
                .and_then(|u| Ok(serde_json::to_value(u)?)),
            Request::CreatePlan(req) => api
                .create_payment_plan(&entry.key, req)
                .await
                .and_then(|p| Ok(serde_json::to_value(p)?)),
            Request::PutPlan { id, version, request } => api
                .put_payment_plan(id, *version, request)
                .await
                .and_then(|p| Ok(serde_json::to_value(p)?)),
            Request::PlanAction {
                id,
                version,
                action,
                until,
            } => {
                let pause = until.map(|until| PausePlanRequest { until });
                api.payment_plan_action(id, *version, action, pause.as_ref())
                    .await
                    .and_then(|p| Ok(serde_json::to_value(p)?))
            }
            Request::CreateScheduled(req) => api
                .create_scheduled_payment(&entry.key, req)
                .await
                .and_then(|p| Ok(serde_json::to_value(p)?)),
            Request::PutScheduled { id, version, request } => api
                .put_scheduled_payment(id, *version, request)
                .await
                .and_then(|p| Ok(serde_json::to_value(p)?)),
            Request::CancelScheduled { id, version } => api
                .cancel_scheduled_payment(id, *version)
                .await
                .and_then(|p| Ok(serde_json::to_value(p)?)),
            Request::CloseConversation { id } => api
                .close_conversation(id)
                .await
                .and_then(|c| Ok(serde_json::to_value(c)?)),
            Request::Payment(_) => return Err(ClientError::internal("payments go through drive_payment")),
            Request::Ask(_) | Request::Reply { .. } => {
                return Err(ClientError::internal("messages go through drive_message"));
            }
        };
        // A change made against a version (If-Match) may have been made by an attempt whose answer
        // was lost and then refused on the retry as made "elsewhere": the server's current state
        // says whether it is this change.
        let result = match result {
            Err(e) if e.code == "changed_elsewhere" => match self.already_made(&entry.request).await {
                Some(current) => Ok(current),
                None => Err(e),
            },
            other => other,
        };
        let (id, now) = (entry.id.clone(), self.now());
        s.cache
            .run({
                let id = id.clone();
                move |c| outbox::record_attempt(c, &id, now)
            })
            .await?;
        match result {
            Ok(value) => {
                let v = value.clone();
                s.cache
                    .run(move |c| outbox::resolve(c, &id, OutboxState::Done, Some(&v), None, now))
                    .await?;
                self.request_sync();
                Ok(value)
            }
            Err(e) if !told && matches!(e.kind, ErrorKind::Offline | ErrorKind::Server) => Err(e),
            Err(e) => {
                let err = e.clone();
                s.cache
                    .run(move |c| outbox::resolve(c, &id, OutboxState::Failed, None, Some(&err), now))
                    .await?;
                Err(e)
            }
        }
    }

    /// The entity as the server has it now, when it already shows the change `request` asked for.
    async fn already_made(&self, request: &Request) -> Option<serde_json::Value> {
        let api = &self.0.api;
        match request {
            Request::PutPlan { id, request, .. } => {
                let p = api.get_payment_plan(id).await.ok()?;
                let bills_on = |b: &String| p.bills.iter().any(|x| &x.bill_id == b && x.on_plan);
                (Some(p.monthly_amount) == request.monthly_amount
                    && p.day_of_month == request.day_of_month
                    && p.payment_method_id == request.payment_method_id
                    && p.authorization_version == request.authorization.text_version
                    && request.bill_ids.iter().all(bills_on))
                .then(|| serde_json::to_value(p).ok())?
            }
            Request::PlanAction { id, action, until, .. } => {
                let p = api.get_payment_plan(id).await.ok()?;
                let done = match action.as_str() {
                    "cancel" => p.status == PaymentPlanStatus::Cancelled,
                    "pause" => p.status == PaymentPlanStatus::Paused && p.paused_until == *until,
                    _ => p.status != PaymentPlanStatus::Paused,
                };
                done.then(|| serde_json::to_value(p).ok())?
            }
            Request::PutScheduled { id, request, .. } => {
                let s = api.get_scheduled_payment(id).await.ok()?;
                let same = s.pay_on == request.pay_on
                    && s.payment_method_id == request.payment_method_id
                    && s.allocations.len() == request.allocations.len()
                    && request.allocations.iter().all(|a| {
                        s.allocations
                            .iter()
                            .any(|x| x.bill_id == a.bill_id && x.amount.to_string() == a.amount)
                    });
                same.then(|| serde_json::to_value(s).ok())?
            }
            Request::CancelScheduled { id, .. } => {
                let s = api.get_scheduled_payment(id).await.ok()?;
                (s.status == ScheduledStatus::Cancelled).then(|| serde_json::to_value(s).ok())?
            }
            _ => None,
        }
    }

    pub async fn add_payment_method(&self, token: &str) -> ClientResult<PaymentMethod> {
        if self.is_kiosk() {
            return Err(no_saving_on_kiosks());
        }
        let v = self.write(Request::AddMethod { token: token.into() }).await?;
        let method: PaymentMethod = serde_json::from_value(v)?;
        self.sync().await.ok();
        Ok(method)
    }

    pub async fn remove_payment_method(&self, id: &str) -> ClientResult<()> {
        self.write(Request::RemoveMethod { id: id.into() }).await?;
        self.sync().await.ok();
        Ok(())
    }

    pub async fn set_autopay(&self, request: AutopayRequest) -> ClientResult<Autopay> {
        let v = self.write(Request::PutAutopay(request)).await?;
        self.sync().await.ok();
        Ok(serde_json::from_value(v)?)
    }

    pub async fn turn_off_autopay(&self) -> ClientResult<()> {
        self.write(Request::DeleteAutopay).await?;
        self.sync().await.ok();
        Ok(())
    }

    pub async fn skip_autopay(&self, bill_id: &str) -> ClientResult<UpcomingCharge> {
        let v = self
            .write(Request::Skip {
                bill_id: bill_id.into(),
            })
            .await?;
        self.sync().await.ok();
        Ok(serde_json::from_value(v)?)
    }

    pub async fn ach_authorization(&self, recurring: bool) -> ClientResult<AchAuthorization> {
        self.0.api.ach_authorization(recurring, self.language()).await
    }
}
