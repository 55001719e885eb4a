//! Outgoing mail through an outbox table.
//!
//! Mail is written to the outbox in the same transaction as the change that causes it, so a mail
//! is never sent for a change that rolled back, nor lost for one that committed. A sender task
//! delivers it over SMTP when configured; after delivery the body is erased (codes and bill
//! details do not linger). In demo mode nothing is sent: `GET /dev/mailbox` shows the outbox.
//!
//! Several servers may share the outbox: each sender [`claim`]s what it delivers, and every
//! delivery of one mail carries the same `Message-ID` ([`message_id`]).

pub mod templates;

use std::sync::Arc;
use std::time::Duration;

use crate::sql::{Connection, params};
use carebill_api::types::Locale;
use chrono::{DateTime, Utc};
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use tokio::sync::Notify;

use crate::config::SmtpConfig;
use crate::error::ApiResult;
use crate::state::AppState;
use crate::store::{member_contact, ms};

/// Every queued or sent mail, oldest first (the demo mailbox).
pub fn mailbox(conn: &Connection) -> ApiResult<Vec<carebill_api::types::Mail>> {
    let mut stmt = conn.prepare("SELECT to_addr, subject, body, created_at FROM outbox ORDER BY id")?;
    let rows = stmt.query_map([], |r| {
        Ok(carebill_api::types::Mail {
            to: r.get(0)?,
            subject: r.get(1)?,
            body: r.get(2)?,
            sent_at: crate::store::from_ms(r.get(3)?),
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// What every mail of this server shares: whether it is a demo (the outbox is the mailbox) and
/// the plan's facts each mail ends with (who to call, when, and the language-assistance notice).
#[derive(Clone)]
pub struct Letterhead {
    pub demo: bool,
    pub plan: Arc<carebill_api::types::PlanInfo>,
}

/// Queues a mail to a member's account address, worded by `write` from their first name in their
/// language; nothing when the member has no account.
pub fn enqueue_for_member(
    tx: &Connection,
    head: &Letterhead,
    member_id: &str,
    now: DateTime<Utc>,
    write: impl FnOnce(&str, Locale) -> ApiResult<templates::Mail>,
) -> ApiResult<()> {
    let Some((first_name, email, locale)) = member_contact(tx, member_id)? else {
        return Ok(());
    };
    let mail = write(&first_name, locale)?;
    enqueue(tx, head, locale, &email, &mail, now)
}

/// Queues a member's mail about one entity and event at most once, however many scheduler passes,
/// retries and servers decide it: the decision is a row in `notices` (entity, event), written by
/// a conditional insert in the caller's transaction, and only the writer of that row queues the
/// mail. Returns whether this call queued it.
#[allow(clippy::too_many_arguments)]
pub fn enqueue_once(
    tx: &Connection,
    head: &Letterhead,
    member_id: &str,
    entity: &str,
    event: &str,
    now: DateTime<Utc>,
    write: impl FnOnce(&str, Locale) -> ApiResult<templates::Mail>,
) -> ApiResult<bool> {
    if !decide_once(tx, member_id, entity, event, now)? {
        return Ok(false);
    }
    enqueue_for_member(tx, head, member_id, now, write)?;
    Ok(true)
}

/// Records that a member's notice about one entity and event was decided, without a mail (the
/// member turned that mail off): a later pass, or the switch turned on again, never sends it.
/// Returns whether this call decided it.
pub fn decide_once(tx: &Connection, member_id: &str, entity: &str, event: &str, now: DateTime<Utc>) -> ApiResult<bool> {
    let decided = tx.execute(
        "INSERT INTO notices (entity, event, member_id, created_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (entity, event) DO NOTHING",
        params![entity, event, member_id, ms(now)],
    )?;
    Ok(decided == 1)
}

/// Queues a mail inside the caller's transaction, ending with the plan's footer in the mail's
/// language. In demo mode it counts as sent at once.
pub fn enqueue(
    tx: &Connection,
    head: &Letterhead,
    locale: Locale,
    to: &str,
    mail: &templates::Mail,
    now: DateTime<Utc>,
) -> ApiResult<()> {
    let (subject, body) = (
        &mail.subject,
        format!("{}{}", mail.body, templates::footer(locale, &head.plan)),
    );
    tx.prepare_cached("INSERT INTO outbox (to_addr, subject, body, created_at, sent_at) VALUES (?1, ?2, ?3, ?4, ?5)")?
        .execute_later(params![to, subject, body, ms(now), head.demo.then(|| ms(now))])?;
    Ok(())
}

/// How long a mail's body is kept when it was not delivered (failed ten times, or no relay), and
/// in demo mode: reset and confirmation codes and bill details do not linger.
pub const UNDELIVERED_BODY_RETENTION: chrono::Duration = chrono::Duration::days(7);

/// Erases the bodies of mail older than [`UNDELIVERED_BODY_RETENTION`] (hourly maintenance).
pub fn erase_old_bodies(tx: &Connection, now: DateTime<Utc>) -> ApiResult<usize> {
    Ok(tx.execute(
        "UPDATE outbox SET body = '' WHERE body != '' AND created_at < ?1",
        [ms(now - UNDELIVERED_BODY_RETENTION)],
    )?)
}

fn transport(smtp: &SmtpConfig) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
    let builder = match smtp.security.as_str() {
        "tls" => AsyncSmtpTransport::<Tokio1Executor>::relay(&smtp.host).map_err(|e| e.to_string())?,
        "none" => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host),
        _ => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&smtp.host).map_err(|e| e.to_string())?,
    };
    let builder = builder.port(smtp.port);
    let builder = match (&smtp.username, &smtp.password) {
        (Some(u), Some(p)) => builder.credentials(Credentials::new(u.clone(), p.clone())),
        _ => builder,
    };
    Ok(builder.build())
}

/// Claims up to 50 mails to deliver for `hold` (`[recovery] mail_claim_secs`): not sent, fewer
/// than ten attempts, not held by another sender's live claim. Another server's sender may take
/// them after `hold` (the first was killed, or is stuck): a mail is delivered at least once, and
/// twice only if a sender dies between handing it to the relay and recording it. On PostgreSQL
/// the rows another server is claiming at the same moment are skipped, not waited for
/// (`store::skip_locked`); SQLite has one writer.
pub fn claim(
    conn: &Connection,
    now: DateTime<Utc>,
    hold: chrono::Duration,
) -> ApiResult<Vec<(i64, String, String, String)>> {
    let sql = format!(
        "UPDATE outbox SET claimed_until = ?1 WHERE id IN (
            SELECT id FROM outbox WHERE sent_at IS NULL AND attempts < 10 AND (claimed_until IS NULL OR claimed_until < ?2)
            ORDER BY id LIMIT 50{})
         RETURNING id, to_addr, subject, body",
        crate::store::skip_locked(conn)
    );
    let mut claimed = conn.transaction(|tx| {
        tx.prepare_cached(&sql)?
            .query_map(params![ms(now + hold), ms(now)], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })?
            .collect::<Result<Vec<_>, _>>()
    })?;
    claimed.sort_by_key(|m| m.0);
    Ok(claimed)
}

/// The `Message-ID` of an outbox row: the same every time it is delivered, so a receiver can drop
/// a second delivery.
pub fn message_id(outbox_id: i64, domain: &str) -> String {
    format!("<carebill-outbox-{outbox_id}@{domain}>")
}

/// Delivers queued mail until the server stops.
pub fn spawn_sender(state: AppState, wakeup: Arc<Notify>) {
    let Some(smtp) = state.config.smtp.clone() else {
        if !state.config.demo {
            tracing::warn!("no SMTP relay configured: mail stays in the outbox undelivered");
        }
        return;
    };
    tokio::spawn(async move {
        let transport = match transport(&smtp) {
            Ok(t) => t,
            Err(e) => {
                tracing::error!(error = %e, "SMTP configuration is not usable; mail stays queued");
                return;
            }
        };
        let from: Mailbox = match state.config.mail_from.parse() {
            Ok(m) => m,
            Err(e) => {
                tracing::error!(error = %e, "mail_from is not an address; mail stays queued");
                return;
            }
        };
        let domain = from.email.domain().to_string();
        loop {
            let _ = tokio::time::timeout(Duration::from_secs(10), wakeup.notified()).await;
            let now = state.clock.now();
            let hold = state.config.recovery.mail_claim();
            let claimed = state
                .db
                .write(move |conn| claim(conn, now, hold))
                .await
                .unwrap_or_default();
            for (id, to, subject, body) in claimed {
                let message = to.parse::<Mailbox>().map_err(|e| e.to_string()).and_then(|to| {
                    Message::builder()
                        .from(from.clone())
                        .to(to)
                        .subject(subject)
                        .message_id(Some(message_id(id, &domain)))
                        .body(body)
                        .map_err(|e| e.to_string())
                });
                let outcome = match message {
                    Ok(m) => transport.send(m).await.map(|_| ()).map_err(|e| e.to_string()),
                    Err(e) => Err(e),
                };
                let now = state.clock.now();
                let _ = state
                    .db
                    .write(move |conn| {
                        match outcome {
                            Ok(()) => conn.execute(
                                "UPDATE outbox SET sent_at = ?2, body = '', claimed_until = NULL WHERE id = ?1",
                                params![id, ms(now)],
                            )?,
                            Err(e) => {
                                tracing::warn!(mail = id, error = %e, "mail delivery failed; will retry");
                                conn.execute(
                                    "UPDATE outbox SET attempts = attempts + 1, last_error = ?2, claimed_until = NULL WHERE id = ?1",
                                    params![id, e],
                                )?
                            }
                        };
                        Ok(())
                    })
                    .await;
            }
        }
    });
}
