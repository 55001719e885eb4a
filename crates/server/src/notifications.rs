//! What members are told about, and how: their notification preferences (email and desktop, per
//! kind of notice) and paperless statements. A member who never changed a switch has no row:
//! every switch is on and paperless is off. `carebill-server export --preferences` writes the
//! paperless choices for the plan's print-and-mail vendor.

use std::io::Write;

use carebill_api::types::{NoticeKind, NotificationChannels, NotificationPreferences};
use chrono::{DateTime, Utc};

use crate::error::{ApiError, ApiResult};
use crate::sql::{Connection, OptionalExtension, params};
use crate::store::ms;

const COLUMNS: &str = "email_new_bill, desktop_new_bill, email_due_soon, desktop_due_soon, email_overdue,
    desktop_overdue, email_method_attention, desktop_method_attention, email_payment_failed,
    desktop_payment_failed, email_message_reply, desktop_message_reply, paperless";

fn from_row(r: &crate::sql::Row<'_>) -> crate::sql::Result<NotificationPreferences> {
    let pair = |i: usize| -> crate::sql::Result<NotificationChannels> {
        Ok(NotificationChannels {
            email: r.get(i)?,
            desktop: r.get(i + 1)?,
        })
    };
    Ok(NotificationPreferences {
        new_bill: pair(0)?,
        due_soon: pair(2)?,
        overdue: pair(4)?,
        method_attention: pair(6)?,
        payment_failed: pair(8)?,
        message_reply: pair(10)?,
        paperless: r.get(12)?,
    })
}

/// A member's preferences (the defaults when they never changed one).
pub fn get(conn: &Connection, member_id: &str) -> ApiResult<NotificationPreferences> {
    Ok(conn
        .query_row(
            &format!("SELECT {COLUMNS} FROM notification_preferences WHERE member_id = ?1"),
            [member_id],
            from_row,
        )
        .optional()?
        .unwrap_or_default())
}

/// Saves a member's preferences, all of them at once.
pub fn set(
    tx: &Connection,
    member_id: &str,
    p: &NotificationPreferences,
    now: DateTime<Utc>,
) -> ApiResult<NotificationPreferences> {
    tx.execute(
        &format!(
            "INSERT INTO notification_preferences (member_id, {COLUMNS}, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)
             ON CONFLICT (member_id) DO UPDATE SET
               email_new_bill = excluded.email_new_bill, desktop_new_bill = excluded.desktop_new_bill,
               email_due_soon = excluded.email_due_soon, desktop_due_soon = excluded.desktop_due_soon,
               email_overdue = excluded.email_overdue, desktop_overdue = excluded.desktop_overdue,
               email_method_attention = excluded.email_method_attention,
               desktop_method_attention = excluded.desktop_method_attention,
               email_payment_failed = excluded.email_payment_failed,
               desktop_payment_failed = excluded.desktop_payment_failed,
               email_message_reply = excluded.email_message_reply,
               desktop_message_reply = excluded.desktop_message_reply,
               paperless = excluded.paperless, updated_at = excluded.updated_at"
        ),
        params![
            member_id,
            p.new_bill.email,
            p.new_bill.desktop,
            p.due_soon.email,
            p.due_soon.desktop,
            p.overdue.email,
            p.overdue.desktop,
            p.method_attention.email,
            p.method_attention.desktop,
            p.payment_failed.email,
            p.payment_failed.desktop,
            p.message_reply.email,
            p.message_reply.desktop,
            p.paperless,
            ms(now)
        ],
    )?;
    get(tx, member_id)
}

/// Whether the member wants this notice by email (every kind is on until they turn it off).
/// Mail that is part of an agreement or of signing in (receipts, autopay and plan notices before
/// a charge, a plan falling behind, codes) is not a notice and is always sent.
pub fn wants_email(conn: &Connection, member_id: &str, notice: NoticeKind) -> ApiResult<bool> {
    Ok(get(conn, member_id)?.channels(notice).email)
}

/// Writes every roster member's statement delivery as CSV for the plan's print-and-mail vendor:
/// `member_id, first_name, last_name, paperless, language`, by member ID. Members without an app
/// account get paper (they never chose). Answers how many rows.
pub fn export_preferences(conn: &Connection, out: impl Write) -> ApiResult<u64> {
    let csv_error = |e: csv::Error| ApiError::internal(format!("preferences export: {e}"));
    let mut w = csv::Writer::from_writer(out);
    w.write_record(["member_id", "first_name", "last_name", "paperless", "language"])
        .map_err(csv_error)?;
    let mut stmt = conn.prepare(
        "SELECT r.member_id, r.first_name, r.last_name, COALESCE(n.paperless, FALSE), COALESCE(a.locale, 'en')
         FROM roster r LEFT JOIN accounts a ON a.member_id = r.member_id
         LEFT JOIN notification_preferences n ON n.member_id = r.member_id
         ORDER BY r.member_id",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, bool>(3)?,
            r.get::<_, String>(4)?,
        ))
    })?;
    let mut n = 0;
    for row in rows {
        let (id, first, last, paperless, locale) = row?;
        let safe = crate::staff_audit::spreadsheet_safe;
        w.write_record([
            safe(&id),
            safe(&first),
            safe(&last),
            if paperless { "yes" } else { "no" }.to_string(),
            locale,
        ])
        .map_err(csv_error)?;
        n += 1;
    }
    w.flush()
        .map_err(|e| ApiError::internal(format!("preferences export: {e}")))?;
    Ok(n)
}
