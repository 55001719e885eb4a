//! The account rules: who may register, how an emailed code is checked and used, and what a
//! password change or reset does (sessions revoked, the member told). Storage is `store::accounts`;
//! the HTTP handlers (`routes/accounts`) only check shapes, apply address limits and call here.
//!
//! Nothing here tells a caller whether an address or a member has an account: an address in use
//! is answered like a new registration (its owner is told by mail), a code request does the same
//! work whatever the address, and codes for unknown addresses fail like wrong codes.

use crate::mail::Letterhead;
use crate::sql::Connection;
use carebill_api::ErrorCode;
use carebill_api::types::Locale;
use carebill_billing::password::{self, PasswordContext, WeakReason};
use carebill_billing::validate;
use chrono::{DateTime, Duration, NaiveDate, Utc};

use crate::auth::tokens::{self, format_reset_code};
use crate::auth::{self, Authed, load_member};
use crate::error::{ApiError, ApiResult};
use crate::mail::{self, templates};
use crate::state::AppState;
use crate::store::accounts as store;
use crate::store::from_ms;

pub const VERIFY_CODE_TTL: Duration = Duration::minutes(15);
pub const RESET_CODE_TTL: Duration = Duration::minutes(30);
pub const CODE_ATTEMPTS: i64 = 5;
/// At most one code mail per account and purpose in this period.
const CODE_MAIL_INTERVAL: Duration = Duration::seconds(60);
/// Accounts whose email was never confirmed are removed after this long.
pub const UNVERIFIED_ACCOUNT_TTL: Duration = Duration::hours(72);

/// What a code is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodePurpose {
    /// Confirming the email address of a new account.
    Verify,
    /// Resetting a forgotten password.
    Reset,
}

impl CodePurpose {
    fn as_str(self) -> &'static str {
        match self {
            CodePurpose::Verify => "verify",
            CodePurpose::Reset => "reset",
        }
    }

    fn ttl(self) -> Duration {
        match self {
            CodePurpose::Verify => VERIFY_CODE_TTL,
            CodePurpose::Reset => RESET_CODE_TTL,
        }
    }
}

/// A registration whose fields have the right shape.
pub struct Registration {
    pub member_id: String,
    pub first_name: String,
    pub last_name: String,
    pub date_of_birth: NaiveDate,
    pub email: String,
    pub password: String,
    /// The language of the confirmation mail and of the account's mail from now on.
    pub locale: Locale,
}

/// A refused new password, at `field`, with the rule it broke (members' and staff's alike).
pub fn weak(reason: WeakReason, field: &str) -> ApiError {
    ApiError::with_message(ErrorCode::WeakPassword, reason.message())
        .at(field)
        .reason(reason.as_str())
}

/// A password of the right strength for this member and address.
pub fn check_password(candidate: &str, email: &str, member_id: &str, field: &str) -> ApiResult<()> {
    password::check(
        candidate,
        PasswordContext {
            email: Some(email),
            member_id: Some(member_id),
        },
    )
    .map_err(|r| weak(r, field))
}

/// Registers a roster member (the password already checked with [`check_password`]): the account
/// waits for its emailed code. Answers the same whether or not the address already belongs to
/// someone else.
pub async fn register(state: &AppState, reg: Registration, client: &str) -> ApiResult<()> {
    let (id, e) = (reg.member_id.clone(), reg.email.clone());
    let (roster, member_account, email_owner) = state
        .db
        .read(move |conn| {
            Ok((
                store::roster_entry(conn, &id)?,
                store::account_of_member(conn, &id)?,
                store::email_owner(conn, &e)?,
            ))
        })
        .await?;
    let matches = roster.as_ref().is_some_and(|r| {
        validate::names_match(&r.first_name, &reg.first_name)
            && validate::names_match(&r.last_name, &reg.last_name)
            && NaiveDate::parse_from_str(&r.date_of_birth, "%Y-%m-%d").ok() == Some(reg.date_of_birth)
    });
    if !matches {
        state.audit(None, "registration_identity_mismatch", Some(client), None);
        return Err(ApiError::new(ErrorCode::IdentityNotVerified));
    }
    if member_account.as_ref().is_some_and(|a| a.verified) {
        return Err(ApiError::new(ErrorCode::AccountExists));
    }
    let now = state.now();
    let head = state.letterhead();
    let Registration {
        member_id,
        first_name,
        email,
        password,
        locale,
        ..
    } = reg;
    let roster_first = roster.map(|r| r.first_name).unwrap_or(first_name);
    // The email already belongs to another account: the answer is the same as for a new
    // registration (nothing tells the caller whose address it is); its owner is told by mail.
    if email_owner.as_deref().is_some_and(|owner| owner != member_id) {
        state
            .db
            .transaction(move |tx| {
                let notice = templates::address_in_use(locale);
                mail::enqueue(tx, &head, locale, &email, &notice, now)
            })
            .await?;
        state.mail_queued();
        state.audit(None, "registration_email_in_use", Some(client), None);
        return Ok(());
    }
    let hash = state.hasher.hash(password).await?;
    let code = tokens::six_digit_code();
    let code_hash = state.secret.code_hash("verify", &code);
    let stale = member_account
        .as_ref()
        .is_some_and(|a| from_ms(a.created_at) + UNVERIFIED_ACCOUNT_TTL <= now);
    // A never-verified account of this member, younger than 72 hours, under another address:
    // this registration waits for its own code and then replaces it (registration squatting).
    let replacing = member_account.filter(|a| !stale && a.email != email);
    let account_id = state
        .db
        .transaction(move |tx| {
            crate::store::lock_member(tx, &member_id)?;
            let confirmation = templates::confirmation_code(locale, &roster_first, &code);
            if let Some(old) = &replacing {
                let pending = store::PendingRegistration {
                    member_id: member_id.clone(),
                    password_hash: hash.clone(),
                    code_hash: code_hash.clone(),
                    attempts: 0,
                    expires_at: crate::store::ms(now + VERIFY_CODE_TTL),
                    locale,
                };
                store::save_pending_registration(tx, &email, &pending, now)?;
                mail::enqueue(tx, &head, locale, &email, &confirmation, now)?;
                return Ok(old.id);
            }
            // Expired unverified accounts go (also done hourly); the member's own unverified
            // account under the same address is registered again with the new password.
            store::delete_unverified_of_member(tx, &member_id, now - UNVERIFIED_ACCOUNT_TTL, &email)?;
            let account_id = store::insert_account(tx, &member_id, &email, &hash, now, false, locale)?
                .ok_or_else(|| ApiError::new(ErrorCode::AccountExists))?;
            store::save_code(tx, account_id, "verify", &code_hash, now + VERIFY_CODE_TTL)?;
            mail::enqueue(tx, &head, locale, &email, &confirmation, now)?;
            Ok(account_id)
        })
        .await?;
    state.mail_queued();
    state.audit(Some(account_id), "account_created", Some(client), None);
    Ok(())
}

/// Removes never-verified accounts older than [`UNVERIFIED_ACCOUNT_TTL`] and expired pending
/// registrations (hourly maintenance).
pub fn purge_unverified(tx: &Connection, now: DateTime<Utc>) -> ApiResult<usize> {
    store::purge_unverified(tx, now - UNVERIFIED_ACCOUNT_TTL, now)
}

enum CodeCheck {
    Ok,
    Wrong,
    Expired,
}

impl CodeCheck {
    /// The answer to a code that did not work.
    fn refusal(self) -> Option<ApiError> {
        match self {
            CodeCheck::Ok => None,
            CodeCheck::Wrong => Some(ApiError::new(ErrorCode::InvalidCode).at("/code")),
            CodeCheck::Expired => Some(ApiError::new(ErrorCode::CodeExpired).at("/code")),
        }
    }
}

/// Compares a code with the stored one, counting the attempt. Runs in the caller's transaction.
fn check_code(
    tx: &Connection,
    state: &AppState,
    account_id: i64,
    purpose: CodePurpose,
    code: &str,
) -> ApiResult<CodeCheck> {
    let Some(stored) = store::code(tx, account_id, purpose.as_str())? else {
        return Ok(CodeCheck::Wrong);
    };
    if from_ms(stored.expires_at) <= state.now() || stored.attempts >= CODE_ATTEMPTS {
        return Ok(CodeCheck::Expired);
    }
    if stored.hash == state.secret.code_hash(purpose.as_str(), code) {
        return Ok(CodeCheck::Ok);
    }
    store::count_code_attempt(tx, account_id, purpose.as_str())?;
    Ok(CodeCheck::Wrong)
}

/// Confirms an address with its 6-digit code (the code's shape is checked by the caller).
pub async fn verify_email(state: &AppState, email: String, code: String, client: &str) -> ApiResult<()> {
    let st = state.clone();
    let e = email.clone();
    let outcome = state
        .db
        .transaction(move |tx| {
            if let Some(account) = store::account_by_email(tx, &e)?.filter(|a| !a.verified) {
                let check = check_code(tx, &st, account.id, CodePurpose::Verify, &code)?;
                if let Some(refusal) = check.refusal() {
                    return Ok(Some(Err(refusal)));
                }
                store::mark_verified(tx, account.id, st.now())?;
                store::delete_code(tx, account.id, "verify")?;
                store::delete_pending_of_member(tx, &account.member_id)?;
                return Ok(Some(Ok(account.id)));
            }
            confirm_pending(tx, &st, &e, &code)
        })
        .await?;
    let account_id = match outcome {
        Some(result) => result?,
        // No account waits for this address (none, or one already confirmed): the same answers
        // as for a wrong code, and after as many tries, the same "expired" (no enumeration).
        None => {
            let tries = state
                .throttle
                .rate_limit(
                    &format!("verify-email\u{0}{email}"),
                    CODE_ATTEMPTS as u32,
                    VERIFY_CODE_TTL,
                )
                .await;
            return Err(match tries {
                Ok(()) => ApiError::new(ErrorCode::InvalidCode).at("/code"),
                Err(_) => ApiError::new(ErrorCode::CodeExpired).at("/code"),
            });
        }
    };
    state.audit(Some(account_id), "email_verified", Some(client), None);
    Ok(())
}

/// A pending registration confirmed by its code replaces the member's never-verified account.
/// `None` when no registration waits for this address.
fn confirm_pending(tx: &Connection, state: &AppState, email: &str, code: &str) -> ApiResult<Option<ApiResult<i64>>> {
    let Some(pending) = store::pending_registration(tx, email)? else {
        return Ok(None);
    };
    let now = state.now();
    if from_ms(pending.expires_at) <= now || pending.attempts >= CODE_ATTEMPTS {
        return Ok(Some(Err(ApiError::new(ErrorCode::CodeExpired).at("/code"))));
    }
    if pending.code_hash != state.secret.code_hash("verify", code) {
        store::count_pending_attempt(tx, email)?;
        return Ok(Some(Err(ApiError::new(ErrorCode::InvalidCode).at("/code"))));
    }
    // Only a never-verified account is replaced; one confirmed meanwhile stays.
    let verified = store::member_verified(tx, &pending.member_id)?;
    store::delete_pending_of_member(tx, &pending.member_id)?;
    if verified {
        return Ok(Some(Err(ApiError::new(ErrorCode::AccountExists))));
    }
    store::delete_all_unverified_of_member(tx, &pending.member_id)?;
    let account_id = store::insert_account(
        tx,
        &pending.member_id,
        email,
        &pending.password_hash,
        now,
        true,
        pending.locale,
    )?
    .ok_or_else(|| ApiError::new(ErrorCode::AccountExists))?;
    Ok(Some(Ok(account_id)))
}

/// Sends a new code of `purpose` when the account exists (and, to confirm an address, is not
/// confirmed yet) and none was sent in the last minute. Every outcome commits a write, so neither
/// the answer nor the time taken tells whether the address has an account. The account, when a
/// code was sent.
pub async fn send_code(
    state: &AppState,
    email: String,
    purpose: CodePurpose,
    locale: Option<Locale>,
) -> ApiResult<Option<i64>> {
    let st = state.clone();
    let now = state.now();
    let sent = state
        .db
        .transaction(move |tx| {
            let nothing_sent = || -> ApiResult<Option<i64>> {
                store::rewrite_nothing(tx)?;
                Ok(None)
            };
            let Some(account) = store::account_by_email(tx, &email)? else {
                return nothing_sent();
            };
            if purpose == CodePurpose::Verify && account.verified {
                return nothing_sent();
            }
            let ttl = purpose.ttl();
            let last = store::code(tx, account.id, purpose.as_str())?;
            if last.is_some_and(|c| from_ms(c.expires_at) - ttl + CODE_MAIL_INTERVAL > now) {
                return nothing_sent();
            }
            // The language the request asks for (the app's, before sign-in), else the account's.
            let l = locale.unwrap_or(account.locale);
            let (code, mail) = match purpose {
                CodePurpose::Verify => {
                    let code = tokens::six_digit_code();
                    let mail = templates::confirmation_code(l, &account.first_name, &code);
                    (code, mail)
                }
                CodePurpose::Reset => {
                    let code = tokens::reset_code();
                    let mail = templates::reset_code(l, &account.first_name, &format_reset_code(&code));
                    (code, mail)
                }
            };
            let hash = st.secret.code_hash(purpose.as_str(), &code);
            store::save_code(tx, account.id, purpose.as_str(), &hash, now + ttl)?;
            mail::enqueue(tx, &st.letterhead(), l, &email, &mail, now)?;
            Ok(Some(account.id))
        })
        .await?;
    if sent.is_some() {
        state.mail_queued();
    }
    Ok(sent)
}

/// Sets a new password with an emailed reset code (its shape checked by the caller). The code is
/// checked first (counting the attempt), then the new password, so a weak password does not burn
/// the code. Every session ends; the member is told by mail.
pub async fn reset_password(
    state: &AppState,
    email: String,
    code: String,
    new_password: String,
    client: &str,
) -> ApiResult<()> {
    let st = state.clone();
    let (e, c) = (email.clone(), code.clone());
    let (account_id, member_id) = state
        .db
        .transaction(move |tx| {
            let Some(account) = store::account_by_email(tx, &e)? else {
                return Ok(Err(ApiError::new(ErrorCode::InvalidCode).at("/code")));
            };
            Ok(
                match check_code(tx, &st, account.id, CodePurpose::Reset, &c)?.refusal() {
                    None => Ok((account.id, account.member_id)),
                    Some(refusal) => Err(refusal),
                },
            )
        })
        .await??;
    check_password(&new_password, &email, &member_id, "/new_password")?;
    let hash = state.hasher.hash(new_password).await?;
    let code_hash = state.secret.code_hash("reset", &code);
    let (head, now) = (state.letterhead(), state.now());
    state
        .db
        .transaction(move |tx| {
            // Single use: only the request that deletes the code changes the password.
            if !store::use_code(tx, account_id, "reset", &code_hash)? {
                return Err(ApiError::new(ErrorCode::CodeExpired).at("/code"));
            }
            store::set_password(tx, account_id, &hash, now, true)?;
            auth::revoke_all(tx, account_id, None, "password_reset", now)?;
            password_changed_mail(tx, &head, account_id, now)
        })
        .await?;
    state.sessions.invalidate();
    state.mail_queued();
    state.audit(Some(account_id), "password_reset_completed", Some(client), None);
    Ok(())
}

/// Changes a signed-in member's password after checking the current one (throttled like a
/// sign-in). Every other session ends; the member is told by mail.
pub async fn change_password(
    state: &AppState,
    who: &Authed,
    current: String,
    new_password: String,
    client: &str,
) -> ApiResult<()> {
    let throttle_key = format!("account:{}", who.account_id);
    if let Err(wait) = state.throttle.begin_sign_in(&throttle_key, client).await {
        return Err(ApiError::new(ErrorCode::TooManyAttempts).retry_after(wait));
    }
    let account_id = who.account_id;
    let hash = state
        .db
        .read(move |conn| store::password_hash(conn, account_id))
        .await?;
    if !state.hasher.verify(current, Some(hash)).await? {
        return Err(ApiError::new(ErrorCode::IncorrectPassword).at("/current_password"));
    }
    state.throttle.record_success(&throttle_key, client).await;
    check_password(&new_password, &who.email, &who.member_id, "/new_password")?;
    let new_hash = state.hasher.hash(new_password).await?;
    let (head, now, session_id) = (state.letterhead(), state.now(), who.session_id);
    state
        .db
        .transaction(move |tx| {
            store::set_password(tx, account_id, &new_hash, now, false)?;
            auth::revoke_all(tx, account_id, Some(session_id), "password_changed", now)?;
            password_changed_mail(tx, &head, account_id, now)
        })
        .await?;
    state.sessions.invalidate();
    state.mail_queued();
    state.audit(Some(account_id), "password_changed", Some(client), None);
    Ok(())
}

fn password_changed_mail(tx: &Connection, head: &Letterhead, account_id: i64, now: DateTime<Utc>) -> ApiResult<()> {
    let member = load_member(tx, account_id)?;
    let notice = templates::password_changed(member.locale, &member.first_name);
    mail::enqueue(tx, head, member.locale, &member.email, &notice, now)
}

/// Sets the language of the member's mail from now on, and answers the member as they are now.
pub async fn set_locale(state: &AppState, who: &Authed, locale: Locale) -> ApiResult<carebill_api::types::Member> {
    let account_id = who.account_id;
    state
        .db
        .transaction(move |tx| {
            store::set_locale(tx, account_id, locale)?;
            load_member(tx, account_id)
        })
        .await
}
