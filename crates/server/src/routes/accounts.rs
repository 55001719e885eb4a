//! Registration, email confirmation, password resets, the member's own account.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use carebill_api::ErrorCode;
use carebill_api::types::*;
use carebill_billing::password::{self, PasswordContext, WeakReason};
use carebill_billing::validate;
use chrono::{Duration, NaiveDate};
use rusqlite::{Connection, OptionalExtension, params};

use crate::auth::throttle::address_bucket;
use crate::auth::tokens::{self, format_reset_code, normalize_reset_code};
use crate::auth::{self, Authed, load_member};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ClientAddr, JsonBody};
use crate::mail::{self, templates, templates::Mail};
use crate::state::AppState;
use crate::store::{from_ms, ms};

pub const VERIFY_CODE_TTL: Duration = Duration::minutes(15);
pub const RESET_CODE_TTL: Duration = Duration::minutes(30);
pub const CODE_ATTEMPTS: i64 = 5;
/// At most one code mail per account and purpose in this period.
const CODE_MAIL_INTERVAL: Duration = Duration::seconds(60);

fn weak(reason: WeakReason, field: &str) -> ApiError {
    ApiError::with_message(ErrorCode::WeakPassword, reason.message())
        .at(field)
        .reason(reason.as_str())
}

fn limited(retry_after: u64) -> ApiError {
    ApiError::new(ErrorCode::RateLimited).retry_after(retry_after)
}

/// Per-address limits (registration, reset requests, sign-in), unless turned off for load tests.
pub fn address_limit(state: &AppState, what: &str, client: &str, max: u32, window: Duration) -> ApiResult<()> {
    if state.config.address_limits {
        state
            .throttle
            .rate_limit(&format!("{what}\u{0}{}", address_bucket(client)), max, window)
            .map_err(limited)?;
    }
    Ok(())
}

struct RosterEntry {
    first_name: String,
    last_name: String,
    date_of_birth: String,
}

/// Replaces the account's code for `purpose`, stored hashed.
fn store_code(
    tx: &Connection,
    state: &AppState,
    account_id: i64,
    purpose: &str,
    code: &str,
    ttl: Duration,
) -> ApiResult<()> {
    tx.execute(
        "INSERT OR REPLACE INTO account_codes (account_id, purpose, code_hash, expires_at, attempts) VALUES (?1, ?2, ?3, ?4, 0)",
        params![account_id, purpose, state.secret.code_hash(purpose, code), ms(state.now() + ttl)],
    )?;
    Ok(())
}

pub async fn create_account(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    JsonBody(req): JsonBody<CreateAccountRequest>,
) -> ApiResult<(StatusCode, Json<AccountCreated>)> {
    let today = state.business.today();
    let member_id = validate::member_id(&req.member_id).map_err(|e| ApiError::invalid("/member_id", e))?;
    let first_name =
        validate::person_name(&req.first_name, "first name").map_err(|e| ApiError::invalid("/first_name", e))?;
    let last_name =
        validate::person_name(&req.last_name, "last name").map_err(|e| ApiError::invalid("/last_name", e))?;
    let dob = validate::date_of_birth(&req.date_of_birth, today).map_err(|e| ApiError::invalid("/date_of_birth", e))?;
    let email = validate::email(&req.email).map_err(|e| ApiError::invalid("/email", e))?;
    password::check(
        &req.password,
        PasswordContext {
            email: Some(&email),
            member_id: Some(&member_id),
        },
    )
    .map_err(|r| weak(r, "/password"))?;
    address_limit(&state, "register", &client, 20, Duration::minutes(10))?;

    let (id, e) = (member_id.clone(), email.clone());
    let (roster, member_account, email_owner) = state
        .db
        .read(move |conn| {
            let roster = conn
                .query_row(
                    "SELECT first_name, last_name, date_of_birth FROM roster WHERE member_id = ?1",
                    [&id],
                    |r| {
                        Ok(RosterEntry {
                            first_name: r.get(0)?,
                            last_name: r.get(1)?,
                            date_of_birth: r.get(2)?,
                        })
                    },
                )
                .optional()?;
            let member_account = conn
                .query_row(
                    "SELECT id, verified_at IS NOT NULL, created_at, email FROM accounts WHERE member_id = ?1",
                    [&id],
                    |r| {
                        Ok(MemberAccount {
                            id: r.get(0)?,
                            verified: r.get(1)?,
                            created_at: r.get(2)?,
                            email: r.get(3)?,
                        })
                    },
                )
                .optional()?;
            let email_owner: Option<String> = conn
                .query_row("SELECT member_id FROM accounts WHERE email = ?1", [&e], |r| r.get(0))
                .optional()?;
            Ok((roster, member_account, email_owner))
        })
        .await?;
    let matches = roster.as_ref().is_some_and(|r| {
        validate::names_match(&r.first_name, &first_name)
            && validate::names_match(&r.last_name, &last_name)
            && NaiveDate::parse_from_str(&r.date_of_birth, "%Y-%m-%d").ok() == Some(dob)
    });
    if !matches {
        state.audit(None, "registration_identity_mismatch", Some(&client), None);
        return Err(ApiError::new(ErrorCode::IdentityNotVerified));
    }
    if member_account.as_ref().is_some_and(|a| a.verified) {
        return Err(ApiError::new(ErrorCode::AccountExists));
    }
    let created = Json(AccountCreated {
        member_id: member_id.clone(),
        email: email.clone(),
        status: "pending_verification".into(),
    });
    let now = state.now();
    let roster_first = roster.map(|r| r.first_name).unwrap_or(first_name);
    // The email already belongs to another account: the answer is the same as for a new
    // registration (nothing tells the caller whose address it is); its owner is told by mail.
    if email_owner.as_deref().is_some_and(|owner| owner != member_id) {
        let (st, e) = (state.clone(), email.clone());
        state
            .db
            .transaction(move |tx| {
                let notice = templates::address_in_use();
                mail::enqueue(tx, st.config.demo, &e, &notice.subject, &notice.body, now)
            })
            .await?;
        state.mail_queued();
        state.audit(None, "registration_email_in_use", Some(&client), None);
        return Ok((StatusCode::CREATED, created));
    }
    let hash = state.hasher.hash(req.password).await?;
    let code = tokens::six_digit_code();
    let st = state.clone();
    let (id, e) = (member_id.clone(), email.clone());
    let stale = member_account
        .as_ref()
        .is_some_and(|a| from_ms(a.created_at) + UNVERIFIED_ACCOUNT_TTL <= now);
    // A never-verified account of this member, younger than 72 hours, under another address:
    // this registration waits for its own code and then replaces it (registration squatting).
    let replacing = member_account.filter(|a| !stale && a.email != email);
    let account_id = state
        .db
        .transaction(move |tx| {
            if let Some(old) = &replacing {
                tx.execute(
                    "INSERT OR REPLACE INTO pending_registrations (email, member_id, password_hash, code_hash, attempts, created_at, expires_at)
                     VALUES (?1, ?2, ?3, ?4, 0, ?5, ?6)",
                    params![e, id, hash, st.secret.code_hash("verify", &code), ms(now), ms(now + VERIFY_CODE_TTL)],
                )?;
                let Mail { subject, body } = templates::confirmation_code(&roster_first, &code);
                mail::enqueue(tx, st.config.demo, &e, &subject, &body, now)?;
                return Ok(old.id);
            }
            // Expired unverified accounts go (also done hourly); the member's own unverified
            // account under the same address is registered again with the new password.
            tx.execute(
                "DELETE FROM accounts WHERE member_id = ?1 AND verified_at IS NULL AND (created_at <= ?2 OR email = ?3)",
                params![id, ms(now - UNVERIFIED_ACCOUNT_TTL), e],
            )?;
            let inserted = tx.execute(
                "INSERT INTO accounts (member_id, email, password_hash, created_at, password_changed_at) VALUES (?1, ?2, ?3, ?4, ?4)",
                params![id, e, hash, ms(now)],
            );
            match inserted {
                Err(rusqlite::Error::SqliteFailure(f, _)) if f.code == rusqlite::ErrorCode::ConstraintViolation => {
                    return Err(ApiError::new(ErrorCode::AccountExists));
                }
                other => other?,
            };
            let account_id = tx.last_insert_rowid();
            store_code(tx, &st, account_id, "verify", &code, VERIFY_CODE_TTL)?;
            let Mail { subject, body } = templates::confirmation_code(&roster_first, &code);
            mail::enqueue(tx, st.config.demo, &e, &subject, &body, now)?;
            Ok(account_id)
        })
        .await?;
    state.mail_queued();
    state.audit(Some(account_id), "account_created", Some(&client), None);
    Ok((StatusCode::CREATED, created))
}

/// A member's account as registration sees it.
struct MemberAccount {
    id: i64,
    verified: bool,
    created_at: i64,
    email: String,
}

/// Accounts whose email was never confirmed are removed after this long.
pub const UNVERIFIED_ACCOUNT_TTL: Duration = Duration::hours(72);

/// Removes never-verified accounts older than [`UNVERIFIED_ACCOUNT_TTL`] and expired pending
/// registrations (hourly maintenance).
pub fn purge_unverified(tx: &Connection, now: chrono::DateTime<chrono::Utc>) -> ApiResult<usize> {
    tx.execute("DELETE FROM pending_registrations WHERE expires_at < ?1", [ms(now)])?;
    Ok(tx.execute(
        "DELETE FROM accounts WHERE verified_at IS NULL AND created_at <= ?1",
        [ms(now - UNVERIFIED_ACCOUNT_TTL)],
    )?)
}

enum CodeCheck {
    Ok,
    Wrong,
    Expired,
}

/// Compares a code with the stored one, counting the attempt. Runs in the caller's transaction.
fn check_code(tx: &Connection, state: &AppState, account_id: i64, purpose: &str, code: &str) -> ApiResult<CodeCheck> {
    let row = tx
        .query_row(
            "SELECT code_hash, expires_at, attempts FROM account_codes WHERE account_id = ?1 AND purpose = ?2",
            params![account_id, purpose],
            |r| Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?)),
        )
        .optional()?;
    let Some((hash, expires_at, attempts)) = row else {
        return Ok(CodeCheck::Wrong);
    };
    if from_ms(expires_at) <= state.now() || attempts >= CODE_ATTEMPTS {
        return Ok(CodeCheck::Expired);
    }
    if hash == state.secret.code_hash(purpose, code) {
        return Ok(CodeCheck::Ok);
    }
    tx.execute(
        "UPDATE account_codes SET attempts = attempts + 1 WHERE account_id = ?1 AND purpose = ?2",
        params![account_id, purpose],
    )?;
    Ok(CodeCheck::Wrong)
}

fn account_by_email(conn: &Connection, email: &str) -> ApiResult<Option<(i64, bool, String)>> {
    Ok(conn
        .query_row(
            "SELECT a.id, a.verified_at IS NOT NULL, r.first_name FROM accounts a JOIN roster r ON r.member_id = a.member_id WHERE a.email = ?1",
            [email],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?)
}

pub async fn verify_email(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    JsonBody(req): JsonBody<VerifyEmailRequest>,
) -> ApiResult<StatusCode> {
    let email = validate::email(&req.email).map_err(|e| ApiError::invalid("/email", e))?;
    let code = req.code.trim().to_string();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::validation("/code", "Enter the 6-digit code from the email."));
    }
    address_limit(&state, "verify", &client, 30, Duration::minutes(10))?;
    let st = state.clone();
    let e = email.clone();
    let outcome = state
        .db
        .transaction(move |tx| {
            if let Some((account_id, false, _)) = account_by_email(tx, &e)? {
                return Ok(match check_code(tx, &st, account_id, "verify", &code)? {
                    CodeCheck::Ok => {
                        tx.execute(
                            "UPDATE accounts SET verified_at = ?2 WHERE id = ?1",
                            params![account_id, ms(st.now())],
                        )?;
                        tx.execute(
                            "DELETE FROM account_codes WHERE account_id = ?1 AND purpose = 'verify'",
                            [account_id],
                        )?;
                        tx.execute("DELETE FROM pending_registrations WHERE member_id = (SELECT member_id FROM accounts WHERE id = ?1)", [account_id])?;
                        Some(Ok(account_id))
                    }
                    CodeCheck::Wrong => Some(Err(ApiError::new(ErrorCode::InvalidCode).at("/code"))),
                    CodeCheck::Expired => Some(Err(ApiError::new(ErrorCode::CodeExpired).at("/code"))),
                });
            }
            confirm_pending(tx, &st, &e, &code)
        })
        .await?;
    let account_id = match outcome {
        Some(result) => result?,
        // No account waits for this address (none, or one already confirmed): the same answers
        // as for a wrong code, and after as many tries, the same "expired" (no enumeration).
        None => {
            let tries = state.throttle.rate_limit(
                &format!("verify-email\u{0}{email}"),
                CODE_ATTEMPTS as u32,
                VERIFY_CODE_TTL,
            );
            return Err(match tries {
                Ok(()) => ApiError::new(ErrorCode::InvalidCode).at("/code"),
                Err(_) => ApiError::new(ErrorCode::CodeExpired).at("/code"),
            });
        }
    };
    state.audit(Some(account_id), "email_verified", Some(&client), None);
    Ok(StatusCode::NO_CONTENT)
}

/// A pending registration confirmed by its code replaces the member's never-verified account.
/// `None` when no registration waits for this address.
fn confirm_pending(tx: &Connection, state: &AppState, email: &str, code: &str) -> ApiResult<Option<ApiResult<i64>>> {
    let row = tx
        .query_row(
            "SELECT member_id, password_hash, code_hash, attempts, expires_at FROM pending_registrations WHERE email = ?1",
            [email],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Vec<u8>>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, i64>(4)?,
                ))
            },
        )
        .optional()?;
    let Some((member_id, hash, code_hash, attempts, expires_at)) = row else {
        return Ok(None);
    };
    let now = state.now();
    if from_ms(expires_at) <= now || attempts >= CODE_ATTEMPTS {
        return Ok(Some(Err(ApiError::new(ErrorCode::CodeExpired).at("/code"))));
    }
    if code_hash != state.secret.code_hash("verify", code) {
        tx.execute(
            "UPDATE pending_registrations SET attempts = attempts + 1 WHERE email = ?1",
            [email],
        )?;
        return Ok(Some(Err(ApiError::new(ErrorCode::InvalidCode).at("/code"))));
    }
    // Only a never-verified account is replaced; one confirmed meanwhile stays.
    let verified: bool = tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM accounts WHERE member_id = ?1 AND verified_at IS NOT NULL)",
        [&member_id],
        |r| r.get(0),
    )?;
    tx.execute("DELETE FROM pending_registrations WHERE member_id = ?1", [&member_id])?;
    if verified {
        return Ok(Some(Err(ApiError::new(ErrorCode::AccountExists))));
    }
    tx.execute(
        "DELETE FROM accounts WHERE member_id = ?1 AND verified_at IS NULL",
        [&member_id],
    )?;
    tx.execute(
        "INSERT INTO accounts (member_id, email, password_hash, created_at, password_changed_at, verified_at) VALUES (?1, ?2, ?3, ?4, ?4, ?4)",
        params![member_id, email, hash, ms(now)],
    )?;
    Ok(Some(Ok(tx.last_insert_rowid())))
}

/// Sends a new code of `purpose` when the account exists and none was sent in the last minute.
/// Answers the same whatever happened, so it reveals nothing about accounts.
async fn send_code(state: &AppState, email: String, purpose: &'static str) -> ApiResult<Option<i64>> {
    let st = state.clone();
    let now = state.now();
    let sent = state
        .db
        .transaction(move |tx| {
            // Every outcome commits a write (and its fsync), so the time taken does not tell
            // whether the address has an account.
            let nothing_sent = || -> ApiResult<Option<i64>> {
                tx.execute("UPDATE settings SET value = value WHERE key = 'server_secret'", [])?;
                Ok(None)
            };
            let Some((account_id, verified, first_name)) = account_by_email(tx, &email)? else {
                return nothing_sent();
            };
            if purpose == "verify" && verified {
                return nothing_sent();
            }
            let ttl = if purpose == "verify" {
                VERIFY_CODE_TTL
            } else {
                RESET_CODE_TTL
            };
            let last_sent: Option<i64> = tx
                .query_row(
                    "SELECT expires_at FROM account_codes WHERE account_id = ?1 AND purpose = ?2",
                    params![account_id, purpose],
                    |r| r.get(0),
                )
                .optional()?;
            if last_sent.is_some_and(|exp| from_ms(exp) - ttl + CODE_MAIL_INTERVAL > now) {
                return nothing_sent();
            }
            let (code, subject, body) = if purpose == "verify" {
                let code = tokens::six_digit_code();
                let Mail { subject, body } = templates::confirmation_code(&first_name, &code);
                (code, subject, body)
            } else {
                let code = tokens::reset_code();
                let Mail { subject, body } = templates::reset_code(&first_name, &format_reset_code(&code));
                (code, subject, body)
            };
            store_code(tx, &st, account_id, purpose, &code, ttl)?;
            mail::enqueue(tx, st.config.demo, &email, &subject, &body, now)?;
            Ok(Some(account_id))
        })
        .await?;
    if sent.is_some() {
        state.mail_queued();
    }
    Ok(sent)
}

pub async fn resend_verification(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    JsonBody(req): JsonBody<ResendVerificationRequest>,
) -> ApiResult<StatusCode> {
    let email = validate::email(&req.email).map_err(|e| ApiError::invalid("/email", e))?;
    address_limit(&state, "codes", &client, 30, Duration::minutes(10))?;
    send_code(&state, email, "verify").await?;
    Ok(StatusCode::ACCEPTED)
}

pub async fn request_password_reset(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    JsonBody(req): JsonBody<PasswordResetRequest>,
) -> ApiResult<StatusCode> {
    let email = validate::email(&req.email).map_err(|e| ApiError::invalid("/email", e))?;
    address_limit(&state, "codes", &client, 30, Duration::minutes(10))?;
    if let Some(account_id) = send_code(&state, email, "reset").await? {
        state.audit(Some(account_id), "password_reset_requested", Some(&client), None);
    }
    Ok(StatusCode::ACCEPTED)
}

pub async fn confirm_password_reset(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    JsonBody(req): JsonBody<PasswordResetConfirmRequest>,
) -> ApiResult<StatusCode> {
    let email = validate::email(&req.email).map_err(|e| ApiError::invalid("/email", e))?;
    let code = normalize_reset_code(&req.code)
        .ok_or_else(|| ApiError::validation("/code", "Enter the 8-character code from the email, like K7RM-2XQP."))?;
    // Check the code first (counting the attempt), then the new password, so a weak password
    // does not burn the code.
    let st = state.clone();
    let (e, c) = (email.clone(), code.clone());
    let (account_id, member_id) = state
        .db
        .transaction(move |tx| {
            let row = tx
                .query_row("SELECT id, member_id FROM accounts WHERE email = ?1", [&e], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
                })
                .optional()?;
            let Some((account_id, member_id)) = row else {
                return Ok(Err(ApiError::new(ErrorCode::InvalidCode).at("/code")));
            };
            Ok(match check_code(tx, &st, account_id, "reset", &c)? {
                CodeCheck::Ok => Ok((account_id, member_id)),
                CodeCheck::Wrong => Err(ApiError::new(ErrorCode::InvalidCode).at("/code")),
                CodeCheck::Expired => Err(ApiError::new(ErrorCode::CodeExpired).at("/code")),
            })
        })
        .await??;
    password::check(
        &req.new_password,
        PasswordContext {
            email: Some(&email),
            member_id: Some(&member_id),
        },
    )
    .map_err(|r| weak(r, "/new_password"))?;
    let hash = state.hasher.hash(req.new_password).await?;
    let st = state.clone();
    let now = state.now();
    state
        .db
        .transaction(move |tx| {
            // Single use: only the request that deletes the code changes the password.
            let used = tx.execute(
                "DELETE FROM account_codes WHERE account_id = ?1 AND purpose = 'reset' AND code_hash = ?2",
                params![account_id, st.secret.code_hash("reset", &code)],
            )?;
            if used != 1 {
                return Err(ApiError::new(ErrorCode::CodeExpired).at("/code"));
            }
            tx.execute(
                "UPDATE accounts SET password_hash = ?2, password_changed_at = ?3, verified_at = COALESCE(verified_at, ?3) WHERE id = ?1",
                params![account_id, hash, ms(now)],
            )?;
            auth::revoke_all(tx, account_id, None, "password_reset", now)?;
            let member = load_member(tx, account_id)?;
            let Mail { subject, body } = templates::password_changed(&member.first_name);
            mail::enqueue(tx, st.config.demo, &member.email, &subject, &body, now)?;
            Ok(())
        })
        .await?;
    state.sessions.invalidate();
    state.mail_queued();
    state.audit(Some(account_id), "password_reset_completed", Some(&client), None);
    Ok(StatusCode::NO_CONTENT)
}

pub async fn get_me(State(state): State<AppState>, who: Authed) -> ApiResult<Json<Member>> {
    let member = state.db.read(move |conn| load_member(conn, who.account_id)).await?;
    Ok(Json(member))
}

pub async fn change_password(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    who: Authed,
    JsonBody(req): JsonBody<ChangePasswordRequest>,
) -> ApiResult<StatusCode> {
    let chars = req.current_password.chars().count();
    if chars == 0 || chars > carebill_billing::password::MAX_CHARS {
        return Err(ApiError::validation(
            "/current_password",
            "Enter your current password.",
        ));
    }
    let throttle_key = format!("account:{}", who.account_id);
    if let Err(wait) = state.throttle.begin_sign_in(&throttle_key, &client) {
        return Err(ApiError::new(ErrorCode::TooManyAttempts).retry_after(wait));
    }
    let account_id = who.account_id;
    let hash: String = state
        .db
        .read(move |conn| {
            Ok(
                conn.query_row("SELECT password_hash FROM accounts WHERE id = ?1", [account_id], |r| {
                    r.get(0)
                })?,
            )
        })
        .await?;
    if !state.hasher.verify(req.current_password, Some(hash)).await? {
        return Err(ApiError::new(ErrorCode::IncorrectPassword).at("/current_password"));
    }
    state.throttle.record_success(&throttle_key, &client);
    password::check(
        &req.new_password,
        PasswordContext {
            email: Some(&who.email),
            member_id: Some(&who.member_id),
        },
    )
    .map_err(|r| weak(r, "/new_password"))?;
    let new_hash = state.hasher.hash(req.new_password).await?;
    let st = state.clone();
    let now = state.now();
    let session_id = who.session_id;
    state
        .db
        .transaction(move |tx| {
            tx.execute(
                "UPDATE accounts SET password_hash = ?2, password_changed_at = ?3 WHERE id = ?1",
                params![account_id, new_hash, ms(now)],
            )?;
            auth::revoke_all(tx, account_id, Some(session_id), "password_changed", now)?;
            let member = load_member(tx, account_id)?;
            let Mail { subject, body } = templates::password_changed(&member.first_name);
            mail::enqueue(tx, st.config.demo, &member.email, &subject, &body, now)?;
            Ok(())
        })
        .await?;
    state.sessions.invalidate();
    state.mail_queued();
    state.audit(Some(account_id), "password_changed", Some(&client), None);
    Ok(StatusCode::NO_CONTENT)
}
