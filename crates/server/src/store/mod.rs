//! Row <-> wire conversions and the queries shared by several routes.

use std::collections::HashMap;

use crate::sql::{Connection, Dialect, OptionalExtension, Row, params};
use carebill_api::types::{Bill, BillDetail, BillFilter, BillPayment, LineItem, SyncEntity, SyncOp};
use carebill_billing::{BillKind, Charges, Money};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};

use crate::error::{ApiError, ApiResult};

pub mod accounts;
pub mod bills;
pub mod claims;
pub mod methods;
pub mod payments;

pub fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

pub fn from_ms(v: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(v).single().unwrap_or_default()
}

pub fn parse_date(s: &str) -> ApiResult<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| ApiError::internal(format!("bad stored date {s:?}")))
}

pub fn date_str(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

pub fn money(cents: i64) -> Money {
    Money::from_cents(cents)
}

/// The columns `bill_from_row` reads, in order.
pub const BILL_COLUMNS: &str = "b.id, b.account_number, b.statement_number, b.kind, b.provider, b.facility, \
    b.service_date_from, b.service_date_to, b.statement_date, b.due_date, b.total_charges_cents, \
    b.insurance_paid_cents, b.adjustments_cents, b.settled_cents, b.pending_cents, b.other_payments_cents, \
    b.billing_phone, b.payment_plan_id, b.claim_number, \
    (SELECT MIN(q.id) FROM conversations q WHERE q.bill_id = b.id AND q.status != 'closed'), b.patient_name";

/// Balance in SQL, for filters: amount due less settled payments and payments received elsewhere.
pub const BALANCE_SQL: &str =
    "(total_charges_cents - insurance_paid_cents - adjustments_cents - settled_cents - other_payments_cents)";

pub fn bill_from_row(r: &Row<'_>) -> crate::sql::Result<ApiResult<Bill>> {
    let text = |i: usize| r.get::<_, String>(i);
    let id = text(0)?;
    let kind = text(3)?;
    let dates = [text(6)?, text(7)?, text(8)?, text(9)?];
    let cents = [
        r.get::<_, i64>(10)?,
        r.get(11)?,
        r.get(12)?,
        r.get(13)?,
        r.get(14)?,
        r.get(15)?,
    ];
    let (account_number, statement_number, provider, facility) = (text(1)?, text(2)?, text(4)?, text(5)?);
    let billing_phone: Option<String> = r.get(16)?;
    let payment_plan_id: Option<String> = r.get(17)?;
    let claim_number: Option<String> = r.get(18)?;
    let open_conversation_id: Option<String> = r.get(19)?;
    let patient_name: Option<String> = r.get(20)?;
    Ok((|| {
        let charges = Charges {
            total_charges: money(cents[0]),
            insurance_paid: money(cents[1]),
            adjustments: money(cents[2]),
        };
        let b = charges
            .balances(money(cents[5]), money(cents[3]), money(cents[4]))
            .map_err(|e| ApiError::internal(format!("bill {id}: {e}")))?;
        Ok(Bill {
            account_number,
            statement_number,
            kind: BillKind::parse(&kind).ok_or_else(|| ApiError::internal(format!("bill {id}: kind {kind}")))?,
            patient_name,
            provider,
            facility,
            service_date_from: parse_date(&dates[0])?,
            service_date_to: parse_date(&dates[1])?,
            statement_date: parse_date(&dates[2])?,
            due_date: parse_date(&dates[3])?,
            total_charges: charges.total_charges,
            insurance_paid: charges.insurance_paid,
            adjustments: charges.adjustments,
            amount_due: b.amount_due,
            payments_made: b.payments_made,
            other_payments: b.other_payments,
            balance: b.balance,
            pending_amount: b.pending_amount,
            payable: b.payable,
            status: b.status,
            billing_phone,
            payment_plan_id,
            claim_number,
            open_conversation_id,
            id,
        })
    })())
}

fn line_item_from_row(r: &Row<'_>, offset: usize) -> crate::sql::Result<ApiResult<LineItem>> {
    let date: String = r.get(offset)?;
    let description: String = r.get(offset + 1)?;
    let code: String = r.get(offset + 2)?;
    let quantity: u32 = r.get(offset + 3)?;
    let cents = [r.get::<_, i64>(offset + 4)?, r.get(offset + 5)?, r.get(offset + 6)?];
    Ok((|| {
        let line = Charges {
            total_charges: money(cents[0]),
            insurance_paid: money(cents[1]),
            adjustments: money(cents[2]),
        };
        Ok(LineItem {
            service_date: parse_date(&date)?,
            description,
            code,
            quantity,
            charge: line.total_charges,
            insurance_paid: line.insurance_paid,
            adjustment: line.adjustments,
            patient_responsibility: line
                .amount_due()
                .map_err(|e| ApiError::internal(format!("line item: {e}")))?,
        })
    })())
}

const LINE_COLUMNS: &str = "li.service_date, li.description, li.code, li.quantity, li.charge_cents, \
    li.insurance_paid_cents, li.adjustment_cents";

/// A page of a member's bills after the `(due_date, id)` position `after`.
pub fn list_bills(
    conn: &Connection,
    member_id: &str,
    filter: BillFilter,
    after: Option<(String, String)>,
    limit: u32,
) -> ApiResult<(Vec<Bill>, bool)> {
    let status_sql = match filter {
        BillFilter::Open => format!("AND {BALANCE_SQL} > 0"),
        BillFilter::Paid => format!("AND {BALANCE_SQL} = 0"),
        BillFilter::All => String::new(),
    };
    let (after_due, after_id) = after.unwrap_or_default();
    let sql = format!(
        "SELECT {BILL_COLUMNS} FROM bills b
         WHERE b.member_id = ?1 {status_sql} AND (b.due_date, b.id) > (?2, ?3)
         ORDER BY b.due_date, b.id LIMIT ?4"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params![member_id, after_due, after_id, limit + 1], bill_from_row)?;
    let mut bills = Vec::with_capacity(limit as usize + 1);
    for row in rows {
        bills.push(row??);
    }
    let has_more = bills.len() > limit as usize;
    bills.truncate(limit as usize);
    Ok((bills, has_more))
}

/// The version of a member's data: their latest sequence in the change feed.
pub fn member_version(conn: &Connection, member_id: &str) -> ApiResult<i64> {
    Ok(conn
        .prepare_cached("SELECT COALESCE(MAX(seq), 0) FROM changes WHERE member_id = ?1")?
        .query_row([member_id], |r| r.get(0))?)
}

/// One of the member's bills, without its line items; `None` when it is not theirs.
pub fn bill(conn: &Connection, member_id: &str, bill_id: &str) -> ApiResult<Option<Bill>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {BILL_COLUMNS} FROM bills b WHERE b.id = ?1 AND b.member_id = ?2"
    ))?;
    stmt.query_row(params![bill_id, member_id], bill_from_row)
        .optional()?
        .transpose()
}

/// One of the member's bills with its line items; `None` when it is not theirs.
pub fn bill_detail(conn: &Connection, member_id: &str, bill_id: &str) -> ApiResult<Option<BillDetail>> {
    let Some(bill) = bill(conn, member_id, bill_id)? else {
        return Ok(None);
    };
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {LINE_COLUMNS} FROM line_items li WHERE li.bill_id = ?1 ORDER BY li.position"
    ))?;
    let mut line_items = Vec::new();
    for item in stmt.query_map([bill_id], |r| line_item_from_row(r, 0))? {
        line_items.push(item??);
    }
    // The bill is the member's (checked above), and so is every payment on it; by the bill's
    // allocations, not by the member's payments (see `bill_details_in_changes`).
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT a.bill_id, a.amount_cents, {} FROM payment_allocations a JOIN payments p ON p.id = a.payment_id
         WHERE a.bill_id = ?1 AND p.status != 'processing'",
        payments::PAYMENT_COLUMNS
    ))?;
    let mut payments = stmt
        .query_map(params![bill_id], |r| bill_payment_from_row(r).map(|(_, p)| p))?
        .collect::<Result<Vec<_>, _>>()?;
    newest_first(&mut payments);
    Ok(Some(BillDetail {
        bill,
        line_items,
        payments,
    }))
}

/// A bill's payments as the API lists them: newest first (then by id, newest id first).
fn newest_first(payments: &mut [BillPayment]) {
    payments.sort_by(|a, b| (b.created_at, &b.payment_id).cmp(&(a.created_at, &a.payment_id)));
}

/// (bill id, the payment as it applies to that bill) from `a.bill_id, a.amount_cents` followed
/// by [`payments::PAYMENT_COLUMNS`].
fn bill_payment_from_row(r: &Row<'_>) -> crate::sql::Result<(String, BillPayment)> {
    let bill_id: String = r.get(0)?;
    let applied: i64 = r.get(1)?;
    let p = payments::payment_from_row_at(r, 2)?;
    Ok((
        bill_id,
        BillPayment {
            payment_id: p.id,
            confirmation_number: p.confirmation_number,
            status: p.status,
            amount: money(applied),
            payment_method: p.payment_method,
            created_at: p.created_at,
            settled_at: p.settled_at,
            source: p.source,
        },
    ))
}

/// Bill details for the bill changes of a member in `(after, through]`, by id.
pub fn bill_details_in_changes(
    conn: &Connection,
    member_id: &str,
    after: i64,
    through: i64,
) -> ApiResult<HashMap<String, BillDetail>> {
    let mut out: HashMap<String, BillDetail> = HashMap::new();
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {BILL_COLUMNS} FROM changes c JOIN bills b ON b.id = c.entity_id
         WHERE c.member_id = ?1 AND c.seq > ?2 AND c.seq <= ?3 AND c.entity = 'bill' AND c.op = 'upsert'"
    ))?;
    for bill in stmt.query_map(params![member_id, after, through], bill_from_row)? {
        let bill = bill??;
        out.insert(
            bill.id.clone(),
            BillDetail {
                bill,
                line_items: Vec::new(),
                payments: Vec::new(),
            },
        );
    }
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT li.bill_id, {LINE_COLUMNS} FROM changes c JOIN line_items li ON li.bill_id = c.entity_id
         WHERE c.member_id = ?1 AND c.seq > ?2 AND c.seq <= ?3 AND c.entity = 'bill' AND c.op = 'upsert'
         ORDER BY li.bill_id, li.position"
    ))?;
    let rows = stmt.query_map(params![member_id, after, through], |r| {
        Ok((r.get::<_, String>(0)?, line_item_from_row(r, 1)?))
    })?;
    for row in rows {
        let (bill_id, item) = row?;
        if let Some(detail) = out.get_mut(&bill_id) {
            detail.line_items.push(item?);
        }
    }
    // Driven by the page's changes (their sequence range), then each bill's allocations (their
    // bill index), then each payment by id; sorted here. The bills are the member's (the changes
    // say so), and so is every payment on them. A condition on the payments' member, or an ORDER
    // BY, made SQLite walk every payment of the member for each change instead (a full sync of
    // 10,000 bills took 25 s instead of about 1).
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT a.bill_id, a.amount_cents, {} FROM changes c
         JOIN payment_allocations a ON a.bill_id = c.entity_id
         JOIN payments p ON p.id = a.payment_id
         WHERE c.member_id = ?1 AND c.seq > ?2 AND c.seq <= ?3 AND c.entity = 'bill' AND c.op = 'upsert'
           AND p.status != 'processing'",
        payments::PAYMENT_COLUMNS
    ))?;
    for row in stmt.query_map(params![member_id, after, through], bill_payment_from_row)? {
        let (bill_id, payment) = row?;
        if let Some(detail) = out.get_mut(&bill_id) {
            detail.payments.push(payment);
        }
    }
    for detail in out.values_mut() {
        newest_first(&mut detail.payments);
    }
    Ok(out)
}

/// Records that an entity of a member changed: it moves to the end of the change feed. The
/// transaction must hold the member's lock ([`lock_members`], taken first): the change number is
/// drawn from the sequence now, and only the lock orders it with the member's other writers.
pub fn touch(
    tx: &Connection,
    member_id: &str,
    entity: SyncEntity,
    entity_id: &str,
    op: SyncOp,
    now: DateTime<Utc>,
) -> ApiResult<()> {
    let op = match op {
        SyncOp::Upsert => "upsert",
        SyncOp::Delete => "delete",
    };
    record_change(tx, member_id, entity.as_str(), entity_id, op, now)?;
    // Autopay's upcoming charges are derived from the member's bills: a bill that changes changes
    // them, so the autopay entity goes out in the same sync.
    if matches!(entity, SyncEntity::Bill) {
        record_autopay_change(tx, member_id, now)?;
        record_plan_change(tx, member_id, entity_id, now)?;
    }
    Ok(())
}

/// An entity's change moves to the end of the member's feed: the feed holds each entity once, at
/// its latest change, with a new, higher `seq`. SQLite deletes the old entry and inserts a new
/// one; PostgreSQL does it in one statement (one round trip), giving the entry the sequence's next
/// number.
fn record_change(
    tx: &Connection,
    member_id: &str,
    entity: &str,
    entity_id: &str,
    op: &str,
    now: DateTime<Utc>,
) -> ApiResult<()> {
    match tx.dialect() {
        Dialect::Sqlite => {
            tx.prepare_cached("DELETE FROM changes WHERE member_id = ?1 AND entity = ?2 AND entity_id = ?3")?
                .execute(params![member_id, entity, entity_id])?;
            tx.prepare_cached(
                "INSERT INTO changes (member_id, entity, entity_id, op, changed_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![member_id, entity, entity_id, op, ms(now)])?;
        }
        Dialect::Postgres => {
            tx.prepare_cached(PG_RECORD_CHANGE)?
                .execute_later(params![member_id, entity, entity_id, op, ms(now)])?;
        }
    }
    Ok(())
}

/// PostgreSQL: an entity already in the feed takes the next number instead of a second row.
/// (Written out once, not formatted on every change-feed write.)
macro_rules! pg_move_to_end {
    () => {
        " ON CONFLICT (member_id, entity, entity_id) DO UPDATE SET \
         seq = nextval(pg_get_serial_sequence('changes', 'seq')), op = excluded.op, changed_at = excluded.changed_at"
    };
}
const PG_RECORD_CHANGE: &str = concat!(
    "INSERT INTO changes (member_id, entity, entity_id, op, changed_at) VALUES (?1, ?2, ?3, ?4, ?5)",
    pg_move_to_end!()
);
const PG_RECORD_AUTOPAY_CHANGE: &str = concat!(
    "INSERT INTO changes (member_id, entity, entity_id, op, changed_at) \
     SELECT ?1, 'autopay', 'autopay', 'upsert', ?2 WHERE EXISTS (SELECT 1 FROM autopay_rules WHERE member_id = ?1)",
    pg_move_to_end!()
);

const PG_RECORD_PLAN_CHANGE: &str = concat!(
    "INSERT INTO changes (member_id, entity, entity_id, op, changed_at) \
     SELECT ?1, 'payment_plan', payment_plan_id, 'upsert', ?3 FROM bills WHERE id = ?2 AND payment_plan_id IS NOT NULL",
    pg_move_to_end!()
);

/// A payment plan's schedule is worked out from its bills: a bill on a plan that changes moves the
/// plan to the end of the feed too.
fn record_plan_change(tx: &Connection, member_id: &str, bill_id: &str, now: DateTime<Utc>) -> ApiResult<()> {
    match tx.dialect() {
        Dialect::Sqlite => {
            let plan: Option<String> = tx
                .prepare_cached("SELECT payment_plan_id FROM bills WHERE id = ?1")?
                .query_row([bill_id], |r| r.get(0))
                .optional()?
                .flatten();
            if let Some(plan) = plan {
                record_change(tx, member_id, SyncEntity::PaymentPlan.as_str(), &plan, "upsert", now)?;
            }
        }
        Dialect::Postgres => {
            tx.prepare_cached(PG_RECORD_PLAN_CHANGE)?
                .execute_later(params![member_id, bill_id, ms(now)])?;
        }
    }
    Ok(())
}

/// The member's autopay entity moves to the end of the feed, if they have autopay.
fn record_autopay_change(tx: &Connection, member_id: &str, now: DateTime<Utc>) -> ApiResult<()> {
    match tx.dialect() {
        Dialect::Sqlite => {
            let has_autopay = tx
                .prepare_cached("SELECT 1 FROM autopay_rules WHERE member_id = ?1")?
                .exists([member_id])?;
            if has_autopay {
                record_change(tx, member_id, SyncEntity::Autopay.as_str(), "autopay", "upsert", now)?;
            }
        }
        Dialect::Postgres => {
            tx.prepare_cached(PG_RECORD_AUTOPAY_CHANGE)?
                .execute_later(params![member_id, ms(now)])?;
        }
    }
    Ok(())
}

pub fn setting(conn: &Connection, key: &str) -> ApiResult<Option<String>> {
    Ok(conn
        .query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| r.get(0))
        .optional()?)
}

pub fn set_setting(conn: &Connection, key: &str, value: &str) -> ApiResult<()> {
    conn.execute(
        "INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        params![key, value],
    )?;
    Ok(())
}

/// The value of a setting that is made once and never changed: `made` when the key is new, else
/// the value already stored (whoever wrote it first, even another server on the same database).
pub fn setting_or_insert(conn: &Connection, key: &str, made: &str) -> ApiResult<String> {
    conn.execute(
        "INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO NOTHING",
        params![key, made],
    )?;
    setting(conn, key)?.ok_or_else(|| ApiError::internal(format!("setting {key} vanished")))
}

/// Work that must happen once however many servers share the database (seeding the demo).
#[derive(Debug, Clone, Copy)]
pub enum OnceLock {
    DemoSeed,
}

impl OnceLock {
    /// The advisory lock's key ("CAREBI" and a number; the migration lock is "CAREBILL").
    fn key(self) -> i64 {
        match self {
            OnceLock::DemoSeed => 0x4341_5245_4249_0001,
        }
    }
}

/// Serializes `tx` with every other transaction taking the same lock, until it ends: a
/// transaction-scoped advisory lock on PostgreSQL; nothing on SQLite, whose `BEGIN IMMEDIATE`
/// already admits one writer at a time.
pub fn lock_once(tx: &Connection, lock: OnceLock) -> ApiResult<()> {
    if tx.dialect() == crate::sql::Dialect::Postgres {
        tx.query_row("SELECT pg_advisory_xact_lock(?1)", [lock.key()], |_| Ok(()))?;
    }
    Ok(())
}

/// The member lock: every transaction that writes a member's data takes it first, for every member
/// it writes, so on PostgreSQL (READ COMMITTED, many writers on several servers) one member's
/// writes run one at a time, as SQLite's single writer runs them all. Check-then-act code written
/// for one writer stays correct, and the change feed's numbers (taken from a global sequence
/// while the lock is held, and held to commit) commit in order per member: once a reader sees a
/// member's change `n`, no lower number of that member can still commit. The lock is the member's
/// `roster` row, `FOR NO KEY UPDATE` (which does not block the key-share locks that foreign-key
/// checks take, and needs no lock-table memory, so an import may hold thousands); members are
/// locked in one order (sorted) so two transactions never wait on each other. Nothing on SQLite.
pub fn lock_members<'a>(tx: &Connection, members: impl IntoIterator<Item = &'a str>) -> ApiResult<()> {
    if tx.dialect() == Dialect::Sqlite {
        return Ok(());
    }
    let mut members: Vec<&str> = members.into_iter().collect();
    members.sort_unstable();
    members.dedup();
    let mut stmt = tx.prepare_cached(LOCK_MEMBER)?;
    for member in members {
        stmt.execute_later([member])?;
    }
    Ok(())
}

/// One member's lock (see [`lock_members`]). Take it at the start of the transaction, never
/// again inside a savepoint: PostgreSQL records a row lock taken again by a subtransaction as a
/// new multixact, and a batch doing that for every item spent most of its time there (0.5 ms per
/// statement, growing with the batch).
pub fn lock_member(tx: &Connection, member_id: &str) -> ApiResult<()> {
    lock_members(tx, [member_id])
}

const LOCK_MEMBER: &str = "SELECT 1 FROM roster WHERE member_id = ?1 FOR NO KEY UPDATE";

/// Claims, for this transaction, the members among `candidates` that no other transaction holds
/// (their member locks, `SKIP LOCKED`): servers running the same scheduled step at once divide
/// the members between them instead of queueing; a member skipped here (busy paying, or being
/// planned by another server) is taken by the next pass. Every candidate on SQLite. Sorted.
pub fn claim_members(tx: &Connection, candidates: &[String]) -> ApiResult<Vec<String>> {
    let mut sorted: Vec<&str> = candidates.iter().map(String::as_str).collect();
    sorted.sort_unstable();
    sorted.dedup();
    if tx.dialect() == Dialect::Sqlite {
        return Ok(sorted.into_iter().map(str::to_string).collect());
    }
    let mut stmt =
        tx.prepare_cached("SELECT member_id FROM roster WHERE member_id = ?1 FOR NO KEY UPDATE SKIP LOCKED")?;
    let mut claimed = Vec::with_capacity(sorted.len());
    for member in sorted {
        if stmt.exists([member])? {
            claimed.push(member.to_string());
        }
    }
    Ok(claimed)
}

/// After a bulk load (import, seeding, a move) into `tables`: PostgreSQL's planner statistics of
/// those tables are brought up to date at once (`ANALYZE`), so the next statements are planned for
/// the tables as they now are, not as autovacuum last saw them. Only tables that were loaded: an
/// empty table analyzed as empty is planned as empty (sequential scans, kept in cached plans while
/// it grows), whereas one never analyzed is assumed to hold a few pages (index scans). SQLite
/// keeps no statistics unless asked, and is not asked.
pub fn refresh_statistics(conn: &Connection, tables: &[&str]) -> ApiResult<()> {
    if conn.dialect() == Dialect::Postgres && !tables.is_empty() {
        conn.execute_batch(&format!("ANALYZE {}", tables.join(", ")))?;
    }
    Ok(())
}

/// The end of a claim's row selection: `FOR UPDATE SKIP LOCKED` on PostgreSQL, so servers
/// claiming work at the same time take different rows instead of waiting for each other;
/// nothing on SQLite, whose one writer claims alone.
pub fn skip_locked(conn: &Connection) -> &'static str {
    match conn.dialect() {
        Dialect::Sqlite => "",
        Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
    }
}

/// The end of a read that the transaction goes on to write: `FOR UPDATE` on PostgreSQL (the
/// rows stay locked until it ends); nothing on SQLite, whose one writer reads alone.
pub fn for_update(conn: &Connection) -> &'static str {
    match conn.dialect() {
        Dialect::Sqlite => "",
        Dialect::Postgres => " FOR UPDATE",
    }
}

/// The channel on which servers sharing a PostgreSQL database announce revoked sessions.
pub const REVOKED_CHANNEL: &str = "carebill_revoked";

/// Tells every server on the database, when `tx` commits, that sessions were revoked (PostgreSQL
/// `NOTIFY`, delivered only if the transaction commits; their session caches listen). Nothing on
/// SQLite: one server per file.
pub fn announce_revocation(tx: &Connection) -> ApiResult<()> {
    if tx.dialect() == Dialect::Postgres {
        tx.execute_later("SELECT pg_notify(?1, '')", [REVOKED_CHANNEL])?;
    }
    Ok(())
}

/// The tables an import or the seed fills.
pub const BILL_TABLES: &[&str] = &["roster", "bills", "line_items"];

/// Settings keys: the server secret kept in the database, and the SHA-256 fingerprint of one
/// read from `server_secret_file` (see `app::load_secret`). Once a server has started, one of
/// the two exists.
pub const SERVER_SECRET_KEY: &str = "server_secret";
pub const SERVER_SECRET_FINGERPRINT_KEY: &str = "server_secret_fingerprint";

/// Settings key: the sandbox processor's card-fingerprint key, on PostgreSQL (on SQLite it is
/// derived from the database key).
pub const SANDBOX_FINGERPRINT_KEY: &str = "sandbox_fingerprint_key";

/// Settings key: how far the business clock is ahead of real time, in milliseconds (the demo
/// clock moves it).
pub const BUSINESS_OFFSET_KEY: &str = "business_clock_offset_ms";

/// Sequence numbers below this were pruned (old deletions): cursors from before it get 410.
pub const PRUNED_THROUGH_KEY: &str = "changes_pruned_through";
/// How long deletions stay in the change feed.
pub const CHANGE_RETENTION: chrono::Duration = chrono::Duration::days(90);

/// Drops deletions older than `before` from the change feed and moves the horizon past them.
pub fn prune_changes(tx: &Connection, before: DateTime<Utc>) -> ApiResult<usize> {
    let newest: Option<i64> = tx.query_row(
        "SELECT MAX(seq) FROM changes WHERE op = 'delete' AND changed_at < ?1",
        [ms(before)],
        |r| r.get(0),
    )?;
    let Some(newest) = newest else { return Ok(0) };
    let removed = tx.execute("DELETE FROM changes WHERE op = 'delete' AND seq <= ?1", [newest])?;
    let current: i64 = setting(tx, PRUNED_THROUGH_KEY)?
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    set_setting(tx, PRUNED_THROUGH_KEY, &newest.max(current).to_string())?;
    Ok(removed)
}

/// The member's name and address, when they have an account.
pub fn member_contact(
    conn: &Connection,
    member_id: &str,
) -> ApiResult<Option<(String, String, carebill_api::types::Locale)>> {
    Ok(conn
        .query_row(
            "SELECT r.first_name, a.email, a.locale FROM accounts a JOIN roster r ON r.member_id = a.member_id WHERE a.member_id = ?1",
            [member_id],
            |r| Ok((r.get(0)?, r.get(1)?, locale_of(&r.get::<_, String>(2)?))),
        )
        .optional()?)
}

/// A stored language (`accounts.locale`, checked by the schema); English for anything else.
pub fn locale_of(stored: &str) -> carebill_api::types::Locale {
    carebill_api::types::Locale::parse(stored).unwrap_or_default()
}
