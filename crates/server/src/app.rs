//! Starting and stopping the server.

use std::net::SocketAddr;
use std::sync::Arc;

use crate::sql::params;
use chrono::Duration;
use tokio::sync::{Notify, oneshot};
use tokio::task::JoinHandle;

use crate::audit::AuditSink;
use crate::auth::password::Hasher;
use crate::auth::throttle::Throttle;
use crate::clock::{BusinessClock, Clock};
use crate::config::{ProcessorKind, ServerConfig};
use crate::db::{Db, DbError};
use crate::error::ApiError;
use crate::processor::PaymentProcessor;
use crate::processor::sandbox::SandboxProcessor;
use crate::secret::Secret;
use crate::state::{AppState, Inner};
use crate::store::{
    BUSINESS_OFFSET_KEY, SERVER_SECRET_FINGERPRINT_KEY, SERVER_SECRET_KEY, ms, set_setting, setting, setting_or_insert,
};
use crate::{mail, routes, scheduler, seed};

pub const DATABASE_FILE: &str = "carebill.db";
const READERS: usize = 4;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("{0}")]
    Setup(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("TLS: {0}")]
    Tls(String),
}

impl From<ApiError> for StartError {
    fn from(e: ApiError) -> StartError {
        StartError::Setup(e.describe())
    }
}

/// A server that is listening.
pub struct RunningServer {
    pub addr: SocketAddr,
    /// The billing office console's own address (`console_listen`), when it is served.
    pub console_addr: Option<SocketAddr>,
    pub state: AppState,
    shutdown: Option<oneshot::Sender<()>>,
    console_shutdown: Option<oneshot::Sender<()>>,
    console_task: Option<JoinHandle<()>>,
    /// Stops the database listener (PostgreSQL).
    listener_stop: tokio::sync::watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl RunningServer {
    /// Stops accepting, finishes in-flight requests, flushes the audit log.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(tx) = self.console_shutdown.take() {
            let _ = tx.send(());
        }
        let _ = self.listener_stop.send(true);
        let _ = (&mut self.task).await;
        if let Some(task) = self.console_task.take() {
            let _ = task.await;
        }
        self.state.audit.flush().await;
    }

    /// Runs until the process is asked to stop (Ctrl-C / SIGTERM).
    pub async fn run_until_signal(self) {
        shutdown_signal().await;
        tracing::info!("shutting down");
        self.stop().await;
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

/// Opens (creating and migrating) the database: PostgreSQL at `database_url`, otherwise SQLite
/// in the data directory.
pub fn open_database(config: &ServerConfig) -> Result<Db, StartError> {
    if let Some(url) = &config.database_url {
        return Ok(Db::open_postgres(&url.0, READERS)?);
    }
    std::fs::create_dir_all(&config.data_dir)
        .map_err(|e| StartError::Setup(format!("cannot create {}: {e}", config.data_dir.display())))?;
    Ok(Db::open(
        &config.data_dir.join(DATABASE_FILE),
        &config.database_key,
        READERS,
    )?)
}

/// The server's secret: from `server_secret_file` when configured, otherwise created on first
/// start and kept in the (encrypted) database. Codes, cursors and session checks made with one
/// secret fail with another, so a database never silently changes secret: a configured secret
/// must be the one the database was made with (its stored copy, or the SHA-256 fingerprint
/// recorded the first time a file's secret was used), or the server refuses to start.
pub fn load_secret(db: &Db, configured: Option<&crate::config::DatabaseKey>) -> Result<Secret, StartError> {
    use sha2::{Digest, Sha256};
    let mismatch = || {
        StartError::Setup(
            "the server secret is not the one this database was made with (server_secret_file \
             missing or different): codes, cursors and sessions would stop working."
                .into(),
        )
    };
    let outcome = db.with_writer(|conn| -> Result<Result<Secret, ()>, ApiError> {
        let stored = setting(conn, SERVER_SECRET_KEY)?;
        let Some(key) = configured else {
            if stored.is_none() && setting(conn, SERVER_SECRET_FINGERPRINT_KEY)?.is_some() {
                // Made with a secret file: a new secret here would break everything made before.
                return Ok(Err(()));
            }
            let hex = match stored {
                Some(h) => h,
                None => setting_or_insert(conn, SERVER_SECRET_KEY, &crate::config::DatabaseKey::random().to_hex())?,
            };
            let key = crate::config::DatabaseKey::from_hex(&hex).map_err(|e| ApiError::internal(e.to_string()))?;
            return Ok(Ok(Secret(key.0)));
        };
        let fingerprint = crate::ids::hex(&Sha256::digest(key.0));
        if stored.is_some_and(|hex| hex.trim() != key.to_hex()) {
            return Ok(Err(()));
        }
        match setting(conn, SERVER_SECRET_FINGERPRINT_KEY)? {
            Some(known) if known != fingerprint => return Ok(Err(())),
            Some(_) => {}
            None => set_setting(conn, SERVER_SECRET_FINGERPRINT_KEY, &fingerprint)?,
        }
        Ok(Ok(Secret(key.0)))
    })?;
    outcome.map_err(|()| mismatch())
}

/// Opens everything and starts listening, with the sandbox processor.
pub async fn start(config: ServerConfig, clock: Arc<dyn Clock>) -> Result<RunningServer, StartError> {
    start_with(config, clock, None).await
}

/// Like [`start`], with another payment processor (tests wrap the sandbox to inject faults).
pub async fn start_with(
    config: ServerConfig,
    clock: Arc<dyn Clock>,
    processor: Option<Arc<dyn PaymentProcessor>>,
) -> Result<RunningServer, StartError> {
    // Refuse before anything is opened or created.
    config.processor().map_err(|e| StartError::Setup(e.to_string()))?;
    let mut plan_info = config.plan().map_err(|e| StartError::Setup(e.to_string()))?.clone();
    // The plan's calendar is the one this server keeps (`plan_time_zone`), with its offsets as
    // data for the app.
    plan_info.set_zone(&config.calendar.rules(2015, 2045));
    let plan = crate::state::ServedPlan::new(plan_info);
    // Opening, migrating, the secret, the sandbox and the demo seed are blocking database work
    // (PostgreSQL's client is synchronous): on the blocking pool, never on an async worker.
    let kind = config.processor().map_err(|e| StartError::Setup(e.to_string()))?;
    let (db, secret, processor, offset_ms) = {
        let (config, clock) = (config.clone(), Arc::clone(&clock));
        tokio::task::spawn_blocking(move || -> Result<_, StartError> {
            let db = Arc::new(open_database(&config)?);
            let secret = load_secret(&db, config.server_secret.as_ref())?;
            let processor: Arc<dyn PaymentProcessor> = match (processor, kind) {
                (Some(p), _) => p,
                (None, ProcessorKind::Sandbox) => Arc::new(SandboxProcessor::for_config(&config)?),
            };
            if config.demo {
                seed::seed_demo_if_empty(&db, &config, clock.now(), processor.as_ref())?;
                seed::seed_demo_staff(&db, &secret, clock.now())?;
            }
            let offset_ms: i64 = db
                .with_writer(|conn| setting(conn, BUSINESS_OFFSET_KEY))?
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            // Reminders start with the first server that has them, on the business clock: what
            // was issued or fell due before is never announced (crate::reminders).
            let started = (clock.now() + Duration::milliseconds(offset_ms)).timestamp_millis();
            db.with_writer(|conn| {
                crate::store::setting_or_insert(conn, crate::reminders::REMINDERS_FROM_KEY, &started.to_string())
            })?;
            Ok((db, secret, processor, offset_ms))
        })
        .await
        .map_err(|e| StartError::Setup(e.to_string()))??
    };
    if kind == ProcessorKind::Sandbox && !config.demo {
        tracing::warn!(
            "SANDBOX PROCESSOR: this server charges nothing real. Test cards pay bills. Use it for staging only."
        );
    }
    let business = BusinessClock::new(Arc::clone(&clock), Duration::milliseconds(offset_ms), config.calendar);
    let hasher = tokio::task::spawn_blocking({
        let n = config.hash_concurrency;
        move || Hasher::new(n)
    })
    .await
    .map_err(|e| StartError::Setup(e.to_string()))??;
    let mail_wakeup = Arc::new(Notify::new());
    let state = AppState::new(Inner {
        audit: AuditSink::spawn(Arc::clone(&db)),
        throttle: Throttle::new(Arc::clone(&clock)),
        config: config.clone(),
        db,
        clock,
        business,
        secret,
        hasher,
        processor,
        payment_queue: Default::default(),
        sessions: Default::default(),
        bill_pages: Default::default(),
        business_date: Default::default(),
        plan,
        mail_wakeup: Arc::clone(&mail_wakeup),
        uploads: Arc::new(tokio::sync::Semaphore::new(config.max_concurrent_uploads.max(1))),
    });
    mail::spawn_sender(state.clone(), mail_wakeup);
    let (listener_stop, stop) = tokio::sync::watch::channel(false);
    if let Some(url) = &config.database_url {
        // Other servers may share this database: their revocations reach this one's session
        // cache through the listener, and the cache is bypassed whenever it is not listening.
        state.sessions.share();
        // Their sign-in throttles and rate limits count together, in the database.
        state.throttle.share(Arc::clone(&state.db));
        let (notified, changed) = (state.clone(), state.clone());
        tokio::spawn(crate::pg_tls::listen(
            url.0.clone(),
            crate::store::REVOKED_CHANNEL,
            move || notified.sessions.invalidate(),
            move |listening| changed.sessions.set_listening(listening),
            stop,
        ));
    }
    spawn_maintenance(state.clone());
    if let Some(every) = config.scheduler_every {
        scheduler::spawn(state.clone(), every);
    }

    let app = routes::router(state.clone());
    let (listener, addr) = bind(config.listen)?;
    let tls = match &config.tls {
        None => None,
        Some((cert, key)) => Some(crate::serve::tls_acceptor(cert, key).map_err(StartError::Tls)?),
    };
    // The console: its own listener, so the member API's address never serves it.
    let console = match config.console_listen {
        None => None,
        Some(at) => {
            let (listener, console_addr) = bind(at)?;
            let cookies = routes::CookiePolicy {
                secure: !(config.demo && tls.is_none() && console_addr.ip().is_loopback()),
            };
            let console_app = routes::console_router(state.clone(), cookies);
            let (tx, rx) = oneshot::channel::<()>();
            let task = tokio::spawn(crate::serve::serve(
                listener,
                console_app,
                tls.clone(),
                config.limits,
                rx,
            ));
            Some((console_addr, tx, task))
        }
    };
    let (shutdown_tx, shutdown_rx) = oneshot::channel::<()>();
    let task = tokio::spawn(crate::serve::serve(listener, app, tls, config.limits, shutdown_rx));
    let (console_addr, console_shutdown, console_task) = match console {
        Some((a, tx, t)) => (Some(a), Some(tx), Some(t)),
        None => (None, None, None),
    };
    Ok(RunningServer {
        addr,
        console_addr,
        state,
        shutdown: Some(shutdown_tx),
        console_shutdown,
        console_task,
        listener_stop,
        task,
    })
}

fn bind(at: SocketAddr) -> Result<(tokio::net::TcpListener, SocketAddr), StartError> {
    let failed = |source| StartError::Bind { addr: at, source };
    let listener = std::net::TcpListener::bind(at).map_err(failed)?;
    listener.set_nonblocking(true).map_err(failed)?;
    let addr = listener.local_addr().map_err(failed)?;
    let listener = tokio::net::TcpListener::from_std(listener).map_err(|source| StartError::Bind { addr, source })?;
    Ok((listener, addr))
}

/// Hourly: forget expired tokens, sessions, codes, old changes and unverified accounts; drop
/// old idempotency answers (keys stay); erase old mail bodies.
fn spawn_maintenance(state: AppState) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(3600));
        loop {
            tick.tick().await;
            let now = state.now();
            let retention = state.config.staff_audit_retention_days;
            let result = state
                .db
                .transaction(move |tx| {
                    let day_ago = ms(now - Duration::days(1));
                    tx.execute("DELETE FROM access_tokens WHERE expires_at < ?1", params![day_ago])?;
                    tx.execute(
                        "DELETE FROM sessions WHERE expires_at < ?1 OR (revoked_at IS NOT NULL AND revoked_at < ?1)",
                        params![day_ago],
                    )?;
                    tx.execute("DELETE FROM account_codes WHERE expires_at < ?1", params![day_ago])?;
                    tx.execute("DELETE FROM rate_limits WHERE last_at < ?1", params![day_ago])?;
                    crate::store::prune_changes(tx, now - crate::store::CHANGE_RETENTION)?;
                    crate::payments::purge_keys(tx, now)?;
                    crate::accounts::purge_unverified(tx, now)?;
                    crate::mail::erase_old_bodies(tx, now)?;
                    crate::conversations::purge_unsent(tx, now)?;
                    crate::staff_audit::purge(tx, now, retention)?;
                    crate::staff::purge_sessions(tx, now)?;
                    Ok(())
                })
                .await;
            if let Err(e) = result {
                tracing::warn!(error = %e, "maintenance failed");
            }
        }
    });
}
