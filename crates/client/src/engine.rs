//! The engine: everything the desktop app does except drawing. The Tauri shell wraps these
//! methods one to one.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use carebill_api::types::*;
use carebill_billing::{Money, validate};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, broadcast};
use tokio::task::JoinHandle;

use crate::api::{ApiClient, PaymentAnswer, Tokens};
use crate::cache::{self, Cache};
use crate::config::{ClientConfig, Clock, Persistence};
use crate::error::{ClientError, ClientResult, ErrorKind};
use crate::keys::{self, KeyError};
use crate::outbox::{self, Request, State as OutboxState};
use crate::secrets::{KeyringStatus, MemoryStore, SecretStore};
use crate::sync::{SyncReport, sync_once};
use crate::types::*;

const LAST_MEMBER: &str = "last-member";
/// The idle warning comes this long before the lock.
pub const IDLE_WARNING: Duration = Duration::from_secs(30);

#[derive(Clone)]
struct Session {
    member: Member,
    cache: Cache,
    dir: Option<PathBuf>,
    offline: bool,
    remembered: bool,
}

enum Phase {
    SignedOut,
    Active(Session),
    Locked(Session),
}

/// What is being paid with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum DraftMethod {
    Saved {
        payment_method_id: String,
    },
    /// A token from [`Engine::tokenize`]; saved as a payment method first when `save` is set.
    New {
        token: ProcessorToken,
        save: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct DraftAllocation {
    pub bill_id: String,
    /// As typed: "125.50".
    pub amount: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct PaymentDraft {
    pub allocations: Vec<DraftAllocation>,
    pub method: DraftMethod,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ReviewLine {
    pub bill_id: String,
    pub provider: String,
    pub statement_number: String,
    pub amount: Money,
}

/// What the member checks before paying.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct PaymentReview {
    pub review_id: String,
    pub lines: Vec<ReviewLine>,
    pub total: Money,
    pub method: PaymentMethodSummary,
    /// For bank payments: the authorization to accept.
    pub ach_authorization: Option<AchAuthorization>,
}

/// How a submitted payment ended, as far as is known.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum SubmitOutcome {
    Paid {
        payment: Payment,
    },
    Declined {
        error: ClientError,
    },
    /// Sent, and the answer is not known yet: do not pay these bills again; the engine keeps
    /// confirming and publishes `payment_resolved`.
    PendingConfirmation {
        intent_id: String,
        bill_ids: Vec<String>,
    },
}

/// An intent whose answer is not known yet, for the UI.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct UnresolvedIntent {
    pub intent_id: String,
    pub kind: String,
    pub bill_ids: Vec<String>,
    pub created_at: DateTime<Utc>,
}

struct StoredReview {
    draft: PaymentDraft,
    review: PaymentReview,
    allocations: Vec<(String, Money)>,
}

struct Inner {
    config: ClientConfig,
    api: ApiClient,
    secrets: Arc<dyn SecretStore>,
    clock: Arc<dyn Clock>,
    events: broadcast::Sender<Event>,
    phase: tokio::sync::Mutex<Phase>,
    activity: Mutex<DateTime<Utc>>,
    idle_lock_after: Mutex<Duration>,
    warned: Mutex<bool>,
    reviews: Mutex<HashMap<String, StoredReview>>,
    sync_now: Notify,
    last_sync: Mutex<Option<SyncStatus>>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    offline_failures: Mutex<u32>,
    /// Payments being submitted: the idle timer waits for them.
    busy: Arc<std::sync::atomic::AtomicUsize>,
    /// Kiosk guest pay, in memory only.
    guest: tokio::sync::Mutex<Option<crate::guest::GuestFlow>>,
}

/// Marks a payment submission in progress (the idle timer pauses) until dropped.
pub(crate) struct Busy(Arc<std::sync::atomic::AtomicUsize>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// How long a kiosk's detached sign-out may take before it is given up (the token then simply
/// expires on the server).
const KIOSK_REVOKE_WITHIN: Duration = Duration::from_secs(5);

/// Wrong passwords at the offline unlock, counted across restarts (each try after five waits
/// longer).
const OFFLINE_FAILURES_FILE: &str = "offline-unlock-failures";

/// Wrong passwords on the idle lock before the member is signed out.
pub const UNLOCK_ATTEMPTS: u32 = 10;
const UNLOCK_FAILURES_KEY: &str = "unlock_failures";

/// The client engine. Cheap to clone.
#[derive(Clone)]
pub struct Engine(Arc<Inner>);

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Engine {
    /// Makes an engine. `secrets` is the OS keyring in the app (`OsKeyring::open`), ignored in
    /// kiosk mode (`Persistence::Memory`), where nothing is ever written to a keyring.
    pub fn new(config: ClientConfig, secrets: Arc<dyn SecretStore>, clock: Arc<dyn Clock>) -> ClientResult<Engine> {
        let secrets: Arc<dyn SecretStore> = if config.persistence == Persistence::Memory {
            Arc::new(MemoryStore::refusing(KeyringStatus::Disabled))
        } else {
            secrets
        };
        let api = ApiClient::new(&config)?;
        let (events, _) = broadcast::channel(64);
        let now = clock.now();
        let idle_lock_after = config.idle_lock_after;
        Ok(Engine(Arc::new(Inner {
            config,
            api,
            secrets,
            clock,
            events,
            phase: tokio::sync::Mutex::new(Phase::SignedOut),
            activity: Mutex::new(now),
            idle_lock_after: Mutex::new(idle_lock_after),
            warned: Mutex::new(false),
            reviews: Mutex::default(),
            sync_now: Notify::new(),
            last_sync: Mutex::default(),
            tasks: Mutex::default(),
            offline_failures: Mutex::new(0),
            busy: Arc::default(),
            guest: tokio::sync::Mutex::new(None),
        })))
    }

    pub(crate) fn api(&self) -> &ApiClient {
        &self.0.api
    }

    pub(crate) fn config(&self) -> &ClientConfig {
        &self.0.config
    }

    pub(crate) fn guest_state(&self) -> &tokio::sync::Mutex<Option<crate::guest::GuestFlow>> {
        &self.0.guest
    }

    /// Pauses the idle timer until the guard is dropped (then the idle time starts over).
    pub(crate) fn busy(&self) -> Busy {
        self.0.busy.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Busy(Arc::clone(&self.0.busy))
    }

    fn is_kiosk(&self) -> bool {
        self.0.config.persistence == Persistence::Memory
    }

    pub fn events(&self) -> broadcast::Receiver<Event> {
        self.0.events.subscribe()
    }

    fn emit(&self, e: Event) {
        let _ = self.0.events.send(e);
    }

    fn now(&self) -> DateTime<Utc> {
        self.0.clock.now()
    }

    pub fn keyring_status(&self) -> KeyringStatus {
        self.0.secrets.status()
    }

    fn keyring(&self) -> Option<&dyn SecretStore> {
        (self.0.secrets.status() == KeyringStatus::Available).then_some(self.0.secrets.as_ref())
    }

    pub async fn status(&self) -> ClientResult<EngineStatus> {
        let phase = self.0.phase.lock().await;
        let (session, locked) = match &*phase {
            Phase::SignedOut => (None, false),
            Phase::Active(s) => (Some(s.clone()), false),
            Phase::Locked(s) => (Some(s.clone()), true),
        };
        drop(phase);
        let unresolved = match &session {
            Some(s) => s.cache.run(|c| outbox::count_unresolved(c)).await?,
            None => 0,
        };
        Ok(EngineStatus {
            session: session.map(|s| SessionInfo {
                member: s.member,
                offline: s.offline,
                remembered: s.remembered,
            }),
            locked,
            keyring: self.keyring_status(),
            sync: lock(&self.0.last_sync).clone(),
            unresolved,
        })
    }

    /// Changes the idle time before locking (a setting).
    pub fn set_idle_lock_after(&self, after: Duration) {
        *lock(&self.0.idle_lock_after) = after;
    }

    /// The service's health (reachability, and whether it is a demo server).
    pub async fn service_health(&self) -> ClientResult<Health> {
        self.0.api.health().await
    }

    /// Activity for the idle lock: input in the window (the shell's `record_activity` command)
    /// and changes the person starts (paying, saving, changing). Reads, the background sync and
    /// the screens' reload after a sync never count, or the lock would never fire.
    pub fn record_activity(&self) {
        *lock(&self.0.activity) = self.now();
        *lock(&self.0.warned) = false;
    }

    /// Whether someone may be using the app: a member's session (even locked), a guest flow, a
    /// request under way, or any activity in the last `quiet`. Kiosk updates wait until this is
    /// false.
    pub async fn in_use(&self, quiet: Duration) -> bool {
        if !matches!(&*self.0.phase.lock().await, Phase::SignedOut) || self.guest_active().await {
            return true;
        }
        self.requests_in_flight() || self.idle_for() < quiet
    }

    /// Time since the last activity.
    fn idle_for(&self) -> Duration {
        (self.now() - *lock(&self.0.activity)).to_std().unwrap_or_default()
    }

    /// Whether a request to the service is under way.
    fn requests_in_flight(&self) -> bool {
        self.0.busy.load(std::sync::atomic::Ordering::SeqCst) > 0
    }

    /// The signed-in session, for reads and background work: not activity.
    async fn session(&self) -> ClientResult<Session> {
        match &*self.0.phase.lock().await {
            Phase::Active(s) => Ok(s.clone()),
            Phase::Locked(_) => Err(ClientError::locked()),
            Phase::SignedOut => Err(ClientError::not_signed_in()),
        }
    }

    /// The session for a change the person started: counts as activity.
    async fn acting_session(&self) -> ClientResult<Session> {
        let s = self.online_session().await?;
        self.record_activity();
        Ok(s)
    }

    async fn online_session(&self) -> ClientResult<Session> {
        let s = self.session().await?;
        if s.offline {
            return Err(ClientError::new(
                ErrorKind::Offline,
                "offline",
                "You are looking at the copy saved on this device. Connect to the internet and sign in to make payments or changes.",
            ));
        }
        Ok(s)
    }

    // --- Accounts -------------------------------------------------------------------------------

    pub async fn register(&self, req: CreateAccountRequest) -> ClientResult<AccountCreated> {
        self.0.api.create_account(&req).await
    }

    pub async fn verify_email(&self, email: &str, code: &str) -> ClientResult<()> {
        self.0
            .api
            .verify_email(&VerifyEmailRequest {
                email: email.into(),
                code: code.into(),
            })
            .await
    }

    pub async fn resend_verification(&self, email: &str) -> ClientResult<()> {
        self.0.api.resend_verification(email).await
    }

    pub async fn request_password_reset(&self, email: &str) -> ClientResult<()> {
        self.0.api.request_password_reset(email).await
    }

    pub async fn confirm_password_reset(&self, email: &str, code: &str, new_password: &str) -> ClientResult<()> {
        let req = PasswordResetConfirmRequest {
            email: email.into(),
            code: code.into(),
            new_password: new_password.into(),
        };
        self.0.api.confirm_password_reset(&req).await
    }

    /// Password rules as the server applies them, for feedback while typing.
    pub fn check_password(password: &str, email: Option<&str>, member_id: Option<&str>) -> Result<(), ClientError> {
        carebill_billing::password::check(
            password,
            carebill_billing::password::PasswordContext { email, member_id },
        )
        .map_err(|r| ClientError::validation("weak_password", r.message(), "/password").with_reason(r.as_str()))
    }

    pub async fn change_password(&self, current: &str, new: &str) -> ClientResult<()> {
        let s = self.acting_session().await?;
        self.0
            .api
            .change_password(&ChangePasswordRequest {
                current_password: current.into(),
                new_password: new.into(),
            })
            .await?;
        if let Some(dir) = &s.dir {
            let key = keys::open_with_password(dir, current).map_err(|e| ClientError::internal(e.to_string()))?;
            keys::rewrap(dir, &key, new, self.keyring(), &[]).map_err(|e| ClientError::internal(e.to_string()))?;
        }
        Ok(())
    }

    // --- Sessions -------------------------------------------------------------------------------

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
        self.remember(&member, remember, &tokens.refresh_token);
        self.start(Session {
            member,
            cache,
            dir,
            offline: false,
            remembered: remember,
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
        self.remember(&member, true, &tokens.refresh_token);
        self.start(Session {
            member,
            cache,
            dir,
            offline: false,
            remembered: true,
        })
        .await
        .map(Some)
    }

    /// Opens the copy on this device with the password, without the service (read-only).
    pub async fn unlock_offline(&self, login: &str, password: &str) -> ClientResult<SessionInfo> {
        let wrong = || {
            ClientError::new(
                ErrorKind::Unauthenticated,
                "invalid_credentials",
                "The email or member ID and password do not open a copy saved on this device.",
            )
        };
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

    fn remember(&self, member: &Member, remember: bool, refresh: &str) {
        let Some(store) = self.keyring() else { return };
        let hash = keys::member_hash(&member.member_id);
        let entry = format!("refresh/{hash}");
        if !remember {
            let _ = store.delete(&entry);
            if store.get(LAST_MEMBER).ok().flatten().as_deref() == Some(hash.as_str()) {
                let _ = store.delete(LAST_MEMBER);
            }
            return;
        }
        let _ = store.set(&entry, refresh);
        let _ = store.set(LAST_MEMBER, &hash);
        let secrets = Arc::clone(&self.0.secrets);
        self.0.api.on_rotate(move |t| {
            let _ = secrets.set(&entry, &t.refresh);
        });
    }

    fn forget_remembered(&self, member_hash: &str) {
        if let Some(store) = self.keyring() {
            let _ = store.delete(&format!("refresh/{member_hash}"));
            let _ = store.delete(LAST_MEMBER);
        }
    }

    /// Opens (creating, re-wrapping or rebuilding) the member's encrypted copy after an online
    /// sign-in. `password` is absent on resume, which needs the keyring copy.
    async fn open_cache_online(
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
        let key = tokio::task::spawn_blocking(move || -> Result<keys::DataKey, KeyError> {
            let ring: Option<&dyn SecretStore> = keyring_ok.then_some(secrets.as_ref());
            let logins: Vec<&str> = logins.iter().map(String::as_str).collect();
            if !keys::exists(&d) {
                let pw = password.as_deref().ok_or(KeyError::Missing)?;
                return keys::create(&d, pw, ring, &logins);
            }
            let by_ring = ring.map(|r| keys::open_with_keyring(&d, r));
            match (by_ring, password.as_deref()) {
                (Some(Ok(key)), Some(pw)) => {
                    if keys::open_with_password(&d, pw).is_err() {
                        keys::rewrap(&d, &key, pw, ring, &logins)?;
                    }
                    Ok(key)
                }
                (Some(Ok(key)), None) => Ok(key),
                (_, Some(pw)) => match keys::open_with_password(&d, pw) {
                    Ok(key) => {
                        keys::rewrap(&d, &key, pw, ring, &logins)?;
                        Ok(key)
                    }
                    Err(_) => {
                        // Password changed elsewhere and no keyring copy: start a fresh copy.
                        keys::destroy(&d, ring);
                        let _ = std::fs::remove_dir_all(&d);
                        keys::create(&d, pw, ring, &logins)
                    }
                },
                (_, None) => Err(KeyError::NoKeyringCopy),
            }
        })
        .await
        .map_err(ClientError::internal)?
        .map_err(|e| match e {
            KeyError::NoKeyringCopy | KeyError::Missing => ClientError::new(
                ErrorKind::Unauthenticated,
                "password_required",
                "Enter your password to open Carebill on this device.",
            ),
            other => ClientError::internal(other.to_string()),
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

    async fn start(&self, session: Session) -> ClientResult<SessionInfo> {
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

    fn stop_tasks(&self) {
        for t in lock(&self.0.tasks).drain(..) {
            t.abort();
        }
    }

    /// Sync at start, every `sync_every`, on demand; and confirming unresolved intents.
    async fn background(&self) {
        loop {
            let _ = tokio::time::timeout(self.0.config.sync_every, self.0.sync_now.notified()).await;
            let _ = self.sync().await;
            let _ = self.resolve_unresolved().await;
        }
    }

    /// Syncs now and publishes the status.
    pub async fn sync(&self) -> ClientResult<SyncReport> {
        let s = self.online_session().await?;
        self.publish(SyncStatus::Syncing);
        match sync_once(&self.0.api, &s.cache, self.now()).await {
            Ok(report) => {
                self.publish(SyncStatus::Synced { at: self.now() });
                Ok(report)
            }
            Err(e) => {
                let status = match e.kind {
                    ErrorKind::Offline => {
                        let last = s
                            .cache
                            .run(|c| cache::sync_state(c))
                            .await
                            .ok()
                            .and_then(|st| st.synced_at);
                        SyncStatus::Offline {
                            since: self.now(),
                            last_synced: last,
                        }
                    }
                    ErrorKind::SessionExpired => {
                        self.emit(Event::SessionExpired);
                        SyncStatus::Error {
                            code: e.code.clone(),
                            message: e.message.clone(),
                        }
                    }
                    _ => SyncStatus::Error {
                        code: e.code.clone(),
                        message: e.message.clone(),
                    },
                };
                self.publish(status);
                Err(e)
            }
        }
    }

    /// Asks the background task to sync soon.
    pub fn request_sync(&self) {
        self.0.sync_now.notify_one();
    }

    fn publish(&self, status: SyncStatus) {
        *lock(&self.0.last_sync) = Some(status.clone());
        self.emit(Event::Sync(status));
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

    async fn guard_unresolved(&self, force: bool) -> ClientResult<()> {
        if force {
            return Ok(());
        }
        let s = match &*self.0.phase.lock().await {
            Phase::Active(s) | Phase::Locked(s) => s.clone(),
            Phase::SignedOut => return Ok(()),
        };
        let n = s.cache.run(|c| outbox::count_unresolved(c)).await?;
        if n > 0 {
            return Err(ClientError::new(
                ErrorKind::Conflict,
                "unresolved_payments",
                "A payment is still being confirmed. If you sign out now, Carebill will finish confirming it the next time you sign in on this device.",
            ));
        }
        Ok(())
    }

    async fn end_session(&self, force: bool, forget: bool) -> ClientResult<()> {
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

    /// Locks now (also done by [`Engine::check_idle`] after the idle time).
    pub async fn lock(&self) {
        if self.is_kiosk() {
            self.end_kiosk_session().await;
            return;
        }
        let mut phase = self.0.phase.lock().await;
        if let Phase::Active(s) = std::mem::replace(&mut *phase, Phase::SignedOut) {
            *phase = Phase::Locked(s);
            drop(phase);
            self.emit(Event::Locked);
        } else if let Phase::Locked(s) = std::mem::replace(&mut *phase, Phase::SignedOut) {
            *phase = Phase::Locked(s);
        }
    }

    /// Kiosk: ends whoever's session this is (member or guest), drops every object of theirs, and
    /// tells the UI to start over at once; the session's revocation runs on its own afterwards (a
    /// slow or absent network never keeps the previous patient on screen).
    pub async fn end_kiosk_session(&self) {
        let revoke = self.0.api.detach_sign_out(KIOSK_REVOKE_WITHIN).await;
        let _ = self.end_session(true, true).await;
        self.end_guest().await;
        self.emit(Event::SessionEnded);
        if let Some(revoke) = revoke {
            tokio::spawn(revoke);
        }
    }

    /// Unlocks with the password (checked against the copy's key, so it works offline too). After
    /// five wrong passwords each try waits longer; after [`UNLOCK_ATTEMPTS`] the member is signed
    /// out.
    pub async fn unlock(&self, password: &str) -> ClientResult<()> {
        let session = match &*self.0.phase.lock().await {
            Phase::Locked(s) => s.clone(),
            Phase::Active(_) => return Ok(()),
            Phase::SignedOut => return Err(ClientError::not_signed_in()),
        };
        let dir = session.dir.clone().ok_or_else(ClientError::not_signed_in)?;
        // Failures are kept in the encrypted copy, so restarting the app does not reset them.
        let failures: u32 = session
            .cache
            .run(|c| cache::meta(c, UNLOCK_FAILURES_KEY))
            .await?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        if failures >= 5 {
            tokio::time::sleep(Duration::from_millis(250 * u64::from((failures - 4).min(20)))).await;
        }
        let pw = password.to_string();
        let ok = tokio::task::spawn_blocking(move || keys::open_with_password(&dir, &pw).is_ok())
            .await
            .map_err(ClientError::internal)?;
        let count = if ok { 0 } else { failures + 1 };
        session
            .cache
            .run(move |c| cache::set_meta(c, UNLOCK_FAILURES_KEY, &count.to_string()))
            .await?;
        if !ok && count >= UNLOCK_ATTEMPTS {
            // Too many wrong passwords on a locked screen: sign out (tokens dropped, the session
            // revoked when reachable); the copy stays, for an offline unlock with the password.
            let _ = self.end_session(true, false).await;
            self.emit(Event::SessionEnded);
            return Err(ClientError::new(
                ErrorKind::SessionExpired,
                "too_many_attempts",
                "That password was wrong too many times, so Carebill signed you out. Sign in again.",
            ));
        }
        if !ok {
            return Err(ClientError::new(
                ErrorKind::Unauthenticated,
                "invalid_credentials",
                "That password is not right.",
            ));
        }
        *self.0.phase.lock().await = Phase::Active(session);
        self.record_activity();
        Ok(())
    }

    /// Warns before, and locks after, `idle_lock_after` without activity. The shell calls this
    /// every few seconds.
    pub async fn check_idle(&self) {
        let member = matches!(&*self.0.phase.lock().await, Phase::Active(_));
        // On a kiosk a guest flow counts too; nobody's session times out mid-payment.
        if !(member || (self.is_kiosk() && self.guest_active().await)) {
            return;
        }
        if self.requests_in_flight() {
            self.record_activity();
            return;
        }
        let idle = self.idle_for();
        let limit = *lock(&self.0.idle_lock_after);
        if idle >= limit {
            self.lock().await;
        } else if idle + IDLE_WARNING >= limit && !*lock(&self.0.warned) {
            *lock(&self.0.warned) = true;
            self.emit(Event::IdleWarning {
                seconds_left: (limit - idle).as_secs() as u32,
            });
        }
    }

    // --- Reading --------------------------------------------------------------------------------

    async fn freshness(&self, s: &Session) -> ClientResult<Freshness> {
        let state = s.cache.run(|c| cache::sync_state(c)).await?;
        let offline = s.offline || matches!(&*lock(&self.0.last_sync), Some(SyncStatus::Offline { .. }));
        let today_here = chrono::Local::now().date_naive();
        let business_date = if offline {
            today_here
        } else {
            self.0.api.business_date().or(state.business_date).unwrap_or(today_here)
        };
        Ok(Freshness {
            offline,
            synced_at: state.synced_at,
            business_date,
        })
    }

    pub async fn dashboard(&self) -> ClientResult<Dashboard> {
        let s = self.session().await?;
        let f = self.freshness(&s).await?;
        s.cache
            .run(move |c| cache::dashboard(c, f.business_date, f.clone()))
            .await
    }

    pub async fn bills(&self, query: BillQuery) -> ClientResult<BillsPage> {
        let s = self.session().await?;
        let f = self.freshness(&s).await?;
        s.cache
            .run(move |c| cache::bills_page(c, &query, f.business_date, f.clone()))
            .await
    }

    pub async fn bill(&self, id: &str) -> ClientResult<BillView> {
        let s = self.session().await?;
        let f = self.freshness(&s).await?;
        let id = id.to_string();
        s.cache
            .run(move |c| cache::bill(c, &id, f.business_date, f.clone()))
            .await?
            .ok_or_else(|| ClientError::new(ErrorKind::NotFound, "bill_not_found", "We could not find that bill."))
    }

    pub async fn payments(&self, query: PaymentQuery) -> ClientResult<PaymentsPage> {
        let s = self.session().await?;
        let f = self.freshness(&s).await?;
        s.cache.run(move |c| cache::payments_page(c, &query, f)).await
    }

    pub async fn payment_methods(&self) -> ClientResult<Vec<PaymentMethod>> {
        let s = self.session().await?;
        s.cache.run(|c| cache::payment_methods(c)).await
    }

    pub async fn autopay(&self) -> ClientResult<Option<Autopay>> {
        let s = self.session().await?;
        s.cache.run(|c| cache::autopay(c)).await
    }

    pub async fn unresolved(&self) -> ClientResult<Vec<UnresolvedIntent>> {
        let s = self.session().await?;
        let entries = s.cache.run(|c| outbox::unresolved(c)).await?;
        Ok(entries
            .into_iter()
            .map(|e| UnresolvedIntent {
                intent_id: e.id,
                kind: e.request.kind().into(),
                bill_ids: e.bill_ids,
                created_at: e.created_at,
            })
            .collect())
    }

    // --- Paying ---------------------------------------------------------------------------------

    /// Tokenizes card or bank details at the processor. The details live only for this call.
    pub async fn tokenize(&self, mut details: TokenRequest) -> ClientResult<ProcessorToken> {
        if !(self.is_kiosk() && self.guest_active().await) {
            self.acting_session().await?;
        }
        // The number as typed may be grouped any way; the processor gets its digits.
        if let TokenRequest::Card(card) = &mut details {
            card.number = validate::normalize_card_number(&card.number);
        }
        self.0.api.tokenize(&details).await
    }

    pub async fn bank_name(&self, routing: &str) -> ClientResult<Option<String>> {
        validate::routing_number(routing).map_err(|e| ClientError::validation(e.code, e.message, "/routing_number"))?;
        self.0.api.bank_name(routing).await
    }

    /// Checks a payment and returns what to review. Rules are the server's (same codes).
    pub async fn prepare_payment(&self, draft: PaymentDraft) -> ClientResult<PaymentReview> {
        let s = self.acting_session().await?;
        if draft.allocations.is_empty() {
            return Err(ClientError::validation(
                "validation_failed",
                "Choose at least one bill to pay.",
                "/allocations",
            ));
        }
        let d = draft.clone();
        let (lines, allocations, method) = s
            .cache
            .run(move |c| {
                let in_flight: Vec<String> = outbox::unresolved(c)?.into_iter().flat_map(|e| e.bill_ids).collect();
                let mut lines = Vec::new();
                let mut allocations: Vec<(String, Money)> = Vec::new();
                for (i, a) in d.allocations.iter().enumerate() {
                    let field = format!("/allocations/{i}/amount");
                    let amount = validate::payment_amount(&a.amount)
                        .map_err(|e| ClientError::validation(e.code, e.message, &field))?;
                    if allocations.iter().any(|(b, _)| b == &a.bill_id) {
                        return Err(ClientError::validation(
                            "duplicate_bill",
                            "Each bill can appear only once in a payment.",
                            &format!("/allocations/{i}/bill_id"),
                        ));
                    }
                    if in_flight.contains(&a.bill_id) {
                        return Err(ClientError::new(
                            ErrorKind::Conflict,
                            "payment_in_flight",
                            "A payment for this bill is still being confirmed. Wait for it before paying again.",
                        )
                        .at(&format!("/allocations/{i}/bill_id")));
                    }
                    let view = cache::bill(
                        c,
                        &a.bill_id,
                        NaiveDate::MIN,
                        Freshness {
                            offline: false,
                            synced_at: None,
                            business_date: NaiveDate::MIN,
                        },
                    )?
                    .ok_or_else(|| {
                        ClientError::new(ErrorKind::NotFound, "bill_not_found", "We could not find that bill.")
                            .at(&format!("/allocations/{i}/bill_id"))
                    })?;
                    validate::within_payable(amount, view.bill.bill.payable)
                        .map_err(|e| ClientError::validation(e.code, e.message, &field))?;
                    lines.push(ReviewLine {
                        bill_id: a.bill_id.clone(),
                        provider: view.bill.bill.provider.clone(),
                        statement_number: view.bill.bill.statement_number.clone(),
                        amount,
                    });
                    allocations.push((a.bill_id.clone(), amount));
                }
                let method = match &d.method {
                    DraftMethod::Saved { payment_method_id } => {
                        let m = cache::payment_methods(c)?
                            .into_iter()
                            .find(|m| &m.id == payment_method_id)
                            .ok_or_else(|| {
                                ClientError::new(
                                    ErrorKind::NotFound,
                                    "payment_method_not_found",
                                    "We could not find that payment method.",
                                )
                                .at("/payment_method_id")
                            })?;
                        summary_of_method(&m)
                    }
                    DraftMethod::New { token, .. } => PaymentMethodSummary {
                        kind: token.kind,
                        brand: token
                            .brand
                            .clone()
                            .or_else(|| token.bank_name.clone())
                            .unwrap_or_else(|| "Bank account".into()),
                        last4: token.last4.clone(),
                    },
                };
                Ok((lines, allocations, method))
            })
            .await?;
        let ach_authorization = if method.kind == PaymentMethodType::BankAccount {
            Some(self.0.api.ach_authorization(false).await?)
        } else {
            None
        };
        let review = PaymentReview {
            review_id: outbox::new_key().replace("cb-", "rv-"),
            total: allocations.iter().map(|(_, a)| *a).sum(),
            lines,
            method,
            ach_authorization,
        };
        lock(&self.0.reviews).insert(
            review.review_id.clone(),
            StoredReview {
                draft,
                review: review.clone(),
                allocations,
            },
        );
        Ok(review)
    }

    /// Pays a reviewed payment, exactly once: submitting the same review again (a double click)
    /// answers with the first submission.
    pub async fn submit_payment(&self, review_id: &str, accept_ach: bool) -> ClientResult<SubmitOutcome> {
        let s = self.acting_session().await?;
        let id = review_id.to_string();
        if let Some(existing) = s.cache.run(move |c| outbox::get(c, &id)).await? {
            return self.drive_payment(&s, existing).await;
        }
        let (draft, review, allocations) = {
            let reviews = lock(&self.0.reviews);
            let stored = reviews.get(review_id).ok_or_else(|| {
                ClientError::new(
                    ErrorKind::NotFound,
                    "review_expired",
                    "This payment review is no longer available. Start the payment again.",
                )
            })?;
            (stored.draft.clone(), stored.review.clone(), stored.allocations.clone())
        };
        if review.ach_authorization.is_some() && !accept_ach {
            return Err(ClientError::validation(
                "ach_authorization_required",
                "Accept the bank payment authorization to pay from a bank account.",
                "/ach_authorization",
            ));
        }
        if self.is_kiosk() && matches!(draft.method, DraftMethod::New { save: true, .. }) {
            return Err(no_saving_on_kiosks());
        }
        let _busy = self.busy();
        let (payment_method_id, token) = match &draft.method {
            DraftMethod::Saved { payment_method_id } => (Some(payment_method_id.clone()), None),
            DraftMethod::New { token, save: true } => {
                (Some(self.0.api.add_payment_method(&token.token).await?.id), None)
            }
            DraftMethod::New { token, save: false } => (None, Some(token.token.clone())),
        };
        let request = CreatePaymentRequest {
            payment_method_id,
            token,
            allocations: allocations
                .iter()
                .map(|(b, a)| AllocationRequest {
                    bill_id: b.clone(),
                    amount: a.to_string(),
                })
                .collect(),
            ach_authorization: review.ach_authorization.as_ref().map(|a| AchAuthorizationAcceptance {
                text_version: a.text_version.clone(),
            }),
        };
        let bills: Vec<String> = allocations.iter().map(|(b, _)| b.clone()).collect();
        let id = review_id.to_string();
        let now = self.now();
        // Get or insert in one step: two submissions of one review share one entry and one key.
        let entry = s
            .cache
            .run(move |c| match outbox::get(c, &id)? {
                Some(existing) => Ok(existing),
                None => cache::durable(c, |c| outbox::insert(c, &id, &Request::Payment(request), &bills, now)),
            })
            .await?;
        self.drive_payment(&s, entry).await
    }

    /// Sends a payment entry with its key until the answer is known or patience runs out.
    async fn drive_payment(&self, s: &Session, entry: outbox::Entry) -> ClientResult<SubmitOutcome> {
        if let Some(outcome) = outcome_of(&entry)? {
            return Ok(outcome);
        }
        let Request::Payment(req) = &entry.request else {
            return Err(ClientError::internal("not a payment"));
        };
        let deadline = tokio::time::Instant::now() + self.0.config.submit_patience;
        loop {
            let (id, now) = (entry.id.clone(), self.now());
            s.cache.run(move |c| outbox::record_attempt(c, &id, now)).await?;
            match self.0.api.create_payment(&entry.key, req).await {
                Ok(answer) => return self.settle_payment(s, &entry, answer).await,
                Err(e) if answer_may_follow(&e) => {
                    if tokio::time::Instant::now() >= deadline {
                        return Ok(SubmitOutcome::PendingConfirmation {
                            intent_id: entry.id.clone(),
                            bill_ids: entry.bill_ids.clone(),
                        });
                    }
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
                Err(e) if e.kind == ErrorKind::SessionExpired => {
                    self.emit(Event::SessionExpired);
                    return Ok(SubmitOutcome::PendingConfirmation {
                        intent_id: entry.id.clone(),
                        bill_ids: entry.bill_ids.clone(),
                    });
                }
                Err(e) => {
                    // Refused before anything happened (validation, not found): nothing was stored.
                    let (id, now, err) = (entry.id.clone(), self.now(), e.clone());
                    s.cache
                        .run(move |c| outbox::resolve(c, &id, OutboxState::Failed, None, Some(&err), now))
                        .await?;
                    self.emit(Event::PaymentResolved {
                        intent_id: entry.id.clone(),
                    });
                    return Err(e);
                }
            }
        }
    }

    async fn settle_payment(
        &self,
        s: &Session,
        entry: &outbox::Entry,
        answer: PaymentAnswer,
    ) -> ClientResult<SubmitOutcome> {
        let (id, now) = (entry.id.clone(), self.now());
        let outcome = match answer {
            PaymentAnswer::Paid(p) => {
                let value = serde_json::to_value(&p)?;
                s.cache
                    .run(move |c| {
                        cache::upsert_payment(c, &p)?;
                        outbox::resolve(c, &id, OutboxState::Done, Some(&value), None, now)
                    })
                    .await?;
                outcome_of(
                    &s.cache
                        .run({
                            let id = entry.id.clone();
                            move |c| outbox::get(c, &id)
                        })
                        .await?
                        .ok_or_else(|| ClientError::internal("outbox entry vanished"))?,
                )?
            }
            PaymentAnswer::Declined(e) => {
                let payment = e.payment.as_ref().map(serde_json::to_value).transpose()?;
                let err = e.clone();
                s.cache
                    .run(move |c| outbox::resolve(c, &id, OutboxState::Done, payment.as_ref(), Some(&err), now))
                    .await?;
                Some(SubmitOutcome::Declined { error: e })
            }
        };
        self.emit(Event::PaymentResolved {
            intent_id: entry.id.clone(),
        });
        self.request_sync();
        outcome.ok_or_else(|| ClientError::internal("payment answer lost"))
    }

    /// Confirms every unresolved intent: re-sends within the resend window with the same key;
    /// older payments are looked up in the synced history by key and never re-sent.
    pub async fn resolve_unresolved(&self) -> ClientResult<u32> {
        let s = self.online_session().await?;
        let entries = s.cache.run(|c| outbox::unresolved(c)).await?;
        let mut resolved = 0;
        // Reconciling old payments needs a sync that succeeded in this pass, so the copy is not
        // out of date; it is done once, and only when an old payment waits.
        let mut synced: Option<bool> = None;
        for entry in entries {
            let age = self.now() - entry.created_at;
            if let Request::Payment(_) = &entry.request {
                if age > outbox::RESEND_WINDOW {
                    if *synced.get_or_insert(self.sync().await.is_ok()) && self.reconcile(&s, &entry).await? {
                        resolved += 1;
                        self.emit(Event::PaymentResolved {
                            intent_id: entry.id.clone(),
                        });
                    }
                    continue;
                }
                if let Ok(SubmitOutcome::Paid { .. } | SubmitOutcome::Declined { .. }) =
                    self.drive_payment(&s, entry).await
                {
                    resolved += 1;
                }
            } else if age > outbox::WRITE_RESEND_WINDOW {
                // A change whose answer never came, from long ago: never re-sent (the member may
                // have changed their mind elsewhere since); the sync shows what the server has.
                let (id, now) = (entry.id.clone(), self.now());
                if s.cache
                    .run(move |c| outbox::resolve(c, &id, OutboxState::Unknown, None, None, now))
                    .await?
                {
                    resolved += 1;
                }
            } else if self.drive_write(&s, entry, false).await.is_ok() {
                resolved += 1;
            }
        }
        resolved += self.recheck_unknown(&s).await?;
        Ok(resolved)
    }

    /// Settles a payment too old to re-send: from the synced history when it is there, else from
    /// the server by its key. `Unknown` ("it never reached the server") only on the server's word;
    /// while the server may still be charging it, or cannot be asked, it stays pending.
    async fn reconcile(&self, s: &Session, entry: &outbox::Entry) -> ClientResult<bool> {
        let key = entry.key.clone();
        let mut payment = s.cache.run(move |c| cache::payment_by_key(c, &key)).await?;
        if payment.is_none() {
            match self.0.api.payment_by_key(&entry.key).await {
                Ok(Some(p)) => {
                    let stored = p.clone();
                    s.cache.run(move |c| cache::upsert_payment(c, &stored)).await?;
                    payment = Some(p);
                }
                Ok(None) => {}
                Err(_) => return Ok(false),
            }
        }
        let state = if payment.is_some() {
            OutboxState::Done
        } else {
            OutboxState::Unknown
        };
        let value = payment.map(serde_json::to_value).transpose()?;
        let (id, now) = (entry.id.clone(), self.now());
        s.cache
            .run(move |c| outbox::resolve(c, &id, state, value.as_ref(), None, now))
            .await
    }

    /// Payments once concluded `Unknown` that the synced history now shows: settled after all.
    async fn recheck_unknown(&self, s: &Session) -> ClientResult<u32> {
        let now = self.now();
        let settled = s
            .cache
            .run(move |c| {
                let mut settled = Vec::new();
                for entry in outbox::unknown(c)? {
                    if let Some(p) = cache::payment_by_key(c, &entry.key)? {
                        let value = serde_json::to_value(p)?;
                        if outbox::settle_unknown(c, &entry.id, &value, now)? {
                            settled.push(entry.id);
                        }
                    }
                }
                Ok(settled)
            })
            .await?;
        for id in &settled {
            self.emit(Event::PaymentResolved { intent_id: id.clone() });
        }
        Ok(settled.len() as u32)
    }

    // --- Other writes (same discipline) ---------------------------------------------------------

    async fn write(&self, request: Request) -> ClientResult<serde_json::Value> {
        let s = self.acting_session().await?;
        let (id, now) = (outbox::new_key().replace("cb-", "wr-"), self.now());
        let entry = s
            .cache
            .run(move |c| cache::durable(c, |c| outbox::insert(c, &id, &request, &[], now)))
            .await?;
        self.drive_write(&s, entry, true).await
    }

    /// Sends a change. `told`: the member sees this call's outcome (the screen's own request), so
    /// any failure is final for this entry and it is never re-sent behind their back; the
    /// background re-sends only entries whose sender never heard back (a crash or a restart),
    /// within [`outbox::WRITE_RESEND_WINDOW`].
    async fn drive_write(&self, s: &Session, entry: outbox::Entry, told: bool) -> ClientResult<serde_json::Value> {
        let api = &self.0.api;
        let result: ClientResult<serde_json::Value> = match &entry.request {
            Request::AddMethod { token } => api
                .add_payment_method(token)
                .await
                .and_then(|m| Ok(serde_json::to_value(m)?)),
            Request::RemoveMethod { id } => match api.remove_payment_method(id).await {
                Err(e) if e.code == "payment_method_not_found" && entry.attempts > 0 => Ok(serde_json::Value::Null),
                other => other.map(|_| serde_json::Value::Null),
            },
            Request::PutAutopay(req) => api.put_autopay(req).await.and_then(|a| Ok(serde_json::to_value(a)?)),
            Request::DeleteAutopay => match api.delete_autopay().await {
                Err(e) if e.code == "autopay_not_found" && entry.attempts > 0 => Ok(serde_json::Value::Null),
                other => other.map(|_| serde_json::Value::Null),
            },
            Request::Skip { bill_id } => api
                .skip_autopay(bill_id)
                .await
                .and_then(|u| Ok(serde_json::to_value(u)?)),
            Request::Payment(_) => return Err(ClientError::internal("payments go through drive_payment")),
        };
        let (id, now) = (entry.id.clone(), self.now());
        s.cache
            .run({
                let id = id.clone();
                move |c| outbox::record_attempt(c, &id, now)
            })
            .await?;
        match result {
            Ok(value) => {
                let v = value.clone();
                s.cache
                    .run(move |c| outbox::resolve(c, &id, OutboxState::Done, Some(&v), None, now))
                    .await?;
                self.request_sync();
                Ok(value)
            }
            Err(e) if !told && matches!(e.kind, ErrorKind::Offline | ErrorKind::Server) => Err(e),
            Err(e) => {
                let err = e.clone();
                s.cache
                    .run(move |c| outbox::resolve(c, &id, OutboxState::Failed, None, Some(&err), now))
                    .await?;
                Err(e)
            }
        }
    }

    pub async fn add_payment_method(&self, token: &str) -> ClientResult<PaymentMethod> {
        if self.is_kiosk() {
            return Err(no_saving_on_kiosks());
        }
        let v = self.write(Request::AddMethod { token: token.into() }).await?;
        let method: PaymentMethod = serde_json::from_value(v)?;
        self.sync().await.ok();
        Ok(method)
    }

    pub async fn remove_payment_method(&self, id: &str) -> ClientResult<()> {
        self.write(Request::RemoveMethod { id: id.into() }).await?;
        self.sync().await.ok();
        Ok(())
    }

    pub async fn set_autopay(&self, request: AutopayRequest) -> ClientResult<Autopay> {
        let v = self.write(Request::PutAutopay(request)).await?;
        self.sync().await.ok();
        Ok(serde_json::from_value(v)?)
    }

    pub async fn turn_off_autopay(&self) -> ClientResult<()> {
        self.write(Request::DeleteAutopay).await?;
        self.sync().await.ok();
        Ok(())
    }

    pub async fn skip_autopay(&self, bill_id: &str) -> ClientResult<UpcomingCharge> {
        let v = self
            .write(Request::Skip {
                bill_id: bill_id.into(),
            })
            .await?;
        self.sync().await.ok();
        Ok(serde_json::from_value(v)?)
    }

    pub async fn ach_authorization(&self, recurring: bool) -> ClientResult<AchAuthorization> {
        self.0.api.ach_authorization(recurring).await
    }
}

fn summary_of_method(m: &PaymentMethod) -> PaymentMethodSummary {
    PaymentMethodSummary {
        kind: m.kind,
        brand: match m.kind {
            PaymentMethodType::Card => m.brand.clone().unwrap_or_else(|| "card".into()),
            PaymentMethodType::BankAccount => m.bank_name.clone().unwrap_or_else(|| "Bank account".into()),
        },
        last4: m.last4.clone(),
    }
}

/// The outcome an answered entry records, if it was answered.
/// A payment send that failed this way may still have been (or be about to be) handled by the
/// server: send it again with the same key rather than give up.
pub(crate) fn answer_may_follow(e: &ClientError) -> bool {
    matches!(
        e.kind,
        ErrorKind::Offline | ErrorKind::Server | ErrorKind::Conflict | ErrorKind::RateLimited
    )
}

fn no_saving_on_kiosks() -> ClientError {
    ClientError::validation(
        "kiosk_no_saving",
        "Payment methods are not saved on a clinic kiosk. Add them in Carebill on your own device.",
        "/method/save",
    )
}

fn outcome_of(entry: &outbox::Entry) -> ClientResult<Option<SubmitOutcome>> {
    match entry.state {
        OutboxState::Pending => Ok(None),
        OutboxState::Done => match (&entry.error, &entry.result) {
            (Some(e), _) => Ok(Some(SubmitOutcome::Declined { error: e.clone() })),
            (None, Some(v)) => Ok(Some(SubmitOutcome::Paid {
                payment: serde_json::from_value(v.clone())?,
            })),
            (None, None) => Err(ClientError::internal("answered entry without an answer")),
        },
        OutboxState::Failed => Err(entry
            .error
            .clone()
            .unwrap_or_else(|| ClientError::internal("failed entry without an error"))),
        OutboxState::Unknown => Err(ClientError::new(
            ErrorKind::Server,
            "payment_not_received",
            "This payment never reached the billing service, so nothing was charged. You can pay these bills again.",
        )),
    }
}
