//! Billing office staff: their accounts, how they sign in to the console, and their sessions.
//!
//! - **Accounts** are made from the command line (`carebill-server staff add`), never with a
//!   password: `add` answers a one-time **setup code** (72 hours). With it the person chooses a
//!   password and enrolls an authenticator app (TOTP, RFC 6238: SHA-1, 6 digits, 30 s), and is
//!   then shown ten **recovery codes**, once. `reset-totp` clears the authenticator and the
//!   recovery codes, ends every session and answers a new setup code; `disable` ends every session
//!   and refuses sign-in from then on.
//! - **Sign-in** needs the password and a current code (one step either side of now, for clock
//!   skew; a code already used is refused, so one seen over a shoulder cannot be replayed) or an
//!   unused recovery code. Every failure is the same `staff_sign_in_failed`; attempts are
//!   throttled as members' are.
//! - **Sessions** are a random token in an HttpOnly, SameSite=Strict cookie (stored hashed),
//!   ending after 15 minutes without a request, at sign-out, or when the account is disabled or
//!   reset. Each state-changing request carries the session's CSRF token
//!   ([`Secret::csrf_token`]).
//!
//! The TOTP key is stored sealed with the server secret ([`Secret::seal`]); passwords as argon2id
//! hashes; setup and recovery codes as keyed hashes.

pub mod desk;

use chrono::{DateTime, Duration, Utc};
use rand::Rng;

use crate::error::{ApiError, ApiResult};
use crate::secret::{Secret, constant_time_eq};
use crate::sql::{Connection, OptionalExtension, params};
use crate::store::{from_ms, ms};
use carebill_api::ErrorCode;

/// A console session ends after this long without a request.
pub const SESSION_IDLE: Duration = Duration::minutes(15);
/// A setup code works this long.
pub const SETUP_VALID: Duration = Duration::hours(72);
/// How many recovery codes enrollment shows.
pub const RECOVERY_CODES: usize = 10;
/// TOTP: the RFC 6238 defaults every authenticator app reads.
const TOTP_STEP: u64 = 30;
const TOTP_DIGITS: usize = 6;
/// Codes one step before or after now are accepted (clocks drift).
const TOTP_SKEW: i64 = 1;
const SEAL_TOTP: &str = "staff-totp";
const SETUP: &str = "staff-setup";
const RECOVERY: &str = "staff-recovery";

/// What a staff member may do: agents work conversations; supervisors also see every queue,
/// response times and the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Agent,
    Supervisor,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Agent => "agent",
            Role::Supervisor => "supervisor",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "agent" => Some(Role::Agent),
            "supervisor" => Some(Role::Supervisor),
            _ => None,
        }
    }
}

/// A staff account as the command line and the console show it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StaffAccount {
    pub id: String,
    pub email: String,
    pub name: String,
    pub role: Role,
    /// A password and an authenticator are set: the person can sign in.
    pub enrolled: bool,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
}

/// Who a console request is from.
#[derive(Debug, Clone)]
pub struct Staff {
    pub id: String,
    pub email: String,
    pub name: String,
    pub role: Role,
    /// The session's token hash (access granted with a reason lasts as long as it).
    pub session: Vec<u8>,
}

impl Staff {
    /// How the audit log names them.
    pub fn audit_name(&self) -> String {
        format!("{} <{}>", self.name, self.email)
    }
}

fn account_from_row(r: &crate::sql::Row<'_>) -> crate::sql::Result<ApiResult<StaffAccount>> {
    let (id, email, name, role): (String, String, String, String) = (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?);
    let (enrolled, disabled, created): (i64, Option<i64>, i64) = (r.get(4)?, r.get(5)?, r.get(6)?);
    Ok(Role::parse(&role)
        .ok_or_else(|| ApiError::internal(format!("staff {id}: role {role}")))
        .map(|role| StaffAccount {
            id,
            email,
            name,
            role,
            enrolled: enrolled != 0,
            disabled: disabled.is_some(),
            created_at: from_ms(created),
        }))
}

const ACCOUNT_COLUMNS: &str = "id, email, name, role,
    CASE WHEN password_hash IS NOT NULL AND totp_secret IS NOT NULL THEN 1 ELSE 0 END, disabled_at, created_at";

/// An email as accounts are keyed: trimmed, lower case, and plausibly an address.
pub fn normalize_email(email: &str) -> ApiResult<String> {
    let email = email.trim().to_lowercase();
    let ok = email.len() <= 254
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.')
        })
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if !ok {
        return Err(ApiError::validation(
            "/email",
            "Enter an email address like name@example.org.",
        ));
    }
    Ok(email)
}

fn check_name(name: &str) -> ApiResult<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 60 || name.chars().any(char::is_control) {
        return Err(ApiError::validation(
            "/name",
            "The display name is 1 to 60 characters (members see it on replies).",
        ));
    }
    Ok(name.to_string())
}

/// A setup code: 16 letters and digits people can read aloud, in groups of four.
fn setup_code() -> String {
    const A: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";
    let mut rng = rand::thread_rng();
    let raw: Vec<char> = (0..16).map(|_| A[rng.gen_range(0..A.len())] as char).collect();
    raw.chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

/// A code as typed: case, spaces and dashes do not matter.
fn normalize_code(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

fn set_setup_code(tx: &Connection, secret: &Secret, id: &str, now: DateTime<Utc>) -> ApiResult<String> {
    let code = setup_code();
    tx.execute(
        "UPDATE staff_accounts SET setup_hash = ?2, setup_expires_at = ?3, setup_password_hash = NULL,
            setup_totp_secret = NULL WHERE id = ?1",
        params![
            id,
            secret.code_hash(SETUP, &normalize_code(&code)),
            ms(now + SETUP_VALID)
        ],
    )?;
    Ok(code)
}

/// Ends every console session of a staff member.
fn revoke_sessions(tx: &Connection, id: &str, now: DateTime<Utc>) -> ApiResult<usize> {
    Ok(tx.execute(
        "UPDATE staff_sessions SET revoked_at = ?2 WHERE staff_id = ?1 AND revoked_at IS NULL",
        params![id, ms(now)],
    )?)
}

fn audit(
    tx: &Connection,
    secret: &Secret,
    who: &str,
    action: &str,
    detail: &str,
    origin: &str,
    now: DateTime<Utc>,
) -> ApiResult<()> {
    crate::staff_audit::append(
        tx,
        secret,
        &crate::staff_audit::Entry {
            staff: who,
            member_id: None,
            action,
            detail,
            origin,
            reason: None,
        },
        now,
    )
    .map(|_| ())
}

/// A new staff account and its one-time setup code.
pub fn add(
    tx: &Connection,
    secret: &Secret,
    email: &str,
    name: &str,
    role: Role,
    origin: &str,
    now: DateTime<Utc>,
) -> ApiResult<(StaffAccount, String)> {
    let email = normalize_email(email)?;
    let name = check_name(name)?;
    let taken: Option<String> = tx
        .query_row("SELECT id FROM staff_accounts WHERE email = ?1", [&email], |r| r.get(0))
        .optional()?;
    if taken.is_some() {
        return Err(ApiError::with_message(
            ErrorCode::AccountExists,
            "A staff account with this email exists. Use staff reset-totp to let its owner set up again.",
        ));
    }
    let id = crate::ids::random_id(&mut rand::thread_rng(), "stf");
    tx.execute(
        "INSERT INTO staff_accounts (id, email, name, role, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![id, email, name, role.as_str(), ms(now)],
    )?;
    let code = set_setup_code(tx, secret, &id, now)?;
    audit(
        tx,
        secret,
        &format!("{name} <{email}>"),
        "staff_added",
        role.as_str(),
        origin,
        now,
    )?;
    let account = get_by_email(tx, &email)?.ok_or_else(|| ApiError::internal("staff account vanished"))?;
    Ok((account, code))
}

pub fn get_by_email(conn: &Connection, email: &str) -> ApiResult<Option<StaffAccount>> {
    let email = email.trim().to_lowercase();
    conn.query_row(
        &format!("SELECT {ACCOUNT_COLUMNS} FROM staff_accounts WHERE email = ?1"),
        [&email],
        account_from_row,
    )
    .optional()?
    .transpose()
}

pub fn list(conn: &Connection) -> ApiResult<Vec<StaffAccount>> {
    let mut stmt = conn.prepare_cached(&format!("SELECT {ACCOUNT_COLUMNS} FROM staff_accounts ORDER BY email"))?;
    let rows = stmt.query_map([], account_from_row)?.collect::<Result<Vec<_>, _>>()?;
    rows.into_iter().collect()
}

fn require(conn: &Connection, email: &str) -> ApiResult<StaffAccount> {
    get_by_email(conn, email)?
        .ok_or_else(|| ApiError::with_message(ErrorCode::NotFound, "No staff account has this email."))
}

/// Disables an account: it cannot sign in, its sessions end now, its setup code stops working.
pub fn disable(
    tx: &Connection,
    secret: &Secret,
    email: &str,
    origin: &str,
    now: DateTime<Utc>,
) -> ApiResult<StaffAccount> {
    let account = require(tx, email)?;
    tx.execute(
        "UPDATE staff_accounts SET disabled_at = COALESCE(disabled_at, ?2), setup_hash = NULL,
            setup_expires_at = NULL, setup_password_hash = NULL, setup_totp_secret = NULL WHERE id = ?1",
        params![account.id, ms(now)],
    )?;
    revoke_sessions(tx, &account.id, now)?;
    audit(
        tx,
        secret,
        &format!("{} <{}>", account.name, account.email),
        "staff_disabled",
        "",
        origin,
        now,
    )?;
    require(tx, email)
}

/// Clears the authenticator and the recovery codes, ends every session, and answers a new setup
/// code with which the owner chooses a password and enrolls again (a lost phone).
pub fn reset_totp(
    tx: &Connection,
    secret: &Secret,
    email: &str,
    origin: &str,
    now: DateTime<Utc>,
) -> ApiResult<String> {
    let account = require(tx, email)?;
    if account.disabled {
        return Err(ApiError::with_message(
            ErrorCode::Forbidden,
            "This staff account is disabled; add a new one instead.",
        ));
    }
    tx.execute(
        "UPDATE staff_accounts SET totp_secret = NULL, totp_last_step = 0 WHERE id = ?1",
        [&account.id],
    )?;
    tx.execute("DELETE FROM staff_recovery_codes WHERE staff_id = ?1", [&account.id])?;
    revoke_sessions(tx, &account.id, now)?;
    let code = set_setup_code(tx, secret, &account.id, now)?;
    audit(
        tx,
        secret,
        &format!("{} <{}>", account.name, account.email),
        "staff_totp_reset",
        "",
        origin,
        now,
    )?;
    Ok(code)
}

/// What setup holds between its steps: the chosen password's hash and the sealed new key.
type SetupHeld = (Option<String>, Option<Vec<u8>>);

/// The account a setup code is for, while it works.
fn by_setup_code(
    tx: &Connection,
    secret: &Secret,
    code: &str,
    now: DateTime<Utc>,
) -> ApiResult<(StaffAccount, Option<String>, Option<Vec<u8>>)> {
    let code = normalize_code(code);
    if code.len() != 16 {
        return Err(ApiError::new(ErrorCode::SetupCodeInvalid).at("/code"));
    }
    let row: Option<(String, i64, SetupHeld)> = tx
        .query_row(
            "SELECT email, setup_expires_at, setup_password_hash, setup_totp_secret FROM staff_accounts
             WHERE setup_hash = ?1 AND disabled_at IS NULL",
            params![secret.code_hash(SETUP, &code)],
            |r| Ok((r.get(0)?, r.get(1)?, (r.get(2)?, r.get(3)?))),
        )
        .optional()?;
    match row {
        Some((email, expires, (password, totp))) if expires > ms(now) => Ok((require(tx, &email)?, password, totp)),
        _ => Err(ApiError::new(ErrorCode::SetupCodeInvalid).at("/code")),
    }
}

/// Who a setup code is for (the setup page greets them), while it works.
pub fn setup_account(tx: &Connection, secret: &Secret, code: &str, now: DateTime<Utc>) -> ApiResult<StaffAccount> {
    by_setup_code(tx, secret, code, now).map(|(a, ..)| a)
}

/// What an authenticator app needs: the key (base32, to type) and the `otpauth://` URI (a QR
/// code's content).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Enrollment {
    pub secret: String,
    pub uri: String,
}

fn totp_of(key: Vec<u8>) -> ApiResult<totp_rs::TOTP> {
    totp_rs::TOTP::new(totp_rs::Algorithm::SHA1, TOTP_DIGITS, 0, TOTP_STEP, key)
        .map_err(|e| ApiError::internal(format!("totp: {e}")))
}

/// The otpauth URI for an account and key.
fn otpauth_uri(issuer: &str, email: &str, base32: &str) -> String {
    let enc = |s: &str| {
        form_urlencoded::byte_serialize(s.as_bytes())
            .collect::<String>()
            .replace('+', "%20")
    };
    format!(
        "otpauth://totp/{}:{}?secret={base32}&issuer={}&algorithm=SHA1&digits={TOTP_DIGITS}&period={TOTP_STEP}",
        enc(issuer),
        enc(email),
        enc(issuer)
    )
}

/// Setup, first step: the new password (already checked and hashed) is held with a new TOTP key
/// until the person proves their app has the key ([`finish_setup`]). Asking again makes a new key.
pub fn begin_setup(
    tx: &Connection,
    secret: &Secret,
    code: &str,
    password_hash: &str,
    issuer: &str,
    now: DateTime<Utc>,
) -> ApiResult<Enrollment> {
    let (account, ..) = by_setup_code(tx, secret, code, now)?;
    let key: [u8; 20] = rand::random();
    let totp = totp_of(key.to_vec())?;
    tx.execute(
        "UPDATE staff_accounts SET setup_password_hash = ?2, setup_totp_secret = ?3 WHERE id = ?1",
        params![account.id, password_hash, secret.seal(SEAL_TOTP, &key)],
    )?;
    let base32 = totp.get_secret_base32();
    Ok(Enrollment {
        uri: otpauth_uri(issuer, &account.email, &base32),
        secret: base32,
    })
}

/// The time step a code matches, within the skew around `now`, after `last_step`.
fn matching_step(totp: &totp_rs::TOTP, code: &str, now: DateTime<Utc>, last_step: i64) -> Option<i64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != TOTP_DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let current = now.timestamp().max(0) / TOTP_STEP as i64;
    let mut found = None;
    // Every candidate is compared, whichever matches, so the time taken says nothing.
    for step in (current - TOTP_SKEW)..=(current + TOTP_SKEW) {
        let expected = totp.generate((step.max(0) as u64) * TOTP_STEP);
        if constant_time_eq(expected.as_bytes(), code.as_bytes()) && step > last_step && found.is_none() {
            found = Some(step);
        }
    }
    found
}

fn recovery_code() -> String {
    const A: &[u8] = b"23456789abcdefghjkmnpqrstuvwxyz";
    let mut rng = rand::thread_rng();
    let raw: String = (0..10).map(|_| A[rng.gen_range(0..A.len())] as char).collect();
    format!("{}-{}", &raw[..5], &raw[5..])
}

/// Setup, second step: a current code from the app proves it holds the key. The password and key
/// take effect, the setup code stops working, every earlier session ends, and the recovery codes
/// are answered (shown once; only their hashes are kept).
pub fn finish_setup(
    tx: &Connection,
    secret: &Secret,
    code: &str,
    totp_code: &str,
    origin: &str,
    now: DateTime<Utc>,
) -> ApiResult<Vec<String>> {
    let (account, password, sealed) = by_setup_code(tx, secret, code, now)?;
    let (Some(_), Some(sealed)) = (password, sealed) else {
        return Err(ApiError::validation("/totp", "Choose your password first."));
    };
    let key = secret
        .open(SEAL_TOTP, &sealed)
        .ok_or_else(|| ApiError::internal("staff setup key does not open"))?;
    let Some(step) = matching_step(&totp_of(key)?, totp_code, now, 0) else {
        return Err(ApiError::validation(
            "/totp",
            "That code does not match. Enter the 6-digit code your authenticator app shows now.",
        ));
    };
    tx.execute(
        "UPDATE staff_accounts SET password_hash = setup_password_hash, totp_secret = setup_totp_secret,
            totp_last_step = ?2, setup_hash = NULL, setup_expires_at = NULL, setup_password_hash = NULL,
            setup_totp_secret = NULL WHERE id = ?1",
        params![account.id, step],
    )?;
    revoke_sessions(tx, &account.id, now)?;
    tx.execute("DELETE FROM staff_recovery_codes WHERE staff_id = ?1", [&account.id])?;
    let codes: Vec<String> = (0..RECOVERY_CODES).map(|_| recovery_code()).collect();
    for c in &codes {
        tx.execute(
            "INSERT INTO staff_recovery_codes (staff_id, code_hash) VALUES (?1, ?2)",
            params![account.id, secret.code_hash(RECOVERY, &normalize_code(c))],
        )?;
    }
    audit(
        tx,
        secret,
        &format!("{} <{}>", account.name, account.email),
        "staff_enrolled",
        "",
        origin,
        now,
    )?;
    Ok(codes)
}

/// What sign-in needs to check the password: the account's id and hash, when it can sign in.
pub fn credentials(conn: &Connection, email: &str) -> ApiResult<Option<(String, String)>> {
    let email = email.trim().to_lowercase();
    Ok(conn
        .query_row(
            "SELECT id, password_hash FROM staff_accounts
             WHERE email = ?1 AND disabled_at IS NULL AND password_hash IS NOT NULL AND totp_secret IS NOT NULL",
            [&email],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?)
}

/// Sign-in, after the password matched: checks the second factor (a current, unused TOTP code, or
/// an unused recovery code, which is then used up) and starts a session. `None` when the factor
/// is wrong or the account stopped being able to sign in meanwhile.
pub fn sign_in(
    tx: &Connection,
    secret: &Secret,
    id: &str,
    second: &str,
    origin: &str,
    now: DateTime<Utc>,
) -> ApiResult<Option<(Staff, String)>> {
    let row: Option<(Vec<u8>, i64)> = tx
        .query_row(
            "SELECT totp_secret, totp_last_step FROM staff_accounts
             WHERE id = ?1 AND disabled_at IS NULL AND totp_secret IS NOT NULL",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let Some((sealed, last_step)) = row else {
        return Ok(None);
    };
    let key = secret
        .open(SEAL_TOTP, &sealed)
        .ok_or_else(|| ApiError::internal("staff key does not open"))?;
    let second = second.trim();
    let how = if let Some(step) = matching_step(&totp_of(key)?, second, now, last_step) {
        // Conditional, so two sign-ins racing with the same code cannot both pass.
        let used = tx.execute(
            "UPDATE staff_accounts SET totp_last_step = ?2 WHERE id = ?1 AND totp_last_step < ?2",
            params![id, step],
        )?;
        if used == 0 {
            return Ok(None);
        }
        "authenticator"
    } else {
        let normalized = normalize_code(second);
        if normalized.len() != 10 {
            return Ok(None);
        }
        let used = tx.execute(
            "UPDATE staff_recovery_codes SET used_at = ?3 WHERE staff_id = ?1 AND code_hash = ?2 AND used_at IS NULL",
            params![id, secret.code_hash(RECOVERY, &normalized), ms(now)],
        )?;
        if used == 0 {
            return Ok(None);
        }
        "recovery code"
    };
    let token = crate::ids::random_token("cbs_");
    let hash = crate::ids::hash_token(&token);
    tx.execute(
        "INSERT INTO staff_sessions (token_hash, staff_id, origin, created_at, last_seen_at) VALUES (?1, ?2, ?3, ?4, ?4)",
        params![hash, id, origin, ms(now)],
    )?;
    let staff = session_staff(tx, &hash)?.ok_or_else(|| ApiError::internal("staff session vanished"))?;
    audit(tx, secret, &staff.audit_name(), "staff_signed_in", how, origin, now)?;
    Ok(Some((staff, token)))
}

fn session_staff(conn: &Connection, hash: &[u8]) -> ApiResult<Option<Staff>> {
    let row: Option<(String, String, String, String)> = conn
        .query_row(
            "SELECT a.id, a.email, a.name, a.role FROM staff_sessions s JOIN staff_accounts a ON a.id = s.staff_id
             WHERE s.token_hash = ?1",
            params![hash],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()?;
    let Some((id, email, name, role)) = row else {
        return Ok(None);
    };
    Ok(Some(Staff {
        role: Role::parse(&role).ok_or_else(|| ApiError::internal(format!("staff {id}: role {role}")))?,
        id,
        email,
        name,
        session: hash.to_vec(),
    }))
}

/// The staff member a session token is for, when the session is live: not signed out, not idle
/// for [`SESSION_IDLE`], the account not disabled. Each request counts as activity. An idle
/// session answers `session_expired`; a signed-out, disabled or reset one `session_revoked`.
pub fn authenticate(tx: &Connection, token: &str, now: DateTime<Utc>) -> ApiResult<Staff> {
    let hash = crate::ids::hash_token(token);
    let row: Option<(i64, Option<i64>, Option<i64>)> = tx
        .query_row(
            "SELECT s.last_seen_at, s.revoked_at, a.disabled_at FROM staff_sessions s
             JOIN staff_accounts a ON a.id = s.staff_id WHERE s.token_hash = ?1",
            params![hash],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    let Some((last_seen, revoked, disabled)) = row else {
        return Err(ApiError::new(ErrorCode::Unauthenticated));
    };
    if revoked.is_some() || disabled.is_some() {
        return Err(ApiError::new(ErrorCode::SessionRevoked));
    }
    // Idle too long: over for good (activity is counted only before this point, so a later
    // request cannot revive it).
    if from_ms(last_seen) + SESSION_IDLE <= now {
        return Err(ApiError::new(ErrorCode::SessionExpired));
    }
    tx.execute(
        "UPDATE staff_sessions SET last_seen_at = ?2 WHERE token_hash = ?1 AND last_seen_at < ?2",
        params![hash, ms(now)],
    )?;
    session_staff(tx, &hash)?.ok_or_else(|| ApiError::new(ErrorCode::Unauthenticated))
}

/// Signs a session out.
pub fn sign_out(tx: &Connection, secret: &Secret, staff: &Staff, origin: &str, now: DateTime<Utc>) -> ApiResult<()> {
    tx.execute(
        "UPDATE staff_sessions SET revoked_at = ?2 WHERE token_hash = ?1 AND revoked_at IS NULL",
        params![staff.session, ms(now)],
    )?;
    audit(tx, secret, &staff.audit_name(), "staff_signed_out", "", origin, now)
}

/// Forgets sessions ended more than a day ago, and what was opened with a reason in them.
pub fn purge_sessions(tx: &Connection, now: DateTime<Utc>) -> ApiResult<()> {
    let day_ago = ms(now - Duration::days(1));
    let idle = ms(now - SESSION_IDLE - Duration::days(1));
    tx.execute(
        "DELETE FROM staff_member_access WHERE token_hash IN (SELECT token_hash FROM staff_sessions
           WHERE (revoked_at IS NOT NULL AND revoked_at < ?1) OR last_seen_at < ?2)",
        params![day_ago, idle],
    )?;
    tx.execute(
        "DELETE FROM staff_sessions WHERE (revoked_at IS NOT NULL AND revoked_at < ?1) OR last_seen_at < ?2",
        params![day_ago, idle],
    )?;
    Ok(())
}

/// A password's argon2id hash, for [`seed_enrolled`] (blocking work: hash before the
/// transaction, never inside it, where it would hold the writer).
pub fn hash_password(password: &str) -> ApiResult<String> {
    crate::auth::password::hash_blocking(password)
}

/// An account enrolled at once, with a password (its [`hash_password`]) and an authenticator key
/// chosen here: the demo's staff (their key is in the demo banner) and tests. Nothing when the
/// email exists.
#[allow(clippy::too_many_arguments)]
pub fn seed_enrolled(
    tx: &Connection,
    secret: &Secret,
    email: &str,
    name: &str,
    role: Role,
    password_hash: &str,
    totp_key: &[u8],
    now: DateTime<Utc>,
) -> ApiResult<StaffAccount> {
    let email = normalize_email(email)?;
    if let Some(known) = get_by_email(tx, &email)? {
        return Ok(known);
    }
    let id = crate::ids::random_id(&mut rand::thread_rng(), "stf");
    tx.execute(
        "INSERT INTO staff_accounts (id, email, name, role, password_hash, totp_secret, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            id,
            email,
            check_name(name)?,
            role.as_str(),
            password_hash,
            secret.seal(SEAL_TOTP, totp_key),
            ms(now)
        ],
    )?;
    require(tx, &email)
}

/// A key as authenticator apps take it: base32 (RFC 4648) without padding.
pub fn key_base32(key: &[u8]) -> String {
    match totp_rs::Secret::Raw(key.to_vec()).to_encoded() {
        totp_rs::Secret::Encoded(s) => s.trim_end_matches('=').to_string(),
        totp_rs::Secret::Raw(_) => String::new(),
    }
}

/// The current TOTP code for a base32 key (tests and the end-to-end harness).
pub fn current_code(secret_base32: &str, now: DateTime<Utc>) -> Option<String> {
    let key = totp_rs::Secret::Encoded(secret_base32.to_string()).to_bytes().ok()?;
    Some(totp_of(key).ok()?.generate(now.timestamp().max(0) as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6238_vectors_match() {
        // RFC 6238 appendix B, SHA-1, truncated to 6 digits.
        let totp = totp_of(b"12345678901234567890".to_vec()).unwrap();
        for (t, code) in [(59u64, "287082"), (1_111_111_109, "081804"), (1_234_567_890, "005924")] {
            assert_eq!(totp.generate(t), code);
        }
    }

    #[test]
    fn codes_match_within_one_step_and_never_twice() {
        let totp = totp_of(b"12345678901234567890".to_vec()).unwrap();
        let now = DateTime::from_timestamp(1_111_111_109, 0).unwrap();
        let step = 1_111_111_109 / 30;
        assert_eq!(matching_step(&totp, "081804", now, 0), Some(step));
        assert_eq!(matching_step(&totp, "081 804", now, 0), Some(step));
        // Replayed: its step was used.
        assert_eq!(matching_step(&totp, "081804", now, step), None);
        // One step early or late is accepted; two is not.
        let early = totp.generate((step as u64 - 1) * 30);
        let late = totp.generate((step as u64 + 1) * 30);
        let too_late = totp.generate((step as u64 + 2) * 30);
        assert_eq!(matching_step(&totp, &early, now, 0), Some(step - 1));
        assert_eq!(matching_step(&totp, &late, now, 0), Some(step + 1));
        assert_eq!(matching_step(&totp, &too_late, now, 0), None);
        assert_eq!(matching_step(&totp, "12345", now, 0), None);
        assert_eq!(matching_step(&totp, "abcdef", now, 0), None);
    }

    #[test]
    fn sealed_keys_open_only_unaltered_and_for_their_purpose() {
        let secret = Secret([7; 32]);
        let sealed = secret.seal(SEAL_TOTP, b"twenty bytes of key!");
        assert_eq!(secret.open(SEAL_TOTP, &sealed).unwrap(), b"twenty bytes of key!");
        assert!(Secret([8; 32]).open(SEAL_TOTP, &sealed).is_none());
        assert!(secret.open("other", &sealed).is_none());
        let mut altered = sealed.clone();
        altered[20] ^= 1;
        assert!(secret.open(SEAL_TOTP, &altered).is_none());
        // Two seals of one key differ (a fresh nonce each).
        assert_ne!(secret.seal(SEAL_TOTP, b"twenty bytes of key!"), sealed);
    }

    #[test]
    fn otpauth_uris_escape_names() {
        let uri = otpauth_uri("Carebill billing office", "dana@plan.example", "ABC");
        assert_eq!(
            uri,
            "otpauth://totp/Carebill%20billing%20office:dana%40plan.example?secret=ABC&issuer=Carebill%20billing%20office&algorithm=SHA1&digits=6&period=30"
        );
    }
}
