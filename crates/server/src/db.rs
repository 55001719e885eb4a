//! The server's database: SQLCipher-encrypted SQLite in WAL mode, or PostgreSQL.
//!
//! One writer connection on SQLite (it has one writer anyway), a few on PostgreSQL (one member's
//! writes are kept in order by the member lock, on one server as across servers), and a small
//! pool of readers. All database work runs on the blocking pool, never on the async workers (the
//! PostgreSQL client is synchronous too). Writes that move money use `BEGIN IMMEDIATE` on SQLite and the writer runs
//! with `synchronous=FULL`; PostgreSQL runs with its durable defaults (`fsync`,
//! `synchronous_commit`).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use crate::sql;
use tokio::sync::Semaphore;

use crate::config::DatabaseKey;
use crate::error::ApiError;
use crate::migrations::{MIGRATIONS, PG_MIGRATIONS};

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("cannot open the database at {path}: {source}")]
    Open { path: PathBuf, source: rusqlite::Error },
    #[error("the database key does not open {0} (wrong key, or not a Carebill database)")]
    WrongKey(PathBuf),
    #[error("migration {version} failed: {source}")]
    Migration { version: usize, source: rusqlite::Error },
    #[error("the database was written by a newer Carebill (schema {found}, this build knows {known})")]
    TooNew { found: usize, known: usize },
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    #[error("PostgreSQL: {0}")]
    Postgres(String),
}

impl From<sql::Error> for DbError {
    fn from(e: sql::Error) -> DbError {
        match e {
            sql::Error::Sqlite(e) => DbError::Sqlite(e),
            other => DbError::Postgres(other.to_string()),
        }
    }
}

pub struct Db {
    /// The SQLite file; `None` on PostgreSQL.
    path: Option<PathBuf>,
    /// The PostgreSQL URL, to connect again when a connection is lost.
    url: Option<String>,
    /// One writer on SQLite; [`PG_WRITERS`] on PostgreSQL, where the member lock (see
    /// `store::lock_members`) keeps one member's writes in order across connections, as it does
    /// across servers.
    writers: Pool,
    readers: Pool,
}

/// Writer connections per server on PostgreSQL: a payment spends most of its time in round trips,
/// so a second and third connection overlap them (one writer topped out near 500 payments/s).
pub const PG_WRITERS: usize = 4;

/// Connections lent out one at a time: an async permit per connection (so waiting requests do
/// not each hold a blocking thread), and a condition variable for blocking callers.
struct Pool {
    idle: Mutex<Vec<sql::Connection>>,
    returned: std::sync::Condvar,
    permits: Semaphore,
    size: usize,
}

impl Pool {
    fn new(connections: Vec<sql::Connection>) -> Pool {
        let size = connections.len();
        Pool {
            idle: Mutex::new(connections),
            returned: std::sync::Condvar::new(),
            permits: Semaphore::new(size),
            size,
        }
    }

    /// A connection, waiting (blocking) until one is back; it returns when the loan is dropped
    /// (also when the work with it panicked).
    fn take(&self) -> Lent<'_> {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if let Some(conn) = idle.pop() {
                return Lent {
                    pool: self,
                    conn: Some(conn),
                };
            }
            idle = self.returned.wait(idle).unwrap_or_else(PoisonError::into_inner);
        }
    }
}

struct Lent<'p> {
    pool: &'p Pool,
    conn: Option<sql::Connection>,
}

impl std::ops::Deref for Lent<'_> {
    type Target = sql::Connection;
    fn deref(&self) -> &sql::Connection {
        self.conn.as_ref().expect("lent until dropped")
    }
}

impl std::ops::DerefMut for Lent<'_> {
    fn deref_mut(&mut self) -> &mut sql::Connection {
        self.conn.as_mut().expect("lent until dropped")
    }
}

impl Drop for Lent<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            self.pool.idle.lock().unwrap_or_else(PoisonError::into_inner).push(conn);
            self.pool.returned.notify_one();
        }
    }
}

/// How often a connection whose key could not be applied is opened again.
const KEY_ATTEMPTS: u32 = 4;

/// Opens the file and applies the key (a raw 256-bit key: no passphrase derivation on every
/// open). Rarely, under many opens at once in one process, SQLCipher refuses the `PRAGMA key` of
/// a sound key ("An error occurred with PRAGMA key or rekey"; seen about once in ten full test
/// runs, not reproduced in isolation). Nothing is read or written before the key applies, so the
/// open is simply made again, a few times, and logged; a wrong key is not this error (it fails
/// at the first read, below, and is never retried).
fn keyed(path: &Path, flags: OpenFlags, key: &DatabaseKey) -> rusqlite::Result<Connection> {
    let pragma = format!("PRAGMA key = \"x'{}'\";", key.to_hex());
    let mut attempt = 1;
    loop {
        let conn = Connection::open_with_flags(path, flags)?;
        match conn.execute_batch(&pragma) {
            Ok(()) => return Ok(conn),
            Err(e) if attempt < KEY_ATTEMPTS => {
                tracing::warn!(attempt, error = %e, "the database key did not apply; opening again");
                drop(conn);
                std::thread::sleep(std::time::Duration::from_millis(25 * u64::from(attempt)));
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Opens one connection and applies the key and pragmas.
pub fn connect(path: &Path, key: &DatabaseKey, read_only: bool) -> Result<Connection, DbError> {
    let flags = if read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX
    };
    let open_err = |source| DbError::Open {
        path: path.to_owned(),
        source,
    };
    let conn = keyed(path, flags, key).map_err(open_err)?;
    conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get::<_, i64>(0))
        .map_err(|_| DbError::WrongKey(path.to_owned()))?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.execute_batch(
        "PRAGMA foreign_keys = ON;
         PRAGMA temp_store = MEMORY;
         PRAGMA cache_size = -16384;",
    )?;
    if read_only {
        conn.execute_batch("PRAGMA query_only = ON;")?;
    } else {
        conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;")?;
    }
    Ok(conn)
}

/// A connection to PostgreSQL: over verified TLS when the URL says `sslmode=verify-full`, else
/// over a Unix socket or loopback (see `pg_tls` and `config::check_database_url`).
pub(crate) fn pg_connect(url: &str) -> Result<sql::Connection, DbError> {
    crate::pg_tls::connect(url).map_err(DbError::Postgres)
}

/// Takes the server's migration lock on PostgreSQL (a session advisory lock: held until released
/// or the connection ends), so servers starting together migrate once.
const MIGRATION_LOCK: i64 = 0x4341_5245_4249_4c4c; // "CAREBILL"

/// Brings a PostgreSQL schema up to date, under the migration lock. Applied migrations are
/// recorded in `schema_migrations`; each runs in its own transaction with its record.
pub fn migrate_postgres(conn: &sql::Connection) -> Result<(), DbError> {
    conn.query_row("SELECT pg_advisory_lock(?1)", [MIGRATION_LOCK], |_| Ok(()))?;
    let outcome = (|| -> Result<(), DbError> {
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
        )?;
        let current: i64 = conn.query_row("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", [], |r| {
            r.get(0)
        })?;
        let known = PG_MIGRATIONS.len() as i64;
        if current > known {
            return Err(DbError::TooNew {
                found: current as usize,
                known: known as usize,
            });
        }
        for (i, migration) in PG_MIGRATIONS.iter().enumerate().skip(current as usize) {
            let version = i as i64 + 1;
            conn.transaction(|tx| -> Result<(), DbError> {
                tx.execute_batch(migration)?;
                tx.execute(
                    "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)",
                    sql::params![version, chrono::Utc::now().timestamp_millis()],
                )?;
                Ok(())
            })?;
        }
        Ok(())
    })();
    let _ = conn.query_row("SELECT pg_advisory_unlock(?1)", [MIGRATION_LOCK], |_| Ok(()));
    outcome
}

/// Brings the schema up to date. Migrations only move forward.
pub fn migrate(conn: &mut Connection) -> Result<(), DbError> {
    migrate_with(conn, MIGRATIONS)
}

/// Applies the migrations of `list` that the database has not seen (`PRAGMA user_version`).
pub fn migrate_with(conn: &mut Connection, list: &[&str]) -> Result<(), DbError> {
    let current: usize = conn.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))? as usize;
    if current > list.len() {
        return Err(DbError::TooNew {
            found: current,
            known: list.len(),
        });
    }
    if current == list.len() {
        return Ok(());
    }
    // A migration may rebuild a table (SQLite cannot change a CHECK in place): foreign keys are
    // off while it runs, so dropping the old table cascades nothing, and every reference is
    // checked before the migration commits (SQLite's documented procedure for schema changes).
    conn.execute_batch("PRAGMA foreign_keys = OFF")?;
    let outcome = apply(conn, list, current);
    conn.execute_batch("PRAGMA foreign_keys = ON")?;
    outcome
}

fn apply(conn: &mut Connection, list: &[&str], current: usize) -> Result<(), DbError> {
    for (i, sql) in list.iter().enumerate().skip(current) {
        let version = i + 1;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute_batch(sql)
            .map_err(|source| DbError::Migration { version, source })?;
        let dangling: i64 = tx
            .query_row("SELECT COUNT(*) FROM pragma_foreign_key_check", [], |r| r.get(0))
            .map_err(|source| DbError::Migration { version, source })?;
        if dangling > 0 {
            return Err(DbError::Migration {
                version,
                source: rusqlite::Error::SqliteFailure(
                    rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY),
                    Some(format!("{dangling} rows would lose their foreign key")),
                ),
            });
        }
        tx.pragma_update(None, "user_version", version as i64)
            .map_err(|source| DbError::Migration { version, source })?;
        tx.commit()?;
    }
    Ok(())
}

/// Replaces `conn` with a new connection to `url` if the server ended it (see
/// `Db::renew_if_closed`); a SQLite connection (no `url`) never is.
pub(crate) fn renew_if_closed(conn: &mut sql::Connection, url: Option<&str>) -> Result<(), DbError> {
    match url {
        Some(url) if conn.is_closed() => {
            tracing::warn!("a database connection was lost; connecting again");
            *conn = pg_connect(url)?;
            Ok(())
        }
        _ => Ok(()),
    }
}

impl Db {
    pub fn open(path: &Path, key: &DatabaseKey, readers: usize) -> Result<Db, DbError> {
        let mut writer = connect(path, key, false)?;
        migrate(&mut writer)?;
        let writer = sql::Connection::sqlite(writer);
        let readers = (0..readers.max(1))
            .map(|_| connect(path, key, true).map(sql::Connection::sqlite))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Db {
            path: Some(path.to_owned()),
            url: None,
            writers: Pool::new(vec![writer]),
            readers: Pool::new(readers),
        })
    }

    /// Opens a PostgreSQL database: migrations run first (under an advisory lock, so servers
    /// starting together migrate once), then the writer and `readers` readers connect.
    pub fn open_postgres(url: &str, readers: usize) -> Result<Db, DbError> {
        let writer = pg_connect(url)?;
        migrate_postgres(&writer)?;
        let mut writers = vec![writer];
        for _ in 1..PG_WRITERS {
            writers.push(pg_connect(url)?);
        }
        let readers = (0..readers.max(1))
            .map(|_| pg_connect(url))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Db {
            path: None,
            url: Some(url.to_owned()),
            writers: Pool::new(writers),
            readers: Pool::new(readers),
        })
    }

    /// The SQLite file; `None` on PostgreSQL.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// How many writer connections there are: how many transactions this server can have open
    /// at once (1 on SQLite).
    pub fn writers(&self) -> usize {
        self.writers.size
    }

    /// The engine behind this database.
    pub fn dialect(&self) -> sql::Dialect {
        match self.path {
            Some(_) => sql::Dialect::Sqlite,
            None => sql::Dialect::Postgres,
        }
    }

    /// Most items one transaction may give a savepoint each. PostgreSQL keeps the
    /// subtransactions of a transaction in each backend's snapshot cache only up to 64; past that
    /// every snapshot of every session overflows to a slow lookup, so batches there stay at 32.
    pub fn savepoint_batch(&self, wanted: usize) -> usize {
        match self.dialect() {
            sql::Dialect::Sqlite => wanted,
            sql::Dialect::Postgres => wanted.min(32),
        }
    }

    /// A PostgreSQL connection the server ended (a restart, a failover, an administrator's
    /// `pg_terminate_backend`) is replaced by a new one before it is used; the request that found
    /// it closed mid-way has already failed, as a request does when the database goes away, and
    /// its client retries. While the database cannot be reached, requests fail fast (and the next
    /// one tries again).
    fn renew_if_closed(&self, conn: &mut sql::Connection) -> Result<(), ApiError> {
        renew_if_closed(conn, self.url.as_deref()).map_err(|e| ApiError::internal(format!("database unavailable: {e}")))
    }

    /// Runs `f` on a reader, off the async workers.
    pub async fn read<R, F>(self: &Arc<Self>, f: F) -> Result<R, ApiError>
    where
        R: Send + 'static,
        F: FnOnce(&sql::Connection) -> Result<R, ApiError> + Send + 'static,
    {
        self.lend(|db| &db.readers, move |conn| f(conn)).await
    }

    /// Runs `f` with a writer, off the async workers. `f` opens its own transaction.
    pub async fn write<R, F>(self: &Arc<Self>, f: F) -> Result<R, ApiError>
    where
        R: Send + 'static,
        F: FnOnce(&mut sql::Connection) -> Result<R, ApiError> + Send + 'static,
    {
        self.lend(|db| &db.writers, f).await
    }

    /// Runs `f` with a connection of `pool`, on the blocking pool once a connection is free (a
    /// lost one is made again first).
    async fn lend<R, F>(self: &Arc<Self>, pool: fn(&Db) -> &Pool, f: F) -> Result<R, ApiError>
    where
        R: Send + 'static,
        F: FnOnce(&mut sql::Connection) -> Result<R, ApiError> + Send + 'static,
    {
        let _permit = pool(self)
            .permits
            .acquire()
            .await
            .map_err(|_| ApiError::internal("database closed"))?;
        let db = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let mut conn = pool(&db).take();
            db.renew_if_closed(&mut conn)?;
            f(&mut conn)
        })
        .await
        .map_err(|e| ApiError::internal(format!("database task failed: {e}")))?
    }

    /// Runs `f` inside one `BEGIN IMMEDIATE` transaction, committed when `f` succeeds.
    pub async fn transaction<R, F>(self: &Arc<Self>, f: F) -> Result<R, ApiError>
    where
        R: Send + 'static,
        F: FnOnce(&sql::Connection) -> Result<R, ApiError> + Send + 'static,
    {
        self.write(move |conn| conn.transaction(f)).await
    }

    /// Blocking access to a writer for command-line tools (import, seed) and start-up.
    pub fn with_writer<R>(&self, f: impl FnOnce(&mut sql::Connection) -> R) -> R {
        let mut conn = self.writers.take();
        f(&mut conn)
    }
}
