//! Desktop notices (see `crate::notices` for what is decided and why): decided from the copy after
//! each sync, kept in the copy, listed in the app. The shell shows the fresh ones on the screen
//! (`Event::Notices`); a notice the screen could not show, or that the member did not open, waits
//! in the app's list, unread, at the next start.

use carebill_api::types::NotificationPreferences;
use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::{Connection, params};

use super::{Engine, Session};
use crate::cache;
use crate::error::{ClientError, ClientResult};
use crate::notices::{self, CopyFacts, Decided, DesktopNotice, NoticeFacts, NoticeKind, NoticeList};
use crate::types::Event;

/// When the copy's first decision was made (RFC 3339): before it, everything is a baseline.
const NOTICES_FROM_META: &str = "notices_from";
/// The business day of the copy's last decision.
const NOTICES_DAY_META: &str = "notices_decided_on";
/// How many notices the app's list shows.
const LIST_LIMIT: usize = 50;

/// What a sync left for the notices to decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pending {
    /// Nothing: the same day and an unchanged copy, or no event not decided before.
    Nothing,
    /// The copy's first decision: what is there is recorded, announced nowhere.
    Baseline,
    /// Events not decided before.
    News,
}

impl Engine {
    /// Decides the copy's new events after a sync, and tells the shell of the fresh ones. Not on
    /// kiosks (no member's notices are shown there), nor on a copy kept in memory. The copy is
    /// read only when something could be new: the sync changed it, the business day turned (a
    /// bill falls due, a card expires), or the copy never decided.
    pub(super) async fn decide_notices(&self, s: &Session, changed: bool) -> ClientResult<Vec<DesktopNotice>> {
        if self.is_kiosk() || s.dir.is_none() {
            return Ok(Vec::new());
        }
        let today = self.freshness(s).await?.business_date;
        let (now, l) = (self.now(), self.language());
        let pending = s
            .cache
            .run(move |c| {
                let day = today.to_string();
                if !changed && cache::meta(c, NOTICES_DAY_META)?.as_deref() == Some(day.as_str()) {
                    return Ok(Pending::Nothing);
                }
                if cache::meta(c, NOTICES_FROM_META)?.is_none() {
                    return Ok(Pending::Baseline);
                }
                // Until this decision is written, the next sync decides again, changed or not.
                cache::set_meta(c, NOTICES_DAY_META, "")?;
                if !undecided(c, today)? {
                    cache::set_meta(c, NOTICES_DAY_META, &day)?;
                    return Ok(Pending::Nothing);
                }
                Ok(Pending::News)
            })
            .await?;
        // Nothing new: the facts were read once at most, the service not asked.
        if pending == Pending::Nothing {
            return Ok(Vec::new());
        }
        // Something new: first the switches as the service has them now (the member may have
        // changed them on another device; the copy's if it cannot say). A first decision records
        // a baseline whatever the switches.
        if pending == Pending::News
            && let Ok(p) = self.0.api.notification_preferences().await
        {
            let json = serde_json::to_string(&p)?;
            s.cache
                .run(move |c| cache::set_meta(c, super::accounts::NOTIFICATIONS_META, &json))
                .await?;
        }
        let (fresh, unread) = s
            .cache
            .run(move |c| {
                cache::durable(c, |tx| {
                    let fresh = decide(tx, today, now, l)?;
                    cache::set_meta(tx, NOTICES_DAY_META, &today.to_string())?;
                    Ok((fresh, unread_count(tx)?))
                })
            })
            .await?;
        if !fresh.is_empty() {
            self.emit(Event::Notices {
                fresh: fresh.clone(),
                unread,
            });
        }
        Ok(fresh)
    }

    /// The app's list of notices, newest first, in the app's language (from the copy, offline too).
    pub async fn notices(&self) -> ClientResult<NoticeList> {
        let s = self.session().await?;
        let l = self.language();
        s.cache.run(move |c| list(c, l)).await
    }

    /// Marks notices read (the member opened the list or one of them); answers how many are left
    /// unread. Unknown keys are ignored.
    pub async fn read_notices(&self, keys: Vec<String>) -> ClientResult<u32> {
        let s = self.session().await?;
        if keys.len() > LIST_LIMIT * 4 || keys.iter().any(|k| k.is_empty() || k.len() > 200) {
            return Err(ClientError::of(crate::error::ClientCode::InvalidNoticeKeys).at("/keys"));
        }
        s.cache
            .run(move |c| {
                cache::durable(c, |tx| {
                    let mut stmt = tx.prepare_cached(
                        "UPDATE desktop_notices SET state = 'read' WHERE key = ?1 AND state = 'unread'",
                    )?;
                    for k in &keys {
                        stmt.execute([k])?;
                    }
                    unread_count(tx)
                })
            })
            .await
    }
}

/// Everything the decisions read, from the copy.
fn copy_facts(c: &Connection) -> ClientResult<CopyFacts> {
    Ok(CopyFacts {
        bills: cache::all_bills(c)?,
        in_flight: cache::bill_ids_in_flight(c)?,
        autopay: cache::autopay(c)?.map(|a| (a.payment_method_id, a.upcoming)),
        plans: cache::payment_plans(c)?,
        scheduled: cache::scheduled_payments(c)?,
        methods: cache::payment_methods(c)?,
        payments: cache::all_payments(c)?,
        conversations: cache::conversations_seen(c)?,
    })
}

/// The member's switches as the copy keeps them (every one on until the service says otherwise).
fn preferences(c: &Connection) -> ClientResult<NotificationPreferences> {
    Ok(match cache::meta(c, super::accounts::NOTIFICATIONS_META)? {
        Some(json) => serde_json::from_str(&json)?,
        None => NotificationPreferences::default(),
    })
}

/// Whether the copy shows an event not decided before.
fn undecided(c: &Connection, today: NaiveDate) -> ClientResult<bool> {
    let mut known = c.prepare_cached("SELECT 1 FROM desktop_notices WHERE key = ?1")?;
    for candidate in notices::candidates(&copy_facts(c)?, today) {
        if !known.exists([&candidate.key])? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Writes every event not decided before; answers the fresh notices to show.
fn decide(
    tx: &Connection,
    today: NaiveDate,
    now: DateTime<Utc>,
    l: carebill_api::types::Locale,
) -> ClientResult<Vec<DesktopNotice>> {
    let first = cache::meta(tx, NOTICES_FROM_META)?.is_none();
    if first {
        cache::set_meta(tx, NOTICES_FROM_META, &now.to_rfc3339())?;
    }
    let prefs = preferences(tx)?;
    let facts = copy_facts(tx)?;
    let mut insert = tx.prepare_cached(
        "INSERT INTO desktop_notices (key, kind, facts, decided_at, state) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (key) DO NOTHING",
    )?;
    let mut fresh = Vec::new();
    for c in notices::candidates(&facts, today) {
        let state = notices::decide(c.kind, first, &prefs);
        let json = serde_json::to_string(&c.facts)?;
        let added = insert.execute(params![c.key, c.kind.as_str(), json, now.to_rfc3339(), state.as_str()])?;
        if added == 1 && state == Decided::Unread {
            fresh.push(notice(c.key, c.kind, &c.facts, now, false, l));
        }
    }
    Ok(fresh)
}

fn notice(
    key: String,
    kind: NoticeKind,
    facts: &NoticeFacts,
    at: DateTime<Utc>,
    read: bool,
    l: carebill_api::types::Locale,
) -> DesktopNotice {
    let (title, body, screen_body) = notices::words(kind, facts, l);
    DesktopNotice {
        key,
        kind,
        title,
        body,
        screen_body,
        target: notices::target(facts),
        decided_at: at,
        read,
    }
}

fn unread_count(c: &Connection) -> ClientResult<u32> {
    Ok(
        c.query_row("SELECT count(*) FROM desktop_notices WHERE state = 'unread'", [], |r| {
            r.get(0)
        })?,
    )
}

fn list(c: &Connection, l: carebill_api::types::Locale) -> ClientResult<NoticeList> {
    let mut stmt = c.prepare_cached(
        "SELECT key, kind, facts, decided_at, state FROM desktop_notices WHERE state IN ('unread', 'read')
         ORDER BY decided_at DESC, key LIMIT ?1",
    )?;
    let rows = stmt
        .query_map([LIST_LIMIT as i64], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut out = Vec::with_capacity(rows.len());
    for (key, kind, facts, at, state) in rows {
        // A kind or facts a later release wrote are skipped, not an error: the list still reads.
        let (Some(kind), Ok(facts)) = (NoticeKind::parse(&kind), serde_json::from_str::<NoticeFacts>(&facts)) else {
            continue;
        };
        let at = DateTime::parse_from_rfc3339(&at)
            .map_err(ClientError::internal)?
            .with_timezone(&Utc);
        out.push(notice(key, kind, &facts, at, state == "read", l));
    }
    Ok(NoticeList {
        notices: out,
        unread: unread_count(c)?,
    })
}
