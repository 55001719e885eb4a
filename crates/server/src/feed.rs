//! The sync change feed: one page of a member's changes after a position, with the current data
//! of every entity that changed, read in one snapshot (one read transaction) so a page never
//! mixes two moments.

use crate::sql::Connection;
use carebill_api::types::{Change, SyncEntity, SyncOp};
use carebill_api::{ErrorCode, MAX_SYNC_PAGE};
use carebill_billing::BusinessCalendar;
use chrono::NaiveDate;

use crate::error::{ApiError, ApiResult};
use crate::store::{self, PRUNED_THROUGH_KEY, setting};

/// One page of changes, the position it reaches, and whether more follow.
pub struct FeedPage {
    pub changes: Vec<Change>,
    pub through: i64,
    pub has_more: bool,
}

/// The member's latest position and, unless `if_none_match` names it (nothing changed), the page
/// of changes after `after`. A position older than the pruned history is refused
/// (`cursor_expired`): the client starts over.
pub fn page(
    conn: &Connection,
    member_id: &str,
    after: i64,
    if_none_match: Option<&str>,
    today: NaiveDate,
    cal: &BusinessCalendar,
) -> ApiResult<(i64, Option<FeedPage>)> {
    conn.snapshot(|conn| page_in(conn, member_id, after, if_none_match, today, cal))?
}

fn page_in(
    conn: &Connection,
    member_id: &str,
    after: i64,
    if_none_match: Option<&str>,
    today: NaiveDate,
    cal: &BusinessCalendar,
) -> ApiResult<(i64, Option<FeedPage>)> {
    let member_id = member_id.to_string();
    let latest: i64 = conn.query_row(
        "SELECT COALESCE(MAX(seq), 0) FROM changes WHERE member_id = ?1",
        [&member_id],
        |r| r.get(0),
    )?;
    let pruned: i64 = setting(conn, PRUNED_THROUGH_KEY)?
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    if after > 0 && after < pruned {
        return Err(ApiError::new(ErrorCode::CursorExpired));
    }
    if if_none_match == Some(&format!("\"{latest}\"")) {
        return Ok((latest, None));
    }
    let mut stmt = conn.prepare_cached(
        "SELECT seq, entity, entity_id, op FROM changes WHERE member_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
    )?;
    let rows = stmt
        .query_map(crate::sql::params![member_id, after, MAX_SYNC_PAGE as i64 + 1], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let has_more = rows.len() > MAX_SYNC_PAGE;
    let rows = &rows[..rows.len().min(MAX_SYNC_PAGE)];
    let through = rows.last().map_or(after, |r| r.0);
    let mut bills = store::bill_details_in_changes(conn, &member_id, after, through)?;
    let mut payments = store::payments::payments_in_changes(conn, &member_id, after, through)?;
    let to_value = |v: serde_json::Result<serde_json::Value>| v.map_err(|e| ApiError::internal(e.to_string()));
    let mut changes = Vec::with_capacity(rows.len());
    for (_, entity, id, op) in rows {
        let entity = SyncEntity::parse(entity).ok_or_else(|| ApiError::internal(format!("change entity {entity}")))?;
        let op = if op == "delete" { SyncOp::Delete } else { SyncOp::Upsert };
        let data = match (entity, op) {
            (_, SyncOp::Delete) => None,
            (SyncEntity::Bill, SyncOp::Upsert) => match bills.remove(id) {
                Some(detail) => Some(to_value(serde_json::to_value(detail))?),
                None => continue,
            },
            (SyncEntity::Payment, SyncOp::Upsert) => match payments.remove(id) {
                Some(p) => Some(to_value(serde_json::to_value(p))?),
                None => continue,
            },
            (SyncEntity::PaymentMethod, SyncOp::Upsert) => match store::methods::load_method(conn, &member_id, id)? {
                Some(m) => Some(to_value(serde_json::to_value(m))?),
                None => continue,
            },
            (SyncEntity::Autopay, SyncOp::Upsert) => match crate::autopay::view(conn, &member_id, today, cal)? {
                Some(a) => Some(to_value(serde_json::to_value(a))?),
                None => continue,
            },
            (SyncEntity::PaymentPlan, SyncOp::Upsert) => match crate::plans::load(conn, &member_id, id)? {
                Some(p) => Some(to_value(serde_json::to_value(crate::plans::view(conn, &p, cal)?))?),
                None => continue,
            },
            (SyncEntity::ScheduledPayment, SyncOp::Upsert) => Some(to_value(serde_json::to_value(
                crate::scheduled::get(conn, &member_id, id)?,
            ))?),
            (SyncEntity::Claim, SyncOp::Upsert) => match store::claims::detail(conn, &member_id, id)? {
                Some(c) => Some(to_value(serde_json::to_value(c))?),
                None => continue,
            },
            (SyncEntity::Conversation, SyncOp::Upsert) => match crate::conversations::get(conn, &member_id, id)? {
                Some(c) => Some(to_value(serde_json::to_value(c))?),
                None => continue,
            },
        };
        changes.push(Change {
            entity,
            op,
            id: id.clone(),
            data,
        });
    }
    Ok((
        latest,
        Some(FeedPage {
            changes,
            through,
            has_more,
        }),
    ))
}
