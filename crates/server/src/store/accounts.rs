//! Accounts, their one-time codes and pending registrations: every SQL statement about them.
//! What the rules are (who may register, when a code counts) is the accounts service's job.

use crate::sql::{Connection, OptionalExtension, params};
use carebill_api::types::Locale;
use chrono::{DateTime, Utc};

use super::ms;
use crate::error::ApiResult;

/// A roster member's identity as the plan knows it.
pub struct RosterEntry {
    pub first_name: String,
    pub last_name: String,
    pub date_of_birth: String,
}

pub fn roster_entry(conn: &Connection, member_id: &str) -> ApiResult<Option<RosterEntry>> {
    Ok(conn
        .query_row(
            "SELECT first_name, last_name, date_of_birth FROM roster WHERE member_id = ?1",
            [member_id],
            |r| {
                Ok(RosterEntry {
                    first_name: r.get(0)?,
                    last_name: r.get(1)?,
                    date_of_birth: r.get(2)?,
                })
            },
        )
        .optional()?)
}

/// A member's account as registration sees it.
pub struct MemberAccount {
    pub id: i64,
    pub verified: bool,
    pub created_at: i64,
    pub email: String,
}

pub fn account_of_member(conn: &Connection, member_id: &str) -> ApiResult<Option<MemberAccount>> {
    Ok(conn
        .query_row(
            "SELECT id, verified_at IS NOT NULL, created_at, email FROM accounts WHERE member_id = ?1",
            [member_id],
            |r| {
                Ok(MemberAccount {
                    id: r.get(0)?,
                    verified: r.get(1)?,
                    created_at: r.get(2)?,
                    email: r.get(3)?,
                })
            },
        )
        .optional()?)
}

/// An account's id, password hash and whether its address is confirmed, found by member ID or by
/// email.
pub fn credentials(conn: &Connection, login: &str, by_member_id: bool) -> ApiResult<Option<(i64, String, bool)>> {
    let sql = if by_member_id {
        "SELECT id, password_hash, verified_at IS NOT NULL FROM accounts WHERE member_id = ?1"
    } else {
        "SELECT id, password_hash, verified_at IS NOT NULL FROM accounts WHERE email = ?1"
    };
    Ok(conn
        .query_row(sql, [login], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?)
}

/// The member whose account uses `email`, if any.
pub fn email_owner(conn: &Connection, email: &str) -> ApiResult<Option<String>> {
    Ok(conn
        .query_row("SELECT member_id FROM accounts WHERE email = ?1", [email], |r| r.get(0))
        .optional()?)
}

/// The account using `email`, as the code flows see it.
pub struct AccountByEmail {
    pub id: i64,
    pub member_id: String,
    pub verified: bool,
    pub first_name: String,
    pub locale: Locale,
}

pub fn account_by_email(conn: &Connection, email: &str) -> ApiResult<Option<AccountByEmail>> {
    Ok(conn
        .query_row(
            "SELECT a.id, a.member_id, a.verified_at IS NOT NULL, r.first_name, a.locale
             FROM accounts a JOIN roster r ON r.member_id = a.member_id WHERE a.email = ?1",
            [email],
            |r| {
                Ok(AccountByEmail {
                    id: r.get(0)?,
                    member_id: r.get(1)?,
                    verified: r.get(2)?,
                    first_name: r.get(3)?,
                    locale: crate::store::locale_of(&r.get::<_, String>(4)?),
                })
            },
        )
        .optional()?)
}

/// Whether the member has a confirmed account.
pub fn member_verified(conn: &Connection, member_id: &str) -> ApiResult<bool> {
    Ok(conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM accounts WHERE member_id = ?1 AND verified_at IS NOT NULL)",
        [member_id],
        |r| r.get(0),
    )?)
}

/// A new account; `None` when the member or the address already has one.
pub fn insert_account(
    tx: &Connection,
    member_id: &str,
    email: &str,
    password_hash: &str,
    now: DateTime<Utc>,
    verified: bool,
    locale: Locale,
) -> ApiResult<Option<i64>> {
    let inserted = tx.query_row(
        "INSERT INTO accounts (member_id, email, password_hash, created_at, password_changed_at, verified_at, locale)
         VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?6) RETURNING id",
        params![
            member_id,
            email,
            password_hash,
            ms(now),
            verified.then(|| ms(now)),
            locale.as_str()
        ],
        |r| r.get(0),
    );
    match inserted {
        Err(e) if e.is_constraint_violation() => Ok(None),
        Err(e) => Err(e.into()),
        Ok(id) => Ok(Some(id)),
    }
}

/// Removes the member's never-verified accounts created at or before `cutoff`, or under `email`.
pub fn delete_unverified_of_member(
    tx: &Connection,
    member_id: &str,
    cutoff: DateTime<Utc>,
    email: &str,
) -> ApiResult<()> {
    tx.execute(
        "DELETE FROM accounts WHERE member_id = ?1 AND verified_at IS NULL AND (created_at <= ?2 OR email = ?3)",
        params![member_id, ms(cutoff), email],
    )?;
    Ok(())
}

/// Removes the member's never-verified accounts, whenever they were made.
pub fn delete_all_unverified_of_member(tx: &Connection, member_id: &str) -> ApiResult<()> {
    tx.execute(
        "DELETE FROM accounts WHERE member_id = ?1 AND verified_at IS NULL",
        [member_id],
    )?;
    Ok(())
}

/// Removes every never-verified account created at or before `cutoff` and the pending
/// registrations that expired before `now`.
pub fn purge_unverified(tx: &Connection, cutoff: DateTime<Utc>, now: DateTime<Utc>) -> ApiResult<usize> {
    tx.execute("DELETE FROM pending_registrations WHERE expires_at < ?1", [ms(now)])?;
    Ok(tx.execute(
        "DELETE FROM accounts WHERE verified_at IS NULL AND created_at <= ?1",
        [ms(cutoff)],
    )?)
}

pub fn mark_verified(tx: &Connection, account_id: i64, now: DateTime<Utc>) -> ApiResult<()> {
    tx.execute(
        "UPDATE accounts SET verified_at = ?2 WHERE id = ?1",
        params![account_id, ms(now)],
    )?;
    Ok(())
}

pub fn password_hash(conn: &Connection, account_id: i64) -> ApiResult<String> {
    Ok(
        conn.query_row("SELECT password_hash FROM accounts WHERE id = ?1", [account_id], |r| {
            r.get(0)
        })?,
    )
}

/// A new password; a reset by emailed code also confirms the address.
pub fn set_password(
    tx: &Connection,
    account_id: i64,
    hash: &str,
    now: DateTime<Utc>,
    confirms_email: bool,
) -> ApiResult<()> {
    let sql = if confirms_email {
        "UPDATE accounts SET password_hash = ?2, password_changed_at = ?3, verified_at = COALESCE(verified_at, ?3) WHERE id = ?1"
    } else {
        "UPDATE accounts SET password_hash = ?2, password_changed_at = ?3 WHERE id = ?1"
    };
    tx.execute(sql, params![account_id, hash, ms(now)])?;
    Ok(())
}

/// A stored one-time code: its hash, when it expires (ms) and the attempts made.
pub struct StoredCode {
    pub hash: Vec<u8>,
    pub expires_at: i64,
    pub attempts: i64,
}

/// Replaces the account's code for `purpose` (stored hashed), with no attempts made.
pub fn save_code(
    tx: &Connection,
    account_id: i64,
    purpose: &str,
    hash: &[u8],
    expires_at: DateTime<Utc>,
) -> ApiResult<()> {
    tx.execute(
        "INSERT INTO account_codes (account_id, purpose, code_hash, expires_at, attempts) VALUES (?1, ?2, ?3, ?4, 0)
         ON CONFLICT (account_id, purpose) DO UPDATE
         SET code_hash = excluded.code_hash, expires_at = excluded.expires_at, attempts = 0",
        params![account_id, purpose, hash, ms(expires_at)],
    )?;
    Ok(())
}

pub fn code(conn: &Connection, account_id: i64, purpose: &str) -> ApiResult<Option<StoredCode>> {
    Ok(conn
        .query_row(
            "SELECT code_hash, expires_at, attempts FROM account_codes WHERE account_id = ?1 AND purpose = ?2",
            params![account_id, purpose],
            |r| {
                Ok(StoredCode {
                    hash: r.get(0)?,
                    expires_at: r.get(1)?,
                    attempts: r.get(2)?,
                })
            },
        )
        .optional()?)
}

pub fn count_code_attempt(tx: &Connection, account_id: i64, purpose: &str) -> ApiResult<()> {
    tx.execute(
        "UPDATE account_codes SET attempts = attempts + 1 WHERE account_id = ?1 AND purpose = ?2",
        params![account_id, purpose],
    )?;
    Ok(())
}

/// Deletes the account's code of `purpose` if it is still `hash`: `true` for the one caller
/// that did (single use).
pub fn use_code(tx: &Connection, account_id: i64, purpose: &str, hash: &[u8]) -> ApiResult<bool> {
    Ok(tx.execute(
        "DELETE FROM account_codes WHERE account_id = ?1 AND purpose = ?2 AND code_hash = ?3",
        params![account_id, purpose, hash],
    )? == 1)
}

pub fn delete_code(tx: &Connection, account_id: i64, purpose: &str) -> ApiResult<()> {
    tx.execute(
        "DELETE FROM account_codes WHERE account_id = ?1 AND purpose = ?2",
        params![account_id, purpose],
    )?;
    Ok(())
}

/// A registration waiting for its code before it replaces the member's unverified account.
pub struct PendingRegistration {
    pub member_id: String,
    pub password_hash: String,
    pub code_hash: Vec<u8>,
    pub attempts: i64,
    pub expires_at: i64,
    pub locale: Locale,
}

/// Saves (or replaces) the registration waiting under `email`; its `attempts` start at 0.
pub fn save_pending_registration(
    tx: &Connection,
    email: &str,
    pending: &PendingRegistration,
    now: DateTime<Utc>,
) -> ApiResult<()> {
    let PendingRegistration {
        member_id,
        password_hash,
        code_hash,
        expires_at,
        locale,
        ..
    } = pending;
    tx.execute(
        "INSERT INTO pending_registrations (email, member_id, password_hash, code_hash, attempts, created_at, expires_at, locale)
         VALUES (?1, ?2, ?3, ?4, 0, ?5, ?6, ?7)
         ON CONFLICT (email) DO UPDATE
         SET member_id = excluded.member_id, password_hash = excluded.password_hash, code_hash = excluded.code_hash,
             attempts = 0, created_at = excluded.created_at, expires_at = excluded.expires_at, locale = excluded.locale",
        params![email, member_id, password_hash, code_hash, ms(now), expires_at, locale.as_str()],
    )?;
    Ok(())
}

pub fn pending_registration(conn: &Connection, email: &str) -> ApiResult<Option<PendingRegistration>> {
    Ok(conn
        .query_row(
            "SELECT member_id, password_hash, code_hash, attempts, expires_at, locale FROM pending_registrations WHERE email = ?1",
            [email],
            |r| {
                Ok(PendingRegistration {
                    member_id: r.get(0)?,
                    password_hash: r.get(1)?,
                    code_hash: r.get(2)?,
                    attempts: r.get(3)?,
                    expires_at: r.get(4)?,
                    locale: crate::store::locale_of(&r.get::<_, String>(5)?),
                })
            },
        )
        .optional()?)
}

pub fn count_pending_attempt(tx: &Connection, email: &str) -> ApiResult<()> {
    tx.execute(
        "UPDATE pending_registrations SET attempts = attempts + 1 WHERE email = ?1",
        [email],
    )?;
    Ok(())
}

pub fn delete_pending_of_member(tx: &Connection, member_id: &str) -> ApiResult<()> {
    tx.execute("DELETE FROM pending_registrations WHERE member_id = ?1", [member_id])?;
    Ok(())
}

/// A write that changes nothing, so every outcome of a code request costs the same commit.
pub fn rewrite_nothing(tx: &Connection) -> ApiResult<()> {
    // One of the two always exists once the server has started (see `app::load_secret`).
    tx.execute(
        "UPDATE settings SET value = value WHERE key IN (?1, ?2)",
        [super::SERVER_SECRET_KEY, super::SERVER_SECRET_FINGERPRINT_KEY],
    )?;
    Ok(())
}

/// The language of the member's mail from now on.
pub fn set_locale(tx: &Connection, account_id: i64, locale: Locale) -> ApiResult<()> {
    tx.execute(
        "UPDATE accounts SET locale = ?2 WHERE id = ?1",
        params![account_id, locale.as_str()],
    )?;
    Ok(())
}
