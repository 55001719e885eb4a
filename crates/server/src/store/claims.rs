//! Claims from the plan's Explanations of Benefits: writing them (the FHIR import) and reading
//! them (the member's list, one claim, the change feed).
//!
//! A claim is stored once per claim number. Its list figures are columns; its lines, header
//! adjudications, totals and benefit balance are the `detail` JSON, read whole with the claim. A
//! claim is `active` (the member sees it), `cancelled` (the EOB says so) or `superseded` (an
//! adjusted claim names it in `related`: `claim_replacements` remembers that, so an original
//! imported after its adjustment is superseded too). A claim leaving the member's view leaves
//! their change feed as a deletion.

use crate::sql::{Connection, OptionalExtension, params};
use carebill_api::types::{Claim, ClaimDetail, SyncEntity, SyncOp};
use carebill_billing::Money;
use chrono::{DateTime, Utc};

use super::{date_str, ms, touch};
use crate::error::{ApiError, ApiResult};

/// What writing one claim did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    Added,
    Updated,
    /// Stored, but not shown: cancelled, or replaced by an adjusted claim.
    Hidden,
}

/// Writes one claim for a member: a new claim number is added, a known one updated in place (its
/// id kept). `cancelled` hides it; `replaces` hides the claims it names. The transaction must hold
/// the member's lock (`lock_members`), and the lock of the member of any claim it replaces.
pub fn write(
    tx: &Connection,
    member_id: &str,
    new_id: &str,
    claim: &ClaimDetail,
    cancelled: bool,
    replaces: &[String],
    now: DateTime<Utc>,
) -> ApiResult<Written> {
    let c = &claim.claim;
    let existing: Option<(String, String, String)> = tx
        .prepare_cached("SELECT id, member_id, status FROM claims WHERE claim_number = ?1")?
        .query_row([&c.claim_number], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    let id = existing.as_ref().map_or(new_id, |e| e.0.as_str()).to_string();
    // A claim an active adjustment replaces stays hidden, whatever order they came in.
    // Two lookups by key, not a join: almost no claim is replaced, and a join here was planned
    // as a scan of `claims` on a database still being filled (PostgreSQL, 30 ms a claim).
    let replacing: Vec<String> = tx
        .prepare_cached("SELECT claim_number FROM claim_replacements WHERE replaces = ?1 ORDER BY claim_number")?
        .query_map([&c.claim_number], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut replaced_by = None;
    for number in replacing {
        let active = tx
            .prepare_cached("SELECT 1 FROM claims WHERE claim_number = ?1 AND status = 'active'")?
            .query_row([&number], |_| Ok(()))
            .optional()?
            .is_some();
        if active {
            replaced_by = Some(number);
            break;
        }
    }
    let status = if cancelled {
        "cancelled"
    } else if replaced_by.is_some() {
        "superseded"
    } else {
        "active"
    };
    let stored = ClaimDetail {
        claim: Claim {
            id: id.clone(),
            ..c.clone()
        },
        ..claim.clone()
    };
    let detail = serde_json::to_string(&stored).map_err(|e| ApiError::internal(e.to_string()))?;
    let cents = |m: Option<Money>| m.map(|m| m.cents());
    tx.prepare_cached(
        "INSERT INTO claims (id, member_id, claim_number, status, superseded_by, kind, service_from, service_to,
            provider, facility, outcome, billed_cents, allowed_cents, plan_paid_cents, member_cents, detail,
            created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?17)
         ON CONFLICT (claim_number) DO UPDATE SET member_id = excluded.member_id, status = excluded.status,
            superseded_by = excluded.superseded_by, kind = excluded.kind, service_from = excluded.service_from,
            service_to = excluded.service_to, provider = excluded.provider, facility = excluded.facility,
            outcome = excluded.outcome, billed_cents = excluded.billed_cents, allowed_cents = excluded.allowed_cents,
            plan_paid_cents = excluded.plan_paid_cents, member_cents = excluded.member_cents,
            detail = excluded.detail, updated_at = excluded.updated_at",
    )?
    .execute(params![
        id,
        member_id,
        c.claim_number,
        status,
        replaced_by,
        c.kind.as_str(),
        c.service_date_from.map(date_str),
        c.service_date_to.map(date_str),
        c.provider,
        c.facility,
        c.outcome,
        cents(c.billed),
        cents(c.allowed),
        cents(c.plan_paid),
        cents(c.member_owes),
        detail,
        ms(now),
    ])?;
    // A claim that moved to another member (a corrected roster match) leaves the first one's view.
    if let Some((_, before, was)) = &existing
        && before != member_id
        && was == "active"
    {
        touch(tx, before, SyncEntity::Claim, &id, SyncOp::Delete, now)?;
    }
    let was_active = existing.as_ref().is_some_and(|e| e.1 == member_id && e.2 == "active");
    if status == "active" {
        touch(tx, member_id, SyncEntity::Claim, &id, SyncOp::Upsert, now)?;
    } else if was_active {
        touch(tx, member_id, SyncEntity::Claim, &id, SyncOp::Delete, now)?;
    }
    for old in replaces.iter().filter(|r| **r != c.claim_number) {
        tx.prepare_cached(
            "INSERT INTO claim_replacements (claim_number, replaces) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
        )?
        .execute(params![c.claim_number, old])?;
        if status != "active" {
            continue;
        }
        let hidden: Option<(String, String)> = tx
            .prepare_cached(
                "UPDATE claims SET status = 'superseded', superseded_by = ?1, updated_at = ?3
                 WHERE claim_number = ?2 AND status = 'active' RETURNING id, member_id",
            )?
            .query_row(params![c.claim_number, old, ms(now)], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        if let Some((old_id, old_member)) = hidden {
            touch(tx, &old_member, SyncEntity::Claim, &old_id, SyncOp::Delete, now)?;
        }
    }
    Ok(match (status, existing) {
        ("active", None) => Written::Added,
        ("active", Some(_)) => Written::Updated,
        _ => Written::Hidden,
    })
}

/// The members of the claims these claim numbers name (for the import's locks).
pub fn members_of(tx: &Connection, claim_numbers: &[&str]) -> ApiResult<Vec<String>> {
    let mut stmt = tx.prepare_cached("SELECT member_id FROM claims WHERE claim_number = ?1")?;
    let mut out = Vec::new();
    for n in claim_numbers {
        if let Some(m) = stmt.query_row([n], |r| r.get::<_, String>(0)).optional()? {
            out.push(m);
        }
    }
    Ok(out)
}

/// Which of the member's claims a list shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClaimFilter {
    /// Service began in this calendar year.
    pub year: Option<i32>,
    /// Provider or facility contains this, case-insensitively.
    pub provider: Option<String>,
    pub claim_number: Option<String>,
}

/// A page of the member's claims, newest service first, then id (descending); `after` is the
/// last row of the previous page (service date, id).
pub fn list(
    conn: &Connection,
    member_id: &str,
    filter: &ClaimFilter,
    after: Option<(String, String)>,
    limit: u32,
) -> ApiResult<(Vec<Claim>, bool)> {
    let (from, to) = match filter.year {
        Some(y) => (format!("{y:04}-01-01"), format!("{:04}-01-01", y + 1)),
        None => (String::new(), "9999-12-31".to_string()),
    };
    let needle = filter.provider.as_deref().map(|p| {
        let escaped = p
            .to_lowercase()
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        format!("%{escaped}%")
    });
    let (after_date, after_id) = after.unwrap_or_else(|| ("9999-12-31".into(), "\u{10FFFF}".into()));
    let mut stmt = conn.prepare_cached(
        "SELECT detail FROM claims
         WHERE member_id = ?1 AND status = 'active' AND service_from >= ?2 AND service_from < ?3
           AND (CAST(?4 AS TEXT) IS NULL OR LOWER(COALESCE(provider, '')) LIKE ?4 ESCAPE '\\' OR LOWER(COALESCE(facility, '')) LIKE ?4 ESCAPE '\\')
           AND (CAST(?5 AS TEXT) IS NULL OR claim_number = ?5)
           AND (service_from, id) < (?6, ?7)
         ORDER BY service_from DESC, id DESC LIMIT ?8",
    )?;
    let rows = stmt.query_map(
        params![
            member_id,
            from,
            to,
            needle,
            filter.claim_number,
            after_date,
            after_id,
            limit + 1
        ],
        |r| r.get::<_, String>(0),
    )?;
    let mut claims = Vec::with_capacity(limit as usize + 1);
    for row in rows {
        let claim: Claim = serde_json::from_str(&row?).map_err(|e| ApiError::internal(format!("stored claim: {e}")))?;
        claims.push(claim);
    }
    let has_more = claims.len() > limit as usize;
    claims.truncate(limit as usize);
    Ok((claims, has_more))
}

/// The cursor position of a claim in the list order.
pub fn position(claim: &Claim) -> (String, String) {
    (
        claim.service_date_from.map(date_str).unwrap_or_default(),
        claim.id.clone(),
    )
}

/// One of the member's claims with everything the EOB said; `None` when it is not theirs or
/// not shown (cancelled, superseded).
pub fn detail(conn: &Connection, member_id: &str, id: &str) -> ApiResult<Option<ClaimDetail>> {
    let text: Option<String> = conn
        .prepare_cached("SELECT detail FROM claims WHERE id = ?1 AND member_id = ?2 AND status = 'active'")?
        .query_row(params![id, member_id], |r| r.get(0))
        .optional()?;
    text.map(|t| serde_json::from_str(&t).map_err(|e| ApiError::internal(format!("stored claim: {e}"))))
        .transpose()
}

/// The service year range a list filter accepts.
pub fn year_in_range(year: i32) -> bool {
    (2000..=2100).contains(&year)
}
