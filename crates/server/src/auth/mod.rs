//! Sessions: sign-in tokens, refresh rotation, authentication of requests.

pub mod cache;
pub mod password;
pub mod throttle;
pub mod tokens;

use crate::sql::{Connection, OptionalExtension, params};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use carebill_api::ErrorCode;
use carebill_api::types::{Member, SessionTokens};
use chrono::{DateTime, Duration, Utc};

use crate::error::{ApiError, ApiResult};
use crate::ids::{hash_token, random_token};
use crate::secret::Secret;
use crate::state::AppState;
use crate::store::{from_ms, ms, parse_date};
use tokens::{ACCESS_PREFIX, REFRESH_PREFIX};

pub const ACCESS_TTL: Duration = Duration::minutes(15);
pub const SESSION_TTL: Duration = Duration::hours(12);
pub const REMEMBERED_SESSION_TTL: Duration = Duration::days(30);
/// A rotated refresh token presented again within this window returns the same new pair.
pub const REFRESH_GRACE: Duration = Duration::seconds(30);

/// The member behind an authenticated request.
#[derive(Debug, Clone)]
pub struct Authed {
    pub session_id: i64,
    pub account_id: i64,
    pub member_id: String,
    pub email: String,
}

/// Loads the member's profile.
pub fn load_member(conn: &Connection, account_id: i64) -> ApiResult<Member> {
    let member = conn
        .query_row(
            "SELECT a.member_id, a.email, r.first_name, r.last_name, r.date_of_birth, a.verified_at IS NOT NULL, a.locale
             FROM accounts a JOIN roster r ON r.member_id = a.member_id WHERE a.id = ?1",
            [account_id],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, bool>(5)?,
                    r.get::<_, String>(6)?,
                ))
            },
        )
        .optional()?
        .ok_or_else(|| ApiError::new(ErrorCode::Unauthenticated))?;
    Ok(Member {
        member_id: member.0,
        email: member.1,
        first_name: member.2,
        last_name: member.3,
        date_of_birth: parse_date(&member.4)?,
        email_verified: member.5,
        locale: crate::store::locale_of(&member.6),
    })
}

/// Starts a session and issues its first pair, inside the caller's transaction.
pub fn create_session(
    tx: &Connection,
    account_id: i64,
    remember: bool,
    now: DateTime<Utc>,
) -> ApiResult<SessionTokens> {
    let life = if remember { REMEMBERED_SESSION_TTL } else { SESSION_TTL };
    let session_id: i64 = tx.query_row(
        "INSERT INTO sessions (account_id, remember, created_at, expires_at) VALUES (?1, ?2, ?3, ?4) RETURNING id",
        params![account_id, remember, ms(now), ms(now + life)],
        |r| r.get(0),
    )?;
    let access = random_token(ACCESS_PREFIX);
    let refresh = random_token(REFRESH_PREFIX);
    store_pair(tx, session_id, &access, &refresh, now)?;
    Ok(SessionTokens {
        access_token: access,
        refresh_token: refresh,
        expires_in: ACCESS_TTL.num_seconds() as u64,
        token_type: "Bearer".into(),
        member: load_member(tx, account_id)?,
    })
}

fn store_pair(tx: &Connection, session_id: i64, access: &str, refresh: &str, now: DateTime<Utc>) -> ApiResult<()> {
    tx.execute(
        "INSERT INTO access_tokens (token_hash, session_id, expires_at) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
        params![hash_token(access), session_id, ms(now + ACCESS_TTL)],
    )?;
    tx.execute(
        "INSERT INTO refresh_tokens (token_hash, session_id, issued_at) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
        params![hash_token(refresh), session_id, ms(now)],
    )?;
    Ok(())
}

/// Revokes one session.
pub fn revoke_session(tx: &Connection, session_id: i64, reason: &str, now: DateTime<Utc>) -> ApiResult<()> {
    tx.execute(
        "UPDATE sessions SET revoked_at = ?2, revoked_reason = ?3 WHERE id = ?1 AND revoked_at IS NULL",
        params![session_id, ms(now), reason],
    )?;
    crate::store::announce_revocation(tx)
}

/// Revokes every session of an account, except `keep` when given.
pub fn revoke_all(
    tx: &Connection,
    account_id: i64,
    keep: Option<i64>,
    reason: &str,
    now: DateTime<Utc>,
) -> ApiResult<()> {
    tx.execute(
        "UPDATE sessions SET revoked_at = ?2, revoked_reason = ?3
         WHERE account_id = ?1 AND revoked_at IS NULL AND id IS DISTINCT FROM ?4",
        params![account_id, ms(now), reason, keep],
    )?;
    crate::store::announce_revocation(tx)
}

struct SessionRow {
    id: i64,
    account_id: i64,
    expires_at: i64,
    revoked: bool,
}

fn session_error(row: &SessionRow, now: DateTime<Utc>) -> Option<ApiError> {
    if row.revoked {
        Some(ApiError::new(ErrorCode::SessionRevoked))
    } else if row.expires_at <= ms(now) {
        Some(ApiError::new(ErrorCode::SessionExpired))
    } else {
        None
    }
}

/// Resolves a bearer token to its member (through the session cache when possible).
pub async fn authenticate(state: &AppState, token: String) -> ApiResult<Authed> {
    let now = state.clock.now();
    let token_hash = hash_token(&token);
    let check = |token_expires: i64, session_expires: i64| {
        if session_expires <= ms(now) {
            Err(ApiError::new(ErrorCode::SessionExpired))
        } else if token_expires <= ms(now) {
            Err(ApiError::new(ErrorCode::TokenExpired))
        } else {
            Ok(())
        }
    };
    if let Some(hit) = state.sessions.get(&token_hash, now) {
        check(hit.token_expires_ms, hit.session_expires_ms)?;
        return Ok(hit.authed);
    }
    let generation = state.sessions.generation();
    let key = token_hash.clone();
    let (token_expires, session, member_id, email) = state
        .db
        .read(move |conn| {
            let row = conn
                .prepare_cached(
                    "SELECT t.expires_at, s.id, s.account_id, s.expires_at, s.revoked_at IS NOT NULL, a.member_id, a.email
                     FROM access_tokens t JOIN sessions s ON s.id = t.session_id JOIN accounts a ON a.id = s.account_id
                     WHERE t.token_hash = ?1",
                )?
                .query_row([&key], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        SessionRow { id: r.get(1)?, account_id: r.get(2)?, expires_at: r.get(3)?, revoked: r.get(4)? },
                        r.get::<_, String>(5)?,
                        r.get::<_, String>(6)?,
                    ))
                })
                .optional()?;
            row.ok_or_else(|| ApiError::new(ErrorCode::Unauthenticated))
        })
        .await?;
    if session.revoked {
        return Err(ApiError::new(ErrorCode::SessionRevoked));
    }
    check(token_expires, session.expires_at)?;
    let authed = Authed {
        session_id: session.id,
        account_id: session.account_id,
        member_id,
        email,
    };
    state.sessions.insert(
        token_hash,
        authed.clone(),
        token_expires,
        session.expires_at,
        generation,
        now,
    );
    Ok(authed)
}

/// Rotates a refresh token. See [`tokens`] for why a repeat within the grace period gets the
/// same pair; a repeat after it revokes the session (the token was probably stolen).
pub async fn refresh(state: &AppState, token: String) -> ApiResult<SessionTokens> {
    let now = state.clock.now();
    let secret: Secret = state.secret.clone();
    let outcome = state
        .db
        .transaction(move |tx| {
            let row = tx
                .query_row(
                    "SELECT r.rotated_at, s.id, s.account_id, s.expires_at, s.revoked_at IS NOT NULL
                     FROM refresh_tokens r JOIN sessions s ON s.id = r.session_id WHERE r.token_hash = ?1",
                    [hash_token(&token)],
                    |r| {
                        Ok((
                            r.get::<_, Option<i64>>(0)?,
                            SessionRow {
                                id: r.get(1)?,
                                account_id: r.get(2)?,
                                expires_at: r.get(3)?,
                                revoked: r.get(4)?,
                            },
                        ))
                    },
                )
                .optional()?;
            let Some((rotated_at, session)) = row else {
                return Err(ApiError::new(ErrorCode::Unauthenticated));
            };
            if let Some(e) = session_error(&session, now) {
                return Err(e);
            }
            let access = secret.successor(ACCESS_PREFIX, &token);
            let refresh = secret.successor(REFRESH_PREFIX, &token);
            let expires_in = match rotated_at {
                None => {
                    tx.execute(
                        "UPDATE refresh_tokens SET rotated_at = ?2 WHERE token_hash = ?1",
                        params![hash_token(&token), ms(now)],
                    )?;
                    store_pair(tx, session.id, &access, &refresh, now)?;
                    ACCESS_TTL.num_seconds()
                }
                Some(at) if now - from_ms(at) <= REFRESH_GRACE => {
                    let expires: i64 = tx.query_row(
                        "SELECT expires_at FROM access_tokens WHERE token_hash = ?1",
                        [hash_token(&access)],
                        |r| r.get(0),
                    )?;
                    ((expires - ms(now)) / 1000).max(0)
                }
                Some(_) => {
                    revoke_session(tx, session.id, "refresh_token_reused", now)?;
                    // Commit the revocation, then refuse.
                    return Ok(Err(ApiError::new(ErrorCode::SessionRevoked)));
                }
            };
            Ok(Ok(SessionTokens {
                access_token: access,
                refresh_token: refresh,
                expires_in: expires_in as u64,
                token_type: "Bearer".into(),
                member: load_member(tx, session.account_id)?,
            }))
        })
        .await?;
    if outcome.is_err() {
        state.sessions.invalidate();
    }
    outcome
}

fn bearer(parts: &Parts) -> Option<String> {
    let value = parts.headers.get(axum::http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty()).then(|| token.trim().to_string())
}

impl FromRequestParts<AppState> for Authed {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token = bearer(parts).ok_or_else(|| ApiError::new(ErrorCode::Unauthenticated))?;
        authenticate(state, token).await
    }
}
