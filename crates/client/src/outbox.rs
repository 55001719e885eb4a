//! Writes in flight, kept in the member's encrypted cache so none is lost or repeated.
//!
//! A payment (or a change to payment methods or autopay) is written here with a fresh
//! idempotency key *before* it is sent, holding only a token or a method id, never card data.
//! A payment is sent with that key, and re-sent with the same key after timeouts, dropped
//! connections and app restarts, until its answer is known. Other changes are re-sent only when
//! their sender never heard back, for [`WRITE_RESEND_WINDOW`]; a failure the member was shown
//! ends them. A payment older than the server's key retention
//! (24 hours) is never re-sent: it is reconciled against the synced payment history by its key.

use carebill_api::types::{
    AutopayRequest, CreatePaymentRequest, NewConversation, NewMessage, PaymentPlanRequest, ScheduledPaymentRequest,
};
use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

use crate::error::{ClientError, ClientResult};

/// After this long a pending payment is reconciled, not re-sent.
pub const RESEND_WINDOW: Duration = Duration::hours(24);
/// A change other than a payment (methods, autopay, skips) whose sender never heard back (the
/// app stopped mid-request) is re-sent only this soon after it was made; a change whose failure
/// the member was shown is never re-sent.
pub const WRITE_RESEND_WINDOW: Duration = Duration::minutes(10);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Request {
    Payment(CreatePaymentRequest),
    AddMethod {
        token: String,
    },
    RemoveMethod {
        id: String,
    },
    PutAutopay(AutopayRequest),
    DeleteAutopay,
    Skip {
        bill_id: String,
    },
    /// A new payment plan; the entry's id is its Idempotency-Key.
    CreatePlan(PaymentPlanRequest),
    PutPlan {
        id: String,
        version: i64,
        request: PaymentPlanRequest,
    },
    /// `pause` (with `until`), `resume` or `cancel`.
    PlanAction {
        id: String,
        version: i64,
        action: String,
        until: Option<chrono::NaiveDate>,
    },
    /// A payment scheduled for a date; the entry's id is its Idempotency-Key.
    CreateScheduled(ScheduledPaymentRequest),
    PutScheduled {
        id: String,
        version: i64,
        request: ScheduledPaymentRequest,
    },
    CancelScheduled {
        id: String,
        version: i64,
    },
    /// A question for the billing office; the entry's key is its Idempotency-Key, its files wait
    /// in `outbox_files` (uploaded with keys derived from it) and fill `attachment_ids`.
    Ask(NewConversation),
    /// A reply in a conversation, like a question.
    Reply {
        conversation_id: String,
        message: NewMessage,
    },
    CloseConversation {
        id: String,
    },
}

impl Request {
    pub fn kind(&self) -> &'static str {
        match self {
            Request::Payment(_) => "payment",
            Request::AddMethod { .. } => "add_method",
            Request::RemoveMethod { .. } => "remove_method",
            Request::PutAutopay(_) => "put_autopay",
            Request::DeleteAutopay => "delete_autopay",
            Request::Skip { .. } => "skip",
            Request::CreatePlan(_) => "create_plan",
            Request::PutPlan { .. } => "put_plan",
            Request::PlanAction { .. } => "plan_action",
            Request::CreateScheduled(_) => "create_scheduled",
            Request::PutScheduled { .. } => "put_scheduled",
            Request::CancelScheduled { .. } => "cancel_scheduled",
            Request::Ask(_) => "ask",
            Request::Reply { .. } => "reply",
            Request::CloseConversation { .. } => "close_conversation",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Written; the answer is not known yet.
    Pending,
    /// Answered (including declines): `result` holds the answer.
    Done,
    /// Refused (validation, not found...): nothing happened.
    Failed,
    /// Older than the resend window and not in the synced history: it never reached the server.
    Unknown,
}

impl State {
    fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Done => "done",
            State::Failed => "failed",
            State::Unknown => "unknown",
        }
    }

    fn parse(s: &str) -> State {
        match s {
            "done" => State::Done,
            "failed" => State::Failed,
            "unknown" => State::Unknown,
            _ => State::Pending,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub id: String,
    pub key: String,
    pub request: Request,
    pub bill_ids: Vec<String>,
    pub state: State,
    pub created_at: DateTime<Utc>,
    pub attempts: u32,
    pub result: Option<serde_json::Value>,
    pub error: Option<ClientError>,
}

/// A fresh idempotency key: 128 random bits.
pub fn new_key() -> String {
    let bytes: [u8; 16] = rand::thread_rng().r#gen();
    format!("cb-{}", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

/// Writes an entry before anything is sent.
pub fn insert(
    conn: &Connection,
    id: &str,
    request: &Request,
    bill_ids: &[String],
    now: DateTime<Utc>,
) -> ClientResult<Entry> {
    let key = new_key();
    conn.execute(
        "INSERT INTO outbox (id, kind, idempotency_key, request, bill_ids, state, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, 'pending', ?6, ?6)",
        params![id, request.kind(), key, serde_json::to_string(request)?, serde_json::to_string(bill_ids)?, now.timestamp_millis()],
    )?;
    Ok(Entry {
        id: id.to_string(),
        key,
        request: request.clone(),
        bill_ids: bill_ids.to_vec(),
        state: State::Pending,
        created_at: now,
        attempts: 0,
        result: None,
        error: None,
    })
}

type Row = (
    String,
    String,
    String,
    String,
    String,
    i64,
    u32,
    Option<String>,
    Option<String>,
);

fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
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
    ))
}

const COLUMNS: &str = "id, idempotency_key, request, bill_ids, state, created_at, attempts, result, error";

fn decode(row: Row) -> ClientResult<Entry> {
    let (id, key, request, bills, state, created, attempts, result, error) = row;
    Ok(Entry {
        id,
        key,
        request: serde_json::from_str(&request)?,
        bill_ids: serde_json::from_str(&bills)?,
        state: State::parse(&state),
        created_at: DateTime::from_timestamp_millis(created).unwrap_or_default(),
        attempts,
        result: result.map(|r| serde_json::from_str(&r)).transpose()?,
        error: error.map(|e| serde_json::from_str(&e)).transpose()?,
    })
}

pub fn get(conn: &Connection, id: &str) -> ClientResult<Option<Entry>> {
    conn.query_row(&format!("SELECT {COLUMNS} FROM outbox WHERE id = ?1"), [id], from_row)
        .optional()?
        .map(decode)
        .transpose()
}

/// Messages to the billing office: they wait for a connection however long it takes (the
/// server keeps their keys for good), and are sent once.
pub fn is_message(request: &Request) -> bool {
    matches!(request, Request::Ask(_) | Request::Reply { .. })
}

/// Keeps a message's files with its entry, until it is sent.
pub fn insert_files(conn: &Connection, id: &str, files: &[(String, Vec<u8>)]) -> ClientResult<()> {
    for (i, (name, bytes)) in files.iter().enumerate() {
        conn.execute(
            "INSERT INTO outbox_files (entry_id, position, file_name, bytes) VALUES (?1, ?2, ?3, ?4)",
            params![id, i as i64, name, bytes],
        )?;
    }
    Ok(())
}

/// A message's files: position, name, bytes and, once uploaded, the attachment's id.
pub type OutboxFile = (i64, String, Vec<u8>, Option<String>);

pub fn files(conn: &Connection, id: &str) -> ClientResult<Vec<OutboxFile>> {
    let mut stmt = conn.prepare(
        "SELECT position, file_name, bytes, attachment_id FROM outbox_files WHERE entry_id = ?1 ORDER BY position",
    )?;
    let rows = stmt
        .query_map([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// The names of a message's files (for showing it while it waits).
pub fn file_names(conn: &Connection, id: &str) -> ClientResult<Vec<String>> {
    let mut stmt = conn.prepare("SELECT file_name FROM outbox_files WHERE entry_id = ?1 ORDER BY position")?;
    let rows = stmt.query_map([id], |r| r.get(0))?.collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Records (or, with `None`, forgets) the attachment a file became.
pub fn set_file_attachment(conn: &Connection, id: &str, position: i64, attachment: Option<&str>) -> ClientResult<()> {
    conn.execute(
        "UPDATE outbox_files SET attachment_id = ?3 WHERE entry_id = ?1 AND position = ?2",
        params![id, position, attachment],
    )?;
    Ok(())
}

/// Drops a message's files once it is answered (sent or refused).
pub fn drop_files(conn: &Connection, id: &str) -> ClientResult<()> {
    conn.execute("DELETE FROM outbox_files WHERE entry_id = ?1", [id])?;
    Ok(())
}

/// Messages waiting to be sent, oldest first.
pub fn pending_messages(conn: &Connection) -> ClientResult<Vec<Entry>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM outbox WHERE state = 'pending' AND kind IN ('ask', 'reply') ORDER BY created_at, id"
    ))?;
    let rows = stmt.query_map([], from_row)?.collect::<Result<Vec<_>, _>>()?;
    rows.into_iter().map(decode).collect()
}

/// Messages the service refused (a bill no longer there, a conversation closed meanwhile...),
/// answered since `since`, newest first: they are shown as not sent, with why.
pub fn refused_messages(conn: &Connection, since: DateTime<Utc>) -> ClientResult<Vec<Entry>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM outbox WHERE state = 'failed' AND kind IN ('ask', 'reply') AND updated_at >= ?1
         ORDER BY updated_at DESC, id"
    ))?;
    let rows = stmt
        .query_map([since.timestamp_millis()], from_row)?
        .collect::<Result<Vec<_>, _>>()?;
    rows.into_iter().map(decode).collect()
}

/// Entries whose answer is not known, oldest first.
pub fn unresolved(conn: &Connection) -> ClientResult<Vec<Entry>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM outbox WHERE state = 'pending' ORDER BY created_at, id"
    ))?;
    let rows = stmt.query_map([], from_row)?.collect::<Result<Vec<_>, _>>()?;
    rows.into_iter().map(decode).collect()
}

/// Payments concluded `Unknown` (kept re-checkable: a later sync may show them after all).
pub fn unknown(conn: &Connection) -> ClientResult<Vec<Entry>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM outbox WHERE state = 'unknown' AND kind = 'payment' ORDER BY created_at, id"
    ))?;
    let rows = stmt.query_map([], from_row)?.collect::<Result<Vec<_>, _>>()?;
    rows.into_iter().map(decode).collect()
}

/// An `Unknown` payment found after all: `Done` with its payment.
pub fn settle_unknown(
    conn: &Connection,
    id: &str,
    payment: &serde_json::Value,
    now: DateTime<Utc>,
) -> ClientResult<bool> {
    let changed = conn.execute(
        "UPDATE outbox SET state = 'done', result = ?2, updated_at = ?3 WHERE id = ?1 AND state = 'unknown'",
        params![id, serde_json::to_string(payment)?, now.timestamp_millis()],
    )?;
    Ok(changed == 1)
}

pub fn count_unresolved(conn: &Connection) -> ClientResult<u32> {
    Ok(conn.query_row("SELECT COUNT(*) FROM outbox WHERE state = 'pending'", [], |r| r.get(0))?)
}

pub fn record_attempt(conn: &Connection, id: &str, now: DateTime<Utc>) -> ClientResult<()> {
    conn.execute(
        "UPDATE outbox SET attempts = attempts + 1, updated_at = ?2 WHERE id = ?1",
        params![id, now.timestamp_millis()],
    )?;
    Ok(())
}

/// Records the final answer. Only a pending entry changes: the first answer wins.
pub fn resolve(
    conn: &Connection,
    id: &str,
    state: State,
    result: Option<&serde_json::Value>,
    error: Option<&ClientError>,
    now: DateTime<Utc>,
) -> ClientResult<bool> {
    let changed = conn.execute(
        "UPDATE outbox SET state = ?2, result = ?3, error = ?4, updated_at = ?5 WHERE id = ?1 AND state = 'pending'",
        params![
            id,
            state.as_str(),
            result.map(serde_json::to_string).transpose()?,
            error.map(serde_json::to_string).transpose()?,
            now.timestamp_millis()
        ],
    )?;
    Ok(changed == 1)
}
