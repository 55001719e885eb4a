//! The member's copy on this device: SQLCipher-encrypted SQLite (WAL, forward-only migrations),
//! or in memory for kiosks. Holds what sync brings (bills with line items, payments, payment
//! methods, autopay, plans, claims, conversations with the billing office and the attachments
//! opened), the sync position, and the outbox of writes in flight.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use carebill_api::types::{
    Autopay, Bill, BillDetail, Claim, ClaimDetail, Conversation, MessageAuthor, Payment, PaymentMethod, PaymentPlan,
    ScheduledPayment, SyncEntity, SyncOp, UpcomingCharge,
};

use crate::api::RawChange;
use carebill_billing::Money;
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::error::{ClientError, ClientResult};
use crate::keys::DataKey;
use crate::types::*;

pub const CACHE_FILE: &str = "cache.db";

const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
-- Narrow rows for filtering and sorting; the documents live in bill_docs and are read only for
-- the rows shown.
CREATE TABLE bills (
    id                TEXT PRIMARY KEY,
    kind              TEXT NOT NULL,
    provider          TEXT NOT NULL,
    due_date          TEXT NOT NULL,
    service_date_from TEXT NOT NULL,
    service_date_to   TEXT NOT NULL,
    balance_cents     INTEGER NOT NULL,
    payable_cents     INTEGER NOT NULL,
    pending_cents     INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX bills_due ON bills(due_date, id);
-- Covers every filter column, so counting and filtering never visit the table rows.
CREATE INDEX bills_filters ON bills(balance_cents, kind, provider, service_date_from, service_date_to, due_date);
-- `search` moved to `bill_search` (migration 4); here it stays empty.
CREATE TABLE bill_docs (
    id      TEXT PRIMARY KEY,
    search  TEXT NOT NULL,
    summary TEXT NOT NULL,
    detail  TEXT NOT NULL
);
CREATE TABLE payments (
    id              TEXT PRIMARY KEY,
    created_at      TEXT NOT NULL,
    year            INTEGER NOT NULL,
    status          TEXT NOT NULL,
    idempotency_key TEXT,
    data            TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX payments_created ON payments(created_at DESC, id DESC);
CREATE INDEX payments_key ON payments(idempotency_key);
CREATE TABLE payment_methods (id TEXT PRIMARY KEY, data TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE autopay (id INTEGER PRIMARY KEY CHECK (id = 1), data TEXT NOT NULL);
-- Writes in flight. A row is written before the request is sent, and carries its idempotency key.
CREATE TABLE outbox (
    id              TEXT PRIMARY KEY,
    kind            TEXT NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    request         TEXT NOT NULL,
    bill_ids        TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('pending', 'done', 'failed', 'unknown')),
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    result          TEXT,
    error           TEXT
) WITHOUT ROWID;
"#,
    // 2 (issue 17): bills carry what the member paid, what was paid elsewhere, the payments
    // applied and the provider's phone. Documents synced before keep working (their amounts are
    // filled in by `fill_bill_amounts`), and the next sync pulls every bill again to fill the rest.
    r#"
DELETE FROM meta WHERE key IN ('cursor', 'etag');
"#,
    // 3 (issue 17): the member carries the language of their mail. A copy saved before opens
    // offline as English until the next sign-in brings the account's own.
    r#"
UPDATE meta SET value = json_set(value, '$.locale', 'en')
 WHERE key = 'member' AND json_valid(value) AND json_type(value, '$.locale') IS NULL;
"#,
    // 4 (issue 17): a bill's search text in a narrow table of its own. A search scans every
    // row; in `bill_docs` it read the pages of every document too, and once the documents carried
    // their payments the 10,000-bill table no longer fitted SQLite's page cache: each search
    // decrypted the whole table again (16 -> 134 ms). `bill_docs.search` stays, empty.
    r#"
CREATE TABLE bill_search (id TEXT PRIMARY KEY, search TEXT NOT NULL) WITHOUT ROWID;
INSERT INTO bill_search (id, search) SELECT id, search FROM bill_docs;
UPDATE bill_docs SET search = '';
"#,
    // 5 (issue 18): payment plans and scheduled payments as synced, and which plan pays a bill
    // (such a bill is never counted overdue). Copies from before hold neither: nothing to fill.
    r#"
CREATE TABLE payment_plans (id TEXT PRIMARY KEY, status TEXT NOT NULL, data TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE scheduled_payments (
    id     TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    pay_on TEXT NOT NULL,
    data   TEXT NOT NULL
) WITHOUT ROWID;
ALTER TABLE bills ADD COLUMN plan_id TEXT;
"#,
    // 6 (issue 19): the plan's claims as synced: narrow rows for the list's filters and order,
    // and the documents (the summary a list row shows, the whole claim) apart, read only for the
    // rows shown, as bills do; a bill's claim number, for a claim's bills. Copies from before hold none, and their
    // sync position is past the claims the service already had: the next sync starts over (it
    // upserts everything again; nothing synced is lost meanwhile).
    r#"
CREATE TABLE claims (
    id           TEXT PRIMARY KEY,
    claim_number TEXT NOT NULL,
    year         INTEGER NOT NULL,
    service_from TEXT NOT NULL,
    service_to   TEXT NOT NULL,
    provider     TEXT,
    providers    TEXT NOT NULL,
    balances     INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX claims_by_date ON claims(year, service_from DESC, id DESC);
CREATE INDEX claims_number ON claims(claim_number);
CREATE INDEX claims_dates ON claims(service_from, service_to);
CREATE TABLE claim_docs (id TEXT PRIMARY KEY, summary TEXT NOT NULL, detail TEXT NOT NULL);
ALTER TABLE bills ADD COLUMN claim_number TEXT;
CREATE INDEX bills_claim ON bills(claim_number) WHERE claim_number IS NOT NULL;
CREATE INDEX bills_service ON bills(service_date_from);
DELETE FROM meta WHERE key IN ('cursor', 'etag');
"#,
    // 7 (issue 20): conversations with the billing office as synced (the whole thread a
    // document), how many of each thread's messages the member has seen on this device (kept
    // apart, so a sync that starts over does not mark replies unread again), downloaded
    // attachments within a size budget, and the files of messages waiting in the outbox. Copies
    // from before hold none: nothing to fill.
    r#"
CREATE TABLE conversations (
    id         TEXT PRIMARY KEY,
    status     TEXT NOT NULL,
    bill_id    TEXT,
    created_at TEXT NOT NULL,
    data       TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX conversations_by_date ON conversations(created_at DESC, id);
CREATE TABLE conversation_seen (id TEXT PRIMARY KEY, seen INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE attachment_files (
    id      TEXT PRIMARY KEY,
    bytes   BLOB NOT NULL,
    size    INTEGER NOT NULL,
    used_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE outbox_files (
    entry_id      TEXT NOT NULL,
    position      INTEGER NOT NULL,
    file_name     TEXT NOT NULL,
    bytes         BLOB NOT NULL,
    attachment_id TEXT,
    PRIMARY KEY (entry_id, position)
) WITHOUT ROWID;
"#,
    // 8 (issue 22): the desktop notices decided on this device, one row per event key, kept so
    // that no event is announced twice; `facts` are what the words are made from (in the language
    // of the moment). Copies from before hold none: their first decision records what is already
    // true as `baseline` (see `crate::notices`).
    r#"
CREATE TABLE desktop_notices (
    key        TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    facts      TEXT NOT NULL,
    decided_at TEXT NOT NULL,
    state      TEXT NOT NULL CHECK (state IN ('baseline', 'off', 'unread', 'read'))
) WITHOUT ROWID;
CREATE INDEX desktop_notices_listed ON desktop_notices(decided_at DESC, key) WHERE state IN ('unread', 'read');
"#,
];

/// Runs after migration `after` in its transaction: the data steps SQL cannot do exactly.
fn migrate_data(tx: &Connection, after: usize) -> ClientResult<()> {
    if after == 2 {
        fill_bill_amounts(tx)?;
    }
    Ok(())
}

/// Bill documents written before bills said what the member paid: `payments_made` is what the
/// amount due and the balance say (nothing was recorded as paid elsewhere then), so an old copy
/// still adds up offline. Money is computed as `Money`, never in SQL's floating point.
fn fill_bill_amounts(tx: &Connection) -> ClientResult<()> {
    let docs: Vec<(String, String, String)> = tx
        .prepare("SELECT id, summary, detail FROM bill_docs")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    let fill = |text: &str, detail: bool| -> ClientResult<Option<String>> {
        let mut v: serde_json::Value = serde_json::from_str(text)?;
        let Some(doc) = v.as_object_mut() else {
            return Ok(None);
        };
        if doc.contains_key("payments_made") {
            return Ok(None);
        }
        let amount = |key: &str| doc.get(key).and_then(|m| m.as_str()).and_then(|m| Money::parse(m).ok());
        let made = match (amount("amount_due"), amount("balance")) {
            (Some(due), Some(balance)) => due.checked_sub(balance).unwrap_or(Money::ZERO),
            _ => Money::ZERO,
        };
        doc.insert("payments_made".into(), made.to_string().into());
        doc.insert("other_payments".into(), Money::ZERO.to_string().into());
        doc.insert("billing_phone".into(), serde_json::Value::Null);
        if detail {
            doc.insert("payments".into(), serde_json::Value::Array(Vec::new()));
        }
        Ok(Some(serde_json::to_string(&v)?))
    };
    for (id, summary, detail) in docs {
        if let (Some(summary), Some(detail)) = (fill(&summary, false)?, fill(&detail, true)?) {
            tx.execute(
                "UPDATE bill_docs SET summary = ?2, detail = ?3 WHERE id = ?1",
                params![id, summary, detail],
            )?;
        }
    }
    Ok(())
}

/// The member's cache. Cheap to clone; queries run on the blocking pool.
#[derive(Clone)]
pub struct Cache {
    conn: Arc<Mutex<Connection>>,
    path: Option<PathBuf>,
}

fn migrate(conn: &mut Connection) -> ClientResult<()> {
    let current = conn.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))? as usize;
    if current > MIGRATIONS.len() {
        return Err(ClientError::internal(
            "the offline copy was written by a newer Carebill",
        ));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current) {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute_batch(sql)?;
        migrate_data(&tx, i + 1)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
    }
    Ok(())
}

impl Cache {
    /// Opens (creating) the encrypted cache in a member directory.
    pub fn open(dir: &Path, key: &DataKey) -> ClientResult<Cache> {
        // Only this OS user may read the copy, its directory and the directories above it (the
        // directory names and file sizes say something too). SQLite gives its WAL and shared
        // memory files the database file's mode, so the file is made 0600 before it opens.
        crate::keys::private_dir(dir).map_err(ClientError::internal)?;
        for parent in dir.ancestors().skip(1).take(2) {
            let _ = crate::keys::restrict(parent, 0o700);
        }
        let path = dir.join(CACHE_FILE);
        if path.exists() {
            crate::keys::restrict(&path, 0o600).map_err(ClientError::internal)?;
        } else {
            crate::keys::private_file(&path, b"").map_err(ClientError::internal)?;
        }
        // As the server's database (`carebill_server::db`): a `PRAGMA key` that SQLCipher rarely
        // refuses under many opens at once is made again on a fresh open, a few times; nothing
        // was read or written before it applies, and a wrong key fails later, at the first read.
        let mut attempt = 1;
        let conn = loop {
            let conn = Connection::open(&path)?;
            match conn.execute_batch(&key.sqlcipher_pragma()) {
                Ok(()) => break conn,
                Err(e) if attempt < 4 => {
                    tracing::warn!(attempt, error = %e, "the copy's key did not apply; opening again");
                    drop(conn);
                    std::thread::sleep(std::time::Duration::from_millis(25 * attempt));
                    attempt += 1;
                }
                Err(e) => return Err(e.into()),
            }
        };
        Self::finish_open(conn, Some(path))
    }

    /// A cache that never touches the disk (kiosk mode).
    pub fn open_in_memory() -> ClientResult<Cache> {
        Self::finish_open(Connection::open_in_memory()?, None)
    }

    /// An unencrypted cache file, for measuring what encryption costs. Not used by the app.
    #[doc(hidden)]
    pub fn open_unencrypted_for_benchmarks(path: &Path) -> ClientResult<Cache> {
        Self::finish_open(Connection::open(path)?, Some(path.to_owned()))
    }

    fn finish_open(mut conn: Connection, path: Option<PathBuf>) -> ClientResult<Cache> {
        conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get::<_, i64>(0))
            .map_err(|_| ClientError::internal("the offline copy does not open with its key"))?;
        conn.execute_batch("PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY; PRAGMA cache_size = -32768;")?;
        if path.is_some() {
            // NORMAL: the synced data can always be fetched again. Outbox writes switch to FULL
            // for their own transaction (see `durable`).
            conn.execute_batch(
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA wal_autocheckpoint = 8192;",
            )?;
        }
        migrate(&mut conn)?;
        Ok(Cache {
            conn: Arc::new(Mutex::new(conn)),
            path,
        })
    }

    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Runs `f` with the connection on the blocking pool.
    pub async fn run<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> ClientResult<R> + Send + 'static,
    ) -> ClientResult<R> {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || f(&mut conn.lock().unwrap_or_else(PoisonError::into_inner)))
            .await
            .map_err(ClientError::internal)?
    }

    /// Runs `f` on the calling thread (benchmarks, tests).
    pub fn run_blocking<R>(&self, f: impl FnOnce(&mut Connection) -> ClientResult<R>) -> ClientResult<R> {
        f(&mut self.conn.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

// --- meta -----------------------------------------------------------------------------------------

pub fn meta(conn: &Connection, key: &str) -> ClientResult<Option<String>> {
    Ok(conn
        .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
        .optional()?)
}

pub fn set_meta(conn: &Connection, key: &str, value: &str) -> ClientResult<()> {
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        params![key, value],
    )?;
    Ok(())
}

/// Runs `f` with `synchronous = FULL`: for outbox writes, which must survive a power cut before
/// the request they record is sent.
pub fn durable<R>(conn: &Connection, f: impl FnOnce(&Connection) -> ClientResult<R>) -> ClientResult<R> {
    conn.execute_batch("PRAGMA synchronous = FULL;")?;
    let out = f(conn);
    conn.execute_batch("PRAGMA synchronous = NORMAL;")?;
    out
}

/// Where sync stands.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SyncState {
    pub cursor: String,
    pub etag: Option<String>,
    pub synced_at: Option<DateTime<Utc>>,
    pub business_date: Option<NaiveDate>,
}

pub fn sync_state(conn: &Connection) -> ClientResult<SyncState> {
    Ok(SyncState {
        cursor: meta(conn, "cursor")?.unwrap_or_default(),
        etag: meta(conn, "etag")?,
        synced_at: meta(conn, "synced_at")?
            .and_then(|v| DateTime::parse_from_rfc3339(&v).ok())
            .map(|d| d.with_timezone(&Utc)),
        business_date: meta(conn, "business_date")?.and_then(|v| NaiveDate::parse_from_str(&v, "%Y-%m-%d").ok()),
    })
}

/// Records a finished sync; after changes, also the providers the bills filter offers.
pub fn mark_synced(
    conn: &Connection,
    at: DateTime<Utc>,
    business_date: Option<NaiveDate>,
    changed: bool,
) -> ClientResult<()> {
    if changed {
        let mut stmt = conn.prepare_cached("SELECT DISTINCT provider FROM bills ORDER BY provider")?;
        let providers = stmt.query_map([], |r| r.get(0))?.collect::<Result<Vec<String>, _>>()?;
        set_meta(conn, "providers", &serde_json::to_string(&providers)?)?;
    }
    set_meta(conn, "synced_at", &at.to_rfc3339())?;
    if let Some(d) = business_date {
        set_meta(conn, "business_date", &d.format("%Y-%m-%d").to_string())?;
    }
    Ok(())
}

// --- applying the change feed ---------------------------------------------------------------------

fn search_text(d: &BillDetail) -> String {
    let mut s = format!(
        "{} {} {} {}",
        d.bill.provider, d.bill.facility, d.bill.statement_number, d.bill.account_number
    );
    for item in &d.line_items {
        s.push(' ');
        s.push_str(&item.description);
        s.push(' ');
        s.push_str(&item.code);
    }
    s.to_lowercase()
}

fn upsert_bill(conn: &Connection, d: &BillDetail, raw: &str) -> ClientResult<()> {
    conn.prepare_cached(
        "INSERT INTO bills (id, kind, provider, due_date, service_date_from, service_date_to, balance_cents, payable_cents, pending_cents,
            plan_id, claim_number)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
         ON CONFLICT(id) DO UPDATE SET kind = excluded.kind, provider = excluded.provider, due_date = excluded.due_date,
            service_date_from = excluded.service_date_from, service_date_to = excluded.service_date_to,
            balance_cents = excluded.balance_cents, payable_cents = excluded.payable_cents, pending_cents = excluded.pending_cents,
            plan_id = excluded.plan_id, claim_number = excluded.claim_number",
    )?
    .execute(params![
        d.bill.id,
        d.bill.kind.as_str(),
        d.bill.provider,
        d.bill.due_date.format("%Y-%m-%d").to_string(),
        d.bill.service_date_from.format("%Y-%m-%d").to_string(),
        d.bill.service_date_to.format("%Y-%m-%d").to_string(),
        d.bill.balance.cents(),
        d.bill.payable.cents(),
        d.bill.pending_amount.cents(),
        d.bill.payment_plan_id,
        d.bill.claim_number,
    ])?;
    conn.prepare_cached(
        "INSERT INTO bill_docs (id, search, summary, detail) VALUES (?1, '', ?2, ?3)
         ON CONFLICT(id) DO UPDATE SET summary = excluded.summary, detail = excluded.detail",
    )?
    .execute(params![d.bill.id, serde_json::to_string(&d.bill)?, raw])?;
    conn.prepare_cached(
        "INSERT INTO bill_search (id, search) VALUES (?1, ?2) ON CONFLICT(id) DO UPDATE SET search = excluded.search",
    )?
    .execute(params![d.bill.id, search_text(d)])?;
    Ok(())
}

pub fn upsert_payment(conn: &Connection, p: &Payment) -> ClientResult<()> {
    upsert_payment_raw(conn, p, &serde_json::to_string(p)?)
}

fn upsert_payment_raw(conn: &Connection, p: &Payment, raw: &str) -> ClientResult<()> {
    conn.prepare_cached(
        "INSERT INTO payments (id, created_at, year, status, idempotency_key, data) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT(id) DO UPDATE SET status = excluded.status, data = excluded.data, idempotency_key = excluded.idempotency_key",
    )?
    .execute(params![p.id, p.created_at.to_rfc3339(), p.created_at.year(), p.status.as_str(), p.idempotency_key, raw])?;
    Ok(())
}

fn apply_change(conn: &Connection, c: &RawChange) -> ClientResult<()> {
    let raw = || {
        c.data
            .as_deref()
            .map(|d| d.get())
            .ok_or_else(|| ClientError::internal(format!("upsert of {} without data", c.id)))
    };
    let Some(entity) = c.entity else {
        tracing::debug!(id = c.id, "a kind of change this build does not know: skipped");
        return Ok(());
    };
    match (entity, c.op) {
        (SyncEntity::Bill, SyncOp::Upsert) => {
            let raw = raw()?;
            upsert_bill(conn, &serde_json::from_str(raw)?, raw)?
        }
        (SyncEntity::Bill, SyncOp::Delete) => {
            conn.execute("DELETE FROM bills WHERE id = ?1", [&c.id])?;
            conn.execute("DELETE FROM bill_docs WHERE id = ?1", [&c.id])?;
            conn.execute("DELETE FROM bill_search WHERE id = ?1", [&c.id])?;
        }
        (SyncEntity::Payment, SyncOp::Upsert) => {
            let raw = raw()?;
            upsert_payment_raw(conn, &serde_json::from_str(raw)?, raw)?
        }
        (SyncEntity::Payment, SyncOp::Delete) => {
            conn.execute("DELETE FROM payments WHERE id = ?1", [&c.id])?;
        }
        (SyncEntity::PaymentMethod, SyncOp::Upsert) => {
            let m: PaymentMethod = serde_json::from_str(raw()?)?;
            conn.execute(
                "INSERT INTO payment_methods (id, data) VALUES (?1, ?2) ON CONFLICT(id) DO UPDATE SET data = excluded.data",
                params![m.id, raw()?],
            )?;
        }
        (SyncEntity::PaymentMethod, SyncOp::Delete) => {
            conn.execute("DELETE FROM payment_methods WHERE id = ?1", [&c.id])?;
        }
        (SyncEntity::Autopay, SyncOp::Upsert) => {
            let _: Autopay = serde_json::from_str(raw()?)?;
            conn.execute(
                "INSERT INTO autopay (id, data) VALUES (1, ?1) ON CONFLICT(id) DO UPDATE SET data = excluded.data",
                [raw()?],
            )?;
        }
        (SyncEntity::Autopay, SyncOp::Delete) => {
            conn.execute("DELETE FROM autopay", [])?;
        }
        (SyncEntity::PaymentPlan, SyncOp::Upsert) => {
            let p: PaymentPlan = serde_json::from_str(raw()?)?;
            conn.execute(
                "INSERT INTO payment_plans (id, status, data) VALUES (?1, ?2, ?3)
                 ON CONFLICT(id) DO UPDATE SET status = excluded.status, data = excluded.data",
                params![p.id, p.status.as_str(), raw()?],
            )?;
        }
        (SyncEntity::PaymentPlan, SyncOp::Delete) => {
            conn.execute("DELETE FROM payment_plans WHERE id = ?1", [&c.id])?;
        }
        (SyncEntity::ScheduledPayment, SyncOp::Upsert) => {
            let s: ScheduledPayment = serde_json::from_str(raw()?)?;
            conn.execute(
                "INSERT INTO scheduled_payments (id, status, pay_on, data) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(id) DO UPDATE SET status = excluded.status, pay_on = excluded.pay_on, data = excluded.data",
                params![s.id, s.status.as_str(), s.pay_on.format("%Y-%m-%d").to_string(), raw()?],
            )?;
        }
        (SyncEntity::ScheduledPayment, SyncOp::Delete) => {
            conn.execute("DELETE FROM scheduled_payments WHERE id = ?1", [&c.id])?;
        }
        (SyncEntity::Claim, SyncOp::Upsert) => upsert_claim(conn, &serde_json::from_str(raw()?)?)?,
        (SyncEntity::Claim, SyncOp::Delete) => {
            conn.execute("DELETE FROM claims WHERE id = ?1", [&c.id])?;
            conn.execute("DELETE FROM claim_docs WHERE id = ?1", [&c.id])?;
        }
        (SyncEntity::Conversation, SyncOp::Upsert) => upsert_conversation(conn, &serde_json::from_str(raw()?)?)?,
        (SyncEntity::Conversation, SyncOp::Delete) => {
            conn.execute("DELETE FROM conversations WHERE id = ?1", [&c.id])?;
        }
    }
    Ok(())
}

/// Stores a claim as synced (the bench and tests fill copies with it too).
pub fn upsert_claim(conn: &Connection, d: &ClaimDetail) -> ClientResult<()> {
    let c = &d.claim;
    let Some(from) = c.service_date_from else {
        return Err(ClientError::internal(format!("claim {} without a service date", c.id)));
    };
    let to = c.service_date_to.unwrap_or(from).max(from);
    let providers = [c.provider.as_deref(), c.facility.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join("\n")
        .to_lowercase();
    conn.prepare_cached(
        "INSERT INTO claims (id, claim_number, year, service_from, service_to, provider, providers, balances)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT(id) DO UPDATE SET claim_number = excluded.claim_number, year = excluded.year,
            service_from = excluded.service_from, service_to = excluded.service_to, provider = excluded.provider,
            providers = excluded.providers, balances = excluded.balances",
    )?
    .execute(params![
        c.id,
        c.claim_number,
        from.year(),
        from.format("%Y-%m-%d").to_string(),
        to.format("%Y-%m-%d").to_string(),
        c.provider,
        providers,
        !d.benefit_balance.is_empty(),
    ])?;
    conn.prepare_cached(
        "INSERT INTO claim_docs (id, summary, detail) VALUES (?1, ?2, ?3)
         ON CONFLICT(id) DO UPDATE SET summary = excluded.summary, detail = excluded.detail",
    )?
    .execute(params![c.id, serde_json::to_string(c)?, serde_json::to_string(d)?])?;
    Ok(())
}

/// Stores a conversation as synced or as a send answered.
pub fn upsert_conversation(conn: &Connection, c: &Conversation) -> ClientResult<()> {
    conn.prepare_cached(
        "INSERT INTO conversations (id, status, bill_id, created_at, data) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT(id) DO UPDATE SET status = excluded.status, bill_id = excluded.bill_id, data = excluded.data",
    )?
    .execute(params![
        c.id,
        c.status.as_str(),
        c.bill_id,
        c.created_at.to_rfc3339(),
        serde_json::to_string(c)?
    ])?;
    Ok(())
}

/// Records that the member has seen the first `seen` messages of a conversation (never fewer).
pub fn mark_seen(conn: &Connection, id: &str, seen: usize) -> ClientResult<()> {
    conn.execute(
        "INSERT INTO conversation_seen (id, seen) VALUES (?1, ?2)
         ON CONFLICT(id) DO UPDATE SET seen = MAX(seen, excluded.seen)",
        params![id, seen as i64],
    )?;
    Ok(())
}

/// The member's conversations, newest started first, each with how many of the billing office's
/// replies they have not seen.
pub fn conversations(conn: &Connection) -> ClientResult<Vec<(Conversation, u32)>> {
    Ok(conversations_seen(conn)?
        .into_iter()
        .map(|(c, seen)| {
            let unread = unread_in(&c, seen);
            (c, unread)
        })
        .collect())
}

/// Every conversation, newest first, with how many of its messages were seen on this device.
pub fn conversations_seen(conn: &Connection) -> ClientResult<Vec<(Conversation, i64)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT c.data, COALESCE(s.seen, 0) FROM conversations c LEFT JOIN conversation_seen s ON s.id = c.id
         ORDER BY c.created_at DESC, c.id",
    )?;
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    rows.into_iter()
        .map(|(data, seen)| Ok((serde_json::from_str(&data)?, seen)))
        .collect()
}

/// Every bill in the copy.
pub fn all_bills(conn: &Connection) -> ClientResult<Vec<Bill>> {
    let mut stmt = conn.prepare_cached("SELECT summary FROM bill_docs ORDER BY id")?;
    stmt.query_map([], |r| r.get::<_, String>(0))?
        .map(|d| Ok(serde_json::from_str::<Bill>(&d?)?))
        .collect()
}

/// The billing office's messages after the first `seen`.
pub fn unread_in(c: &Conversation, seen: i64) -> u32 {
    c.messages
        .iter()
        .skip(usize::try_from(seen).unwrap_or(0))
        .filter(|m| m.author == MessageAuthor::Staff)
        .count() as u32
}

/// One conversation, with how many of its messages the member has seen.
pub fn conversation(conn: &Connection, id: &str) -> ClientResult<Option<(Conversation, i64)>> {
    let row: Option<(String, i64)> = conn
        .query_row(
            "SELECT c.data, COALESCE(s.seen, 0) FROM conversations c LEFT JOIN conversation_seen s ON s.id = c.id
             WHERE c.id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    row.map(|(data, seen)| Ok((serde_json::from_str(&data)?, seen)))
        .transpose()
}

/// Downloaded attachments are kept up to this many bytes; the least recently opened go first.
pub const ATTACHMENT_BUDGET: i64 = 50 * 1024 * 1024;

/// A downloaded attachment's bytes, if this copy has them (marked as just used).
pub fn attachment_file(conn: &Connection, id: &str, now: i64) -> ClientResult<Option<Vec<u8>>> {
    let bytes: Option<Vec<u8>> = conn
        .query_row("SELECT bytes FROM attachment_files WHERE id = ?1", [id], |r| r.get(0))
        .optional()?;
    if bytes.is_some() {
        conn.execute(
            "UPDATE attachment_files SET used_at = ?2 WHERE id = ?1",
            params![id, now],
        )?;
    }
    Ok(bytes)
}

/// Keeps a downloaded attachment, then drops the least recently used ones past the budget.
pub fn keep_attachment_file(conn: &Connection, id: &str, bytes: &[u8], now: i64) -> ClientResult<()> {
    conn.execute(
        "INSERT INTO attachment_files (id, bytes, size, used_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT(id) DO UPDATE SET used_at = excluded.used_at",
        params![id, bytes, bytes.len() as i64, now],
    )?;
    let mut total: i64 = conn.query_row("SELECT COALESCE(SUM(size), 0) FROM attachment_files", [], |r| r.get(0))?;
    while total > ATTACHMENT_BUDGET {
        let oldest: Option<(String, i64)> = conn
            .query_row(
                "SELECT id, size FROM attachment_files WHERE id != ?1 ORDER BY used_at, id LIMIT 1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let Some((old, size)) = oldest else { break };
        conn.execute("DELETE FROM attachment_files WHERE id = ?1", [&old])?;
        total -= size;
    }
    Ok(())
}

/// Applies one page of changes and moves the cursor, in one transaction: a crash leaves the cache
/// at the last consistent cursor.
pub fn apply_page(
    conn: &mut Connection,
    changes: &[RawChange],
    next_cursor: &str,
    etag: Option<&str>,
) -> ClientResult<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    for c in changes {
        apply_change(&tx, c)?;
    }
    set_meta(&tx, "cursor", next_cursor)?;
    match etag {
        Some(e) => set_meta(&tx, "etag", e)?,
        None => {
            tx.execute("DELETE FROM meta WHERE key = 'etag'", [])?;
        }
    }
    tx.commit()?;
    Ok(())
}

/// Forgets everything synced (after `cursor_expired`), keeping the outbox.
pub fn reset_synced(conn: &mut Connection) -> ClientResult<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute_batch(
        "DELETE FROM bills; DELETE FROM bill_docs; DELETE FROM bill_search; DELETE FROM payments; DELETE FROM payment_methods; DELETE FROM autopay;
         DELETE FROM payment_plans; DELETE FROM scheduled_payments; DELETE FROM claims; DELETE FROM claim_docs;
         DELETE FROM conversations;
         DELETE FROM meta WHERE key IN ('cursor', 'etag');",
    )?;
    tx.commit()?;
    Ok(())
}

// --- queries ----------------------------------------------------------------------------------------

pub(crate) fn bill_ids_in_flight(conn: &Connection) -> ClientResult<std::collections::HashSet<String>> {
    let mut stmt =
        conn.prepare_cached("SELECT bill_ids FROM outbox WHERE state IN ('pending', 'unknown') AND kind = 'payment'")?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
    let mut out = std::collections::HashSet::new();
    for ids in rows {
        for id in serde_json::from_str::<Vec<String>>(&ids?)? {
            out.insert(id);
        }
    }
    Ok(out)
}

fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

pub fn bills_page(
    conn: &Connection,
    q: &BillQuery,
    business_date: NaiveDate,
    freshness: Freshness,
) -> ClientResult<BillsPage> {
    let mut clauses: Vec<String> = Vec::new();
    let mut args: Vec<Box<dyn rusqlite::ToSql>> = Vec::new();
    match q.status {
        BillStatusFilter::Open => clauses.push("balance_cents > 0".into()),
        BillStatusFilter::Paid => clauses.push("balance_cents = 0".into()),
        BillStatusFilter::All => {}
    }
    if let Some(kind) = q.kind {
        args.push(Box::new(kind.as_str()));
        clauses.push(format!("kind = ?{}", args.len()));
    }
    if let Some(p) = q.provider.as_ref().filter(|p| !p.is_empty()) {
        args.push(Box::new(p.clone()));
        clauses.push(format!("provider = ?{}", args.len()));
    }
    if let Some(from) = q.from {
        args.push(Box::new(from.format("%Y-%m-%d").to_string()));
        clauses.push(format!("service_date_to >= ?{}", args.len()));
    }
    if let Some(to) = q.to {
        args.push(Box::new(to.format("%Y-%m-%d").to_string()));
        clauses.push(format!("service_date_from <= ?{}", args.len()));
    }
    let words: Vec<String> = q
        .search
        .as_deref()
        .unwrap_or_default()
        .split_whitespace()
        .take(8)
        .map(|w| w.to_lowercase())
        .collect();
    if !words.is_empty() {
        let mut like = Vec::new();
        for word in &words {
            args.push(Box::new(format!("%{}%", escape_like(word))));
            like.push(format!("search LIKE ?{} ESCAPE '\\'", args.len()));
        }
        clauses.push(format!(
            "id IN (SELECT id FROM bill_search WHERE {})",
            like.join(" AND ")
        ));
    }
    let filter = if clauses.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", clauses.join(" AND "))
    };
    let order: &[(&str, &str)] = match q.sort {
        BillSort::DueDateAsc => &[("due_date", "ASC"), ("id", "ASC")],
        BillSort::DueDateDesc => &[("due_date", "DESC"), ("id", "DESC")],
        BillSort::AmountDesc => &[("balance_cents", "DESC"), ("due_date", "ASC"), ("id", "ASC")],
        BillSort::AmountAsc => &[("balance_cents", "ASC"), ("due_date", "ASC"), ("id", "ASC")],
    };
    let render = |prefix: &str| {
        order
            .iter()
            .map(|(c, dir)| format!("{prefix}{c} {dir}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (inner_order, outer_order) = (render(""), render("page."));
    let limit = if q.limit == 0 { 50 } else { q.limit.min(200) };
    let arg_refs: Vec<&dyn rusqlite::ToSql> = args.iter().map(|a| a.as_ref()).collect();
    let (total, total_payable): (u32, i64) = conn
        .prepare_cached(&format!(
            "SELECT COUNT(*), COALESCE(SUM(payable_cents), 0) FROM bills {filter}"
        ))?
        .query_row(arg_refs.as_slice(), |r| Ok((r.get(0)?, r.get(1)?)))?;
    // Sort and cut the narrow rows first; read documents for the page only.
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT d.summary FROM (SELECT id, due_date, balance_cents FROM bills {filter} ORDER BY {inner_order} LIMIT {limit} OFFSET {}) AS page
         JOIN bill_docs d ON d.id = page.id ORDER BY {outer_order}",
        q.offset
    ))?;
    let in_flight = bill_ids_in_flight(conn)?;
    let upcoming = upcoming_charges(conn)?;
    let mut bills = Vec::new();
    for summary in stmt.query_map(arg_refs.as_slice(), |r| r.get::<_, String>(0))? {
        let b: Bill = serde_json::from_str(&summary?)?;
        bills.push(row(b, business_date, &in_flight, &upcoming));
    }
    let providers: Vec<String> = meta(conn, "providers")?
        .map(|p| serde_json::from_str(&p))
        .transpose()?
        .unwrap_or_default();
    Ok(BillsPage {
        bills,
        total,
        total_payable: Money::from_cents(total_payable),
        offset: q.offset,
        providers,
        freshness,
    })
}

fn row(
    bill: Bill,
    business_date: NaiveDate,
    in_flight: &std::collections::HashSet<String>,
    upcoming: &[UpcomingCharge],
) -> BillRow {
    BillRow {
        overdue: is_overdue(&bill, business_date),
        payment_in_flight: in_flight.contains(&bill.id),
        autopay: autopay_for(upcoming, &bill.id),
        bill,
    }
}

/// Overdue: past its due date with something to pay, and not on a payment plan (a plan's bills
/// are paid on the plan's schedule).
fn is_overdue(bill: &Bill, business_date: NaiveDate) -> bool {
    bill.payment_plan_id.is_none() && carebill_billing::bill::is_overdue(bill.due_date, bill.payable, business_date)
}

/// Autopay's upcoming charges as last synced (none without autopay).
fn upcoming_charges(conn: &Connection) -> ClientResult<Vec<UpcomingCharge>> {
    Ok(autopay(conn)?.map(|a| a.upcoming).unwrap_or_default())
}

/// The charge autopay will make on this bill, if one is planned (not skipped, not over the limit).
fn autopay_for(upcoming: &[UpcomingCharge], bill_id: &str) -> Option<UpcomingCharge> {
    upcoming
        .iter()
        .find(|u| u.bill_id == bill_id && u.status == carebill_api::types::UpcomingStatus::Scheduled)
        .cloned()
}

/// A bill as last synced.
pub fn bill_detail(conn: &Connection, id: &str) -> ClientResult<Option<BillDetail>> {
    let detail: Option<String> = conn
        .prepare_cached("SELECT detail FROM bill_docs WHERE id = ?1")?
        .query_row([id], |r| r.get(0))
        .optional()?;
    Ok(detail.map(|d| serde_json::from_str(&d)).transpose()?)
}

pub fn bill(
    conn: &Connection,
    id: &str,
    business_date: NaiveDate,
    freshness: Freshness,
) -> ClientResult<Option<BillView>> {
    let Some(d) = bill_detail(conn, id)? else {
        return Ok(None);
    };
    let in_flight = bill_ids_in_flight(conn)?;
    Ok(Some(BillView {
        overdue: is_overdue(&d.bill, business_date),
        payment_in_flight: in_flight.contains(&d.bill.id),
        autopay: autopay_for(&upcoming_charges(conn)?, &d.bill.id),
        payment_plan: match &d.bill.payment_plan_id {
            Some(id) => payment_plans(conn)?.iter().find(|p| &p.id == id).map(PlanSummary::of),
            None => None,
        },
        plan_offer: false,
        scheduled: scheduled_payments(conn)?.into_iter().find(|s| {
            s.status == carebill_api::types::ScheduledStatus::Scheduled
                && s.allocations.iter().any(|a| a.bill_id == d.bill.id)
        }),
        claims: bill_claims(conn, &d.bill)?,
        bill: d,
        freshness,
    }))
}

pub fn payments_page(conn: &Connection, q: &PaymentQuery, freshness: Freshness) -> ClientResult<PaymentsPage> {
    let mut clauses = Vec::new();
    let mut args: Vec<Box<dyn rusqlite::ToSql>> = Vec::new();
    if let Some(y) = q.year {
        args.push(Box::new(y));
        clauses.push(format!("year = ?{}", args.len()));
    }
    if let Some(s) = q.status {
        args.push(Box::new(s.as_str()));
        clauses.push(format!("status = ?{}", args.len()));
    }
    let filter = if clauses.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", clauses.join(" AND "))
    };
    let limit = if q.limit == 0 { 50 } else { q.limit.min(200) };
    let arg_refs: Vec<&dyn rusqlite::ToSql> = args.iter().map(|a| a.as_ref()).collect();
    let total: u32 = conn
        .prepare_cached(&format!("SELECT COUNT(*) FROM payments {filter}"))?
        .query_row(arg_refs.as_slice(), |r| r.get(0))?;
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT data FROM payments {filter} ORDER BY created_at DESC, id DESC LIMIT {limit} OFFSET {}",
        q.offset
    ))?;
    let payments = stmt
        .query_map(arg_refs.as_slice(), |r| r.get::<_, String>(0))?
        .map(|d| Ok(serde_json::from_str::<Payment>(&d?)?))
        .collect::<ClientResult<Vec<_>>>()?;
    let mut stmt = conn.prepare_cached("SELECT DISTINCT year FROM payments ORDER BY year DESC")?;
    let years = stmt.query_map([], |r| r.get(0))?.collect::<Result<Vec<i32>, _>>()?;
    Ok(PaymentsPage {
        bills: bill_labels(conn, &payments)?,
        payments,
        total,
        offset: q.offset,
        years,
        freshness,
    })
}

/// Provider and statement of every bill the payments paid that the copy holds, in first-seen order.
fn bill_labels(conn: &Connection, payments: &[Payment]) -> ClientResult<Vec<BillLabel>> {
    let mut stmt = conn.prepare_cached(
        "SELECT b.provider, json_extract(d.summary, '$.statement_number') FROM bills b
         JOIN bill_docs d ON d.id = b.id WHERE b.id = ?1",
    )?;
    let mut labels: Vec<BillLabel> = Vec::new();
    for bill_id in payments.iter().flat_map(|p| p.allocations.iter().map(|a| &a.bill_id)) {
        if labels.iter().any(|l| &l.bill_id == bill_id) {
            continue;
        }
        let found: Option<(String, Option<String>)> =
            stmt.query_row([bill_id], |r| Ok((r.get(0)?, r.get(1)?))).optional()?;
        if let Some((provider, statement)) = found {
            labels.push(BillLabel {
                bill_id: bill_id.clone(),
                provider,
                statement_number: statement.unwrap_or_default(),
            });
        }
    }
    Ok(labels)
}

pub fn payment(conn: &Connection, id: &str) -> ClientResult<Option<Payment>> {
    let data: Option<String> = conn
        .query_row("SELECT data FROM payments WHERE id = ?1", [id], |r| r.get(0))
        .optional()?;
    data.map(|d| Ok(serde_json::from_str(&d)?)).transpose()
}

/// Every payment the copy holds (the yearly summary sums them), oldest first.
pub fn all_payments(conn: &Connection) -> ClientResult<Vec<Payment>> {
    let mut stmt = conn.prepare_cached("SELECT data FROM payments ORDER BY created_at, id")?;
    stmt.query_map([], |r| r.get::<_, String>(0))?
        .map(|d| Ok(serde_json::from_str::<Payment>(&d?)?))
        .collect()
}

/// The bills the payments paid that the copy holds (to name their providers).
pub fn bills_paid_by(conn: &Connection, payments: &[Payment]) -> ClientResult<Vec<Bill>> {
    let mut stmt = conn.prepare_cached("SELECT summary FROM bill_docs WHERE id = ?1")?;
    let mut bills: Vec<Bill> = Vec::new();
    for bill_id in payments.iter().flat_map(|p| p.allocations.iter().map(|a| &a.bill_id)) {
        if bills.iter().any(|b| &b.id == bill_id) {
            continue;
        }
        let found: Option<String> = stmt.query_row([bill_id], |r| r.get(0)).optional()?;
        if let Some(summary) = found {
            bills.push(serde_json::from_str(&summary)?);
        }
    }
    Ok(bills)
}

pub fn payment_by_key(conn: &Connection, key: &str) -> ClientResult<Option<Payment>> {
    let data: Option<String> = conn
        .query_row("SELECT data FROM payments WHERE idempotency_key = ?1", [key], |r| {
            r.get(0)
        })
        .optional()?;
    data.map(|d| Ok(serde_json::from_str(&d)?)).transpose()
}

pub fn payment_methods(conn: &Connection) -> ClientResult<Vec<PaymentMethod>> {
    let mut stmt = conn.prepare_cached("SELECT data FROM payment_methods")?;
    let mut methods = stmt
        .query_map([], |r| r.get::<_, String>(0))?
        .map(|d| Ok(serde_json::from_str::<PaymentMethod>(&d?)?))
        .collect::<ClientResult<Vec<_>>>()?;
    methods.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
    Ok(methods)
}

pub fn autopay(conn: &Connection) -> ClientResult<Option<Autopay>> {
    let data: Option<String> = conn
        .query_row("SELECT data FROM autopay WHERE id = 1", [], |r| r.get(0))
        .optional()?;
    data.map(|d| Ok(serde_json::from_str(&d)?)).transpose()
}

/// Every payment plan as last synced, newest first.
pub fn payment_plans(conn: &Connection) -> ClientResult<Vec<PaymentPlan>> {
    let mut stmt = conn.prepare_cached("SELECT data FROM payment_plans")?;
    let mut plans = stmt
        .query_map([], |r| r.get::<_, String>(0))?
        .map(|d| Ok(serde_json::from_str::<PaymentPlan>(&d?)?))
        .collect::<ClientResult<Vec<_>>>()?;
    plans.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(a.id.cmp(&b.id)));
    Ok(plans)
}

/// Every scheduled payment as last synced, soonest first.
pub fn scheduled_payments(conn: &Connection) -> ClientResult<Vec<ScheduledPayment>> {
    let mut stmt = conn.prepare_cached("SELECT data FROM scheduled_payments ORDER BY pay_on, id")?;
    stmt.query_map([], |r| r.get::<_, String>(0))?
        .map(|d| Ok(serde_json::from_str::<ScheduledPayment>(&d?)?))
        .collect()
}

pub fn dashboard(conn: &Connection, business_date: NaiveDate, freshness: Freshness) -> ClientResult<Dashboard> {
    let today = business_date.format("%Y-%m-%d").to_string();
    let (payable, balance, pending, open, overdue, overdue_cents): (i64, i64, i64, u32, u32, i64) = conn.query_row(
        "SELECT COALESCE(SUM(payable_cents), 0), COALESCE(SUM(balance_cents), 0), COALESCE(SUM(pending_cents), 0),
                COUNT(*), COALESCE(SUM(payable_cents > 0 AND due_date < ?1 AND plan_id IS NULL), 0),
                COALESCE(SUM(CASE WHEN due_date < ?1 AND plan_id IS NULL THEN payable_cents ELSE 0 END), 0)
         FROM bills WHERE balance_cents > 0",
        [&today],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)),
    )?;
    let next_due = conn
        .query_row(
            "SELECT id, due_date, payable_cents, provider FROM bills
             WHERE balance_cents > 0 AND payable_cents > 0 AND due_date >= ?1 AND plan_id IS NULL
             ORDER BY due_date, id LIMIT 1",
            [&today],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, String>(3)?,
                ))
            },
        )
        .optional()?
        .and_then(|(bill_id, due, cents, provider)| {
            Some(NextDue {
                bill_id,
                due_date: NaiveDate::parse_from_str(&due, "%Y-%m-%d").ok()?,
                amount: Money::from_cents(cents),
                provider,
            })
        });
    let autopay = autopay(conn)?.map(|a| AutopaySummary {
        payment_method: a.payment_method.clone(),
        next_charge: a
            .upcoming
            .iter()
            .find(|u| u.status == carebill_api::types::UpcomingStatus::Scheduled)
            .cloned(),
    });
    let recent = payments_page(
        conn,
        &PaymentQuery {
            limit: 3,
            ..Default::default()
        },
        freshness.clone(),
    )?
    .payments;
    Ok(Dashboard {
        total_payable: Money::from_cents(payable),
        total_balance: Money::from_cents(balance),
        pending: Money::from_cents(pending),
        overdue_amount: Money::from_cents(overdue_cents),
        overdue_count: overdue,
        open_count: open,
        next_due,
        autopay,
        recent_bills: bill_labels(conn, &recent)?,
        recent_payments: recent,
        payment_plans: payment_plans(conn)?
            .iter()
            .filter(|p| p.status.is_open())
            .map(PlanSummary::of)
            .collect(),
        plan_offer: None,
        scheduled: scheduled_payments(conn)?
            .into_iter()
            .filter(|s| s.status == carebill_api::types::ScheduledStatus::Scheduled)
            .collect(),
        benefits: benefits(conn, business_date)?,
        freshness,
    })
}

/// A page of claims, newest service first, with the years and providers for the filters.
pub fn claims_page(conn: &Connection, q: &ClaimQuery, freshness: Freshness) -> ClientResult<ClaimsPage> {
    let needle = q
        .provider
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| p.to_lowercase());
    let limit = if q.limit == 0 { 50 } else { q.limit.min(200) };
    let mut clauses = Vec::new();
    let mut args: Vec<Box<dyn rusqlite::ToSql>> = Vec::new();
    if let Some(y) = q.year {
        args.push(Box::new(y));
        clauses.push(format!("year = ?{}", args.len()));
    }
    if let Some(n) = needle {
        args.push(Box::new(n));
        clauses.push(format!("instr(providers, ?{}) > 0", args.len()));
    }
    let filter = if clauses.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", clauses.join(" AND "))
    };
    let arg_refs: Vec<&dyn rusqlite::ToSql> = args.iter().map(|a| a.as_ref()).collect();
    let total: u32 = conn
        .prepare_cached(&format!("SELECT COUNT(*) FROM claims {filter}"))?
        .query_row(arg_refs.as_slice(), |r| r.get(0))?;
    // The page's ids from the narrow rows, then only their summaries.
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT d.summary FROM (SELECT id, year, service_from FROM claims {filter}
            ORDER BY year DESC, service_from DESC, id DESC LIMIT {limit} OFFSET {}) c
         JOIN claim_docs d ON d.id = c.id ORDER BY c.year DESC, c.service_from DESC, c.id DESC",
        q.offset
    ))?;
    let claims = stmt
        .query_map(arg_refs.as_slice(), |r| r.get::<_, String>(0))?
        .map(|d| Ok(serde_json::from_str::<Claim>(&d?)?))
        .collect::<ClientResult<Vec<_>>>()?;
    let years = conn
        .prepare_cached("SELECT DISTINCT year FROM claims ORDER BY year DESC")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<Vec<i32>, _>>()?;
    let mut providers: Vec<String> = conn
        .prepare_cached("SELECT DISTINCT provider FROM claims WHERE provider IS NOT NULL")?
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<Result<_, _>>()?;
    providers.sort_by_key(|p| p.to_lowercase());
    Ok(ClaimsPage {
        claims,
        total,
        offset: q.offset,
        years,
        providers,
        freshness,
    })
}

pub fn claim_detail(conn: &Connection, id: &str) -> ClientResult<Option<ClaimDetail>> {
    let data: Option<String> = conn
        .prepare_cached("SELECT detail FROM claim_docs WHERE id = ?1")?
        .query_row([id], |r| r.get(0))
        .optional()?;
    Ok(data.map(|d| serde_json::from_str(&d)).transpose()?)
}

/// A claim and the bills that name it or probably are for it.
pub fn claim(conn: &Connection, id: &str, freshness: Freshness) -> ClientResult<Option<ClaimView>> {
    let Some(claim) = claim_detail(conn, id)? else {
        return Ok(None);
    };
    let c = &claim.claim;
    let (from, to) = (
        c.service_date_from.map(|d| d.format("%Y-%m-%d").to_string()),
        c.service_date_to
            .or(c.service_date_from)
            .map(|d| d.format("%Y-%m-%d").to_string()),
    );
    // Bills naming the claim, and bills naming none whose service overlaps it (a bill's service
    // spans at most a year, which bounds the index range).
    let earliest = c
        .service_date_from
        .map(|d| (d - chrono::Days::new(366)).format("%Y-%m-%d").to_string());
    let mut stmt = conn.prepare_cached(
        "SELECT d.detail FROM bills b JOIN bill_docs d ON d.id = b.id
         WHERE b.claim_number = ?1
         UNION ALL
         SELECT d.detail FROM bills b JOIN bill_docs d ON d.id = b.id
         WHERE b.claim_number IS NULL AND b.service_date_from BETWEEN ?4 AND ?3 AND b.service_date_to >= ?2",
    )?;
    let mut bills = Vec::new();
    for detail in stmt.query_map(params![c.claim_number, from, to, earliest], |r| r.get::<_, String>(0))? {
        let d: BillDetail = serde_json::from_str(&detail?)?;
        let named = d.bill.claim_number.as_deref() == Some(c.claim_number.as_str());
        if named || (d.bill.claim_number.is_none() && probably_same(&d.bill, c)) {
            bills.push(BillLabel {
                bill_id: d.bill.id.clone(),
                provider: d.bill.provider.clone(),
                statement_number: d.bill.statement_number.clone(),
            });
        }
    }
    Ok(Some(ClaimView {
        claim,
        bills,
        freshness,
    }))
}

fn probably_same(bill: &Bill, c: &Claim) -> bool {
    carebill_billing::claims::probably_same(
        &carebill_billing::claims::BillFacts {
            provider: &bill.provider,
            facility: &bill.facility,
            from: bill.service_date_from,
            to: bill.service_date_to,
            total_charges: bill.total_charges,
            responsibility: bill.amount_due,
        },
        &carebill_billing::claims::ClaimFacts {
            provider: c.provider.as_deref(),
            facility: c.facility.as_deref(),
            from: c.service_date_from,
            to: c.service_date_to,
            submitted: c.billed,
            member_liability: c.member_owes,
        },
    )
}

/// The claims behind a bill: the one its claim number names; without a number, those that
/// probably are (never both kinds).
pub fn bill_claims(conn: &Connection, bill: &Bill) -> ClientResult<Vec<BillClaim>> {
    let (link, candidates): (ClaimLink, Vec<String>) = match &bill.claim_number {
        Some(n) => (
            ClaimLink::Named,
            conn.prepare_cached(
                "SELECT d.summary FROM claims c JOIN claim_docs d ON d.id = c.id WHERE c.claim_number = ?1",
            )?
            .query_map([n], |r| r.get(0))?
            .collect::<Result<_, _>>()?,
        ),
        None => (
            ClaimLink::Probable,
            // Overlapping dates; a claim's service spans at most a year, which bounds the index
            // range (a copy holds years of claims).
            conn.prepare_cached(
                "SELECT d.summary FROM claims c JOIN claim_docs d ON d.id = c.id
                 WHERE c.service_from BETWEEN ?3 AND ?2 AND c.service_to >= ?1",
            )?
            .query_map(
                params![
                    bill.service_date_from.format("%Y-%m-%d").to_string(),
                    bill.service_date_to.format("%Y-%m-%d").to_string(),
                    (bill.service_date_from - chrono::Days::new(366))
                        .format("%Y-%m-%d")
                        .to_string(),
                ],
                |r| r.get(0),
            )?
            .collect::<Result<_, _>>()?,
        ),
    };
    let mut out = Vec::new();
    for summary in candidates {
        let c: Claim = serde_json::from_str(&summary)?;
        if link == ClaimLink::Probable && !probably_same(bill, &c) {
            continue;
        }
        let (matches, difference, bill_is_higher) = match c.member_owes {
            Some(owes) => {
                let diff = bill.amount_due.cents() - owes.cents();
                (diff == 0, Money::from_cents(diff.abs()), diff > 0)
            }
            None => (false, Money::ZERO, false),
        };
        out.push(BillClaim {
            claim_id: c.id,
            claim_number: c.claim_number,
            link,
            member_owes: c.member_owes,
            member_costs: c.member_costs,
            matches: matches && link == ClaimLink::Named,
            difference,
            bill_is_higher,
        });
    }
    Ok(out)
}

/// Deductible and out-of-pocket progress for the plan year of `today`: the figures of the claim
/// with the latest service date that states them.
pub fn benefits(conn: &Connection, today: NaiveDate) -> ClientResult<Vec<BenefitProgress>> {
    let mut stmt = conn.prepare_cached(
        "SELECT d.detail FROM claims c JOIN claim_docs d ON d.id = c.id
         WHERE c.year = ?1 AND c.balances
         ORDER BY c.service_from DESC, c.id DESC LIMIT 20",
    )?;
    let mut out: Vec<BenefitProgress> = Vec::new();
    for detail in stmt.query_map([today.year()], |r| r.get::<_, String>(0))? {
        let d: ClaimDetail = serde_json::from_str(&detail?)?;
        for b in d.benefit_balance {
            let kind = match b.kind.as_str() {
                "deductible" => "deductible",
                k if k.contains("out") || k == "oop" => "out_of_pocket",
                _ => continue,
            };
            let (Some(limit), Some(used)) = (b.limit, b.used) else {
                continue;
            };
            if out.iter().any(|o| o.kind == kind) {
                continue;
            }
            out.push(BenefitProgress {
                kind: kind.into(),
                year: today.year(),
                limit,
                used,
                remaining: Money::from_cents((limit.cents() - used.cents()).max(0)),
            });
        }
        if out.len() == 2 {
            break;
        }
    }
    out.sort_by_key(|b| b.kind != "deductible");
    Ok(out)
}

/// Open bills on no plan with something to pay now, oldest due first: what a new plan can hold.
pub fn plan_candidates(conn: &Connection) -> ClientResult<Vec<(String, Money)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, payable_cents FROM bills WHERE payable_cents > 0 AND plan_id IS NULL ORDER BY due_date, id",
    )?;
    stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, Money::from_cents(r.get(1)?))))?
        .map(|r| Ok(r?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Migration 2: a bill document synced by an earlier release (no `payments_made`) still adds
    /// up after the upgrade, and the next sync pulls everything again.
    #[test]
    fn bill_documents_from_before_issue_17_still_add_up() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(MIGRATIONS[0]).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        let old = r#"{"id":"bil_1","account_number":"A-1","statement_number":"S-1","kind":"professional",
            "provider":"Summit Family Practice","facility":"Summit Family Practice",
            "service_date_from":"2026-09-01","service_date_to":"2026-09-01","statement_date":"2026-09-20",
            "due_date":"2026-10-20","total_charges":"200.00","insurance_paid":"120.00","adjustments":"30.00",
            "amount_due":"50.00","balance":"35.50","pending_amount":"5.00","payable":"30.50","status":"partially_paid"}"#;
        let detail = format!("{}, \"line_items\": []}}", old.trim_end_matches('}'));
        conn.execute(
            "INSERT INTO bill_docs (id, search, summary, detail) VALUES ('bil_1', 'summit family practice s-1', ?1, ?2)",
            params![old, detail],
        )
        .unwrap();
        set_meta(&conn, "cursor", "old-cursor").unwrap();
        migrate(&mut conn).unwrap();
        let d = bill_detail(&conn, "bil_1").unwrap().unwrap();
        assert_eq!(
            (d.bill.payments_made.to_string(), d.bill.other_payments.to_string()),
            ("14.50".into(), "0.00".into())
        );
        assert!(d.payments.is_empty());
        let summary: String = conn
            .query_row("SELECT summary FROM bill_docs WHERE id = 'bil_1'", [], |r| r.get(0))
            .unwrap();
        let summary: Bill = serde_json::from_str(&summary).unwrap();
        assert_eq!(summary.payments_made.to_string(), "14.50");
        assert_eq!(
            meta(&conn, "cursor").unwrap(),
            None,
            "the next sync pulls every bill again"
        );
        // Migration 4: the search text moved to its own narrow table.
        let moved: String = conn
            .query_row("SELECT search FROM bill_search WHERE id = 'bil_1'", [], |r| r.get(0))
            .unwrap();
        assert_eq!(moved, "summit family practice s-1");
    }

    /// Migration 5 (issue 18): a copy from before keeps its bills (on no plan), gains empty plan
    /// and scheduled-payment tables, and a later server's kinds of change are skipped, not fatal.
    #[test]
    fn a_copy_from_before_plans_keeps_its_bills_and_skips_changes_it_does_not_know() {
        let mut conn = Connection::open_in_memory().unwrap();
        for sql in &MIGRATIONS[..4] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 4).unwrap();
        conn.execute(
            "INSERT INTO bills (id, kind, provider, due_date, service_date_from, service_date_to, balance_cents, payable_cents, pending_cents)
             VALUES ('bil_1', 'professional', 'Summit Family Practice', '2026-10-20', '2026-09-01', '2026-09-01', 3550, 3050, 500)",
            [],
        )
        .unwrap();
        migrate(&mut conn).unwrap();
        let kept: (i64, Option<String>) = conn
            .query_row("SELECT payable_cents, plan_id FROM bills WHERE id = 'bil_1'", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!(kept, (3050, None));
        assert!(payment_plans(&conn).unwrap().is_empty());
        assert!(scheduled_payments(&conn).unwrap().is_empty());
        let page: crate::api::RawSyncPage = serde_json::from_str(
            r#"{"changes": [{"entity": "future_thing", "op": "upsert", "id": "ft_1", "data": {"anything": 1}},
                            {"entity": "payment_method", "op": "delete", "id": "pm_1"}],
                "next_cursor": "c2", "has_more": false}"#,
        )
        .unwrap();
        assert!(page.changes[0].entity.is_none());
        apply_page(&mut conn, &page.changes, "c2", None).unwrap();
        assert_eq!(
            meta(&conn, "cursor").unwrap().as_deref(),
            Some("c2"),
            "the page was applied past it"
        );
    }

    /// Migration 7: a copy from before conversations keeps its bills and cursor (nothing about
    /// conversations existed to miss), then takes synced threads; replies the member has not
    /// seen are counted per device, and a sync that starts over does not count them again.
    #[test]
    fn a_copy_from_before_conversations_keeps_its_data_and_counts_unseen_replies() {
        let mut conn = Connection::open_in_memory().unwrap();
        for sql in &MIGRATIONS[..6] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 6).unwrap();
        set_meta(&conn, "cursor", "c1").unwrap();
        conn.execute(
            "INSERT INTO bills (id, kind, provider, due_date, service_date_from, service_date_to, balance_cents, payable_cents, pending_cents)
             VALUES ('bil_1', 'professional', 'Summit Family Practice', '2026-10-20', '2026-09-01', '2026-09-01', 3550, 3050, 500)",
            [],
        )
        .unwrap();
        migrate(&mut conn).unwrap();
        assert_eq!(meta(&conn, "cursor").unwrap().as_deref(), Some("c1"));
        assert_eq!(
            conn.query_row("SELECT COUNT(*) FROM bills", [], |r| r.get::<_, i64>(0))
                .unwrap(),
            1
        );
        let thread = |messages: &str| {
            format!(
                r#"{{"entity": "conversation", "op": "upsert", "id": "cnv_1", "data": {{"id": "cnv_1", "reference": "Q-ABCD2345",
                "topic": "other", "status": "answered", "bill_id": "bil_1", "created_at": "2026-11-27T20:00:00Z",
                "updated_at": "2026-11-27T21:00:00Z", "messages": [{messages}]}}}}"#
            )
        };
        let member = r#"{"id": "m1", "author": "member", "body": "Why?", "sent_at": "2026-11-27T20:00:00Z"}"#;
        let staff = |id: &str| {
            format!(
                r#"{{"id": "{id}", "author": "staff", "staff_name": "Dana", "body": "Because", "sent_at": "2026-11-27T21:00:00Z"}}"#
            )
        };
        let apply = |conn: &mut Connection, change: String| {
            let page: crate::api::RawSyncPage = serde_json::from_str(&format!(
                r#"{{"changes": [{change}], "next_cursor": "c2", "has_more": false}}"#
            ))
            .unwrap();
            apply_page(conn, &page.changes, "c2", None).unwrap();
        };
        apply(&mut conn, thread(&format!("{member}, {}", staff("s1"))));
        let list = conversations(&conn).unwrap();
        assert_eq!((list.len(), list[0].1), (1, 1), "one unseen reply");
        mark_seen(&conn, "cnv_1", 2).unwrap();
        assert_eq!(conversations(&conn).unwrap()[0].1, 0);
        reset_synced(&mut conn).unwrap();
        apply(
            &mut conn,
            thread(&format!("{member}, {}, {}", staff("s1"), staff("s2"))),
        );
        assert_eq!(conversations(&conn).unwrap()[0].1, 1, "only the new reply");
        mark_seen(&conn, "cnv_1", 1).unwrap();
        assert_eq!(conversations(&conn).unwrap()[0].1, 1, "a marker never goes back");
    }

    /// Downloaded attachments stay within their budget, the least recently opened going first.
    #[test]
    fn downloaded_attachments_stay_within_their_budget() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        let mb = vec![7u8; 1024 * 1024];
        let files = (ATTACHMENT_BUDGET / (1024 * 1024)) as usize;
        for i in 0..files {
            keep_attachment_file(&conn, &format!("att_{i}"), &mb, i as i64).unwrap();
        }
        // Opening the first makes it the most recently used; one more file evicts the second.
        assert!(attachment_file(&conn, "att_0", 1_000).unwrap().is_some());
        keep_attachment_file(&conn, "att_new", &mb, 1_001).unwrap();
        assert!(attachment_file(&conn, "att_1", 1_002).unwrap().is_none());
        assert!(attachment_file(&conn, "att_0", 1_003).unwrap().is_some());
        let total: i64 = conn
            .query_row("SELECT SUM(size) FROM attachment_files", [], |r| r.get(0))
            .unwrap();
        assert!(total <= ATTACHMENT_BUDGET);
    }

    /// Migration 6: a copy from before claims keeps its bills, gains an empty claims table, and
    /// starts sync over so the claims the service already had arrive.
    #[test]
    fn a_copy_from_before_claims_keeps_its_bills_and_syncs_again_from_the_start() {
        let mut conn = Connection::open_in_memory().unwrap();
        for sql in &MIGRATIONS[..5] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 5).unwrap();
        conn.execute(
            "INSERT INTO bills (id, kind, provider, due_date, service_date_from, service_date_to, balance_cents, payable_cents, pending_cents)
             VALUES ('bil_1', 'professional', 'Summit Family Practice', '2026-10-20', '2026-09-01', '2026-09-01', 3550, 3050, 500)",
            [],
        )
        .unwrap();
        set_meta(&conn, "cursor", "old-cursor").unwrap();
        set_meta(&conn, "etag", "\"41\"").unwrap();
        migrate(&mut conn).unwrap();
        let kept: (i64, Option<String>) = conn
            .query_row(
                "SELECT payable_cents, claim_number FROM bills WHERE id = 'bil_1'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(kept, (3050, None));
        assert_eq!(
            (meta(&conn, "cursor").unwrap(), meta(&conn, "etag").unwrap()),
            (None, None)
        );
        let page = claims_page(
            &conn,
            &ClaimQuery::default(),
            Freshness {
                offline: true,
                synced_at: None,
                business_date: NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
            },
        )
        .unwrap();
        assert_eq!((page.total, page.years.len()), (0, 0));
    }

    /// Migration 3: the member saved by an earlier release still opens offline (as English).
    #[test]
    fn a_member_saved_before_languages_opens_as_english() {
        let mut conn = Connection::open_in_memory().unwrap();
        for sql in &MIGRATIONS[..2] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 2).unwrap();
        let old = r#"{"member_id":"M200000001","email":"demo@carebill.example","first_name":"Jordan","last_name":"Lee","date_of_birth":"1980-01-01","email_verified":true}"#;
        set_meta(&conn, "member", old).unwrap();
        assert!(
            serde_json::from_str::<carebill_api::types::Member>(old).is_err(),
            "the old shape lacks it"
        );
        migrate(&mut conn).unwrap();
        let member: carebill_api::types::Member =
            serde_json::from_str(&meta(&conn, "member").unwrap().unwrap()).unwrap();
        assert_eq!(
            (member.first_name.as_str(), member.locale),
            ("Jordan", carebill_api::types::Locale::En)
        );
    }
}
