//! The sandbox processor: deterministic outcomes from well-known test numbers, kept in its own
//! encrypted database (`processor.db`), as a real processor keeps its own records.
//!
//! It never stores a card or account number: at tokenization it records what the number decides
//! (the sandbox outcome), the display fields and a keyed fingerprint, and forgets the number.

use std::path::Path;
use std::sync::{Mutex, PoisonError};

use crate::sql::{Connection, OptionalExtension, params};
use carebill_api::types::{Funding, PaymentMethodType, ProcessorToken, TokenRequest};
use carebill_billing::Money;
use carebill_billing::validate::{self, CardBrand, Invalid};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::{AchResult, Charge, ChargeStatus, Instrument, InstrumentDetails, PaymentProcessor, ProcessorError, Source};
use crate::config::DatabaseKey;
use crate::db::{self, DbError};
use crate::ids::hash_token;
use crate::store::ms;

pub const TOKEN_TTL: Duration = Duration::minutes(15);
pub const TEST_ROUTING_NUMBER: &str = "110000000";
pub const TEST_BANK_NAME: &str = "Carebill Test Bank";

pub(crate) const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE tokens (
    token_hash    BLOB PRIMARY KEY,
    details       TEXT NOT NULL,
    outcome       TEXT NOT NULL,
    expires_at    INTEGER NOT NULL,
    used_at       INTEGER,
    instrument_id TEXT
) WITHOUT ROWID;
CREATE TABLE instruments (
    id         TEXT PRIMARY KEY,
    details    TEXT NOT NULL,
    outcome    TEXT NOT NULL,
    created_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE charges (
    key          TEXT PRIMARY KEY,
    id           TEXT NOT NULL UNIQUE,
    source       TEXT NOT NULL,
    amount_cents INTEGER NOT NULL,
    status       TEXT NOT NULL,
    failure_code TEXT,
    outcome      TEXT NOT NULL,
    created_at   INTEGER NOT NULL
) WITHOUT ROWID;
"#,
    // 2: a token attached as an instrument is bound to the member who attached it.
    r#"
ALTER TABLE tokens ADD COLUMN attached_by TEXT;
"#,
];

/// What a test number decides.
fn card_outcome(number: &str) -> &'static str {
    match number {
        "4242424242424242" | "4000056655665556" | "5555555555554444" | "5200828282828210" | "378282246310005"
        | "6011111111111117" | "4000000000001000" => "succeed",
        "4000000000009995" => "insufficient_funds",
        "4000000000000069" => "expired_card",
        "4000000000000127" => "incorrect_cvc",
        "4000000000000119" => "processing_error",
        _ => "card_declined",
    }
}

fn card_funding(number: &str) -> Funding {
    match number {
        "4000056655665556" | "5200828282828210" => Funding::Debit,
        // A Visa HSA/FSA card.
        "4000000000001000" => Funding::HsaFsa,
        _ => Funding::Credit,
    }
}

fn bank_outcome(account: &str) -> &'static str {
    match account {
        "000111111113" => "ach_R01",
        "000111111116" => "ach_R03",
        _ => "ach_settle",
    }
}

/// The bank behind a routing number, when the sandbox knows it.
pub fn bank_name(routing: &str) -> Option<&'static str> {
    (routing == TEST_ROUTING_NUMBER).then_some(TEST_BANK_NAME)
}

fn holder(name: &str, field: &'static str) -> Result<String, ProcessorError> {
    let trimmed = name.trim();
    if trimmed.is_empty() || trimmed.chars().count() > 100 || trimmed.chars().any(char::is_control) {
        return Err(ProcessorError::Invalid {
            field,
            invalid: Invalid::new(
                "validation_failed",
                "Enter the name as it appears on the card or account.",
            ),
        });
    }
    Ok(trimmed.to_string())
}

fn invalid(field: &'static str, invalid: Invalid) -> ProcessorError {
    ProcessorError::Invalid { field, invalid }
}

/// A processor id (tokens too): 120 random bits, so a token cannot be guessed.
fn random_id(prefix: &str) -> String {
    crate::ids::random_id_of(&mut rand::thread_rng(), prefix, 24)
}

fn unavailable(e: impl std::fmt::Display) -> ProcessorError {
    ProcessorError::Unavailable(e.to_string())
}

/// A key for one purpose, derived from `key`.
fn derive(key: &DatabaseKey, label: &[u8]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&key.0).expect("hmac accepts any key length");
    mac.update(label);
    mac.finalize().into_bytes().into()
}

/// The sandbox's own file in a SQLite deployment's data dir.
pub const FILE: &str = "processor.db";

/// The key of the sandbox's SQLite file, derived from the server's database key.
pub(crate) fn file_key(key: &DatabaseKey) -> DatabaseKey {
    DatabaseKey(derive(key, b"carebill sandbox processor db"))
}

/// The card-fingerprint key of a SQLite deployment's sandbox, derived from the server's database
/// key (on PostgreSQL it is kept in `settings` instead).
pub(crate) fn fingerprint_key(key: &DatabaseKey) -> [u8; 32] {
    derive(key, b"carebill sandbox fingerprints")
}

pub struct SandboxProcessor {
    conn: Mutex<Connection>,
    fingerprint_key: [u8; 32],
    /// PostgreSQL: where to connect again when the connection is lost.
    url: Option<String>,
}

impl SandboxProcessor {
    /// Opens (creating) the sandbox's database in `data_dir`, encrypted with a key derived from
    /// the server's database key.
    pub fn open(data_dir: &Path, key: &DatabaseKey) -> Result<SandboxProcessor, DbError> {
        let mut conn = db::connect(&data_dir.join(FILE), &file_key(key), false)?;
        db::migrate_with(&mut conn, MIGRATIONS)?;
        Ok(SandboxProcessor::on(Connection::sqlite(conn), fingerprint_key(key)))
    }

    /// The sandbox the server with `config` uses: its own encrypted file beside SQLite's, or
    /// the server's PostgreSQL database (whose schema has its tables).
    pub fn for_config(config: &crate::config::ServerConfig) -> Result<SandboxProcessor, DbError> {
        match &config.database_url {
            None => SandboxProcessor::open(&config.data_dir, &config.database_key),
            Some(url) => {
                // Its tables are in the server's schema: bring it up to date first (once, under
                // the migration lock), whoever opens the database first.
                let conn = db::pg_connect(&url.0)?;
                db::migrate_postgres(&conn)?;
                let mut sandbox = SandboxProcessor::on_postgres(conn)?;
                sandbox.url = Some(url.0.clone());
                Ok(sandbox)
            }
        }
    }

    /// The sandbox in a PostgreSQL database. Its card-fingerprint key is made once and kept
    /// there (`settings`), so fingerprints stay the same across restarts and servers (a move
    /// from SQLite writes the one the SQLite sandbox used).
    pub fn on_postgres(conn: Connection) -> Result<SandboxProcessor, DbError> {
        let hex = crate::store::setting_or_insert(
            &conn,
            crate::store::SANDBOX_FINGERPRINT_KEY,
            &DatabaseKey::random().to_hex(),
        )
        .map_err(|e| DbError::Postgres(e.describe()))?;
        let key = DatabaseKey::from_hex(&hex).map_err(|e| DbError::Postgres(e.to_string()))?;
        Ok(SandboxProcessor::on(conn, key.0))
    }

    fn on(conn: Connection, fingerprint_key: [u8; 32]) -> SandboxProcessor {
        SandboxProcessor {
            conn: Mutex::new(conn),
            fingerprint_key,
            url: None,
        }
    }

    fn fingerprint(&self, what: &str) -> String {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.fingerprint_key).expect("hmac accepts any key length");
        mac.update(what.as_bytes());
        crate::ids::hex(&mac.finalize().into_bytes()[..16])
    }

    fn with_tx<R>(&self, f: impl FnOnce(&Connection) -> Result<R, ProcessorError>) -> Result<R, ProcessorError> {
        let mut conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        // The database ended the connection (a restart, a failover): connect again. The charge
        // that found it closed failed as "unavailable", and its retry comes here.
        db::renew_if_closed(&mut conn, self.url.as_deref()).map_err(|e| ProcessorError::Unavailable(e.to_string()))?;
        conn.transaction(f)
    }

    /// Validates details and decides their sandbox outcome. The numbers go no further.
    fn inspect(
        &self,
        request: &TokenRequest,
        today: NaiveDate,
    ) -> Result<(InstrumentDetails, &'static str), ProcessorError> {
        match request {
            TokenRequest::Card(card) => {
                let number = validate::card_number(&card.number).map_err(|e| invalid("/card/number", e))?;
                validate::card_expiry(card.exp_month, card.exp_year, today)
                    .map_err(|e| invalid("/card/exp_month", e))?;
                let brand = CardBrand::from_number(&number);
                validate::card_cvc(&card.cvc, brand).map_err(|e| invalid("/card/cvc", e))?;
                validate::postal_code(&card.postal_code).map_err(|e| invalid("/card/postal_code", e))?;
                let details = InstrumentDetails {
                    kind: PaymentMethodType::Card,
                    brand: Some(brand.as_str().to_string()),
                    funding: Some(card_funding(&number)),
                    last4: validate::last4(&number),
                    exp_month: Some(card.exp_month),
                    exp_year: Some(card.exp_year),
                    bank_name: None,
                    account_type: None,
                    holder_name: holder(&card.holder_name, "/card/holder_name")?,
                    fingerprint: self.fingerprint(&format!("card:{number}:{}:{}", card.exp_month, card.exp_year)),
                };
                Ok((details, card_outcome(&number)))
            }
            TokenRequest::BankAccount(bank) => {
                validate::routing_number(&bank.routing_number)
                    .map_err(|e| invalid("/bank_account/routing_number", e))?;
                validate::bank_account_number(&bank.account_number)
                    .map_err(|e| invalid("/bank_account/account_number", e))?;
                let details = InstrumentDetails {
                    kind: PaymentMethodType::BankAccount,
                    brand: None,
                    funding: None,
                    last4: validate::last4(&bank.account_number),
                    exp_month: None,
                    exp_year: None,
                    bank_name: bank_name(&bank.routing_number).map(str::to_string),
                    account_type: Some(bank.account_type),
                    holder_name: holder(&bank.holder_name, "/bank_account/holder_name")?,
                    fingerprint: self.fingerprint(&format!("bank:{}:{}", bank.routing_number, bank.account_number)),
                };
                Ok((details, bank_outcome(&bank.account_number)))
            }
        }
    }

    /// Number of charges recorded (tests and benchmarks).
    pub fn charge_count(&self) -> i64 {
        let conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        conn.query_row("SELECT COUNT(*) FROM charges", [], |r| r.get(0))
            .unwrap_or(-1)
    }
}

/// A stored token: what it stands for, and whether it was used.
struct TokenRow {
    details: InstrumentDetails,
    outcome: String,
    expires_at: i64,
    used_at: Option<i64>,
    instrument_id: Option<String>,
}

fn load_token(tx: &Connection, token: &str) -> Result<Option<TokenRow>, ProcessorError> {
    let row = tx
        .query_row(
            "SELECT details, outcome, expires_at, used_at, instrument_id FROM tokens WHERE token_hash = ?1",
            [hash_token(token)],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, Option<i64>>(3)?,
                    r.get::<_, Option<String>>(4)?,
                ))
            },
        )
        .optional()
        .map_err(unavailable)?;
    row.map(|(details, outcome, expires_at, used_at, instrument_id)| {
        let details: InstrumentDetails = serde_json::from_str(&details).map_err(unavailable)?;
        Ok(TokenRow {
            details,
            outcome,
            expires_at,
            used_at,
            instrument_id,
        })
    })
    .transpose()
}

fn charge_in(
    tx: &Connection,
    key: &str,
    source: &Source,
    amount: Money,
    now: DateTime<Utc>,
) -> Result<Charge, ProcessorError> {
    if let Some(existing) = find(tx, key)? {
        return Ok(existing);
    }
    let (details, outcome) = match source {
        Source::Instrument(id) => {
            let row = tx
                .query_row("SELECT details, outcome FROM instruments WHERE id = ?1", [id], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
                })
                .optional()
                .map_err(unavailable)?
                .ok_or(ProcessorError::InvalidToken)?;
            (
                serde_json::from_str::<InstrumentDetails>(&row.0).map_err(unavailable)?,
                row.1,
            )
        }
        Source::Token(token) => match load_token(tx, token)? {
            Some(TokenRow {
                details,
                outcome,
                expires_at,
                used_at: None,
                ..
            }) if expires_at > ms(now) => {
                tx.execute(
                    "UPDATE tokens SET used_at = ?2 WHERE token_hash = ?1",
                    params![hash_token(token), ms(now)],
                )
                .map_err(unavailable)?;
                (details, outcome)
            }
            _ => return Err(ProcessorError::InvalidToken),
        },
    };
    let (status, failure) = match (details.kind, outcome.as_str()) {
        (PaymentMethodType::BankAccount, _) => ("pending", None),
        (PaymentMethodType::Card, "succeed") => ("succeeded", None),
        (PaymentMethodType::Card, code) => ("failed", Some(code.to_string())),
    };
    let id = random_id("ch");
    tx.execute(
        "INSERT INTO charges (key, id, source, amount_cents, status, failure_code, outcome, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            key,
            id,
            source.encode(),
            amount.cents(),
            status,
            failure,
            outcome,
            ms(now)
        ],
    )
    .map_err(unavailable)?;
    Ok(charge_from_row(id, amount.cents(), &source.encode(), status, failure))
}

fn charge_from_row(id: String, cents: i64, source: &str, status: &str, failure: Option<String>) -> Charge {
    let status = match status {
        "succeeded" => ChargeStatus::Succeeded,
        "pending" => ChargeStatus::Pending,
        _ => ChargeStatus::Failed(failure.unwrap_or_else(|| "card_declined".into())),
    };
    Charge {
        id,
        amount: Money::from_cents(cents),
        source: Source::decode(source).unwrap_or_else(|| Source::Token(String::new())),
        status,
    }
}

fn find(tx: &Connection, key: &str) -> Result<Option<Charge>, ProcessorError> {
    tx.query_row(
        "SELECT id, amount_cents, source, status, failure_code FROM charges WHERE key = ?1",
        [key],
        |r| {
            Ok(charge_from_row(
                r.get(0)?,
                r.get(1)?,
                &r.get::<_, String>(2)?,
                &r.get::<_, String>(3)?,
                r.get(4)?,
            ))
        },
    )
    .optional()
    .map_err(unavailable)
}

impl PaymentProcessor for SandboxProcessor {
    fn tokenize(
        &self,
        request: &TokenRequest,
        today: NaiveDate,
        now: DateTime<Utc>,
    ) -> Result<ProcessorToken, ProcessorError> {
        let (details, outcome) = self.inspect(request, today)?;
        let token = random_id("tok");
        let expires_at = now + TOKEN_TTL;
        let json = serde_json::to_string(&details).map_err(unavailable)?;
        self.with_tx(|tx| {
            tx.execute(
                "INSERT INTO tokens (token_hash, details, outcome, expires_at) VALUES (?1, ?2, ?3, ?4)",
                params![hash_token(&token), json, outcome, ms(expires_at)],
            )
            .map_err(unavailable)?;
            Ok(())
        })?;
        Ok(ProcessorToken {
            token,
            kind: details.kind,
            brand: details.brand,
            funding: details.funding,
            last4: details.last4,
            exp_month: details.exp_month,
            exp_year: details.exp_year,
            bank_name: details.bank_name,
            expires_at,
        })
    }

    fn token_details(&self, token: &str, now: DateTime<Utc>) -> Result<InstrumentDetails, ProcessorError> {
        let conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        match load_token(&conn, token)? {
            Some(t) if t.used_at.is_none() && t.expires_at > ms(now) => Ok(t.details),
            _ => Err(ProcessorError::InvalidToken),
        }
    }

    fn attach(&self, token: &str, owner: &str, now: DateTime<Utc>) -> Result<Instrument, ProcessorError> {
        self.with_tx(|tx| {
            let Some(TokenRow {
                details,
                outcome,
                expires_at,
                used_at,
                instrument_id,
            }) = load_token(tx, token)?
            else {
                return Err(ProcessorError::InvalidToken);
            };
            if expires_at <= ms(now) {
                return Err(ProcessorError::InvalidToken);
            }
            if let Some(id) = instrument_id {
                // A retry of the same attach: the same owner, within the token's lifetime.
                let attached_by: Option<String> = tx
                    .query_row(
                        "SELECT attached_by FROM tokens WHERE token_hash = ?1",
                        [hash_token(token)],
                        |r| r.get(0),
                    )
                    .map_err(unavailable)?;
                return match attached_by {
                    Some(by) if by == owner => Ok(Instrument { id, details }),
                    _ => Err(ProcessorError::InvalidToken),
                };
            }
            if used_at.is_some() {
                return Err(ProcessorError::InvalidToken);
            }
            let id = random_id("ins");
            let json = serde_json::to_string(&details).map_err(unavailable)?;
            tx.execute(
                "INSERT INTO instruments (id, details, outcome, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![id, json, outcome, ms(now)],
            )
            .map_err(unavailable)?;
            tx.execute(
                "UPDATE tokens SET used_at = ?2, instrument_id = ?3, attached_by = ?4 WHERE token_hash = ?1",
                params![hash_token(token), ms(now), id, owner],
            )
            .map_err(unavailable)?;
            Ok(Instrument { id, details })
        })
    }

    fn charge(&self, key: &str, source: &Source, amount: Money, now: DateTime<Utc>) -> Result<Charge, ProcessorError> {
        self.with_tx(|tx| charge_in(tx, key, source, amount, now))
    }

    fn charge_many(
        &self,
        items: &[(String, Source, Money)],
        now: DateTime<Utc>,
    ) -> Vec<Result<Charge, ProcessorError>> {
        let mut results = Vec::with_capacity(items.len());
        let committed = self.with_tx(|tx| {
            for (key, source, amount) in items {
                results.push(charge_in(tx, key, source, *amount, now));
            }
            Ok(())
        });
        match committed {
            Ok(()) => results,
            Err(e) => items
                .iter()
                .map(|_| Err(ProcessorError::Unavailable(e.to_string())))
                .collect(),
        }
    }

    fn find_charge(&self, key: &str) -> Result<Option<Charge>, ProcessorError> {
        let conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        find(&conn, key)
    }

    fn ach_result(&self, charge_id: &str) -> Result<AchResult, ProcessorError> {
        let conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        let outcome: String = conn
            .query_row("SELECT outcome FROM charges WHERE id = ?1", [charge_id], |r| r.get(0))
            .map_err(unavailable)?;
        Ok(match outcome.strip_prefix("ach_") {
            Some("settle") | None => AchResult::Settled,
            Some(code) => AchResult::Returned(code.to_string()),
        })
    }
}
