//! The engine: everything the desktop app does except drawing. The Tauri shell wraps these
//! methods one to one. One `Engine` (cheap to clone) holds the phase (signed out, active, locked),
//! the API client, the keyring and the background tasks; its methods live by area:
//!
//! - `accounts`: registration, codes and passwords (the service's, passed through);
//! - `session`: signing in and out, opening the member's encrypted copy, resuming a remembered
//!   session, the offline unlock;
//! - `idle`: activity, the idle warning and lock, the unlock with the password;
//! - `read`: the screens' reads from the copy, and the background sync that keeps it fresh;
//! - `pay`: member payments, exactly once through the outbox (see `outbox`), and confirming
//!   payments whose answer did not come;
//! - `writes`: the other changes (methods, autopay), through the outbox too;
//! - `messages`: conversations with the billing office: questions and replies through the
//!   outbox (sent once, however long they wait offline), threads and attachments from the copy;
//! - `notices`: desktop notices, decided from the copy after each sync, once per event;
//! - `guest`: kiosk guest pay, in memory only.
//!
//! What a payment review is and how a payment is sent until its answer is known are shared by
//! member and guest pay in `crate::review`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use carebill_api::types::*;
use carebill_billing::Money;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, broadcast};
use tokio::task::JoinHandle;

use crate::api::ApiClient;
use crate::cache::Cache;
use crate::config::{ClientConfig, Clock, Persistence};
use crate::error::{ClientCode, ClientError, ClientResult};
use crate::outbox;
use crate::review::{PaymentDraft, PaymentReview};
use crate::secrets::{KeyringStatus, MemoryStore, SecretStore};
use crate::types::*;

mod accounts;
mod documents;
mod guest;
mod idle;
mod messages;
mod notices;
mod pay;
mod payment_plans;
mod plan;
mod read;
mod session;
mod writes;

pub use documents::{DocumentFile, SummaryFormat};

pub use idle::{IDLE_WARNING, UNLOCK_ATTEMPTS};

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

/// An intent whose answer is not known yet, for the UI.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct UnresolvedIntent {
    pub intent_id: String,
    pub kind: String,
    pub bill_ids: Vec<String>,
    pub created_at: DateTime<Utc>,
}

/// A member's review, kept until it is submitted or the session ends.
struct StoredReview {
    draft: PaymentDraft,
    review: PaymentReview,
    allocations: Vec<(String, Money)>,
}

/// The idle lock's state: the last activity, whether the warning was shown, and the time-out.
struct IdleState {
    activity: DateTime<Utc>,
    warned: bool,
    lock_after: Duration,
}

struct Inner {
    config: ClientConfig,
    api: ApiClient,
    secrets: Arc<dyn SecretStore>,
    clock: Arc<dyn Clock>,
    events: broadcast::Sender<Event>,
    phase: tokio::sync::Mutex<Phase>,
    idle: Mutex<IdleState>,
    reviews: Mutex<HashMap<String, StoredReview>>,
    sync_now: Notify,
    last_sync: Mutex<Option<SyncStatus>>,
    /// The unseen replies the UI was last told of (`Event::NewReplies` when there are more).
    last_unread: Mutex<u32>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    offline_failures: Mutex<u32>,
    /// Payments being submitted: the idle timer waits for them.
    busy: Arc<std::sync::atomic::AtomicUsize>,
    /// Kiosk guest pay, in memory only.
    guest: tokio::sync::Mutex<Option<guest::GuestFlow>>,
    /// The plan's facts, as last fetched.
    plan: Mutex<Option<plan::PlanCopy>>,
    /// The language the member reads the app in on this device (the UI says): the language of
    /// the mail asked for before sign-in and of a kiosk's printed receipt.
    language: Mutex<Locale>,
}

/// Marks a payment submission in progress (the idle timer pauses) until dropped.
struct Busy(Arc<std::sync::atomic::AtomicUsize>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// The client engine. Cheap to clone.
#[derive(Clone)]
pub struct Engine(Arc<Inner>);

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn no_saving_on_kiosks() -> ClientError {
    ClientError::of(ClientCode::KioskNoSaving).at("/method/save")
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
            idle: Mutex::new(IdleState {
                activity: now,
                warned: false,
                lock_after: idle_lock_after,
            }),
            reviews: Mutex::default(),
            sync_now: Notify::new(),
            last_sync: Mutex::default(),
            last_unread: Mutex::default(),
            tasks: Mutex::default(),
            offline_failures: Mutex::new(0),
            busy: Arc::default(),
            guest: tokio::sync::Mutex::new(None),
            plan: Mutex::default(),
            language: Mutex::default(),
        })))
    }

    /// Pauses the idle timer until the guard is dropped (then the idle time starts over).
    fn busy(&self) -> Busy {
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
        self.0.secrets.usable().then_some(self.0.secrets.as_ref())
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

    /// The service's health (reachability, and whether it is a demo server).
    pub async fn service_health(&self) -> ClientResult<Health> {
        self.0.api.health().await
    }

    /// The signed-in session, for reads and background work: not activity.
    async fn session(&self) -> ClientResult<Session> {
        match &*self.0.phase.lock().await {
            Phase::Active(s) => Ok(s.clone()),
            Phase::Locked(_) => Err(ClientError::locked()),
            Phase::SignedOut => Err(ClientError::not_signed_in()),
        }
    }

    /// The member as the service last answered, in the phase (a locked session keeps it too).
    async fn update_session_member(&self, member: &Member) {
        if let Phase::Active(s) | Phase::Locked(s) = &mut *self.0.phase.lock().await {
            s.member = member.clone();
        }
    }

    /// The session for a change the person started: counts as activity.
    async fn acting_session(&self) -> ClientResult<Session> {
        let s = self.online_session().await?;
        self.record_activity();
        Ok(s)
    }

    /// The session for talking to the service: refused while only the copy is open.
    async fn online_session(&self) -> ClientResult<Session> {
        let s = self.session().await?;
        if s.offline {
            return Err(ClientError::of(ClientCode::ReadOnlyOffline));
        }
        Ok(s)
    }
}
