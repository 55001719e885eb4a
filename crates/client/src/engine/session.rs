//! Signing in and out. An online sign-in opens (creating, re-wrapping or rebuilding) the member's
//! encrypted copy with the key `keys::open_for_sign_in` chooses; "keep me signed in" keeps the
//! refresh token in the keyring; the offline unlock opens the copy with the password alone
//! (read-only), with its wrong tries counted across restarts. Signing out refuses while a payment
//! is being confirmed, unless forced, and "forget this device" destroys the copy and its keys.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use carebill_api::types::*;

use super::idle::UNLOCK_FAILURES_KEY;
use super::{Engine, Phase, Session, lock};
use crate::api::Tokens;
use crate::cache::{self, Cache};
use crate::config::Persistence;
use crate::error::{ClientCode, ClientError, ClientResult, ErrorKind};
use crate::keys::{self, KeyError};
use crate::outbox;
use crate::secrets::SecretStore;
use crate::types::*;

/// The keyring entry naming the member whose session is remembered.
const LAST_MEMBER: &str = "last-member";

/// Wrong passwords at the offline unlock, counted across restarts (each try after five waits
/// longer).
const OFFLINE_FAILURES_FILE: &str = "offline-unlock-failures";

impl Engine {
    /// Signs in online and opens the member's copy on this device.
    pub async fn sign_in(&self, login: &str, password: &str, remember: bool) -> ClientResult<SessionInfo> {
        let remember = remember && self.keyring().is_some();
        let tokens = self
            .0
            .api
            .sign_in(&CreateSessionRequest {
                login: login.into(),
                password: password.into(),
                remember_device: remember,
            })
            .await?;
        let member = tokens.member.clone();
        let (cache, dir) = match self.open_cache_online(&member, Some(password)).await {
            Ok(x) => x,
            Err(e) => {
                let _ = self.0.api.sign_out().await;
                return Err(e);
            }
        };
        let remembered = self.remember(&member, remember, &tokens.refresh_token);
        self.start(Session {
            member,
            cache,
            dir,
            offline: false,
            remembered,
        })
        .await
    }

    /// Opens a session remembered on this device ("keep me signed in"), if there is one.
    pub async fn resume(&self) -> ClientResult<Option<SessionInfo>> {
        let Some(store) = self.keyring() else { return Ok(None) };
        let Some(member_hash) = store.get(LAST_MEMBER).ok().flatten() else {
            return Ok(None);
        };
        let Some(refresh) = store.get(&format!("refresh/{member_hash}")).ok().flatten() else {
            return Ok(None);
        };
        let tokens = match self.0.api.refresh_with(&refresh).await {
            Ok(t) => t,
            Err(e) if e.kind == ErrorKind::Offline => return Err(e),
            Err(_) => {
                self.forget_remembered(&member_hash);
                return Ok(None);
            }
        };
        self.0
            .api
            .set_tokens(Some(Tokens {
                access: tokens.access_token.clone(),
                refresh: tokens.refresh_token.clone(),
            }))
            .await;
        let member = tokens.member.clone();
        let (cache, dir) = self.open_cache_online(&member, None).await?;
        // The keyring names this member already (`member_hash` was read from it): only the
        // rotated refresh token is written. Not kept, the session is not remembered: the token
        // the keyring still holds has just been rotated out.
        let remembered = self.keep_refresh(&member_hash, &tokens.refresh_token);
        self.start(Session {
            member,
            cache,
            dir,
            offline: false,
            remembered,
        })
        .await
        .map(Some)
    }

    /// Opens the copy on this device with the password, without the service (read-only).
    pub async fn unlock_offline(&self, login: &str, password: &str) -> ClientResult<SessionInfo> {
        let wrong = || ClientError::of(ClientCode::NoCopyForLogin);
        if self.0.config.persistence == Persistence::Memory {
            return Err(wrong());
        }
        // The count survives a restart: it is kept in a small file of its own (no secret in it).
        let counter = self.0.config.data_dir.join(OFFLINE_FAILURES_FILE);
        let failures = std::fs::read_to_string(&counter)
            .ok()
            .and_then(|t| t.trim().parse::<u32>().ok())
            .unwrap_or(0)
            .max(*lock(&self.0.offline_failures));
        if failures >= 5 {
            tokio::time::sleep(Duration::from_millis(250 * u64::from((failures - 4).min(20)))).await;
        }
        let dirs = keys::dirs_for_login(&self.0.config.data_dir, login);
        let password = password.to_string();
        let opened = tokio::task::spawn_blocking(move || {
            for dir in dirs {
                if let Ok(key) = keys::open_with_password(&dir, &password) {
                    return Some((dir, key));
                }
            }
            None
        })
        .await
        .map_err(ClientError::internal)?;
        let Some((dir, key)) = opened else {
            *lock(&self.0.offline_failures) = failures + 1;
            let _ = keys::private_dir(&self.0.config.data_dir)
                .and_then(|_| keys::private_file(&counter, (failures + 1).to_string().as_bytes()));
            return Err(wrong());
        };
        *lock(&self.0.offline_failures) = 0;
        let _ = std::fs::remove_file(&counter);
        let cache = Cache::open(&dir, &key)?;
        let member: Member = cache
            .run(|c| cache::meta(c, "member"))
            .await?
            .and_then(|m| serde_json::from_str(&m).ok())
            .ok_or_else(|| ClientError::internal("the copy on this device has no member"))?;
        self.start(Session {
            member,
            cache,
            dir: Some(dir),
            offline: true,
            remembered: false,
        })
        .await
    }

    /// Keeps the member's session in the keyring (`remember`), or forgets it. Whether it is kept.
    pub(super) fn remember(&self, member: &Member, remember: bool, refresh: &str) -> bool {
        let Some(store) = self.keyring() else { return false };
        let hash = keys::member_hash(&member.member_id);
        if !remember {
            let _ = store.delete(&format!("refresh/{hash}"));
            if store.get(LAST_MEMBER).ok().flatten().as_deref() == Some(hash.as_str()) {
                let _ = store.delete(LAST_MEMBER);
            }
            return false;
        }
        self.keep_refresh(&hash, refresh) && store.set(LAST_MEMBER, &hash).is_ok()
    }

    /// Keeps the remembered member's (`hash`) refresh token in the keyring, now and at every
    /// rotation while the keyring stays usable. Whether it was kept now; if not, no rotation
    /// is written either.
    fn keep_refresh(&self, hash: &str, refresh: &str) -> bool {
        let Some(store) = self.keyring() else { return false };
        let entry = format!("refresh/{hash}");
        if store.set(&entry, refresh).is_err() {
            return false;
        }
        let secrets = Arc::clone(&self.0.secrets);
        self.0.api.on_rotate(move |t| {
            if secrets.usable() {
                let _ = secrets.set(&entry, &t.refresh);
            }
        });
        true
    }

    pub(super) fn forget_remembered(&self, member_hash: &str) {
        if let Some(store) = self.keyring() {
            let _ = store.delete(&format!("refresh/{member_hash}"));
            let _ = store.delete(LAST_MEMBER);
        }
    }

    /// Opens (creating, re-wrapping or rebuilding) the member's encrypted copy after an online
    /// sign-in. `password` is absent on resume, which needs the keyring copy.
    pub(super) async fn open_cache_online(
        &self,
        member: &Member,
        password: Option<&str>,
    ) -> ClientResult<(Cache, Option<PathBuf>)> {
        if self.0.config.persistence == Persistence::Memory {
            let cache = Cache::open_in_memory()?;
            let m = serde_json::to_string(member)?;
            cache.run(move |c| cache::set_meta(c, "member", &m)).await?;
            return Ok((cache, None));
        }
        let dir = keys::locate(&self.0.config.data_dir, &member.member_id, self.keyring());
        let password = password.map(str::to_string);
        let secrets = Arc::clone(&self.0.secrets);
        let keyring_ok = self.keyring().is_some();
        let logins = [member.email.clone(), member.member_id.clone()];
        let d = dir.clone();
        let key = tokio::task::spawn_blocking(move || {
            let ring: Option<&dyn SecretStore> = keyring_ok.then_some(secrets.as_ref());
            let logins: Vec<&str> = logins.iter().map(String::as_str).collect();
            keys::open_for_sign_in(&d, password.as_deref(), ring, &logins)
        })
        .await
        .map_err(ClientError::internal)?
        .map_err(|e| match e {
            KeyError::NoKeyringCopy | KeyError::Missing => ClientError::of(ClientCode::PasswordRequired),
            other => ClientError::internal(other),
        })?;
        let cache = match Cache::open(&dir, &key) {
            Ok(c) => c,
            Err(_) => {
                // A damaged copy is rebuilt from the service.
                for f in [cache::CACHE_FILE, "cache.db-wal", "cache.db-shm"] {
                    let _ = std::fs::remove_file(dir.join(f));
                }
                Cache::open(&dir, &key)?
            }
        };
        let m = serde_json::to_string(member)?;
        cache.run(move |c| cache::set_meta(c, "member", &m)).await?;
        Ok((cache, Some(dir)))
    }

    pub(super) async fn start(&self, session: Session) -> ClientResult<SessionInfo> {
        self.stop_tasks();
        let info = SessionInfo {
            member: session.member.clone(),
            offline: session.offline,
            remembered: session.remembered,
        };
        let offline = session.offline;
        // Signed in with the password (or a remembered session): the lock screen's count restarts.
        session
            .cache
            .run(|c| cache::set_meta(c, UNLOCK_FAILURES_KEY, "0"))
            .await?;
        *self.0.phase.lock().await = Phase::Active(session);
        self.record_activity();
        *lock(&self.0.offline_failures) = 0;
        if !offline {
            let engine = self.clone();
            let task = tokio::spawn(async move { engine.background().await });
            lock(&self.0.tasks).push(task);
            self.0.sync_now.notify_one();
        }
        Ok(info)
    }

    /// The service refused the session (signed out everywhere, a new password, an administrator
    /// revoking a reported device, or simply expired): it ends here at once, as a sign-out does,
    /// and the UI is told. The copy closes and its keyring key is deleted (the copy stays, for the
    /// password); a payment still being confirmed stays in the copy's outbox with its key and is
    /// resolved at the next sign-in. On a kiosk the patient's session ends as at "End session".
    ///
    /// Runs as a task of its own: the refusal is seen inside the background sync, which ending
    /// the session stops.
    pub(super) fn session_refused(&self) {
        let engine = self.clone();
        tokio::spawn(async move {
            if engine.is_kiosk() {
                engine.end_kiosk_session().await;
                return;
            }
            let _ = engine.end_session(true, false).await;
            engine.emit(Event::SessionExpired);
        });
    }

    pub(super) fn stop_tasks(&self) {
        for t in lock(&self.0.tasks).drain(..) {
            t.abort();
        }
    }

    /// Signs out. With unresolved payments it refuses unless `force`.
    pub async fn sign_out(&self, force: bool) -> ClientResult<()> {
        self.end_session(force, false).await
    }

    /// Signs out everywhere (every device's session is revoked).
    pub async fn sign_out_everywhere(&self, force: bool) -> ClientResult<()> {
        self.guard_unresolved(force).await?;
        self.0.api.sign_out_everywhere().await?;
        self.end_session(true, false).await
    }

    /// Signs out and deletes this device's copy and keys.
    pub async fn forget_device(&self, force: bool) -> ClientResult<()> {
        self.end_session(force, true).await
    }

    pub(super) async fn guard_unresolved(&self, force: bool) -> ClientResult<()> {
        if force {
            return Ok(());
        }
        let s = match &*self.0.phase.lock().await {
            Phase::Active(s) | Phase::Locked(s) => s.clone(),
            Phase::SignedOut => return Ok(()),
        };
        let (all, messages) = s
            .cache
            .run(|c| Ok((outbox::count_unresolved(c)?, outbox::pending_messages(c)?.len() as u32)))
            .await?;
        if all > messages {
            return Err(ClientError::of(ClientCode::UnresolvedPayments));
        }
        if messages > 0 {
            return Err(ClientError::of(ClientCode::UnsentMessages));
        }
        Ok(())
    }

    pub(super) async fn end_session(&self, force: bool, forget: bool) -> ClientResult<()> {
        self.guard_unresolved(force).await?;
        let session = match std::mem::replace(&mut *self.0.phase.lock().await, Phase::SignedOut) {
            Phase::Active(s) | Phase::Locked(s) => Some(s),
            Phase::SignedOut => None,
        };
        self.stop_tasks();
        lock(&self.0.reviews).clear();
        *lock(&self.0.last_sync) = None;
        if self.0.api.has_session().await {
            let _ = self.0.api.sign_out().await;
        }
        if let Some(s) = session {
            let hash = keys::member_hash(&s.member.member_id);
            self.forget_remembered(&hash);
            if let (Some(dir), Some(store)) = (&s.dir, self.keyring()) {
                let _ = store.delete(&keys::keyring_entry(dir));
            }
            drop(s.cache);
            if let (true, Some(dir)) = (forget, &s.dir) {
                keys::destroy(dir, self.keyring());
                let _ = std::fs::remove_dir_all(dir);
            }
        }
        Ok(())
    }
}
