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
            Request::Payment(_) => return Err(ClientError::internal("payments go through drive_payment")),
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
