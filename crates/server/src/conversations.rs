//! Conversations with the billing office: a member's questions (about a bill, one of its lines,
//! or anything billing), the billing office's replies, the files attached to them, and the hold
//! a question about a bill puts on that bill's automatic charges.
//!
//! - **Exactly once.** A member's message carries the Idempotency-Key it was sent with (unique
//!   per member, with a fingerprint of the request): sent again, it answers what the first made;
//!   the same key with another message is `idempotency_key_reused`. An upload's key does the
//!   same for a file. Each transaction holds the member's lock first, so two servers serialize.
//! - **Attachments** are uploaded first (`POST /v1/attachments`), checked by their content
//!   ([`crate::sniff`]), and kept in chunks in the database, encrypted at rest with the rest of
//!   the data. A message takes up to five of the member's files not yet sent; one not sent
//!   within [`UNSENT_RETENTION`] is deleted by the hourly maintenance.
//! - **The hold.** While a conversation about a bill is not closed, autopay, plan instalments and
//!   scheduled payments do not charge the bill and send no reminder for it ([`any_on_hold`]).
//!   Opening and closing one touch the bill in the change feed, so the app shows "Under review"
//!   and the autopay and plan screens say why.
//! - **Staff replies** come from the billing office's tool (`carebill-server staff reply` until
//!   the console exists): each mails "You have a reply" once, without the message's text.

use carebill_api::types::{
    Attachment, AttachmentKind, Conversation, ConversationStatus, ConversationTopic, Message, MessageAuthor,
    NewConversation, NewMessage, SyncEntity, SyncOp,
};
use carebill_api::{ErrorCode, MAX_ATTACHMENTS, MAX_MESSAGE_CHARS};
use chrono::{DateTime, Utc};
use rand::Rng;
use sha2::{Digest, Sha256};

use crate::error::{ApiError, ApiResult};
use crate::mail::{self, Letterhead, templates};
use crate::secret::Secret;
use crate::sniff;
use crate::sql::{Connection, OptionalExtension, params};
use crate::store::{from_ms, lock_member, ms, touch};

/// Attachments are written in chunks of this many bytes (a row each).
const CHUNK: usize = 512 * 1024;

/// How long an uploaded file waits for the message that sends it.
pub const UNSENT_RETENTION: chrono::Duration = chrono::Duration::days(1);

/// A file name as shown: up to 100 letters, digits, spaces and `._()-`, not only spaces
/// (surrounding spaces are dropped).
pub fn check_file_name(name: &str) -> ApiResult<String> {
    let ok = !name.trim().is_empty()
        && name.chars().count() <= 100
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, ' ' | '.' | '_' | '(' | ')' | '-'));
    if !ok {
        return Err(ApiError::validation(
            "/file_name",
            "file_name must be up to 100 letters, digits, spaces or . _ ( ) -, not only spaces",
        ));
    }
    Ok(name.trim().to_string())
}

/// A message's text: 1 to 2,000 characters, not only spaces, no control characters but line
/// breaks and tabs.
pub fn check_body(body: &str, field: &str) -> ApiResult<()> {
    if body.trim().is_empty() {
        return Err(ApiError::validation(field, "Write your message."));
    }
    if body.chars().count() > MAX_MESSAGE_CHARS {
        return Err(ApiError::validation(
            field,
            format!("A message can be up to {MAX_MESSAGE_CHARS} characters."),
        ));
    }
    if body.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
        return Err(ApiError::validation(
            field,
            "The message has characters that cannot be sent.",
        ));
    }
    Ok(())
}

fn kind_of(k: sniff::Kind) -> AttachmentKind {
    match k {
        sniff::Kind::Pdf => AttachmentKind::Pdf,
        sniff::Kind::Jpeg => AttachmentKind::Jpeg,
        sniff::Kind::Png => AttachmentKind::Png,
    }
}

/// The stable error for a file [`sniff`] refused.
pub fn refusal_error(r: &sniff::Refusal) -> ApiError {
    let code = match r {
        sniff::Refusal::Empty => ErrorCode::AttachmentEmpty,
        sniff::Refusal::TooLarge { .. } => ErrorCode::AttachmentTooLarge,
        sniff::Refusal::NotAllowed { .. } => ErrorCode::AttachmentTypeNotAllowed,
        sniff::Refusal::Truncated { .. } => ErrorCode::AttachmentTruncated,
        sniff::Refusal::Malformed { .. } => ErrorCode::AttachmentMalformed,
    };
    ApiError::new(code).detail(r.to_string())
}

/// Checks a file by its content: what it is, or why it is refused.
pub fn check_file(bytes: &[u8], max_bytes: usize) -> ApiResult<AttachmentKind> {
    sniff::sniff(bytes, max_bytes)
        .map(kind_of)
        .map_err(|r| refusal_error(&r))
}

fn attachment_from_row(r: &crate::sql::Row<'_>) -> crate::sql::Result<(String, String, String, i64)> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
}

fn attachment((id, file_name, kind, size): (String, String, String, i64)) -> ApiResult<Attachment> {
    Ok(Attachment {
        kind: AttachmentKind::parse(&kind)
            .ok_or_else(|| ApiError::internal(format!("attachment {id}: kind {kind}")))?,
        size: u32::try_from(size).map_err(|_| ApiError::internal(format!("attachment {id}: size")))?,
        id,
        file_name,
    })
}

/// Stores a checked file for a member (`message_id` set when it is stored with its message, as
/// staff files are). With a key the member used before, the file stored then.
#[allow(clippy::too_many_arguments)]
pub fn store_attachment(
    tx: &Connection,
    member_id: &str,
    key: &str,
    file_name: &str,
    kind: AttachmentKind,
    bytes: &[u8],
    message_id: Option<&str>,
    now: DateTime<Utc>,
) -> ApiResult<(bool, Attachment)> {
    lock_member(tx, member_id)?;
    let sha = crate::ids::hex(&Sha256::digest(bytes));
    let known: Option<((String, String, String, i64), String)> = tx
        .query_row(
            "SELECT id, file_name, kind, size, sha256 FROM attachments WHERE member_id = ?1 AND idempotency_key = ?2",
            params![member_id, key],
            |r| Ok((attachment_from_row(r)?, r.get(4)?)),
        )
        .optional()?;
    if let Some((row, known_sha)) = known {
        if known_sha != sha || row.1 != file_name {
            return Err(ApiError::new(ErrorCode::IdempotencyKeyReused));
        }
        return attachment(row).map(|a| (false, a));
    }
    let id = crate::ids::random_id(&mut rand::thread_rng(), "att");
    tx.execute(
        "INSERT INTO attachments (id, member_id, message_id, file_name, kind, size, sha256, idempotency_key, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            id,
            member_id,
            message_id,
            file_name,
            kind.as_str(),
            bytes.len() as i64,
            sha,
            key,
            ms(now)
        ],
    )?;
    let mut insert =
        tx.prepare_cached("INSERT INTO attachment_chunks (attachment_id, seq, data) VALUES (?1, ?2, ?3)")?;
    for (seq, chunk) in bytes.chunks(CHUNK).enumerate() {
        insert.execute(params![id, seq as i64, chunk.to_vec()])?;
    }
    Ok((
        true,
        Attachment {
            id,
            file_name: file_name.to_string(),
            kind,
            size: bytes.len() as u32,
        },
    ))
}

/// The key prefix of files staff upload from the console; members' keys never hold a `:`.
const STAFF_UPLOAD: &str = "staff-upload:";

/// A file a staff member uploads for their next reply in a conversation (checked like a
/// member's); it is sent with [`staff_reply_as`], and deleted after a day if never sent.
pub fn staff_upload(
    tx: &Connection,
    conversation_id: &str,
    staff_id: &str,
    file_name: &str,
    bytes: &[u8],
    max_bytes: usize,
    now: DateTime<Utc>,
) -> ApiResult<Attachment> {
    let member_id: Option<String> = tx
        .query_row(
            "SELECT member_id FROM conversations WHERE id = ?1",
            [conversation_id],
            |r| r.get(0),
        )
        .optional()?;
    let member_id = member_id.ok_or_else(|| ApiError::new(ErrorCode::ConversationNotFound))?;
    let file_name = check_file_name(file_name)?;
    let kind = check_file(bytes, max_bytes)?;
    let key = format!(
        "{STAFF_UPLOAD}{staff_id}:{}",
        crate::ids::random_id(&mut rand::thread_rng(), "up")
    );
    store_attachment(tx, &member_id, &key, &file_name, kind, bytes, None, now).map(|(_, a)| a)
}

/// Files a staff member's reply takes: their own uploads in this member's conversation, not yet sent.
fn check_staff_uploads(tx: &Connection, member_id: &str, staff_id: &str, ids: &[String]) -> ApiResult<()> {
    let prefix = format!("{STAFF_UPLOAD}{staff_id}:%");
    for (i, id) in ids.iter().enumerate() {
        let ok: Option<Option<String>> = tx
            .query_row(
                "SELECT message_id FROM attachments WHERE id = ?1 AND member_id = ?2 AND idempotency_key LIKE ?3",
                params![id, member_id, prefix],
                |r| r.get(0),
            )
            .optional()?;
        if ok != Some(None) || ids[..i].contains(id) {
            return Err(ApiError::new(ErrorCode::AttachmentNotFound).at(&format!("/attachment_ids/{i}")));
        }
    }
    Ok(())
}

/// A member's attachment (sent or not) with its bytes; `None` for anyone else's.
pub fn attachment_bytes(conn: &Connection, member_id: &str, id: &str) -> ApiResult<Option<(Attachment, Vec<u8>)>> {
    let row = conn
        .query_row(
            "SELECT id, file_name, kind, size FROM attachments WHERE id = ?1 AND member_id = ?2",
            params![id, member_id],
            attachment_from_row,
        )
        .optional()?;
    let Some(row) = row else { return Ok(None) };
    let info = attachment(row)?;
    let mut bytes = Vec::with_capacity(info.size as usize);
    let mut stmt = conn.prepare_cached("SELECT data FROM attachment_chunks WHERE attachment_id = ?1 ORDER BY seq")?;
    let chunks = stmt.query_map([id], |r| r.get::<_, Vec<u8>>(0))?;
    for chunk in chunks {
        bytes.extend_from_slice(&chunk?);
    }
    if bytes.len() != info.size as usize {
        return Err(ApiError::internal(format!("attachment {id}: stored size differs")));
    }
    Ok(Some((info, bytes)))
}

/// Deletes files uploaded more than [`UNSENT_RETENTION`] ago and never sent (hourly).
pub fn purge_unsent(tx: &Connection, now: DateTime<Utc>) -> ApiResult<usize> {
    let before = ms(now - UNSENT_RETENTION);
    tx.execute(
        "DELETE FROM attachment_chunks WHERE attachment_id IN
            (SELECT id FROM attachments WHERE message_id IS NULL AND created_at < ?1)",
        [before],
    )?;
    Ok(tx.execute(
        "DELETE FROM attachments WHERE message_id IS NULL AND created_at < ?1",
        [before],
    )?)
}

/// Whether a question about any of these bills is open: plan instalments and scheduled payments
/// holding one of them then neither charge nor remind (autopay asks the same of each bill in its
/// own query).
pub fn any_on_hold<'a>(conn: &Connection, bill_ids: impl IntoIterator<Item = &'a str>) -> ApiResult<bool> {
    let mut stmt =
        conn.prepare_cached("SELECT 1 FROM conversations WHERE bill_id = ?1 AND status != 'closed' LIMIT 1")?;
    for bill_id in bill_ids {
        if stmt.query_row([bill_id], |_| Ok(())).optional()?.is_some() {
            return Ok(true);
        }
    }
    Ok(false)
}

fn fingerprint(parts: &[&str]) -> Vec<u8> {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p.as_bytes());
    }
    h.finalize().to_vec()
}

/// The attachments a message takes: at most five, each the member's, uploaded and not yet sent.
fn check_attachments(tx: &Connection, member_id: &str, ids: &[String]) -> ApiResult<()> {
    if ids.len() > MAX_ATTACHMENTS {
        return Err(ApiError::new(ErrorCode::TooManyAttachments));
    }
    for (i, id) in ids.iter().enumerate() {
        if ids[..i].contains(id) {
            return Err(ApiError::validation(
                &format!("/attachment_ids/{i}"),
                "This file is attached twice.",
            ));
        }
        let sent: Option<Option<String>> = tx
            .query_row(
                "SELECT message_id FROM attachments WHERE id = ?1 AND member_id = ?2 AND idempotency_key NOT LIKE ?3",
                params![id, member_id, format!("{STAFF_UPLOAD}%")],
                |r| r.get(0),
            )
            .optional()?;
        match sent {
            None => {
                return Err(ApiError::new(ErrorCode::AttachmentNotFound).at(&format!("/attachment_ids/{i}")));
            }
            Some(Some(_)) => {
                return Err(ApiError::validation(
                    &format!("/attachment_ids/{i}"),
                    "This file was already sent with another message.",
                ));
            }
            Some(None) => {}
        }
    }
    Ok(())
}

/// The conversation as it is now when the member already sent this message with this key (a
/// retry, a double click, a second server); `idempotency_key_reused` when the key sent another
/// message (or, for a reply, in another conversation); nothing when the key is new.
fn sent_before(
    tx: &Connection,
    member_id: &str,
    key: &str,
    print: &[u8],
    in_conversation: Option<&str>,
) -> ApiResult<Option<Conversation>> {
    let sent: Option<(String, Option<Vec<u8>>)> = tx
        .query_row(
            "SELECT conversation_id, fingerprint FROM conversation_messages WHERE member_id = ?1 AND idempotency_key = ?2",
            params![member_id, key],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let Some((conversation_id, known)) = sent else {
        return Ok(None);
    };
    if known.as_deref() != Some(print) || in_conversation.is_some_and(|id| id != conversation_id) {
        return Err(ApiError::new(ErrorCode::IdempotencyKeyReused));
    }
    get(tx, member_id, &conversation_id)?
        .map(Some)
        .ok_or_else(|| ApiError::internal("conversation vanished"))
}

#[allow(clippy::too_many_arguments)]
fn insert_message(
    tx: &Connection,
    conversation_id: &str,
    member_id: &str,
    author: MessageAuthor,
    staff_name: Option<&str>,
    body: &str,
    key: Option<(&str, &[u8])>,
    attachment_ids: &[String],
    now: DateTime<Utc>,
) -> ApiResult<String> {
    let id = crate::ids::random_id(&mut rand::thread_rng(), "msg");
    tx.execute(
        "INSERT INTO conversation_messages (id, conversation_id, seq, member_id, author, staff_name, body,
            idempotency_key, fingerprint, created_at)
         VALUES (?1, ?2, (SELECT COALESCE(MAX(seq), 0) + 1 FROM conversation_messages WHERE conversation_id = ?2),
            ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            id,
            conversation_id,
            member_id,
            match author {
                MessageAuthor::Member => "member",
                MessageAuthor::Staff => "staff",
            },
            staff_name,
            body,
            key.map(|k| k.0),
            key.map(|k| k.1.to_vec()),
            ms(now)
        ],
    )?;
    for a in attachment_ids {
        tx.execute(
            "UPDATE attachments SET message_id = ?1 WHERE id = ?2 AND member_id = ?3 AND message_id IS NULL",
            params![id, a, member_id],
        )?;
    }
    Ok(id)
}

fn reference(rng: &mut impl Rng) -> String {
    const A: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";
    let body: String = (0..8).map(|_| A[rng.gen_range(0..A.len())] as char).collect();
    format!("Q-{body}")
}

/// A member's new question. With a key they used before, the conversation it started.
pub fn create(
    tx: &Connection,
    member_id: &str,
    key: &str,
    req: &NewConversation,
    now: DateTime<Utc>,
) -> ApiResult<(bool, Conversation)> {
    check_body(&req.body, "/body")?;
    if req.line.is_some() && req.bill_id.is_none() {
        return Err(ApiError::validation("/line", "A line item needs its bill_id."));
    }
    lock_member(tx, member_id)?;
    let print = fingerprint(&[
        "new",
        req.topic.as_str(),
        req.bill_id.as_deref().unwrap_or(""),
        &req.line.map(|l| l.to_string()).unwrap_or_default(),
        &req.body,
        &req.attachment_ids.join(","),
    ]);
    if let Some(c) = sent_before(tx, member_id, key, &print, None)? {
        return Ok((false, c));
    }
    if let Some(bill_id) = &req.bill_id {
        let lines: Option<i64> = tx
            .query_row(
                "SELECT (SELECT COUNT(*) FROM line_items l WHERE l.bill_id = b.id) FROM bills b
                 WHERE b.id = ?1 AND b.member_id = ?2",
                params![bill_id, member_id],
                |r| r.get(0),
            )
            .optional()?;
        let Some(lines) = lines else {
            return Err(ApiError::new(ErrorCode::BillNotFound).at("/bill_id"));
        };
        if let Some(line) = req.line
            && (line == 0 || i64::from(line) > lines)
        {
            return Err(ApiError::validation(
                "/line",
                format!("This bill has line items 1 to {lines}."),
            ));
        }
    }
    check_attachments(tx, member_id, &req.attachment_ids)?;
    let mut rng = rand::thread_rng();
    let id = crate::ids::random_id(&mut rng, "cnv");
    tx.execute(
        "INSERT INTO conversations (id, member_id, reference, topic, status, bill_id, line, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, 'open', ?5, ?6, ?7, ?7)",
        params![
            id,
            member_id,
            reference(&mut rng),
            req.topic.as_str(),
            req.bill_id,
            req.line.map(i64::from),
            ms(now)
        ],
    )?;
    insert_message(
        tx,
        &id,
        member_id,
        MessageAuthor::Member,
        None,
        &req.body,
        Some((key, &print)),
        &req.attachment_ids,
        now,
    )?;
    touch(tx, member_id, SyncEntity::Conversation, &id, SyncOp::Upsert, now)?;
    if let Some(bill_id) = &req.bill_id {
        // The bill is "Under review" now, and autopay's and the plans' views change with it.
        touch(tx, member_id, SyncEntity::Bill, bill_id, SyncOp::Upsert, now)?;
    }
    let c = get(tx, member_id, &id)?.ok_or_else(|| ApiError::internal("conversation vanished"))?;
    Ok((true, c))
}

/// A member's reply: the conversation is open again (the billing office owes an answer).
pub fn reply(
    tx: &Connection,
    member_id: &str,
    id: &str,
    key: &str,
    req: &NewMessage,
    now: DateTime<Utc>,
) -> ApiResult<(bool, Conversation)> {
    check_body(&req.body, "/body")?;
    lock_member(tx, member_id)?;
    let print = fingerprint(&["reply", id, &req.body, &req.attachment_ids.join(",")]);
    if let Some(c) = sent_before(tx, member_id, key, &print, Some(id))? {
        return Ok((false, c));
    }
    let status = status_of(tx, member_id, id)?.ok_or_else(|| ApiError::new(ErrorCode::ConversationNotFound))?;
    if status == ConversationStatus::Closed {
        return Err(ApiError::new(ErrorCode::ConversationClosed));
    }
    check_attachments(tx, member_id, &req.attachment_ids)?;
    insert_message(
        tx,
        id,
        member_id,
        MessageAuthor::Member,
        None,
        &req.body,
        Some((key, &print)),
        &req.attachment_ids,
        now,
    )?;
    tx.execute(
        "UPDATE conversations SET status = 'open', updated_at = ?2 WHERE id = ?1",
        params![id, ms(now)],
    )?;
    touch(tx, member_id, SyncEntity::Conversation, id, SyncOp::Upsert, now)?;
    let c = get(tx, member_id, id)?.ok_or_else(|| ApiError::internal("conversation vanished"))?;
    Ok((true, c))
}

fn status_of(conn: &Connection, member_id: &str, id: &str) -> ApiResult<Option<ConversationStatus>> {
    let s: Option<String> = conn
        .query_row(
            "SELECT status FROM conversations WHERE id = ?1 AND member_id = ?2",
            params![id, member_id],
            |r| r.get(0),
        )
        .optional()?;
    s.map(|s| ConversationStatus::parse(&s).ok_or_else(|| ApiError::internal(format!("conversation {id}: status {s}"))))
        .transpose()
}

/// Closes a conversation (closing a closed one changes nothing): its bill's automatic charges
/// resume, unless another question about it is open.
pub fn close(tx: &Connection, member_id: &str, id: &str, now: DateTime<Utc>) -> ApiResult<Conversation> {
    lock_member(tx, member_id)?;
    let closed: Option<Option<String>> = tx
        .query_row(
            "UPDATE conversations SET status = 'closed', closed_at = ?3, updated_at = ?3
             WHERE id = ?1 AND member_id = ?2 AND status != 'closed' RETURNING bill_id",
            params![id, member_id, ms(now)],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(bill) = closed {
        touch(tx, member_id, SyncEntity::Conversation, id, SyncOp::Upsert, now)?;
        if let Some(bill) = bill {
            touch(tx, member_id, SyncEntity::Bill, &bill, SyncOp::Upsert, now)?;
        }
    }
    get(tx, member_id, id)?.ok_or_else(|| ApiError::new(ErrorCode::ConversationNotFound))
}

/// What the billing office does with its reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StaffStatus {
    Answered,
    WaitingOnMember,
    Closed,
}

/// A file the billing office attaches: its name and bytes (checked like a member's).
pub struct StaffFile {
    pub file_name: String,
    pub bytes: Vec<u8>,
}

/// A reply from the billing office.
pub struct StaffReply<'a> {
    /// The conversation's reference number (any case).
    pub reference: &'a str,
    /// The staff member's display name, as the member sees it.
    pub staff_name: &'a str,
    pub body: &'a str,
    pub status: StaffStatus,
    pub files: &'a [StaffFile],
    /// Where the reply was written from, for the staff audit log (`command line`, an address).
    pub origin: &'a str,
}

/// The billing office's reply to the conversation with this reference: the member gets one
/// "You have a reply" mail (without the message's text), and the staff audit log records it.
pub fn staff_reply(
    tx: &Connection,
    head: &Letterhead,
    secret: &Secret,
    reply: &StaffReply<'_>,
    max_bytes: usize,
    now: DateTime<Utc>,
) -> ApiResult<Conversation> {
    staff_reply_as(tx, head, secret, reply, None, &[], max_bytes, now)
}

/// Who replies from the console: their account id and how the audit log names them.
#[derive(Debug, Clone, Copy)]
pub struct ReplyBy<'a> {
    pub staff_id: &'a str,
    pub audit_name: &'a str,
}

/// [`staff_reply`] by a staff account (the console): the message records the account, the
/// conversation is assigned to them when it was nobody's, and files they uploaded first
/// ([`staff_upload`], `uploaded`) go with it.
#[allow(clippy::too_many_arguments)]
pub fn staff_reply_as(
    tx: &Connection,
    head: &Letterhead,
    secret: &Secret,
    reply: &StaffReply<'_>,
    by: Option<ReplyBy<'_>>,
    uploaded: &[String],
    max_bytes: usize,
    now: DateTime<Utc>,
) -> ApiResult<Conversation> {
    let StaffReply {
        reference,
        staff_name,
        body,
        status,
        files,
        origin,
    } = *reply;
    let name = staff_name.trim();
    if name.is_empty() || name.chars().count() > 60 || name.chars().any(char::is_control) {
        return Err(ApiError::validation(
            "/staff_name",
            "The display name is 1 to 60 characters.",
        ));
    }
    check_body(body, "/body")?;
    if files.len() + uploaded.len() > MAX_ATTACHMENTS {
        return Err(ApiError::new(ErrorCode::TooManyAttachments));
    }
    let found: Option<(String, String, String, Option<String>)> = tx
        .query_row(
            "SELECT id, member_id, status, bill_id FROM conversations WHERE reference = ?1",
            [reference.trim().to_ascii_uppercase()],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()?;
    let Some((id, member_id, was, bill)) = found else {
        return Err(ApiError::new(ErrorCode::ConversationNotFound));
    };
    lock_member(tx, &member_id)?;
    if was == "closed" {
        return Err(ApiError::new(ErrorCode::ConversationClosed));
    }
    if let Some(by) = by {
        check_staff_uploads(tx, &member_id, by.staff_id, uploaded)?;
    }
    let mut checked = Vec::with_capacity(files.len());
    for f in files {
        let name = check_file_name(&f.file_name)?;
        checked.push((name, check_file(&f.bytes, max_bytes)?));
    }
    let message_id = insert_message(
        tx,
        &id,
        &member_id,
        MessageAuthor::Staff,
        Some(name),
        body,
        None,
        uploaded,
        now,
    )?;
    if let Some(by) = by {
        tx.execute(
            "UPDATE conversation_messages SET staff_id = ?2 WHERE id = ?1",
            params![message_id, by.staff_id],
        )?;
        tx.execute(
            "UPDATE conversations SET assigned_to = ?2 WHERE id = ?1 AND assigned_to IS NULL",
            params![id, by.staff_id],
        )?;
    }
    for (f, (file_name, kind)) in files.iter().zip(checked) {
        let key = format!("staff:{message_id}:{file_name}");
        store_attachment(tx, &member_id, &key, &file_name, kind, &f.bytes, Some(&message_id), now)?;
    }
    let (status, closed_at) = match status {
        StaffStatus::Answered => ("answered", None),
        StaffStatus::WaitingOnMember => ("waiting_on_member", None),
        StaffStatus::Closed => ("closed", Some(ms(now))),
    };
    tx.execute(
        "UPDATE conversations SET status = ?2, closed_at = ?3, updated_at = ?4 WHERE id = ?1",
        params![id, status, closed_at, ms(now)],
    )?;
    touch(tx, &member_id, SyncEntity::Conversation, &id, SyncOp::Upsert, now)?;
    if status == "closed"
        && let Some(bill) = &bill
    {
        touch(tx, &member_id, SyncEntity::Bill, bill, SyncOp::Upsert, now)?;
    }
    let reference = reference.trim().to_ascii_uppercase();
    let who = by.map_or_else(|| format!("{name} (billing office)"), |b| b.audit_name.to_string());
    crate::staff_audit::append(
        tx,
        secret,
        &crate::staff_audit::Entry {
            staff: &who,
            member_id: Some(&member_id),
            action: if status == "closed" {
                "conversation_replied_and_closed"
            } else {
                "conversation_replied"
            },
            detail: &reference,
            origin,
            reason: None,
        },
        now,
    )?;
    if crate::notifications::wants_email(tx, &member_id, carebill_api::types::NoticeKind::MessageReply)? {
        mail::enqueue_once(
            tx,
            head,
            &member_id,
            &format!("message:{message_id}"),
            "reply",
            now,
            |first, locale| Ok(templates::message_reply(locale, first, &reference)),
        )?;
    }
    get(tx, &member_id, &id)?.ok_or_else(|| ApiError::internal("conversation vanished"))
}

const COLUMNS: &str = "id, reference, topic, status, bill_id, line, created_at, updated_at";

fn conversation_from_row(r: &crate::sql::Row<'_>) -> crate::sql::Result<ApiResult<Conversation>> {
    let (id, reference, topic, status): (String, String, String, String) = (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?);
    let (bill_id, line, created, updated): (Option<String>, Option<i64>, i64, i64) =
        (r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?);
    Ok((|| {
        Ok(Conversation {
            topic: ConversationTopic::parse(&topic)
                .ok_or_else(|| ApiError::internal(format!("conversation {id}: topic {topic}")))?,
            status: ConversationStatus::parse(&status)
                .ok_or_else(|| ApiError::internal(format!("conversation {id}: status {status}")))?,
            line: line.and_then(|l| u32::try_from(l).ok()),
            created_at: from_ms(created),
            updated_at: from_ms(updated),
            messages: Vec::new(),
            id,
            reference,
            bill_id,
        })
    })())
}

fn messages_of(conn: &Connection, conversation_id: &str) -> ApiResult<Vec<Message>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, author, staff_name, body, created_at FROM conversation_messages
         WHERE conversation_id = ?1 ORDER BY seq",
    )?;
    let rows = stmt
        .query_map([conversation_id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, i64>(4)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut files = conn.prepare_cached(
        "SELECT a.id, a.file_name, a.kind, a.size, a.message_id FROM attachments a
         JOIN conversation_messages m ON m.id = a.message_id
         WHERE m.conversation_id = ?1 ORDER BY a.created_at, a.file_name, a.id",
    )?;
    let attached = files
        .query_map([conversation_id], |r| {
            Ok((attachment_from_row(r)?, r.get::<_, String>(4)?))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut out = Vec::with_capacity(rows.len());
    for (id, author, staff_name, body, at) in rows {
        let mut attachments = Vec::new();
        for (row, message) in &attached {
            if *message == id {
                attachments.push(attachment(row.clone())?);
            }
        }
        out.push(Message {
            author: if author == "staff" {
                MessageAuthor::Staff
            } else {
                MessageAuthor::Member
            },
            staff_name,
            body,
            sent_at: from_ms(at),
            attachments,
            id,
        });
    }
    Ok(out)
}

/// One of a member's conversations with its messages; `None` for anyone else's.
pub fn get(conn: &Connection, member_id: &str, id: &str) -> ApiResult<Option<Conversation>> {
    let c = conn
        .query_row(
            &format!("SELECT {COLUMNS} FROM conversations WHERE id = ?1 AND member_id = ?2"),
            params![id, member_id],
            conversation_from_row,
        )
        .optional()?;
    let Some(c) = c else { return Ok(None) };
    let mut c = c?;
    c.messages = messages_of(conn, id)?;
    Ok(Some(c))
}

/// A page of a member's conversations, newest started first, after `after` (created, id).
pub fn list(
    conn: &Connection,
    member_id: &str,
    after: Option<(i64, String)>,
    limit: u32,
) -> ApiResult<(Vec<Conversation>, bool)> {
    let (at, id) = after.unwrap_or((i64::MAX, String::new()));
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM conversations WHERE member_id = ?1
           AND (created_at < ?2 OR (created_at = ?2 AND id > ?3))
         ORDER BY created_at DESC, id LIMIT ?4"
    ))?;
    let rows = stmt
        .query_map(params![member_id, at, id, i64::from(limit) + 1], conversation_from_row)?
        .collect::<Result<Vec<_>, _>>()?;
    let has_more = rows.len() > limit as usize;
    let mut out = Vec::with_capacity(rows.len().min(limit as usize));
    for c in rows.into_iter().take(limit as usize) {
        let mut c = c?;
        c.messages = messages_of(conn, &c.id)?;
        out.push(c);
    }
    Ok((out, has_more))
}
