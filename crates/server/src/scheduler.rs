//! The server's scheduler, on the business clock: settles bank payments, runs autopay, payment
//! plans' instalments and scheduled payments, decides the members' reminders, and resumes
//! payments whose lease expired. Safe to run in several processes on one database:
//! every step claims its rows atomically.

use std::time::Duration;

use crate::autopay;
use crate::error::ApiResult;
use crate::payments;
use crate::state::AppState;
use crate::store::{BUSINESS_OFFSET_KEY, setting};
use crate::{plans, reminders, scheduled};

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    pub settled: usize,
    pub autopay: autopay::RunSummary,
    pub plans: plans::RunSummary,
    pub scheduled: scheduled::RunSummary,
    pub reminders: reminders::RunSummary,
    pub resumed: usize,
}

/// Picks up a business-clock offset another process may have moved.
pub async fn refresh_business_offset(state: &AppState) -> ApiResult<()> {
    let offset: i64 = state
        .db
        .read(|conn| {
            Ok(setting(conn, BUSINESS_OFFSET_KEY)?
                .and_then(|v| v.parse().ok())
                .unwrap_or(0))
        })
        .await?;
    state.business.set_offset(chrono::Duration::milliseconds(offset));
    Ok(())
}

/// One pass: settlement, autopay, recovery.
pub async fn run_once(state: &AppState) -> ApiResult<Summary> {
    refresh_business_offset(state).await?;
    let settled = payments::settle_due(state).await?;
    let autopay = autopay::run(state).await?;
    let plans = plans::run(state).await?;
    let scheduled = scheduled::run(state).await?;
    // After the charges: a bill they just paid, or put in processing, needs no reminder.
    let reminders = reminders::run(state).await?;
    let resumed = payments::sweep(state).await?;
    Ok(Summary {
        settled,
        autopay,
        plans,
        scheduled,
        reminders,
        resumed,
    })
}

/// Runs [`run_once`] every `every` until the server stops.
pub fn spawn(state: AppState, every: Duration) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match run_once(&state).await {
                Ok(s) if s != Summary::default() => tracing::info!(?s, "scheduler pass"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "scheduler pass failed"),
            }
        }
    });
}
