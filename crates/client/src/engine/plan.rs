//! The plan's own facts (member services phone, hours, TTY, language assistance): public data,
//! asked of the service at most every few minutes and kept on the device for offline use.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use carebill_api::types::PlanInfo;
use serde::{Deserialize, Serialize};

use super::{Engine, lock};
use crate::config::Persistence;
use crate::error::ClientResult;

/// How long a copy is used before the service is asked again (its `Cache-Control` says 300 s).
const FRESH_FOR: Duration = Duration::from_secs(300);

/// The copy kept on the device (`plan.json` in the data directory; nothing in it is private).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct PlanCopy {
    plan: PlanInfo,
    etag: Option<String>,
    #[serde(skip)]
    checked: Option<Instant>,
}

impl Engine {
    /// The plan's facts: from the service when it answers (one 304 when the copy is current),
    /// else the last copy this device kept; `None` only before the first answer ever.
    pub async fn plan(&self) -> ClientResult<Option<PlanInfo>> {
        let held = lock(&self.0.plan).clone().or_else(|| self.read_plan_file());
        if let Some(copy) = &held
            && copy.checked.is_some_and(|at| at.elapsed() < FRESH_FOR)
        {
            return Ok(Some(copy.plan.clone()));
        }
        let etag = held.as_ref().and_then(|c| c.etag.clone());
        let fresh = match self.0.api.plan(etag.as_deref()).await {
            Ok(Some((plan, etag))) => PlanCopy {
                plan,
                etag,
                checked: None,
            },
            Ok(None) => match held {
                Some(copy) => copy,
                None => return Ok(None),
            },
            // Unreachable, or an answer that is not a plan: the last copy, if there is one.
            Err(e) => {
                tracing::debug!(code = e.code, "the plan's facts were not fetched");
                return Ok(held.map(|c| c.plan));
            }
        };
        self.write_plan_file(&fresh);
        let copy = PlanCopy {
            checked: Some(Instant::now()),
            ..fresh
        };
        *lock(&self.0.plan) = Some(copy.clone());
        Ok(Some(copy.plan))
    }

    /// The plan's member ID format, from the copy of its facts this device holds (the default,
    /// the letter M and 9 digits, before the first answer ever).
    pub fn member_id_rule(&self) -> carebill_billing::validate::MemberIdRule {
        self.held_plan()
            .and_then(|plan| {
                carebill_billing::validate::MemberIdRule::new(&plan.member_id.pattern, &plan.member_id.example).ok()
            })
            .unwrap_or_default()
    }

    /// The plan's facts this device holds, without asking the service.
    pub(super) fn held_plan(&self) -> Option<PlanInfo> {
        lock(&self.0.plan)
            .clone()
            .or_else(|| self.read_plan_file())
            .map(|c| c.plan)
    }

    fn plan_file(&self) -> Option<PathBuf> {
        (self.0.config.persistence != Persistence::Memory).then(|| self.0.config.data_dir.join("plan.json"))
    }

    fn read_plan_file(&self) -> Option<PlanCopy> {
        let text = std::fs::read_to_string(self.plan_file()?).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// Replaces the kept copy (write then rename: a crash leaves the old copy or the new one).
    fn write_plan_file(&self, copy: &PlanCopy) {
        let Some(path) = self.plan_file() else { return };
        let write = || -> std::io::Result<()> {
            std::fs::create_dir_all(&self.0.config.data_dir)?;
            let tmp = path.with_extension("json.tmp");
            std::fs::write(&tmp, serde_json::to_vec(copy)?)?;
            std::fs::rename(&tmp, &path)
        };
        if let Err(e) = write() {
            tracing::warn!(error = %e, "the plan's facts were not kept for offline use");
        }
    }
}
