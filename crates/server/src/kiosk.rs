//! Clinic kiosks: enrolled devices, and the guest tokens they get for one bill at a time.
//!
//! A kiosk is enrolled by the plan's operator (`carebill-server kiosk enroll --name ...`), which
//! prints a device credential once; only its hash is stored, and it can be revoked. Every guest
//! call carries the credential. A guest lookup that matches a bill's statement number, the
//! patient's last name and date of birth gets a guest token: valid [`GUEST_TOKEN_TTL`], for that
//! bill only, on that kiosk only, and dead after [`MAX_DECLINES`] declined payments (a defence
//! against card testing). Member endpoints never accept it: it is not an access token.

use crate::mail::Letterhead;
use crate::sql::{Connection, OptionalExtension, params};
use axum::http::HeaderMap;
use carebill_api::types::PaymentStatus;
use carebill_api::{DEVICE_HEADER, ErrorCode};
use chrono::{DateTime, Duration, Utc};

use crate::error::{ApiError, ApiResult};
use crate::ids::{hash_token, random_id, random_token};
use crate::mail;
use crate::state::AppState;
use crate::store::{self, ms};

pub const GUEST_TOKEN_TTL: Duration = Duration::minutes(10);
pub const MAX_DECLINES: i64 = 3;
/// Expired guest tokens are kept this long (for replays and audit), then purged.
pub const GUEST_TOKEN_RETENTION: Duration = Duration::days(2);

/// An enrolled, unrevoked kiosk.
#[derive(Debug, Clone)]
pub struct Device {
    pub id: String,
    pub name: String,
}

/// What `kiosk enroll` prints: the credential is shown once and never stored.
#[derive(Debug, Clone)]
pub struct Enrolled {
    pub id: String,
    pub name: String,
    pub credential: String,
}

/// One row of `kiosk list`.
#[derive(Debug, Clone)]
pub struct Listed {
    pub id: String,
    pub name: String,
    pub created_at: i64,
    pub revoked: bool,
}

fn check_name(name: &str) -> ApiResult<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(ApiError::validation("/name", "Name the kiosk in 1 to 100 characters."));
    }
    Ok(name.to_string())
}

/// Enrolls a kiosk with a new random credential.
pub fn enroll(conn: &Connection, name: &str, now: DateTime<Utc>) -> ApiResult<Enrolled> {
    enroll_with(conn, name, &random_token("kdc_"), now)
}

/// Enrolls a kiosk with a given credential (the demo seed's well-known one).
pub fn enroll_with(conn: &Connection, name: &str, credential: &str, now: DateTime<Utc>) -> ApiResult<Enrolled> {
    let name = check_name(name)?;
    let id = random_id(&mut rand::thread_rng(), "kiosk");
    conn.execute(
        "INSERT INTO kiosk_devices (id, name, credential_hash, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![id, name, hash_token(credential), ms(now)],
    )?;
    Ok(Enrolled {
        id,
        name,
        credential: credential.to_string(),
    })
}

/// Revokes a kiosk: its credential stops working at once, and so do its guest tokens.
pub fn revoke(conn: &Connection, id: &str, now: DateTime<Utc>) -> ApiResult<bool> {
    Ok(conn.execute(
        "UPDATE kiosk_devices SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
        params![id, ms(now)],
    )? == 1)
}

pub fn list(conn: &Connection) -> ApiResult<Vec<Listed>> {
    let mut stmt =
        conn.prepare("SELECT id, name, created_at, revoked_at IS NOT NULL FROM kiosk_devices ORDER BY created_at, id")?;
    let rows = stmt.query_map([], |r| {
        Ok(Listed {
            id: r.get(0)?,
            name: r.get(1)?,
            created_at: r.get(2)?,
            revoked: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The kiosk a request comes from, by its `X-Carebill-Device` credential.
pub async fn device(state: &AppState, headers: &HeaderMap) -> ApiResult<Device> {
    let credential = headers
        .get(DEVICE_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|c| (1..=200).contains(&c.len()))
        .ok_or_else(|| ApiError::new(ErrorCode::DeviceUnauthenticated))?;
    let hash = hash_token(credential);
    state
        .db
        .read(move |conn| {
            Ok(conn
                .prepare_cached("SELECT id, name FROM kiosk_devices WHERE credential_hash = ?1 AND revoked_at IS NULL")?
                .query_row([hash], |r| {
                    Ok(Device {
                        id: r.get(0)?,
                        name: r.get(1)?,
                    })
                })
                .optional()?)
        })
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::DeviceUnauthenticated))
}

/// A guest token's grant.
#[derive(Debug, Clone)]
pub struct Grant {
    pub token_hash: Vec<u8>,
    pub device_id: String,
    pub bill_id: String,
    pub member_id: String,
    pub expires_at: i64,
    pub declines: i64,
}

impl Grant {
    /// Usable for reading and new payments: not expired, not ended by declines.
    pub fn live(&self, now: DateTime<Utc>) -> bool {
        self.expires_at > ms(now) && self.declines < MAX_DECLINES
    }
}

/// Mails the receipt of a guest payment on the grant's bill, found by its confirmation number,
/// to the address the guest typed: `false` (nothing sent) when there is no such payment or it
/// failed. Only what the guest saw on the confirmation screen: no names, no care details.
pub fn send_guest_receipt(
    tx: &Connection,
    head: &Letterhead,
    locale: carebill_api::types::Locale,
    grant: &Grant,
    confirmation_number: &str,
    email: &str,
    now: DateTime<Utc>,
) -> ApiResult<bool> {
    let payment = store::payments::guest_payment(tx, &grant.member_id, &grant.bill_id, confirmation_number)?;
    let Some(p) = payment.filter(|p| p.status != PaymentStatus::Failed) else {
        return Ok(false);
    };
    let receipt = mail::templates::guest_receipt(locale, &p);
    mail::enqueue(tx, head, locale, email, &receipt, now)?;
    Ok(true)
}

/// Issues a guest token for a bill.
pub fn issue(
    tx: &Connection,
    device: &Device,
    bill_id: &str,
    member_id: &str,
    now: DateTime<Utc>,
) -> ApiResult<(String, DateTime<Utc>)> {
    tx.prepare_cached("DELETE FROM guest_tokens WHERE expires_at < ?1")?
        .execute([ms(now - GUEST_TOKEN_RETENTION)])?;
    let token = random_token("gst_");
    let expires = now + GUEST_TOKEN_TTL;
    tx.prepare_cached(
        "INSERT INTO guest_tokens (token_hash, device_id, bill_id, member_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![hash_token(&token), device.id, bill_id, member_id, ms(now), ms(expires)])?;
    Ok((token, expires))
}

/// The grant of the request's guest token (bearer), issued to this kiosk; live or not.
pub async fn grant(state: &AppState, headers: &HeaderMap, device: &Device) -> ApiResult<Grant> {
    let token = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::new(ErrorCode::Unauthenticated))?;
    let hash = hash_token(token);
    let device_id = device.id.clone();
    state
        .db
        .read(move |conn| {
            Ok(conn
                .prepare_cached(
                    "SELECT token_hash, device_id, bill_id, member_id, expires_at, declines FROM guest_tokens
                     WHERE token_hash = ?1 AND device_id = ?2",
                )?
                .query_row(params![hash, device_id], |r| {
                    Ok(Grant {
                        token_hash: r.get(0)?,
                        device_id: r.get(1)?,
                        bill_id: r.get(2)?,
                        member_id: r.get(3)?,
                        expires_at: r.get(4)?,
                        declines: r.get(5)?,
                    })
                })
                .optional()?)
        })
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::Unauthenticated))
}

/// Counts a declined payment against the grant.
pub fn record_decline(conn: &Connection, token_hash: &[u8]) -> ApiResult<()> {
    conn.prepare_cached("UPDATE guest_tokens SET declines = declines + 1 WHERE token_hash = ?1")?
        .execute([token_hash])?;
    Ok(())
}
