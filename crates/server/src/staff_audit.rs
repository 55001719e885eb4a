//! The staff audit log: every staff view of a member's data and every staff action (who, which
//! member, what, when, from where, and the reason when one is asked), as a HIPAA security review
//! expects it. Append-only and tamper-evident:
//!
//! - Entries are numbered without gaps (`seq`), and each carries a link: an HMAC-SHA256, keyed by
//!   the server secret, of the previous entry's link and its own fields. Editing, removing or
//!   inserting an entry breaks the chain from there; recomputing it needs the secret, which a
//!   copy of the database alone does not give (`server_secret_file` keeps it out of the database).
//! - `staff_audit_head` holds the last number and link, so removing entries from the end is seen
//!   too, and appenders on several servers take turns on its one row. Its `anchor` is the link
//!   the oldest kept entry must name: zero at first, then the link of the last entry retention
//!   removed (entries older than the retention, six years by default, go oldest first).
//! - The database refuses `UPDATE` of an entry (a trigger); nothing in the server deletes one
//!   but retention.
//!
//! `carebill-server audit verify` walks the chain; `audit export` writes CSV, each field escaped
//! against spreadsheet formula injection.

use std::io::Write;

use chrono::{DateTime, Utc};

use crate::error::{ApiError, ApiResult};
use crate::secret::Secret;
use crate::sql::{Connection, OptionalExtension, params};
use crate::store::{from_ms, ms};

/// How long entries are kept by default: six years (HIPAA's retention for such records).
pub const DEFAULT_RETENTION_DAYS: u32 = 6 * 365 + 2;

/// One thing a staff member saw or did.
#[derive(Debug, Clone, Copy)]
pub struct Entry<'a> {
    /// Who: the staff member's account or, before accounts exist, their name and tool.
    pub staff: &'a str,
    /// Whose data, when a member's.
    pub member_id: Option<&'a str>,
    /// What, as a stable word (`conversation_replied`, `member_viewed`...).
    pub action: &'a str,
    /// What exactly (a conversation's reference, a bill's statement...).
    pub detail: &'a str,
    /// From where: an address, or `command line`.
    pub origin: &'a str,
    /// Why, when a reason was asked for.
    pub reason: Option<&'a str>,
}

fn link(secret: &Secret, prev: &[u8], seq: i64, at: i64, e: &Entry<'_>) -> [u8; 32] {
    let (seq, at) = (seq.to_string(), at.to_string());
    secret.audit_link(
        prev,
        &[
            seq.as_bytes(),
            at.as_bytes(),
            e.staff.as_bytes(),
            e.member_id.unwrap_or("\u{0}").as_bytes(),
            e.action.as_bytes(),
            e.detail.as_bytes(),
            e.origin.as_bytes(),
            e.reason.unwrap_or("\u{0}").as_bytes(),
        ],
    )
}

/// Appends an entry in the caller's transaction (so it is recorded exactly when what it records
/// is); answers its number.
pub fn append(tx: &Connection, secret: &Secret, e: &Entry<'_>, now: DateTime<Utc>) -> ApiResult<i64> {
    tx.execute(
        "INSERT INTO staff_audit_head (id, seq, hash, anchor) VALUES (1, 0, ?1, ?1) ON CONFLICT (id) DO NOTHING",
        params![vec![0u8; 32]],
    )?;
    // Takes the head's row: appenders on other servers wait here.
    let (seq, prev): (i64, Vec<u8>) = tx.query_row(
        "UPDATE staff_audit_head SET seq = seq + 1 WHERE id = 1 RETURNING seq, hash",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let at = ms(now);
    let hash = link(secret, &prev, seq, at, e).to_vec();
    tx.execute(
        "INSERT INTO staff_audit (seq, at, staff, member_id, action, detail, origin, reason, prev_hash, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            seq,
            at,
            e.staff,
            e.member_id,
            e.action,
            e.detail,
            e.origin,
            e.reason,
            prev,
            hash
        ],
    )?;
    tx.execute("UPDATE staff_audit_head SET hash = ?1 WHERE id = 1", params![hash])?;
    Ok(seq)
}

/// What a walk of the chain found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every entry is as written, none is missing: `entries` from `first` to `last`.
    Intact {
        entries: u64,
        first: Option<i64>,
        last: Option<i64>,
    },
    /// The chain breaks at entry `seq`: it was edited, or an entry before it was removed or
    /// inserted (`why` says which the evidence shows).
    Broken { seq: i64, why: &'static str },
}

type Row = (
    i64,
    i64,
    String,
    Option<String>,
    String,
    String,
    String,
    Option<String>,
    Vec<u8>,
    Vec<u8>,
);

/// Walks the whole chain, oldest first.
pub fn verify(conn: &Connection, secret: &Secret) -> ApiResult<Verdict> {
    let head: Option<(i64, Vec<u8>, Vec<u8>)> = conn
        .query_row("SELECT seq, hash, anchor FROM staff_audit_head WHERE id = 1", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()?;
    let Some((head_seq, head_hash, anchor)) = head else {
        let any: i64 = conn.query_row("SELECT COUNT(*) FROM staff_audit", [], |r| r.get(0))?;
        return Ok(if any == 0 {
            Verdict::Intact {
                entries: 0,
                first: None,
                last: None,
            }
        } else {
            Verdict::Broken {
                seq: 0,
                why: "the chain's head is missing",
            }
        });
    };
    let mut stmt = conn.prepare(
        "SELECT seq, at, staff, member_id, action, detail, origin, reason, prev_hash, hash FROM staff_audit ORDER BY seq",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get(0)?,
            r.get(1)?,
            r.get(2)?,
            r.get(3)?,
            r.get(4)?,
            r.get(5)?,
            r.get(6)?,
            r.get(7)?,
            r.get(8)?,
            r.get(9)?,
        ))
    })?;
    let (mut expected_prev, mut last, mut first, mut entries) = (anchor, None::<i64>, None, 0u64);
    for row in rows {
        let (seq, at, staff, member_id, action, detail, origin, reason, prev, hash): Row = row?;
        if let Some(last) = last
            && seq != last + 1
        {
            return Ok(Verdict::Broken {
                seq,
                why: "entries before it were removed",
            });
        }
        if prev != expected_prev {
            return Ok(Verdict::Broken {
                seq,
                why: "it does not follow the entry before it (one was removed, inserted or edited)",
            });
        }
        let e = Entry {
            staff: &staff,
            member_id: member_id.as_deref(),
            action: &action,
            detail: &detail,
            origin: &origin,
            reason: reason.as_deref(),
        };
        if link(secret, &prev, seq, at, &e).as_slice() != hash.as_slice() {
            return Ok(Verdict::Broken {
                seq,
                why: "it was edited",
            });
        }
        first.get_or_insert(seq);
        last = Some(seq);
        entries += 1;
        expected_prev = hash;
    }
    let ends_at_head = match last {
        Some(last) => last == head_seq && expected_prev == head_hash,
        None => expected_prev == head_hash,
    };
    if !ends_at_head {
        return Ok(Verdict::Broken {
            seq: last.map_or(head_seq, |l| l + 1),
            why: "the newest entries were removed",
        });
    }
    Ok(Verdict::Intact { entries, first, last })
}

/// Removes the entries older than `retention_days`, oldest first, and anchors the chain on the
/// last one removed (hourly maintenance).
pub fn purge(tx: &Connection, now: DateTime<Utc>, retention_days: u32) -> ApiResult<usize> {
    let cutoff = ms(now - chrono::Duration::days(i64::from(retention_days)));
    let last_old: Option<(i64, Vec<u8>)> = tx
        .query_row(
            "SELECT seq, hash FROM staff_audit WHERE at < ?1 ORDER BY seq DESC LIMIT 1",
            [cutoff],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let Some((seq, hash)) = last_old else { return Ok(0) };
    tx.execute("UPDATE staff_audit_head SET anchor = ?1 WHERE id = 1", params![hash])?;
    Ok(tx.execute("DELETE FROM staff_audit WHERE seq <= ?1", [seq])?)
}

/// An entry as the supervisors' console shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Shown {
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub staff: String,
    pub member_id: Option<String>,
    pub action: String,
    pub detail: String,
    pub origin: String,
    pub reason: Option<String>,
}

/// The newest entries (before entry `before`, when given), optionally only those about one
/// member or by one staff member (their audit name contains `staff`).
pub fn recent(
    conn: &Connection,
    member_id: Option<&str>,
    staff: Option<&str>,
    before: Option<i64>,
    limit: u32,
) -> ApiResult<Vec<Shown>> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq, at, staff, member_id, action, detail, origin, reason FROM staff_audit
         WHERE seq < ?1 AND (CAST(?2 AS TEXT) IS NULL OR member_id = ?2)
           AND (CAST(?3 AS TEXT) IS NULL OR LOWER(staff) LIKE ?3)
         ORDER BY seq DESC LIMIT ?4",
    )?;
    let staff = staff.map(|s| format!("%{}%", s.to_lowercase().replace(['%', '_'], "")));
    let rows = stmt
        .query_map(
            params![before.unwrap_or(i64::MAX), member_id, staff, i64::from(limit)],
            |r| {
                Ok(Shown {
                    seq: r.get(0)?,
                    at: from_ms(r.get(1)?),
                    staff: r.get(2)?,
                    member_id: r.get(3)?,
                    action: r.get(4)?,
                    detail: r.get(5)?,
                    origin: r.get(6)?,
                    reason: r.get(7)?,
                })
            },
        )?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// A field as a spreadsheet shows it and never runs it: one that starts like a formula (`=`,
/// `+`, `-`, `@`, a tab or a carriage return) is prefixed with `'`.
pub fn spreadsheet_safe(field: &str) -> String {
    if field.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{field}")
    } else {
        field.to_string()
    }
}

/// Writes the entries from `from` to `to` (instants, inclusive) as CSV, oldest first.
pub fn export_csv(
    conn: &Connection,
    out: impl Write,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> ApiResult<u64> {
    let csv_error = |e: csv::Error| ApiError::internal(format!("audit export: {e}"));
    let mut w = csv::Writer::from_writer(out);
    w.write_record([
        "seq",
        "at",
        "staff",
        "member_id",
        "action",
        "detail",
        "origin",
        "reason",
        "link",
    ])
    .map_err(csv_error)?;
    let mut stmt = conn.prepare(
        "SELECT seq, at, staff, member_id, action, detail, origin, reason, hash FROM staff_audit
         WHERE at >= ?1 AND at <= ?2 ORDER BY seq",
    )?;
    let (from, to) = (from.map_or(i64::MIN, ms), to.map_or(i64::MAX, ms));
    let rows = stmt.query_map(params![from, to], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, Option<String>>(3)?,
            r.get::<_, String>(4)?,
            r.get::<_, String>(5)?,
            r.get::<_, String>(6)?,
            r.get::<_, Option<String>>(7)?,
            r.get::<_, Vec<u8>>(8)?,
        ))
    })?;
    let mut n = 0;
    for row in rows {
        let (seq, at, staff, member, action, detail, origin, reason, hash) = row?;
        let fields = [
            seq.to_string(),
            from_ms(at).to_rfc3339(),
            spreadsheet_safe(&staff),
            spreadsheet_safe(member.as_deref().unwrap_or("")),
            spreadsheet_safe(&action),
            spreadsheet_safe(&detail),
            spreadsheet_safe(&origin),
            spreadsheet_safe(reason.as_deref().unwrap_or("")),
            crate::ids::hex(&hash),
        ];
        w.write_record(&fields).map_err(csv_error)?;
        n += 1;
    }
    w.flush()
        .map_err(|e| ApiError::internal(format!("audit export: {e}")))?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_that_start_like_formulas_are_defused() {
        for (field, shown) in [
            ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
            ("+1-555", "'+1-555"),
            ("-2+3", "'-2+3"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("Dana", "Dana"),
            ("Q-7K3M9P2X", "Q-7K3M9P2X"),
            ("", ""),
        ] {
            assert_eq!(spreadsheet_safe(field), shown);
        }
    }
}
