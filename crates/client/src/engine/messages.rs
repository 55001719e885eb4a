//! Conversations with the billing office: asking, replying, closing, reading threads from the
//! copy, and attachments.
//!
//! A message is written to the outbox with its key and its files *before* anything is sent, so
//! one written offline (or while the connection drops) waits on this device and is sent once
//! when Carebill is back online, as payments are: each file is uploaded with a key derived from
//! the message's (a retry gets the same attachment), then the message with its own key (a retry
//! gets the same message). Unlike other changes, a message is re-sent however long it waited:
//! the server keeps message keys for good. Files are checked by their content here first
//! (`carebill_billing::sniff`), so a file the server would refuse is refused at once, offline too.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use carebill_api::types::{Conversation, NewConversation, NewMessage};
use carebill_api::{ErrorCode, MAX_ATTACHMENT_BYTES, MAX_ATTACHMENTS, MAX_MESSAGE_CHARS};

use super::{Engine, Session};
use crate::cache;
use crate::error::{ClientCode, ClientError, ClientResult, ErrorKind};
use crate::outbox::{self, Request, State as OutboxState};
use crate::types::*;

/// A message's text, as the server will check it.
fn check_body(body: &str) -> ClientResult<()> {
    if body.trim().is_empty() {
        return Err(ClientError::of(ClientCode::MessageEmpty).at("body"));
    }
    if body.chars().count() > MAX_MESSAGE_CHARS {
        return Err(ClientError::of(ClientCode::MessageTooLong)
            .at("body")
            .with_params(&[("max", MAX_MESSAGE_CHARS.to_string())]));
    }
    Ok(())
}

/// A file name the server accepts: other characters become `_`, at most 100 characters.
fn safe_file_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let cleaned: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, ' ' | '.' | '_' | '(' | ')' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let trimmed = cleaned.trim();
    let mut out: String = if trimmed.is_empty() {
        "file".into()
    } else {
        trimmed.into()
    };
    if out.chars().count() > 100 {
        out = out
            .chars()
            .rev()
            .take(100)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
    }
    out
}

/// The files of a message, decoded and checked by their content.
fn check_files(files: &[FileDraft]) -> ClientResult<Vec<(String, Vec<u8>)>> {
    if files.len() > MAX_ATTACHMENTS {
        return Err(ClientError::server(ErrorCode::TooManyAttachments).at("files"));
    }
    let mut out = Vec::with_capacity(files.len());
    for (i, f) in files.iter().enumerate() {
        let field = format!("files/{i}");
        let bytes = STANDARD
            .decode(f.data_base64.as_bytes())
            .map_err(|_| ClientError::of(ClientCode::FileUnreadable).at(&field))?;
        if let Err(refusal) = carebill_billing::sniff::sniff(&bytes, MAX_ATTACHMENT_BYTES) {
            let code = ErrorCode::parse(refusal.code()).unwrap_or(ErrorCode::AttachmentTypeNotAllowed);
            return Err(ClientError::server(code)
                .at(&field)
                .with_params(&[("file", f.file_name.clone())]));
        }
        out.push((safe_file_name(&f.file_name), bytes));
    }
    Ok(out)
}

fn preview(c: &Conversation) -> String {
    let text = c.messages.last().map_or("", |m| m.body.as_str());
    let mut words: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if words.chars().count() > 80 {
        words = words.chars().take(79).collect::<String>() + "…";
    }
    words
}

impl Engine {
    /// Asks the billing office something. Written on this device first: with no connection it
    /// waits (`Queued`) and is sent once when Carebill is back online.
    pub async fn ask(&self, draft: QuestionDraft) -> ClientResult<MessageSent> {
        check_body(&draft.body)?;
        if draft.line.is_some() && draft.bill_id.is_none() {
            return Err(ClientError::server(ErrorCode::ValidationFailed).at("line"));
        }
        let files = check_files(&draft.files)?;
        let request = Request::Ask(NewConversation {
            topic: draft.topic,
            bill_id: draft.bill_id,
            line: draft.line,
            body: draft.body,
            attachment_ids: Vec::new(),
        });
        self.queue_message(request, files).await
    }

    /// A reply in a conversation, written and sent like a question.
    pub async fn reply(&self, draft: ReplyDraft) -> ClientResult<MessageSent> {
        check_body(&draft.body)?;
        let files = check_files(&draft.files)?;
        let s = self.session().await?;
        let id = draft.conversation_id.clone();
        let known = s.cache.run(move |c| cache::conversation(c, &id)).await?;
        match known {
            None => return Err(ClientError::server(ErrorCode::ConversationNotFound)),
            Some((c, _)) if c.status == carebill_api::types::ConversationStatus::Closed => {
                return Err(ClientError::server(ErrorCode::ConversationClosed));
            }
            Some(_) => {}
        }
        let request = Request::Reply {
            conversation_id: draft.conversation_id,
            message: NewMessage {
                body: draft.body,
                attachment_ids: Vec::new(),
            },
        };
        self.queue_message(request, files).await
    }

    async fn queue_message(&self, request: Request, files: Vec<(String, Vec<u8>)>) -> ClientResult<MessageSent> {
        // The copy may be open without the service (an offline unlock): the message waits.
        let s = self.session().await?;
        self.record_activity();
        let (id, now) = (outbox::new_key().replace("cb-", "msg-"), self.now());
        let entry = s
            .cache
            .run(move |c| {
                // The entry and its files in one transaction, flushed before anything is sent.
                cache::durable(c, |c| {
                    let tx = c.unchecked_transaction()?;
                    let e = outbox::insert(&tx, &id, &request, &[], now)?;
                    outbox::insert_files(&tx, &id, &files)?;
                    tx.commit()?;
                    Ok(e)
                })
            })
            .await?;
        let outbox_id = entry.id.clone();
        if s.offline {
            return Ok(MessageSent::Queued { outbox_id });
        }
        match self.drive_message(&s, entry).await {
            Ok(conversation) => Ok(MessageSent::Sent { conversation }),
            Err(e) if matches!(e.kind, ErrorKind::Offline | ErrorKind::Server) => Ok(MessageSent::Queued { outbox_id }),
            Err(e) => Err(e),
        }
    }

    /// Sends a waiting message: its files (each once), then the message (once). A connection
    /// failure leaves it waiting; a refusal ends it and is returned.
    pub(super) async fn drive_message(&self, s: &Session, entry: outbox::Entry) -> ClientResult<Conversation> {
        let api = &self.0.api;
        let mut uploads_redone = false;
        let result = loop {
            let entry_id = entry.id.clone();
            let files = s.cache.run(move |c| outbox::files(c, &entry_id)).await?;
            let mut ids = Vec::with_capacity(files.len());
            let mut failed = None;
            for (position, name, bytes, uploaded) in files {
                if let Some(a) = uploaded {
                    ids.push(a);
                    continue;
                }
                let key = if uploads_redone {
                    format!("{}-f{position}-again", entry.key)
                } else {
                    format!("{}-f{position}", entry.key)
                };
                match api.upload_attachment(&key, &name, bytes).await {
                    Ok(a) => {
                        let (entry_id, a_id) = (entry.id.clone(), a.id.clone());
                        s.cache
                            .run(move |c| outbox::set_file_attachment(c, &entry_id, position, Some(&a_id)))
                            .await?;
                        ids.push(a.id);
                    }
                    Err(e) => {
                        failed = Some(e);
                        break;
                    }
                }
            }
            if let Some(e) = failed {
                break Err(e);
            }
            let sent = match &entry.request {
                Request::Ask(req) => {
                    let req = NewConversation {
                        attachment_ids: ids,
                        ..req.clone()
                    };
                    api.create_conversation(&entry.key, &req).await
                }
                Request::Reply {
                    conversation_id,
                    message,
                } => {
                    let req = NewMessage {
                        attachment_ids: ids,
                        ..message.clone()
                    };
                    api.create_message(conversation_id, &entry.key, &req).await
                }
                _ => return Err(ClientError::internal("not a message")),
            };
            match sent {
                // Files uploaded long ago and never sent are deleted by the server after a day:
                // the message was not made (it would have kept them), so upload them again.
                Err(e) if e.code == ErrorCode::AttachmentNotFound.as_str() && !uploads_redone => {
                    uploads_redone = true;
                    let entry_id = entry.id.clone();
                    s.cache
                        .run(move |c| {
                            for (position, ..) in outbox::files(c, &entry_id)? {
                                outbox::set_file_attachment(c, &entry_id, position, None)?;
                            }
                            Ok(())
                        })
                        .await?;
                }
                other => break other,
            }
        };
        let (id, now) = (entry.id.clone(), self.now());
        s.cache
            .run({
                let id = id.clone();
                move |c| outbox::record_attempt(c, &id, now)
            })
            .await?;
        match result {
            Ok(conversation) => {
                let (c, value) = (conversation.clone(), serde_json::to_value(&conversation)?);
                s.cache
                    .run(move |conn| {
                        cache::upsert_conversation(conn, &c)?;
                        cache::mark_seen(conn, &c.id, c.messages.len())?;
                        outbox::resolve(conn, &id, OutboxState::Done, Some(&value), None, now)?;
                        outbox::drop_files(conn, &id)
                    })
                    .await?;
                self.request_sync();
                Ok(conversation)
            }
            Err(e) if matches!(e.kind, ErrorKind::Offline | ErrorKind::Server) => Err(e),
            Err(e) => {
                let err = e.clone();
                s.cache
                    .run(move |conn| {
                        outbox::resolve(conn, &id, OutboxState::Failed, None, Some(&err), now)?;
                        outbox::drop_files(conn, &id)
                    })
                    .await?;
                Err(e)
            }
        }
    }

    /// Closes a conversation: automatic payments of its bill resume.
    pub async fn close_conversation(&self, id: &str) -> ClientResult<Conversation> {
        let value = self.write(Request::CloseConversation { id: id.to_string() }).await?;
        let c: Conversation = serde_json::from_value(value)?;
        let s = self.session().await?;
        let stored = c.clone();
        s.cache
            .run(move |conn| cache::upsert_conversation(conn, &stored))
            .await?;
        Ok(c)
    }

    /// Messages waiting to be sent (`refused`: false), or those refused in the last week.
    async fn queued(&self, s: &Session, refused: bool) -> ClientResult<Vec<QueuedMessage>> {
        let since = self.now() - chrono::Duration::days(7);
        s.cache
            .run(move |c| {
                let entries = if refused {
                    outbox::refused_messages(c, since)?
                } else {
                    outbox::pending_messages(c)?
                };
                let mut out = Vec::new();
                for e in entries {
                    let file_names = outbox::file_names(c, &e.id)?;
                    let (conversation_id, topic, bill_id, body) = match e.request {
                        Request::Ask(r) => (None, Some(r.topic), r.bill_id, r.body),
                        Request::Reply {
                            conversation_id,
                            message,
                        } => (Some(conversation_id), None, None, message.body),
                        _ => continue,
                    };
                    out.push(QueuedMessage {
                        outbox_id: e.id,
                        conversation_id,
                        topic,
                        bill_id,
                        body,
                        file_names,
                        written_at: e.created_at,
                        refused: e.error,
                    });
                }
                Ok(out)
            })
            .await
    }

    async fn bill_label(s: &Session, bill_id: Option<String>) -> ClientResult<Option<String>> {
        let Some(id) = bill_id else { return Ok(None) };
        let detail = s.cache.run(move |c| cache::bill_detail(c, &id)).await?;
        Ok(detail.map(|d| format!("{} · {}", d.bill.provider, d.bill.statement_number)))
    }

    /// The member's conversations from the copy (offline too), with what waits to be sent.
    pub async fn conversations(&self) -> ClientResult<Conversations> {
        let s = self.session().await?;
        let freshness = self.freshness(&s).await?;
        let rows = s.cache.run(|c| cache::conversations(c)).await?;
        let mut conversations = Vec::with_capacity(rows.len());
        for (c, unread) in rows {
            conversations.push(ConversationSummary {
                bill_label: Self::bill_label(&s, c.bill_id.clone()).await?,
                preview: preview(&c),
                id: c.id,
                reference: c.reference,
                topic: c.topic,
                status: c.status,
                bill_id: c.bill_id,
                line: c.line,
                created_at: c.created_at,
                updated_at: c.updated_at,
                unread,
            });
        }
        let unread = conversations.iter().map(|c| c.unread).sum();
        Ok(Conversations {
            conversations,
            queued: self.queued(&s, false).await?,
            not_sent: self.queued(&s, true).await?,
            unread,
            freshness,
        })
    }

    /// The billing office's replies not yet seen on this device (the sidebar's count).
    pub async fn unread_replies(&self) -> ClientResult<u32> {
        let s = self.session().await?;
        let rows = s.cache.run(|c| cache::conversations(c)).await?;
        Ok(rows.iter().map(|(_, u)| u).sum())
    }

    /// One conversation from the copy; opening it marks its messages seen.
    pub async fn conversation(&self, id: &str) -> ClientResult<ConversationView> {
        let s = self.session().await?;
        let freshness = self.freshness(&s).await?;
        let key = id.to_string();
        let (conversation, seen) = s
            .cache
            .run(move |c| cache::conversation(c, &key))
            .await?
            .ok_or_else(|| ClientError::server(ErrorCode::ConversationNotFound))?;
        let new_replies = cache::unread_in(&conversation, seen);
        let (key, count) = (conversation.id.clone(), conversation.messages.len());
        s.cache.run(move |c| cache::mark_seen(c, &key, count)).await?;
        // What was unseen is seen: the next reply is news again.
        let unread = self.unread_replies().await?;
        *super::lock(&self.0.last_unread) = unread;
        let mut queued = self.queued(&s, false).await?;
        queued.extend(self.queued(&s, true).await?);
        let queued = queued
            .into_iter()
            .filter(|q| q.conversation_id.as_deref() == Some(id))
            .collect();
        Ok(ConversationView {
            bill_label: Self::bill_label(&s, conversation.bill_id.clone()).await?,
            conversation,
            queued,
            new_replies,
            freshness,
        })
    }

    /// An attachment of one of the member's conversations: from the copy when it was opened
    /// before (offline too), else downloaded once and kept encrypted within the copy's budget.
    pub async fn attachment(&self, id: &str) -> ClientResult<AttachmentData> {
        let s = self.session().await?;
        let key = id.to_string();
        let info = s
            .cache
            .run(move |c| {
                Ok(cache::conversations(c)?
                    .into_iter()
                    .flat_map(|(conv, _)| conv.messages)
                    .flat_map(|m| m.attachments)
                    .find(|a| a.id == key))
            })
            .await?
            .ok_or_else(|| ClientError::server(ErrorCode::AttachmentNotFound))?;
        let (key, now) = (id.to_string(), self.now().timestamp_millis());
        let bytes = match s.cache.run(move |c| cache::attachment_file(c, &key, now)).await? {
            Some(b) => b,
            None => {
                if s.offline {
                    return Err(ClientError::of(ClientCode::ReadOnlyOffline));
                }
                let bytes = self.0.api.attachment(id).await?;
                let (key, kept) = (id.to_string(), bytes.clone());
                s.cache
                    .run(move |c| cache::keep_attachment_file(c, &key, &kept, now))
                    .await?;
                bytes
            }
        };
        Ok(AttachmentData {
            media_type: info.kind.media_type().to_string(),
            attachment: info,
            data_base64: STANDARD.encode(bytes),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_become_ones_the_server_accepts() {
        assert_eq!(safe_file_name("C:\\Users\\me\\Scan 2026/11.pdf"), "11.pdf");
        assert_eq!(safe_file_name("recibo añadido (1).png"), "recibo a_adido (1).png");
        assert_eq!(safe_file_name("   "), "file");
        let long = format!("{}.pdf", "a".repeat(200));
        let safe = safe_file_name(&long);
        assert_eq!(safe.chars().count(), 100);
        assert!(safe.ends_with(".pdf"), "the extension is kept");
    }
}
