//! The billing office's desk: the inbox of members' conversations, working one (assign, reply,
//! internal notes, close), member lookup (minimum necessary: a reason for any member whose
//! conversation one does not work), read-only member views, and the supervisors' figures.
//!
//! Every view of a member's data and every action is an entry of the staff audit log, written in
//! the same transaction as what it records.

use carebill_api::ErrorCode;
use carebill_api::types::{
    Autopay, Bill, BillFilter, Conversation, ConversationStatus, ConversationTopic, Payment, PaymentPlan,
};
use carebill_billing::BusinessCalendar;
use chrono::{DateTime, Duration, NaiveDate, Utc};

use super::{Role, Staff};
use crate::error::{ApiError, ApiResult};
use crate::secret::Secret;
use crate::sql::{Connection, OptionalExtension, params};
use crate::staff_audit::{self, Entry};
use crate::store::{from_ms, ms};

/// A reason is this long, at least and at most.
pub const REASON_CHARS: (usize, usize) = (10, 500);
/// An internal note is at most this long.
pub const NOTE_CHARS: usize = 2_000;

/// Who acts at the desk, from where, and when: what every desk action checks and records.
#[derive(Clone, Copy)]
pub struct At<'a> {
    pub secret: &'a Secret,
    pub staff: &'a Staff,
    /// The client's address, for the audit log.
    pub origin: &'a str,
    pub now: DateTime<Utc>,
}

impl At<'_> {
    /// Appends this action's staff audit entry, in the caller's transaction.
    fn record(
        &self,
        tx: &Connection,
        member_id: Option<&str>,
        action: &str,
        detail: &str,
        reason: Option<&str>,
    ) -> ApiResult<()> {
        staff_audit::append(
            tx,
            self.secret,
            &Entry {
                staff: &self.staff.audit_name(),
                member_id,
                action,
                detail,
                origin: self.origin,
                reason,
            },
            self.now,
        )
        .map(|_| ())
    }
}

/// Which conversations the inbox shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Queue {
    /// Assigned to the one asking.
    Mine,
    /// Assigned to nobody.
    Unassigned,
    /// An agent's own and the unassigned; a supervisor's, everyone's.
    All,
    /// Assigned to this staff member (supervisors).
    Of(String),
}

/// Which statuses the inbox shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusFilter {
    /// Everything not closed.
    Active,
    Only(ConversationStatus),
}

/// One conversation in the inbox.
#[derive(Debug, Clone, serde::Serialize)]
pub struct InboxItem {
    pub id: String,
    pub reference: String,
    pub topic: ConversationTopic,
    pub status: ConversationStatus,
    pub member_id: String,
    pub member_name: String,
    pub bill_id: Option<String>,
    pub assigned_to: Option<String>,
    pub assigned_name: Option<String>,
    /// Since when the member has waited for an answer (their oldest unanswered message).
    pub waiting_since: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const INBOX_COLUMNS: &str = "c.id, c.reference, c.topic, c.status, c.member_id, r.first_name, r.last_name,
    c.bill_id, c.assigned_to, a.name, c.created_at, c.updated_at,
    (SELECT MIN(m.created_at) FROM conversation_messages m WHERE m.conversation_id = c.id AND m.author = 'member'
       AND m.seq > COALESCE((SELECT MAX(s.seq) FROM conversation_messages s
                             WHERE s.conversation_id = c.id AND s.author = 'staff'), 0))";

fn inbox_item(r: &crate::sql::Row<'_>) -> crate::sql::Result<ApiResult<InboxItem>> {
    let (id, reference, topic, status): (String, String, String, String) = (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?);
    let (member_id, first, last): (String, String, String) = (r.get(4)?, r.get(5)?, r.get(6)?);
    let (bill_id, assigned_to, assigned_name): (Option<String>, Option<String>, Option<String>) =
        (r.get(7)?, r.get(8)?, r.get(9)?);
    let (created, updated, waiting): (i64, i64, Option<i64>) = (r.get(10)?, r.get(11)?, r.get(12)?);
    Ok((|| {
        Ok(InboxItem {
            topic: ConversationTopic::parse(&topic)
                .ok_or_else(|| ApiError::internal(format!("conversation {id}: topic {topic}")))?,
            status: ConversationStatus::parse(&status)
                .ok_or_else(|| ApiError::internal(format!("conversation {id}: status {status}")))?,
            member_name: format!("{first} {last}"),
            // Only a member's unanswered message makes them wait; answered or closed, nobody owes.
            waiting_since: waiting.filter(|_| status == "open").map(from_ms),
            created_at: from_ms(created),
            updated_at: from_ms(updated),
            id,
            reference,
            member_id,
            bill_id,
            assigned_to,
            assigned_name,
        })
    })())
}

/// The inbox: longest waiting first (then the most recently changed), at most `limit`.
pub fn inbox(
    conn: &Connection,
    staff: &Staff,
    queue: &Queue,
    status: StatusFilter,
    topic: Option<ConversationTopic>,
    limit: usize,
) -> ApiResult<Vec<InboxItem>> {
    if matches!(queue, Queue::Of(_)) && staff.role != Role::Supervisor {
        return Err(ApiError::with_message(
            ErrorCode::Forbidden,
            "Only supervisors see other staff members' queues.",
        ));
    }
    let (queue_sql, who): (&str, Option<&str>) = match queue {
        Queue::Mine => ("c.assigned_to = ?1", Some(&staff.id)),
        Queue::Unassigned => ("c.assigned_to IS NULL", None),
        Queue::All if staff.role == Role::Supervisor => ("1 = 1", None),
        Queue::All => ("(c.assigned_to IS NULL OR c.assigned_to = ?1)", Some(&staff.id)),
        Queue::Of(id) => ("c.assigned_to = ?1", Some(id.as_str())),
    };
    let status_sql = match status {
        StatusFilter::Active => "c.status != 'closed'".to_string(),
        StatusFilter::Only(s) => format!("c.status = '{}'", s.as_str()),
    };
    let topic_sql = match topic {
        None => String::new(),
        Some(t) => format!(" AND c.topic = '{}'", t.as_str()),
    };
    // Closed conversations are many: the most recent only. Active ones are all sorted.
    let cap = if status == StatusFilter::Only(ConversationStatus::Closed) {
        format!(" ORDER BY c.updated_at DESC LIMIT {limit}")
    } else {
        String::new()
    };
    let sql = format!(
        "SELECT {INBOX_COLUMNS} FROM conversations c JOIN roster r ON r.member_id = c.member_id
         LEFT JOIN staff_accounts a ON a.id = c.assigned_to
         WHERE {queue_sql} AND {status_sql}{topic_sql}{cap}"
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = match who {
        Some(w) => stmt.query_map([w], inbox_item)?.collect::<Result<Vec<_>, _>>()?,
        None => stmt.query_map([], inbox_item)?.collect::<Result<Vec<_>, _>>()?,
    };
    let mut items = rows.into_iter().collect::<ApiResult<Vec<_>>>()?;
    items.sort_by(|a, b| match (a.waiting_since, b.waiting_since) {
        (Some(x), Some(y)) => x.cmp(&y).then_with(|| a.id.cmp(&b.id)),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => b.updated_at.cmp(&a.updated_at).then_with(|| a.id.cmp(&b.id)),
    });
    items.truncate(limit);
    Ok(items)
}

fn item(conn: &Connection, id: &str) -> ApiResult<InboxItem> {
    conn.query_row(
        &format!(
            "SELECT {INBOX_COLUMNS} FROM conversations c JOIN roster r ON r.member_id = c.member_id
             LEFT JOIN staff_accounts a ON a.id = c.assigned_to WHERE c.id = ?1"
        ),
        [id],
        inbox_item,
    )
    .optional()?
    .transpose()?
    .ok_or_else(|| ApiError::new(ErrorCode::ConversationNotFound))
}

/// An agent works the unassigned conversations and their own; supervisors, all.
fn may_work(staff: &Staff, item: &InboxItem) -> ApiResult<()> {
    match &item.assigned_to {
        Some(other) if *other != staff.id && staff.role != Role::Supervisor => Err(ApiError::with_message(
            ErrorCode::Forbidden,
            "Another staff member works this conversation. A supervisor can reassign it.",
        )),
        _ => Ok(()),
    }
}

/// An internal note: staff see it, members never do.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Note {
    pub id: String,
    pub staff_name: String,
    pub body: String,
    pub created_at: DateTime<Utc>,
}

/// A conversation as staff see it: the thread, its notes, and whose it is.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Thread {
    #[serde(flatten)]
    pub item: InboxItem,
    pub conversation: Conversation,
    pub notes: Vec<Note>,
}

fn notes(conn: &Connection, id: &str) -> ApiResult<Vec<Note>> {
    let mut stmt = conn.prepare_cached(
        "SELECT n.id, a.name, n.body, n.created_at FROM conversation_notes n JOIN staff_accounts a ON a.id = n.staff_id
         WHERE n.conversation_id = ?1 ORDER BY n.created_at, n.id",
    )?;
    let rows = stmt
        .query_map([id], |r| {
            Ok(Note {
                id: r.get(0)?,
                staff_name: r.get(1)?,
                body: r.get(2)?,
                created_at: from_ms(r.get(3)?),
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

fn thread_of(conn: &Connection, id: &str) -> ApiResult<Thread> {
    let item = item(conn, id)?;
    let conversation = crate::conversations::get(conn, &item.member_id, id)?
        .ok_or_else(|| ApiError::new(ErrorCode::ConversationNotFound))?;
    Ok(Thread {
        notes: notes(conn, id)?,
        item,
        conversation,
    })
}

/// Opens a conversation (recorded as a view of the member's data).
pub fn thread(tx: &Connection, at: &At<'_>, id: &str) -> ApiResult<Thread> {
    let At { staff, .. } = *at;
    let t = thread_of(tx, id)?;
    may_work(staff, &t.item)?;
    at.record(
        tx,
        Some(&t.item.member_id),
        "conversation_viewed",
        &t.item.reference,
        None,
    )?;
    Ok(t)
}

/// Assigns a conversation: to oneself (anyone, when it is nobody's or already theirs), or, for
/// supervisors, to any active staff member or to nobody.
pub fn assign(tx: &Connection, at: &At<'_>, id: &str, to: Option<&str>) -> ApiResult<Thread> {
    let At { staff, .. } = *at;
    let before = item(tx, id)?;
    crate::store::lock_member(tx, &before.member_id)?;
    let before = item(tx, id)?;
    if staff.role != Role::Supervisor {
        if to != Some(staff.id.as_str()) {
            return Err(ApiError::with_message(
                ErrorCode::Forbidden,
                "Agents assign conversations to themselves only.",
            ));
        }
        may_work(staff, &before)?;
    }
    let name = match to {
        None => "nobody".to_string(),
        Some(to) => tx
            .query_row(
                "SELECT name FROM staff_accounts WHERE id = ?1 AND disabled_at IS NULL",
                [to],
                |r| r.get::<_, String>(0),
            )
            .optional()?
            .ok_or_else(|| ApiError::validation("/staff_id", "No active staff member has this id."))?,
    };
    tx.execute(
        "UPDATE conversations SET assigned_to = ?2 WHERE id = ?1",
        params![id, to],
    )?;
    at.record(
        tx,
        Some(&before.member_id),
        "conversation_assigned",
        &format!("{} to {name}", before.reference),
        None,
    )?;
    thread_of(tx, id)
}

/// Adds an internal note.
pub fn add_note(tx: &Connection, at: &At<'_>, id: &str, body: &str) -> ApiResult<Thread> {
    let At { staff, now, .. } = *at;
    let it = item(tx, id)?;
    may_work(staff, &it)?;
    let text = body.trim();
    if text.is_empty() || body.chars().count() > NOTE_CHARS {
        return Err(ApiError::validation("/body", "A note is 1 to 2,000 characters."));
    }
    tx.execute(
        "INSERT INTO conversation_notes (id, conversation_id, staff_id, body, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            crate::ids::random_id(&mut rand::thread_rng(), "nte"),
            id,
            staff.id,
            text,
            ms(now)
        ],
    )?;
    at.record(tx, Some(&it.member_id), "note_added", &it.reference, None)?;
    thread_of(tx, id)
}

/// Replies as the staff member (their display name shows to the member), with files they uploaded.
#[allow(clippy::too_many_arguments)]
pub fn reply(
    tx: &Connection,
    head: &crate::mail::Letterhead,
    at: &At<'_>,
    id: &str,
    body: &str,
    status: crate::conversations::StaffStatus,
    uploaded: &[String],
    max_bytes: usize,
) -> ApiResult<Thread> {
    let At {
        secret,
        staff,
        origin,
        now,
    } = *at;
    let it = item(tx, id)?;
    may_work(staff, &it)?;
    let audit_name = staff.audit_name();
    let reply = crate::conversations::StaffReply {
        reference: &it.reference,
        staff_name: &staff.name,
        body,
        status,
        files: &[],
        origin,
    };
    let by = crate::conversations::ReplyBy {
        staff_id: &staff.id,
        audit_name: &audit_name,
    };
    crate::conversations::staff_reply_as(tx, head, secret, &reply, Some(by), uploaded, max_bytes, now)?;
    thread_of(tx, id)
}

/// Closes a conversation without a message (a hold on its bill ends).
pub fn close(tx: &Connection, at: &At<'_>, id: &str) -> ApiResult<Thread> {
    let At { staff, now, .. } = *at;
    let it = item(tx, id)?;
    may_work(staff, &it)?;
    crate::conversations::close(tx, &it.member_id, id, now)?;
    at.record(tx, Some(&it.member_id), "conversation_closed", &it.reference, None)?;
    thread_of(tx, id)
}

/// A file a staff member uploads for their next reply, in a conversation they may work.
pub fn upload(
    tx: &Connection,
    staff: &Staff,
    id: &str,
    file_name: &str,
    bytes: &[u8],
    max_bytes: usize,
    now: DateTime<Utc>,
) -> ApiResult<carebill_api::types::Attachment> {
    let it = item(tx, id)?;
    may_work(staff, &it)?;
    crate::conversations::staff_upload(tx, id, &staff.id, file_name, bytes, max_bytes, now)
}

/// A file of a conversation (the member's or the office's), recorded as a view.
pub fn attachment(
    tx: &Connection,
    at: &At<'_>,
    conversation_id: &str,
    attachment_id: &str,
) -> ApiResult<(carebill_api::types::Attachment, Vec<u8>)> {
    let At { staff, .. } = *at;
    let it = item(tx, conversation_id)?;
    may_work(staff, &it)?;
    let belongs: Option<i64> = tx
        .query_row(
            "SELECT 1 FROM attachments a LEFT JOIN conversation_messages m ON m.id = a.message_id
             WHERE a.id = ?1 AND a.member_id = ?2 AND (m.conversation_id = ?3 OR (a.message_id IS NULL AND a.idempotency_key LIKE ?4))",
            params![attachment_id, it.member_id, conversation_id, format!("staff-upload:{}:%", staff.id)],
            |r| r.get(0),
        )
        .optional()?;
    let found = match belongs {
        Some(_) => crate::conversations::attachment_bytes(tx, &it.member_id, attachment_id)?,
        None => None,
    };
    let (info, bytes) = found.ok_or_else(|| ApiError::new(ErrorCode::AttachmentNotFound))?;
    at.record(
        tx,
        Some(&it.member_id),
        "attachment_viewed",
        &format!("{} {}", it.reference, info.file_name),
        None,
    )?;
    Ok((info, bytes))
}

/// How a member is looked up.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lookup {
    #[serde(default)]
    pub member_id: Option<String>,
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
    #[serde(default)]
    pub date_of_birth: Option<NaiveDate>,
    #[serde(default)]
    pub statement_number: Option<String>,
    pub reason: String,
}

/// A member as a lookup finds them.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MemberSummary {
    pub member_id: String,
    pub first_name: String,
    pub last_name: String,
    pub date_of_birth: String,
    /// Registered in the app (has an account).
    pub email: Option<String>,
}

fn check_reason(reason: &str) -> ApiResult<&str> {
    let r = reason.trim();
    let n = r.chars().count();
    if n < REASON_CHARS.0 || n > REASON_CHARS.1 || r.chars().any(|c| c.is_control() && c != '\n') {
        return Err(ApiError::new(ErrorCode::ReasonRequired).at("/reason"));
    }
    Ok(r)
}

const SUMMARY: &str = "SELECT r.member_id, r.first_name, r.last_name, r.date_of_birth, a.email
    FROM roster r LEFT JOIN accounts a ON a.member_id = r.member_id";

fn summary(r: &crate::sql::Row<'_>) -> crate::sql::Result<MemberSummary> {
    Ok(MemberSummary {
        member_id: r.get(0)?,
        first_name: r.get(1)?,
        last_name: r.get(2)?,
        date_of_birth: r.get(3)?,
        email: r.get(4)?,
    })
}

fn grant(tx: &Connection, staff: &Staff, member_id: &str, reason: &str, now: DateTime<Utc>) -> ApiResult<()> {
    tx.execute(
        "INSERT INTO staff_member_access (token_hash, member_id, reason, granted_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (token_hash, member_id) DO UPDATE SET reason = excluded.reason, granted_at = excluded.granted_at",
        params![staff.session, member_id, reason, ms(now)],
    )?;
    Ok(())
}

/// Finds members by member ID, by name and date of birth, or by a statement number, with a
/// reason (recorded; the members found may then be opened in this session under it).
pub fn search(tx: &Connection, at: &At<'_>, q: &Lookup) -> ApiResult<Vec<MemberSummary>> {
    let At { staff, now, .. } = *at;
    let reason = check_reason(&q.reason)?;
    let clean = |s: &Option<String>| {
        s.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let (member_id, first, last, statement) = (
        clean(&q.member_id),
        clean(&q.first_name),
        clean(&q.last_name),
        clean(&q.statement_number),
    );
    let (found, how): (Vec<MemberSummary>, String) = if let Some(id) = member_id {
        let mut stmt = tx.prepare_cached(&format!("{SUMMARY} WHERE UPPER(r.member_id) = UPPER(?1)"))?;
        let rows = stmt.query_map([&id], summary)?.collect::<Result<Vec<_>, _>>()?;
        (rows, format!("by member ID {id}"))
    } else if let Some(s) = statement {
        let mut stmt = tx.prepare_cached(&format!(
            "{SUMMARY} WHERE r.member_id IN (SELECT member_id FROM bills WHERE UPPER(statement_number) = UPPER(?1))"
        ))?;
        let rows = stmt.query_map([&s], summary)?.collect::<Result<Vec<_>, _>>()?;
        (rows, format!("by statement {s}"))
    } else if let (Some(last), Some(dob)) = (last, q.date_of_birth) {
        let mut stmt = tx.prepare_cached(&format!(
            "{SUMMARY} WHERE LOWER(r.last_name) = LOWER(?1) AND r.date_of_birth = ?2
               AND (CAST(?3 AS TEXT) IS NULL OR LOWER(r.first_name) = LOWER(?3)) ORDER BY r.first_name, r.member_id LIMIT 20"
        ))?;
        let dob_text = dob.format("%Y-%m-%d").to_string();
        let rows = stmt
            .query_map(params![last, dob_text, first], summary)?
            .collect::<Result<Vec<_>, _>>()?;
        (
            rows,
            format!("by name {} {last}, born {dob_text}", first.as_deref().unwrap_or("")),
        )
    } else {
        return Err(ApiError::validation(
            "/member_id",
            "Look up by member ID, by last name and date of birth, or by statement number.",
        ));
    };
    for m in &found {
        grant(tx, staff, &m.member_id, reason, now)?;
    }
    at.record(
        tx,
        None,
        "member_searched",
        &format!("{} ({} found)", how.trim(), found.len()),
        Some(reason),
    )?;
    Ok(found)
}

/// Why this staff member may see a member now: they work one of the member's conversations
/// (`Some(None)`), or opened them with a reason in this session (`Some(Some(reason))`).
fn access(conn: &Connection, staff: &Staff, member_id: &str) -> ApiResult<Option<Option<String>>> {
    let works: Option<i64> = conn
        .query_row(
            "SELECT 1 FROM conversations WHERE member_id = ?1 AND assigned_to = ?2 LIMIT 1",
            params![member_id, staff.id],
            |r| r.get(0),
        )
        .optional()?;
    if works.is_some() {
        return Ok(Some(None));
    }
    let reason: Option<String> = conn
        .query_row(
            "SELECT reason FROM staff_member_access WHERE token_hash = ?1 AND member_id = ?2",
            params![staff.session, member_id],
            |r| r.get(0),
        )
        .optional()?;
    Ok(reason.map(Some))
}

/// Opens a member's account with a reason for the rest of this session.
pub fn open_with_reason(tx: &Connection, at: &At<'_>, member_id: &str, reason: &str) -> ApiResult<()> {
    let At { staff, now, .. } = *at;
    let reason = check_reason(reason)?;
    let known: Option<i64> = tx
        .query_row("SELECT 1 FROM roster WHERE member_id = ?1", [member_id], |r| r.get(0))
        .optional()?;
    if known.is_none() {
        return Err(ApiError::with_message(
            ErrorCode::NotFound,
            "No member has this member ID.",
        ));
    }
    grant(tx, staff, member_id, reason, now)?;
    at.record(tx, Some(member_id), "member_access_granted", "", Some(reason))
}

/// A member's account, read-only, as the billing office sees it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MemberView {
    pub member: MemberSummary,
    /// Why this view is allowed: `None` when the staff member works one of their conversations.
    pub reason: Option<String>,
    pub bills: Vec<Bill>,
    pub payments: Vec<Payment>,
    pub autopay: Option<Autopay>,
    pub payment_plans: Vec<PaymentPlan>,
    pub conversations: Vec<InboxItem>,
}

/// A member's bills, payments, autopay, plans and conversations, when this staff member may see
/// them (else `reason_required`); the view is recorded with its reason.
pub fn member(
    tx: &Connection,
    at: &At<'_>,
    member_id: &str,
    today: NaiveDate,
    cal: &BusinessCalendar,
) -> ApiResult<MemberView> {
    let At { staff, .. } = *at;
    let summary = tx
        .query_row(&format!("{SUMMARY} WHERE r.member_id = ?1"), [member_id], summary)
        .optional()?
        .ok_or_else(|| ApiError::with_message(ErrorCode::NotFound, "No member has this member ID."))?;
    let Some(reason) = access(tx, staff, member_id)? else {
        return Err(ApiError::new(ErrorCode::ReasonRequired));
    };
    let (bills, _) = crate::store::list_bills(tx, member_id, BillFilter::All, None, 200)?;
    let (payments, _) = crate::store::payments::list_payments(tx, member_id, None, 100)?;
    let autopay = crate::autopay::view(tx, member_id, today, cal)?;
    let payment_plans = crate::plans::list(tx, member_id, cal)?;
    let mut stmt = tx.prepare(&format!(
        "SELECT {INBOX_COLUMNS} FROM conversations c JOIN roster r ON r.member_id = c.member_id
         LEFT JOIN staff_accounts a ON a.id = c.assigned_to WHERE c.member_id = ?1 ORDER BY c.created_at DESC, c.id"
    ))?;
    let conversations = stmt
        .query_map([member_id], inbox_item)?
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .collect::<ApiResult<Vec<_>>>()?;
    at.record(
        tx,
        Some(member_id),
        "member_viewed",
        "bills, payments, autopay, payment plans",
        reason.as_deref(),
    )?;
    Ok(MemberView {
        member: summary,
        reason,
        bills,
        payments,
        autopay,
        payment_plans,
        conversations,
    })
}

/// One staff member's share of the work.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AgentLoad {
    pub staff_id: String,
    pub name: String,
    pub role: Role,
    pub disabled: bool,
    /// Active conversations assigned to them.
    pub active: u32,
    /// Of those, waiting on the office.
    pub waiting: u32,
    /// Replies they wrote in the period.
    pub replies: u32,
}

/// The supervisors' figures over a period (days up to now).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Figures {
    pub days: u32,
    pub unassigned_waiting: u32,
    pub oldest_waiting_since: Option<DateTime<Utc>>,
    /// Conversations started in the period, and how many the office answered.
    pub started: u32,
    pub answered: u32,
    /// Time from the question to the office's first reply, in minutes.
    pub first_response_median_minutes: Option<i64>,
    pub first_response_p90_minutes: Option<i64>,
    pub agents: Vec<AgentLoad>,
}

/// Queue sizes, waiting times and response times (supervisors only; recorded).
pub fn figures(tx: &Connection, at: &At<'_>, days: u32) -> ApiResult<Figures> {
    let At { staff, now, .. } = *at;
    if staff.role != Role::Supervisor {
        return Err(ApiError::with_message(
            ErrorCode::Forbidden,
            "Only supervisors see the team's figures.",
        ));
    }
    let since = ms(now - Duration::days(i64::from(days)));
    let active = inbox(tx, staff, &Queue::All, StatusFilter::Active, None, usize::MAX)?;
    let mut stmt = tx.prepare_cached(
        "SELECT c.created_at, (SELECT MIN(m.created_at) FROM conversation_messages m
                               WHERE m.conversation_id = c.id AND m.author = 'staff')
         FROM conversations c WHERE c.created_at >= ?1",
    )?;
    let started: Vec<(i64, Option<i64>)> = stmt
        .query_map([since], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    let mut waits: Vec<i64> = started
        .iter()
        .filter_map(|(at, first)| first.map(|f| (f - at) / 60_000))
        .collect();
    waits.sort_unstable();
    let pick = |q: f64| (!waits.is_empty()).then(|| waits[((waits.len() - 1) as f64 * q).round() as usize]);
    let replies: std::collections::HashMap<String, i64> = tx
        .prepare_cached(
            "SELECT staff_id, COUNT(*) FROM conversation_messages
             WHERE staff_id IS NOT NULL AND created_at >= ?1 GROUP BY staff_id",
        )?
        .query_map([since], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let mut agents = Vec::new();
    for account in super::list(tx)? {
        let mine: Vec<&InboxItem> = active
            .iter()
            .filter(|i| i.assigned_to.as_deref() == Some(&account.id))
            .collect();
        let replies = replies.get(&account.id).copied().unwrap_or(0);
        agents.push(AgentLoad {
            active: mine.len() as u32,
            waiting: mine.iter().filter(|i| i.waiting_since.is_some()).count() as u32,
            replies: replies as u32,
            staff_id: account.id,
            name: account.name,
            role: account.role,
            disabled: account.disabled,
        });
    }
    let unassigned: Vec<&InboxItem> = active
        .iter()
        .filter(|i| i.assigned_to.is_none() && i.waiting_since.is_some())
        .collect();
    at.record(tx, None, "figures_viewed", &format!("{days} days"), None)?;
    Ok(Figures {
        days,
        unassigned_waiting: unassigned.len() as u32,
        oldest_waiting_since: active.iter().filter_map(|i| i.waiting_since).min(),
        started: started.len() as u32,
        answered: started.iter().filter(|(_, f)| f.is_some()).count() as u32,
        first_response_median_minutes: pick(0.5),
        first_response_p90_minutes: pick(0.9),
        agents,
    })
}

/// The audit log's newest entries (supervisors only; viewing it is recorded too).
pub fn audit_log(
    tx: &Connection,
    at: &At<'_>,
    member_id: Option<&str>,
    by: Option<&str>,
    before: Option<i64>,
) -> ApiResult<Vec<staff_audit::Shown>> {
    let At { staff, .. } = *at;
    if staff.role != Role::Supervisor {
        return Err(ApiError::with_message(
            ErrorCode::Forbidden,
            "Only supervisors see the audit log.",
        ));
    }
    let rows = staff_audit::recent(tx, member_id, by, before, 200)?;
    let detail = match (member_id, by) {
        (Some(m), _) => format!("entries about {m}"),
        (None, Some(b)) => format!("entries by {b}"),
        (None, None) => "latest entries".to_string(),
    };
    at.record(tx, member_id, "audit_viewed", &detail, None)?;
    Ok(rows)
}

/// The audit log as CSV between two days (supervisors only; the export is recorded first, so it
/// is in it).
pub fn audit_csv(
    tx: &Connection,
    at: &At<'_>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> ApiResult<Vec<u8>> {
    let At { staff, .. } = *at;
    if staff.role != Role::Supervisor {
        return Err(ApiError::with_message(
            ErrorCode::Forbidden,
            "Only supervisors export the audit log.",
        ));
    }
    let span = format!(
        "{} to {}",
        from.map_or("the start".into(), |d| d.format("%Y-%m-%d").to_string()),
        to.map_or("now".into(), |d| d.format("%Y-%m-%d").to_string())
    );
    at.record(tx, None, "audit_exported", &span, None)?;
    let mut out = Vec::new();
    staff_audit::export_csv(tx, &mut out, from, to)?;
    Ok(out)
}
