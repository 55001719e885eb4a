//! One SQL, two engines: the connection every store and service function takes.
//!
//! The server's SQL is written once, in the dialect SQLite and PostgreSQL share (a test keeps
//! SQLite-only forms out: `layers.rs`). This module is the one place that knows which engine runs
//! it. Its surface is the small part of rusqlite's that the server uses (`execute`, `query_row`,
//! `prepare_cached` with `query_map` and `exists`, `Row::get`, `optional()`, `params!`), so the
//! call sites read as before; the engine behind a [`Connection`] is an enum, and PostgreSQL is its
//! second arm (issue 15).
//!
//! Placeholders are SQLite's `?N`; values are [`ToSql`] and read back as [`FromSql`]: `i64`,
//! `bool`, `String`, `Vec<u8>`, their `Option`s, and references to them.

use std::fmt;

/// A database error: the engine's, or a row with no value where one was expected.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A query that must return a row returned none.
    #[error("the query returned no row")]
    NoRows,
    /// A column's value is not of the type asked for.
    #[error("a column's value: {0}")]
    Decode(String),
    #[error(transparent)]
    Sqlite(rusqlite::Error),
    #[error(transparent)]
    Pg(#[from] tokio_postgres::Error),
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Error {
        match e {
            rusqlite::Error::QueryReturnedNoRows => Error::NoRows,
            other => Error::Sqlite(other),
        }
    }
}

impl Error {
    /// A unique or primary-key constraint refused the write (the row already exists).
    pub fn is_unique_violation(&self) -> bool {
        match self {
            Error::Sqlite(rusqlite::Error::SqliteFailure(f, _)) => {
                f.code == rusqlite::ErrorCode::ConstraintViolation
                    && matches!(
                        f.extended_code,
                        rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
                    )
            }
            Error::Pg(e) => e.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION),
            _ => false,
        }
    }

    /// Any constraint refused the write (SQLSTATE class 23 on PostgreSQL).
    pub fn is_constraint_violation(&self) -> bool {
        match self {
            Error::Sqlite(rusqlite::Error::SqliteFailure(f, _)) => f.code == rusqlite::ErrorCode::ConstraintViolation,
            Error::Pg(e) => e.code().is_some_and(|c| c.code().starts_with("23")),
            _ => false,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// `.optional()` on a single-row query: no row is `None`, not an error.
pub trait OptionalExtension<T> {
    fn optional(self) -> Result<Option<T>>;
}

impl<T> OptionalExtension<T> for Result<T> {
    fn optional(self) -> Result<Option<T>> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(Error::NoRows) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// A value as both engines store it: the server's columns hold only these.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Integer(i64),
    Bool(bool),
    Text(String),
    Bytes(Vec<u8>),
}

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match self {
            Value::Null => ValueRef::Null,
            Value::Integer(i) => ValueRef::Integer(*i),
            Value::Bool(b) => ValueRef::Integer(i64::from(*b)),
            Value::Text(t) => ValueRef::Text(t.as_bytes()),
            Value::Bytes(b) => ValueRef::Blob(b),
        }))
    }
}

/// A value the server binds to a placeholder.
pub trait ToSql {
    fn to_value(&self) -> Value;
}

macro_rules! integer_to_sql {
    ($($t:ty),*) => {$(
        impl ToSql for $t {
            fn to_value(&self) -> Value {
                Value::Integer(i64::try_from(*self).unwrap_or(i64::MAX))
            }
        }
    )*};
}
integer_to_sql!(i64, i32, u32, u16, u8, usize, u64);

impl ToSql for Value {
    fn to_value(&self) -> Value {
        self.clone()
    }
}

impl ToSql for bool {
    fn to_value(&self) -> Value {
        Value::Bool(*self)
    }
}

impl ToSql for str {
    fn to_value(&self) -> Value {
        Value::Text(self.to_string())
    }
}

impl ToSql for String {
    fn to_value(&self) -> Value {
        Value::Text(self.clone())
    }
}

impl ToSql for [u8] {
    fn to_value(&self) -> Value {
        Value::Bytes(self.to_vec())
    }
}

impl ToSql for Vec<u8> {
    fn to_value(&self) -> Value {
        Value::Bytes(self.clone())
    }
}

impl<const N: usize> ToSql for [u8; N] {
    fn to_value(&self) -> Value {
        Value::Bytes(self.to_vec())
    }
}

impl<T: ToSql> ToSql for Option<T> {
    fn to_value(&self) -> Value {
        self.as_ref().map_or(Value::Null, ToSql::to_value)
    }
}

impl<T: ToSql + ?Sized> ToSql for &T {
    fn to_value(&self) -> Value {
        (**self).to_value()
    }
}

/// A value the server reads from a column.
pub trait FromSql: Sized {
    fn from_value(value: Value) -> Result<Self>;
}

fn wrong_type(wanted: &str, got: &Value) -> Error {
    Error::Decode(format!("expected {wanted}, found {got:?}"))
}

impl FromSql for i64 {
    fn from_value(value: Value) -> Result<i64> {
        match value {
            Value::Integer(i) => Ok(i),
            Value::Bool(b) => Ok(i64::from(b)),
            other => Err(wrong_type("an integer", &other)),
        }
    }
}

macro_rules! integer_from_sql {
    ($($t:ty),*) => {$(
        impl FromSql for $t {
            fn from_value(value: Value) -> Result<$t> {
                let i = i64::from_value(value)?;
                <$t>::try_from(i).map_err(|_| Error::Decode(format!("{i} does not fit {}", stringify!($t))))
            }
        }
    )*};
}
integer_from_sql!(i32, u32, u16, u8, usize, u64);

impl FromSql for bool {
    fn from_value(value: Value) -> Result<bool> {
        match value {
            Value::Bool(b) => Ok(b),
            Value::Integer(i) => Ok(i != 0),
            other => Err(wrong_type("a boolean", &other)),
        }
    }
}

impl FromSql for String {
    fn from_value(value: Value) -> Result<String> {
        match value {
            Value::Text(t) => Ok(t),
            other => Err(wrong_type("text", &other)),
        }
    }
}

impl FromSql for Vec<u8> {
    fn from_value(value: Value) -> Result<Vec<u8>> {
        match value {
            Value::Bytes(b) => Ok(b),
            other => Err(wrong_type("bytes", &other)),
        }
    }
}

impl FromSql for Value {
    fn from_value(value: Value) -> Result<Value> {
        Ok(value)
    }
}

impl<T: FromSql> FromSql for Option<T> {
    fn from_value(value: Value) -> Result<Option<T>> {
        match value {
            Value::Null => Ok(None),
            other => T::from_value(other).map(Some),
        }
    }
}

/// A SQLite column's value.
pub(crate) fn sqlite_value(v: rusqlite::types::ValueRef<'_>) -> Result<Value> {
    use rusqlite::types::ValueRef;
    Ok(match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Integer(i),
        ValueRef::Real(r) => return Err(Error::Decode(format!("a real number ({r}) where none is stored"))),
        ValueRef::Text(t) => Value::Text(
            String::from_utf8(t.to_vec()).map_err(|e| Error::Decode(format!("text that is not UTF-8: {e}")))?,
        ),
        ValueRef::Blob(b) => Value::Bytes(b.to_vec()),
    })
}

/// The values of a statement's placeholders, in order.
pub trait Params {
    fn values(&self) -> Vec<&dyn ToSql>;
}

impl Params for &[&dyn ToSql] {
    fn values(&self) -> Vec<&dyn ToSql> {
        self.to_vec()
    }
}

impl Params for &[Value] {
    fn values(&self) -> Vec<&dyn ToSql> {
        self.iter().map(|v| v as &dyn ToSql).collect()
    }
}

impl Params for Vec<&dyn ToSql> {
    fn values(&self) -> Vec<&dyn ToSql> {
        self.clone()
    }
}

impl Params for [&dyn ToSql; 0] {
    fn values(&self) -> Vec<&dyn ToSql> {
        Vec::new()
    }
}

macro_rules! array_params {
    ($($n:literal),*) => {$(
        impl<T: ToSql> Params for [T; $n] {
            fn values(&self) -> Vec<&dyn ToSql> {
                self.iter().map(|v| v as &dyn ToSql).collect()
            }
        }
        impl<T: ToSql> Params for &[T; $n] {
            fn values(&self) -> Vec<&dyn ToSql> {
                self.iter().map(|v| v as &dyn ToSql).collect()
            }
        }
    )*};
}
array_params!(1, 2, 3, 4, 5, 6, 7, 8);

/// Placeholder values of mixed types: `params![member_id, cents, now]`.
#[macro_export]
macro_rules! sql_params {
    () => { &[] as &[&dyn $crate::sql::ToSql] };
    ($($v:expr),+ $(,)?) => { &[$(&$v as &dyn $crate::sql::ToSql),+] as &[&dyn $crate::sql::ToSql] };
}
pub use sql_params as params;

fn bind(values: &[&dyn ToSql]) -> Vec<Value> {
    values.iter().map(|v| v.to_value()).collect()
}

/// A column index.
pub trait RowIndex {
    fn index(self) -> usize;
}

impl RowIndex for usize {
    fn index(self) -> usize {
        self
    }
}

/// One row of a result.
pub enum Row<'s> {
    Sqlite(&'s rusqlite::Row<'s>),
    Pg(&'s tokio_postgres::Row),
}

impl Row<'_> {
    /// The value of column `idx`.
    pub fn get<I: RowIndex, T: FromSql>(&self, idx: I) -> Result<T> {
        let idx = idx.index();
        let value = match self {
            Row::Sqlite(row) => sqlite_value(row.get_ref(idx)?)?,
            Row::Pg(row) => pg_value(row, idx)?,
        };
        T::from_value(value)
    }
}

/// A PostgreSQL column's value: integers of every width, booleans, text and bytes.
fn pg_value(row: &tokio_postgres::Row, idx: usize) -> Result<Value> {
    use tokio_postgres::types::Type;
    let column = row
        .columns()
        .get(idx)
        .ok_or_else(|| Error::Decode(format!("no column {idx}")))?;
    let ty = column.type_().clone();
    let value = if ty == Type::INT8 {
        row.try_get::<_, Option<i64>>(idx)?.map(Value::Integer)
    } else if ty == Type::INT4 {
        row.try_get::<_, Option<i32>>(idx)?.map(|i| Value::Integer(i.into()))
    } else if ty == Type::INT2 {
        row.try_get::<_, Option<i16>>(idx)?.map(|i| Value::Integer(i.into()))
    } else if ty == Type::BOOL {
        row.try_get::<_, Option<bool>>(idx)?.map(Value::Bool)
    } else if ty == Type::TEXT || ty == Type::VARCHAR || ty == Type::BPCHAR || ty == Type::NAME {
        row.try_get::<_, Option<String>>(idx)?.map(Value::Text)
    } else if ty == Type::BYTEA {
        row.try_get::<_, Option<Vec<u8>>>(idx)?.map(Value::Bytes)
    } else {
        return Err(Error::Decode(format!(
            "column {} has type {ty}, which the server does not read",
            column.name()
        )));
    };
    Ok(value.unwrap_or(Value::Null))
}

impl tokio_postgres::types::ToSql for Value {
    fn to_sql(
        &self,
        ty: &tokio_postgres::types::Type,
        out: &mut tokio_postgres::types::private::BytesMut,
    ) -> std::result::Result<tokio_postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        use tokio_postgres::types::{IsNull, Type};
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Integer(i) if *ty == Type::INT8 => i.to_sql(ty, out),
            Value::Integer(i) if *ty == Type::INT4 => i32::try_from(*i)?.to_sql(ty, out),
            Value::Integer(i) if *ty == Type::INT2 => i16::try_from(*i)?.to_sql(ty, out),
            Value::Integer(i) if *ty == Type::BOOL => (*i != 0).to_sql(ty, out),
            Value::Bool(b) if *ty == Type::BOOL => b.to_sql(ty, out),
            Value::Bool(b) if *ty == Type::INT8 => i64::from(*b).to_sql(ty, out),
            Value::Text(t) => t.to_sql(ty, out),
            Value::Bytes(b) => b.to_sql(ty, out),
            other => Err(format!("cannot send {other:?} as {ty}").into()),
        }
    }

    fn accepts(_: &tokio_postgres::types::Type) -> bool {
        true
    }

    tokio_postgres::types::to_sql_checked!();
}

/// SQLite's `?N` placeholders as PostgreSQL's `$N` (a bare `?` is the next number), outside quoted
/// text.
pub fn pg_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut chars = sql.chars().peekable();
    let (mut quoted, mut next) = (false, 1);
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                quoted = !quoted;
                out.push(c);
            }
            '?' if !quoted => {
                let mut digits = String::new();
                while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                    digits.push(*d);
                    chars.next();
                }
                if digits.is_empty() {
                    digits = next.to_string();
                }
                next = digits.parse::<usize>().unwrap_or(next) + 1;
                out.push('$');
                out.push_str(&digits);
            }
            _ => out.push(c),
        }
    }
    out
}

/// A PostgreSQL connection: the client with the small runtime that drives it, its prepared
/// statements, the statements waiting to be sent, and whether a transaction is open.
///
/// The server's database work is synchronous (it runs on the blocking pool), so each connection
/// drives its async client on a current-thread runtime of its own, as the `postgres` crate does.
/// Doing it here gives pipelining: statements whose answer nobody reads
/// ([`Connection::execute_later`]) wait and go out together with the next statement that is
/// read, in order, in one round trip. Their errors surface at that statement (and always before a
/// savepoint is released or a transaction commits, since those send them too). It must never be
/// used or dropped on an async worker; dropping it closes it on a thread of its own.
pub struct PgConn {
    client: PgClient,
    prepared: std::cell::RefCell<std::collections::HashMap<String, tokio_postgres::Statement>>,
    waiting: std::cell::RefCell<Vec<(tokio_postgres::Statement, Vec<Value>)>>,
    in_transaction: std::cell::Cell<bool>,
}

/// The client and its runtime, closed on a thread of their own when dropped (wherever the last
/// owner drops them: a runtime must not be dropped on an async worker).
struct PgClient(Option<(tokio::runtime::Runtime, tokio_postgres::Client)>);

impl PgClient {
    fn runtime(&self) -> &tokio::runtime::Runtime {
        &self.0.as_ref().expect("the client is there until dropped").0
    }

    fn client(&self) -> &tokio_postgres::Client {
        &self.0.as_ref().expect("the client is there until dropped").1
    }
}

impl Drop for PgClient {
    fn drop(&mut self) {
        if let Some(parts) = self.0.take() {
            let _ = std::thread::Builder::new()
                .name("postgres-close".into())
                .spawn(move || drop(parts));
        }
    }
}

fn pg_params(values: &[Value]) -> Vec<&(dyn tokio_postgres::types::ToSql + Sync)> {
    values
        .iter()
        .map(|v| v as &(dyn tokio_postgres::types::ToSql + Sync))
        .collect()
}

impl PgConn {
    fn statement(&self, sql: &str) -> Result<tokio_postgres::Statement> {
        if let Some(s) = self.prepared.borrow().get(sql) {
            return Ok(s.clone());
        }
        let text = pg_placeholders(sql);
        let statement = self.client.runtime().block_on(self.client.client().prepare(&text))?;
        self.prepared.borrow_mut().insert(sql.to_string(), statement.clone());
        Ok(statement)
    }

    /// Runs `last` after every waiting statement, all sent together; the first error wins.
    ///
    /// A request goes out when its future is first polled, so the futures are polled in order,
    /// every time, until all are done: the server receives them as they were issued.
    fn run<T>(
        &self,
        last: impl std::future::Future<Output = std::result::Result<T, tokio_postgres::Error>>,
    ) -> Result<T> {
        use std::future::Future;
        use std::pin::Pin;
        use std::task::Poll;
        type Sent<'a> = Pin<Box<dyn Future<Output = std::result::Result<u64, tokio_postgres::Error>> + 'a>>;
        let waiting = self.waiting.take();
        let client = self.client.client();
        self.client.runtime().block_on(async {
            let mut sent: Vec<(Sent<'_>, Option<std::result::Result<u64, tokio_postgres::Error>>)> = waiting
                .iter()
                .map(|(statement, values)| {
                    let future: Sent<'_> = Box::pin(async move { client.execute(statement, &pg_params(values)).await });
                    (future, None)
                })
                .collect();
            let mut last = std::pin::pin!(last);
            let mut out = None;
            std::future::poll_fn(|cx| {
                for (future, done) in sent.iter_mut().filter(|(_, done)| done.is_none()) {
                    if let Poll::Ready(result) = future.as_mut().poll(cx) {
                        *done = Some(result);
                    }
                }
                if out.is_none()
                    && let Poll::Ready(result) = last.as_mut().poll(cx)
                {
                    out = Some(result);
                }
                match out.is_some() && sent.iter().all(|(_, done)| done.is_some()) {
                    true => Poll::Ready(()),
                    false => Poll::Pending,
                }
            })
            .await;
            for (_, done) in sent {
                done.expect("every statement finished")?;
            }
            Ok(out.expect("the last statement finished")?)
        })
    }

    fn query(&self, sql: &str, values: &[Value]) -> Result<Vec<tokio_postgres::Row>> {
        let statement = self.statement(sql)?;
        let params = pg_params(values);
        self.run(self.client.client().query(&statement, &params))
    }

    fn execute(&self, sql: &str, values: &[Value]) -> Result<usize> {
        let statement = self.statement(sql)?;
        let params = pg_params(values);
        self.run(self.client.client().execute(&statement, &params))
            .map(|n| n as usize)
    }

    /// Queues a statement to go out with the next one that is read.
    fn execute_later(&self, sql: &str, values: Vec<Value>) -> Result<()> {
        let statement = self.statement(sql)?;
        self.waiting.borrow_mut().push((statement, values));
        Ok(())
    }

    fn batch(&self, sql: &str) -> Result<()> {
        if sql.trim_start().to_ascii_uppercase().starts_with("ROLLBACK") {
            // What waits belongs to the work being rolled back.
            self.waiting.borrow_mut().clear();
        }
        self.run(self.client.client().batch_execute(sql))
    }
}

/// A connection to the server's database, on either engine.
pub enum Connection {
    Sqlite(rusqlite::Connection),
    Pg(Box<PgConn>),
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Connection::Sqlite(_) => "Connection(sqlite)",
            Connection::Pg(_) => "Connection(postgres)",
        })
    }
}

/// Which engine a connection talks to, for the few statements that differ (named in `store`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Connection {
    pub fn sqlite(conn: rusqlite::Connection) -> Connection {
        Connection::Sqlite(conn)
    }

    /// A PostgreSQL connection from a client and the runtime that drives its connection.
    pub fn postgres(runtime: tokio::runtime::Runtime, client: tokio_postgres::Client) -> Connection {
        Connection::Pg(Box::new(PgConn {
            client: PgClient(Some((runtime, client))),
            prepared: std::cell::RefCell::default(),
            waiting: std::cell::RefCell::default(),
            in_transaction: std::cell::Cell::new(false),
        }))
    }

    pub fn dialect(&self) -> Dialect {
        match self {
            Connection::Sqlite(_) => Dialect::Sqlite,
            Connection::Pg(_) => Dialect::Postgres,
        }
    }

    /// Whether the connection is gone for good (PostgreSQL: the server ended it, restarted or
    /// failed over); a SQLite connection never is.
    pub fn is_closed(&self) -> bool {
        match self {
            Connection::Sqlite(_) => false,
            Connection::Pg(c) => c.client.client().is_closed(),
        }
    }

    /// Runs one statement; the number of rows it changed.
    pub fn execute<P: Params>(&self, sql: &str, params: P) -> Result<usize> {
        self.prepare_cached(sql)?.execute(params)
    }

    /// Runs a statement whose answer is not read (not even how many rows it changed): on
    /// PostgreSQL it waits and goes out with the next statement that is read (one round trip for
    /// all), and its error, if any, surfaces there; on SQLite it runs now.
    /// Outside a transaction it runs now (nothing may wait past the work it belongs to).
    pub fn execute_later<P: Params>(&self, sql: &str, params: P) -> Result<()> {
        match self {
            Connection::Pg(c) if c.in_transaction.get() => c.execute_later(sql, bind(&params.values())),
            _ => self.execute(sql, params).map(|_| ()),
        }
    }

    /// Runs statements with no placeholders, one after the other.
    pub fn execute_batch(&self, sql: &str) -> Result<()> {
        match self {
            Connection::Sqlite(c) => Ok(c.execute_batch(sql)?),
            Connection::Pg(c) => c.batch(sql),
        }
    }

    /// The first row's answer; [`Error::NoRows`] when there is none (see `optional`).
    pub fn query_row<T, P: Params, F: FnOnce(&Row<'_>) -> Result<T>>(&self, sql: &str, params: P, f: F) -> Result<T> {
        self.prepare_cached(sql)?.query_row(params, f)
    }

    /// A statement, prepared once per connection and kept.
    pub fn prepare_cached(&self, sql: &str) -> Result<Statement<'_>> {
        Ok(match self {
            Connection::Sqlite(c) => Statement::Sqlite(c.prepare_cached(sql)?),
            Connection::Pg(c) => Statement::Pg(c, sql.to_string()),
        })
    }

    /// A statement (kept like `prepare_cached`).
    pub fn prepare(&self, sql: &str) -> Result<Statement<'_>> {
        self.prepare_cached(sql)
    }

    /// Runs `f` in one read transaction: every query of it sees the same moment.
    pub fn snapshot<R>(&self, f: impl FnOnce(&Connection) -> R) -> Result<R> {
        let begin = match self {
            Connection::Sqlite(_) => "BEGIN DEFERRED",
            Connection::Pg(_) => "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
        };
        let open = Open::begin(self, begin)?;
        let out = f(self);
        open.end("COMMIT")?;
        Ok(out)
    }

    /// Runs `f` in one write transaction (`BEGIN IMMEDIATE` on SQLite: the write lock is taken
    /// first), committed when `f` succeeds and rolled back otherwise, a panic included.
    pub fn transaction<R, E: From<Error>>(&self, f: impl FnOnce(&Connection) -> Result<R, E>) -> Result<R, E> {
        let begin = match self {
            Connection::Sqlite(_) => "BEGIN IMMEDIATE",
            Connection::Pg(_) => "BEGIN",
        };
        let open = Open::begin(self, begin)?;
        let out = f(self)?;
        open.end("COMMIT")?;
        Ok(out)
    }

    fn in_transaction(&self) -> bool {
        match self {
            Connection::Sqlite(c) => !c.is_autocommit(),
            Connection::Pg(c) => c.in_transaction.get(),
        }
    }

    fn mark_transaction(&self, open: bool) {
        if let Connection::Pg(c) = self {
            c.in_transaction.set(open);
        }
    }
}

/// A transaction in progress: rolled back when dropped before it ends (an error or a panic in
/// the caller's work), so the connection never stays inside a transaction.
struct Open<'c> {
    conn: &'c Connection,
    ended: bool,
}

impl<'c> Open<'c> {
    fn begin(conn: &'c Connection, begin: &str) -> Result<Open<'c>> {
        if conn.in_transaction() {
            // Left open by work that never ended it: it must not swallow this one.
            conn.execute_batch("ROLLBACK")?;
            conn.mark_transaction(false);
        }
        conn.execute_batch(begin)?;
        conn.mark_transaction(true);
        Ok(Open { conn, ended: false })
    }

    /// Commits (or otherwise ends) it; when that fails, dropping `self` rolls it back.
    fn end(mut self, how: &str) -> Result<()> {
        self.conn.execute_batch(how)?;
        self.conn.mark_transaction(false);
        self.ended = true;
        Ok(())
    }
}

impl Drop for Open<'_> {
    fn drop(&mut self) {
        if !self.ended {
            let _ = self.conn.execute_batch("ROLLBACK");
            self.conn.mark_transaction(false);
        }
    }
}

/// A prepared statement.
pub enum Statement<'c> {
    Sqlite(rusqlite::CachedStatement<'c>),
    Pg(&'c PgConn, String),
}

impl Statement<'_> {
    pub fn execute<P: Params>(&mut self, params: P) -> Result<usize> {
        let values = bind(&params.values());
        match self {
            Statement::Sqlite(s) => Ok(s.execute(rusqlite::params_from_iter(values))?),
            Statement::Pg(c, sql) => c.execute(sql, &values),
        }
    }

    pub fn query_row<T, P: Params, F: FnOnce(&Row<'_>) -> Result<T>>(&mut self, params: P, f: F) -> Result<T> {
        let values = bind(&params.values());
        match self {
            Statement::Sqlite(s) => {
                let mut rows = s.query(rusqlite::params_from_iter(values))?;
                match rows.next()? {
                    Some(row) => f(&Row::Sqlite(row)),
                    None => Err(Error::NoRows),
                }
            }
            Statement::Pg(c, sql) => match c.query(sql, &values)?.first() {
                Some(row) => f(&Row::Pg(row)),
                None => Err(Error::NoRows),
            },
        }
    }

    /// Every row's answer, in order (read in full before it is returned).
    pub fn query_map<T, P: Params, F: FnMut(&Row<'_>) -> Result<T>>(
        &mut self,
        params: P,
        mut f: F,
    ) -> Result<std::vec::IntoIter<Result<T>>> {
        let values = bind(&params.values());
        let mut out = Vec::new();
        match self {
            Statement::Sqlite(s) => {
                let mut rows = s.query(rusqlite::params_from_iter(values))?;
                while let Some(row) = rows.next()? {
                    out.push(f(&Row::Sqlite(row)));
                }
            }
            Statement::Pg(c, sql) => {
                for row in &c.query(sql, &values)? {
                    out.push(f(&Row::Pg(row)));
                }
            }
        }
        Ok(out.into_iter())
    }

    /// Runs the statement later: see [`Connection::execute_later`].
    pub fn execute_later<P: Params>(&mut self, params: P) -> Result<()> {
        match self {
            Statement::Pg(c, sql) if c.in_transaction.get() => c.execute_later(sql, bind(&params.values())),
            _ => self.execute(params).map(|_| ()),
        }
    }

    /// Whether the query returns a row.
    pub fn exists<P: Params>(&mut self, params: P) -> Result<bool> {
        let values = bind(&params.values());
        match self {
            Statement::Sqlite(s) => Ok(s.exists(rusqlite::params_from_iter(values))?),
            Statement::Pg(c, sql) => Ok(!c.query(sql, &values)?.is_empty()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same table on each engine, and the cluster that must outlive a PostgreSQL connection.
    fn engines() -> Vec<(Connection, Option<carebill_testkit::postgres::PgCluster>)> {
        let sqlite = Connection::sqlite(rusqlite::Connection::open_in_memory().unwrap());
        sqlite
            .execute_batch(
                "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, flag INTEGER, data BLOB)",
            )
            .unwrap();
        let cluster = carebill_testkit::postgres::PgCluster::start().unwrap();
        cluster.create_database("sqltest").unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let client = runtime.block_on(async {
            let (client, connection) = tokio_postgres::connect(&cluster.url("sqltest"), tokio_postgres::NoTls)
                .await
                .unwrap();
            tokio::spawn(connection);
            client
        });
        let pg = Connection::postgres(runtime, client);
        pg.execute_batch("CREATE TABLE t (id BIGINT PRIMARY KEY, name TEXT NOT NULL UNIQUE, flag BOOLEAN, data BYTEA)")
            .unwrap();
        vec![(sqlite, None), (pg, Some(cluster))]
    }

    #[test]
    fn placeholders_become_postgres_numbers_outside_quoted_text() {
        assert_eq!(
            pg_placeholders("SELECT ?1, '?2 stays', ?, ?10 WHERE x = '' AND y = ?"),
            "SELECT $1, '?2 stays', $2, $10 WHERE x = '' AND y = $11"
        );
    }

    #[test]
    fn statements_run_later_go_out_in_order_and_their_errors_surface_before_a_commit() {
        for (c, _cluster) in engines() {
            // Waiting writes are seen by the next read, in the order they were issued.
            c.execute_later("INSERT INTO t (id, name) VALUES (?1, ?2)", params![1_i64, "one"])
                .unwrap();
            c.execute_later("UPDATE t SET name = ?2 WHERE id = ?1", params![1_i64, "uno"])
                .unwrap();
            let name: String = c
                .query_row("SELECT name FROM t WHERE id = ?1", [1], |r| r.get(0))
                .unwrap();
            assert_eq!(name, "uno", "{c:?}");

            // A waiting statement's error fails the transaction's commit and nothing stays.
            let failed = c.transaction(|tx| {
                tx.execute_later("INSERT INTO t (id, name) VALUES (?1, ?2)", params![2_i64, "two"])?;
                tx.execute_later("INSERT INTO t (id, name) VALUES (?1, ?2)", params![3_i64, "uno"])?;
                Ok::<_, Error>(())
            });
            assert!(failed.unwrap_err().is_unique_violation(), "{c:?}");
            let count: i64 = c.query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0)).unwrap();
            assert_eq!(count, 1, "rolled back: {c:?}");

            // Work rolled back to a savepoint takes its waiting statements with it.
            c.transaction(|tx| {
                tx.execute_batch("SAVEPOINT item")?;
                tx.execute_later("INSERT INTO t (id, name) VALUES (?1, ?2)", params![4_i64, "four"])?;
                tx.execute_batch("ROLLBACK TO SAVEPOINT item; RELEASE SAVEPOINT item")?;
                tx.execute_later("INSERT INTO t (id, name) VALUES (?1, ?2)", params![5_i64, "five"])?;
                Ok::<_, Error>(())
            })
            .unwrap();
            let ids: Vec<i64> = c
                .prepare_cached("SELECT id FROM t ORDER BY id")
                .unwrap()
                .query_map([], |r| r.get(0))
                .unwrap()
                .collect::<Result<_>>()
                .unwrap();
            assert_eq!(ids, [1, 5], "{c:?}");
        }
    }

    #[test]
    fn values_go_in_and_come_back_as_they_were_on_both_engines() {
        for (c, _cluster) in engines() {
            let name = String::from("a");
            c.execute(
                "INSERT INTO t (id, name, flag, data) VALUES (?1, ?2, ?3, ?4)",
                params![7_i64, name, true, vec![1u8, 2]],
            )
            .unwrap();
            c.execute(
                "INSERT INTO t (id, name, flag) VALUES (?1, ?2, ?3)",
                params![8_i64, "b", None::<bool>],
            )
            .unwrap();
            let (id, flag, data): (i64, bool, Vec<u8>) = c
                .query_row("SELECT id, flag, data FROM t WHERE name = ?1", ["a"], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })
                .unwrap();
            assert_eq!((id, flag, data), (7, true, vec![1, 2]), "{c:?}");
            let flag: Option<bool> = c
                .query_row("SELECT flag FROM t WHERE id = ?1", [8], |r| r.get(0))
                .unwrap();
            assert_eq!(flag, None);
            let names: Vec<String> = c
                .prepare_cached("SELECT name FROM t ORDER BY id")
                .unwrap()
                .query_map([], |r| r.get(0))
                .unwrap()
                .collect::<Result<_>>()
                .unwrap();
            assert_eq!(names, ["a", "b"]);
            assert!(
                c.prepare_cached("SELECT 1 FROM t WHERE id = ?1")
                    .unwrap()
                    .exists([7])
                    .unwrap()
            );
            let count: i64 = c.query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0)).unwrap();
            assert_eq!(count, 2);
            let none = c.query_row("SELECT id FROM t WHERE id = ?1", [9], |r| r.get::<_, i64>(0));
            assert!(matches!(none, Err(Error::NoRows)));
            assert_eq!(
                c.query_row("SELECT id FROM t WHERE id = ?1", [9], |r| r.get::<_, i64>(0))
                    .optional()
                    .unwrap(),
                None
            );
            let twice = c
                .execute("INSERT INTO t (id, name) VALUES (?1, ?2)", params![9_i64, "a"])
                .unwrap_err();
            assert!(
                twice.is_unique_violation() && twice.is_constraint_violation(),
                "{c:?}: {twice}"
            );
        }
    }

    #[test]
    fn a_transaction_keeps_all_or_nothing_even_when_its_work_panics_on_both_engines() {
        for (c, _cluster) in engines() {
            let failed: Result<(), Error> = c.transaction(|tx| {
                tx.execute("INSERT INTO t (id, name) VALUES (1, 'kept?')", [])?;
                Err(Error::NoRows)
            });
            assert!(failed.is_err());
            let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let _: Result<(), Error> = c.transaction(|tx| {
                    tx.execute("INSERT INTO t (id, name) VALUES (2, 'kept?')", []).unwrap();
                    panic!("the work failed");
                });
            }));
            assert!(panicked.is_err());
            assert!(!c.in_transaction(), "no transaction left open");
            c.transaction(|tx| {
                tx.execute("INSERT INTO t (id, name) VALUES (3, 'kept')", [])
                    .map(|_| ())
            })
            .unwrap();
            let n: i64 = c.query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0)).unwrap();
            assert_eq!(n, 1, "{c:?}: only the committed row");
            let seen = c
                .snapshot(|s| s.query_row("SELECT name FROM t", [], |r| r.get::<_, String>(0)))
                .unwrap()
                .unwrap();
            assert_eq!(seen, "kept");
        }
    }
}
