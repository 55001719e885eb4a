//! `carebill-server migrate-to`: moves a SQLite deployment into an empty PostgreSQL database.
//!
//! Everything goes in one PostgreSQL transaction: every table of the server's database and of
//! the sandbox processor's file (when the deployment used the sandbox), read from one SQLite
//! snapshot, rows keeping their ids (identity columns are then moved past the largest). Before
//! it commits, each table is read back and compared with what was read from SQLite: the row count
//! and a checksum of every row. A mismatch, a target that already holds data, or a table either
//! side lacks rolls everything back; the SQLite files are only read (and migrated to this build's
//! schema first, as starting the server would).
//!
//! The server secret (in `settings`), sessions, sync cursors' sequence numbers and idempotency
//! keys move as rows, so they keep working. The sandbox's card-fingerprint key, derived from the
//! database key on SQLite, is written to `settings`, where the PostgreSQL sandbox keeps it.

use std::collections::{BTreeMap, BTreeSet};

use sha2::{Digest, Sha256};

use crate::config::{DatabaseUrl, ServerConfig};
use crate::db::{self, DbError};
use crate::processor::sandbox;
use crate::sql::{self, Connection, Value};

#[derive(Debug, thiserror::Error)]
pub enum MoveError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(
        "the target database already holds data ({rows} rows in {table}): migrate-to moves into an empty database only"
    )]
    TargetNotEmpty { table: String, rows: i64 },
    #[error("the schemas differ at {table}: {detail}")]
    Schema { table: String, detail: String },
    #[error("{table}.{column}: {detail}")]
    Value {
        table: String,
        column: String,
        detail: String,
    },
    #[error(
        "{table} did not arrive intact (SQLite: {source_rows} rows, checksum {source_checksum}; \
         PostgreSQL: {target_rows} rows, checksum {target_checksum}); nothing was moved"
    )]
    Verify {
        table: String,
        source_rows: u64,
        source_checksum: String,
        target_rows: u64,
        target_checksum: String,
    },
}

impl From<sql::Error> for MoveError {
    fn from(e: sql::Error) -> MoveError {
        MoveError::Db(e.into())
    }
}

impl From<rusqlite::Error> for MoveError {
    fn from(e: rusqlite::Error) -> MoveError {
        MoveError::Db(e.into())
    }
}

/// One moved table: its rows and their checksum (the same on both sides).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MovedTable {
    pub table: String,
    pub rows: u64,
    pub checksum: String,
}

/// Rows per `INSERT` (a statement takes at most 65,535 parameters).
const BATCH_PARAMETERS: usize = 30_000;

/// Moves the SQLite deployment of `source` (its data dir and database key) into `target`.
pub fn migrate_to(source: &ServerConfig, target: &DatabaseUrl) -> Result<Vec<MovedTable>, MoveError> {
    let mut server = db::connect(
        &source.data_dir.join(crate::app::DATABASE_FILE),
        &source.database_key,
        false,
    )?;
    db::migrate(&mut server)?;
    let sandbox_path = source.data_dir.join(sandbox::FILE);
    let processor = match sandbox_path.exists() {
        true => {
            let mut conn = db::connect(&sandbox_path, &sandbox::file_key(&source.database_key), false)?;
            db::migrate_with(&mut conn, sandbox::MIGRATIONS)?;
            Some(conn)
        }
        false => None,
    };

    let pg = db::pg_connect(&target.0)?;
    db::migrate_postgres(&pg)?;
    let target_tables = postgres_tables(&pg)?;

    // Which SQLite file holds each table; every table on either side must have its match.
    let mut sources: BTreeMap<String, &rusqlite::Connection> = BTreeMap::new();
    for name in sqlite_tables(&server)? {
        sources.insert(name, &server);
    }
    let sandbox_tables = match &processor {
        Some(conn) => sqlite_tables(conn)?,
        None => sandbox_table_names(),
    };
    for name in &sandbox_tables {
        if let Some(conn) = &processor {
            sources.insert(name.clone(), conn);
        }
    }
    for name in sources.keys() {
        if !target_tables.contains_key(name) {
            return Err(schema(name, "PostgreSQL has no such table"));
        }
    }
    // Without a sandbox file (a real processor), the sandbox's tables stay empty.
    let unused_sandbox = |name: &String| processor.is_none() && sandbox_tables.contains(name);
    for name in target_tables.keys() {
        if !(sources.contains_key(name) || unused_sandbox(name)) {
            return Err(schema(name, "SQLite has no such table"));
        }
    }

    // One snapshot of each SQLite file for the whole move (read transactions, only ever rolled
    // back: nothing is written to SQLite).
    for conn in sources.values().copied().collect::<Vec<_>>() {
        if conn.is_autocommit() {
            conn.execute_batch("BEGIN DEFERRED")?;
        }
    }
    let moved_sandbox = processor.is_some();
    let order = insertion_order(&pg, target_tables.keys().cloned().collect())?;
    let outcome = pg.transaction(|tx| -> Result<Vec<MovedTable>, MoveError> {
        for table in &order {
            let rows: i64 = tx.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))?;
            if rows > 0 {
                return Err(MoveError::TargetNotEmpty {
                    table: table.clone(),
                    rows,
                });
            }
        }
        let mut moved = Vec::new();
        for table in &order {
            let Some(conn) = sources.get(table) else { continue };
            let columns = &target_tables[table];
            let sent = copy_table(conn, tx, table, columns)?;
            let arrived = read_back(tx, table, columns)?;
            if sent != arrived {
                return Err(MoveError::Verify {
                    table: table.clone(),
                    source_rows: sent.rows,
                    source_checksum: sent.hex(),
                    target_rows: arrived.rows,
                    target_checksum: arrived.hex(),
                });
            }
            moved.push(MovedTable {
                table: table.clone(),
                rows: sent.rows,
                checksum: sent.hex(),
            });
        }
        advance_identities(tx)?;
        if moved_sandbox {
            let key = crate::config::DatabaseKey(sandbox::fingerprint_key(&source.database_key));
            crate::store::set_setting(tx, crate::store::SANDBOX_FINGERPRINT_KEY, &key.to_hex())
                .map_err(|e| MoveError::Db(DbError::Postgres(e.describe())))?;
        }
        Ok(moved)
    });
    for conn in sources.values() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    if let Ok(moved) = &outcome {
        let filled: Vec<&str> = moved.iter().filter(|t| t.rows > 0).map(|t| t.table.as_str()).collect();
        crate::store::refresh_statistics(&pg, &filled).map_err(|e| MoveError::Db(DbError::Postgres(e.describe())))?;
    }
    outcome
}

fn schema(table: &str, detail: &str) -> MoveError {
    MoveError::Schema {
        table: table.to_string(),
        detail: detail.to_string(),
    }
}

/// The sandbox's tables, by the schema its migrations make.
fn sandbox_table_names() -> BTreeSet<String> {
    let Ok(mut conn) = rusqlite::Connection::open_in_memory() else {
        return BTreeSet::new();
    };
    if db::migrate_with(&mut conn, sandbox::MIGRATIONS).is_err() {
        return BTreeSet::new();
    }
    sqlite_tables(&conn).unwrap_or_default()
}

fn sqlite_tables(conn: &rusqlite::Connection) -> Result<BTreeSet<String>, MoveError> {
    let mut stmt =
        conn.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")?;
    let names = stmt.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
    Ok(names)
}

/// A column of the target: its name and whether PostgreSQL stores it as a boolean.
#[derive(Debug, Clone)]
struct Column {
    name: String,
    boolean: bool,
}

/// The target's tables (the migrations' bookkeeping aside) and their columns, in order.
fn postgres_tables(pg: &Connection) -> Result<BTreeMap<String, Vec<Column>>, MoveError> {
    let mut tables: BTreeMap<String, Vec<Column>> = BTreeMap::new();
    let rows = pg
        .prepare(
            "SELECT c.table_name::text, c.column_name::text, c.data_type::text
             FROM information_schema.columns c
             JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
             WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'
               AND c.table_name <> 'schema_migrations'
             ORDER BY c.table_name, c.ordinal_position",
        )?
        .query_map([], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    for (table, name, ty) in rows {
        tables.entry(table).or_default().push(Column {
            name,
            boolean: ty == "boolean",
        });
    }
    Ok(tables)
}

/// The tables in an order where each comes after the tables its foreign keys name.
fn insertion_order(pg: &Connection, tables: BTreeSet<String>) -> Result<Vec<String>, MoveError> {
    let edges = pg
        .prepare(
            "SELECT c.conrelid::regclass::text, c.confrelid::regclass::text
             FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
             WHERE c.contype = 'f' AND n.nspname = current_schema()",
        )?
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    let mut order = Vec::with_capacity(tables.len());
    let mut left = tables;
    while !left.is_empty() {
        let ready: Vec<String> = left
            .iter()
            .filter(|t| {
                !edges
                    .iter()
                    .any(|(from, to)| from == *t && to != *t && left.contains(to))
            })
            .cloned()
            .collect();
        if ready.is_empty() {
            let stuck = left.iter().next().cloned().unwrap_or_default();
            return Err(schema(&stuck, "its foreign keys form a cycle"));
        }
        for t in ready {
            left.remove(&t);
            order.push(t);
        }
    }
    Ok(order)
}

/// A table's row count and the sum of its rows' SHA-256 digests (four 64-bit lanes, wrapping):
/// independent of row order, which the two engines need not share.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Tally {
    rows: u64,
    lanes: [u64; 4],
}

impl Tally {
    fn add(&mut self, row: &[Value]) {
        let mut hash = Sha256::new();
        for value in row {
            match value {
                Value::Null => hash.update([0]),
                Value::Integer(i) => {
                    hash.update([1]);
                    hash.update(i.to_le_bytes());
                }
                // Booleans are 0 and 1 on SQLite.
                Value::Bool(b) => {
                    hash.update([1]);
                    hash.update(i64::from(*b).to_le_bytes());
                }
                Value::Text(t) => {
                    hash.update([2]);
                    hash.update((t.len() as u64).to_le_bytes());
                    hash.update(t.as_bytes());
                }
                Value::Bytes(b) => {
                    hash.update([3]);
                    hash.update((b.len() as u64).to_le_bytes());
                    hash.update(b);
                }
            }
        }
        let digest = hash.finalize();
        for (lane, chunk) in self.lanes.iter_mut().zip(digest.chunks_exact(8)) {
            let word = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
            *lane = lane.wrapping_add(word);
        }
        self.rows += 1;
    }

    fn hex(&self) -> String {
        self.lanes.iter().map(|l| format!("{l:016x}")).collect()
    }
}

fn column_list(columns: &[Column]) -> String {
    columns.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", ")
}

/// Copies one table in batches, checking each value fits its PostgreSQL column; the tally of
/// what was read.
fn copy_table(
    source: &rusqlite::Connection,
    tx: &Connection,
    table: &str,
    columns: &[Column],
) -> Result<Tally, MoveError> {
    let sqlite_columns: BTreeSet<String> = source
        .prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let wanted: BTreeSet<String> = columns.iter().map(|c| c.name.clone()).collect();
    if sqlite_columns != wanted {
        return Err(schema(
            table,
            &format!("SQLite has columns {:?}, PostgreSQL {:?}", sqlite_columns, wanted),
        ));
    }
    let list = column_list(columns);
    let per_batch = (BATCH_PARAMETERS / columns.len()).max(1);
    let insert = |rows: usize| {
        let mut sql = format!("INSERT INTO {table} ({list}) VALUES ");
        let mut n = 1;
        for r in 0..rows {
            if r > 0 {
                sql.push_str(", ");
            }
            sql.push('(');
            for c in 0..columns.len() {
                if c > 0 {
                    sql.push_str(", ");
                }
                sql.push_str(&format!("?{n}"));
                n += 1;
            }
            sql.push(')');
        }
        sql
    };
    let full = insert(per_batch);
    let mut tally = Tally::default();
    let mut batch: Vec<Value> = Vec::with_capacity(per_batch * columns.len());
    let mut stmt = source.prepare(&format!("SELECT {list} FROM {table}"))?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let start = batch.len();
        for (i, column) in columns.iter().enumerate() {
            let value = sql::sqlite_value(row.get_ref(i)?).map_err(|e| MoveError::Value {
                table: table.to_string(),
                column: column.name.clone(),
                detail: e.to_string(),
            })?;
            check_fits(table, column, &value)?;
            batch.push(value);
        }
        tally.add(&batch[start..]);
        if batch.len() == per_batch * columns.len() {
            tx.execute(&full, batch.as_slice())?;
            batch.clear();
        }
    }
    if !batch.is_empty() {
        tx.execute(&insert(batch.len() / columns.len()), batch.as_slice())?;
    }
    Ok(tally)
}

/// A value PostgreSQL would store differently is refused, not changed: only 0 and 1 go into a
/// boolean column.
fn check_fits(table: &str, column: &Column, value: &Value) -> Result<(), MoveError> {
    if column.boolean && !matches!(value, Value::Null | Value::Integer(0 | 1)) {
        return Err(MoveError::Value {
            table: table.to_string(),
            column: column.name.clone(),
            detail: format!("{value:?} in a boolean column"),
        });
    }
    Ok(())
}

/// Reads a table back from the target, through a cursor (a table may not fit in memory). Each
/// table has a cursor of its own name: a prepared `FETCH` keeps the row type of the cursor it
/// was first prepared for.
fn read_back(tx: &Connection, table: &str, columns: &[Column]) -> Result<Tally, MoveError> {
    let mut tally = Tally::default();
    let cursor = format!("carebill_move_{table}");
    tx.execute_batch(&format!(
        "DECLARE {cursor} NO SCROLL CURSOR FOR SELECT {} FROM {table}",
        column_list(columns)
    ))?;
    loop {
        let rows = tx
            .prepare(&format!("FETCH 2000 FROM {cursor}"))?
            .query_map([], |r| {
                (0..columns.len())
                    .map(|i| r.get::<_, Value>(i))
                    .collect::<Result<Vec<_>, _>>()
            })?
            .collect::<Result<Vec<_>, _>>()?;
        if rows.is_empty() {
            break;
        }
        for row in &rows {
            tally.add(row);
        }
    }
    tx.execute_batch(&format!("CLOSE {cursor}"))?;
    Ok(tally)
}

/// Moves each identity column's sequence past the largest id copied, so the next row the server
/// writes gets a new id.
fn advance_identities(tx: &Connection) -> Result<(), MoveError> {
    let identities = tx
        .prepare(
            "SELECT table_name::text, column_name::text FROM information_schema.columns
             WHERE table_schema = current_schema() AND is_identity = 'YES'",
        )?
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    for (table, column) in identities {
        let largest: Option<i64> = tx.query_row(&format!("SELECT MAX({column}) FROM {table}"), [], |r| r.get(0))?;
        if let Some(largest) = largest {
            tx.query_row(
                "SELECT setval(pg_get_serial_sequence(?1, ?2), ?3)",
                sql::params![table, column, largest],
                |_| Ok(()),
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tally(rows: &[Vec<Value>]) -> Tally {
        let mut t = Tally::default();
        for row in rows {
            t.add(row);
        }
        t
    }

    #[test]
    fn the_checksum_ignores_row_order_but_not_a_changed_value() {
        let a = vec![Value::Integer(1), Value::Text("x".into()), Value::Null];
        let b = vec![Value::Integer(2), Value::Bytes(vec![0, 1]), Value::Bool(true)];
        assert_eq!(tally(&[a.clone(), b.clone()]), tally(&[b.clone(), a.clone()]));
        let mut b_as_sqlite = b.clone();
        b_as_sqlite[2] = Value::Integer(1);
        assert_eq!(
            tally(&[a.clone(), b.clone()]),
            tally(&[a.clone(), b_as_sqlite]),
            "a boolean is 0 or 1"
        );
        let mut changed = b.clone();
        changed[0] = Value::Integer(3);
        assert_ne!(tally(&[a.clone(), b.clone()]), tally(&[a.clone(), changed]));
        assert_ne!(
            tally(&[a.clone(), b.clone()]),
            tally(std::slice::from_ref(&a)),
            "a lost row"
        );
        // Text and bytes with the same content, and a split between columns, differ.
        assert_ne!(
            tally(&[vec![Value::Text("ab".into())]]),
            tally(&[vec![Value::Bytes(b"ab".to_vec())]])
        );
        assert_ne!(
            tally(&[vec![Value::Text("ab".into()), Value::Text("c".into())]]),
            tally(&[vec![Value::Text("a".into()), Value::Text("bc".into())]])
        );
    }

    #[test]
    fn only_zero_and_one_go_into_a_boolean_column() {
        let flag = Column {
            name: "remember".into(),
            boolean: true,
        };
        for ok in [Value::Null, Value::Integer(0), Value::Integer(1)] {
            assert!(check_fits("sessions", &flag, &ok).is_ok());
        }
        let err = check_fits("sessions", &flag, &Value::Integer(2)).unwrap_err();
        assert_eq!(err.to_string(), "sessions.remember: Integer(2) in a boolean column");
    }
}
