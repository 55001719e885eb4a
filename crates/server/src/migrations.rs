//! Schema migrations, applied in order and recorded in `PRAGMA user_version`.
//! Never edit a migration that has shipped: add a new one.
//!
//! Conventions: instants are INTEGER milliseconds since the Unix epoch (UTC); calendar dates are
//! TEXT `YYYY-MM-DD`; money is INTEGER cents (exact; converted to `Money` at the edge); secrets
//! (tokens, codes) are stored only as hashes.

pub const MIGRATIONS: &[&str] = &[
    // 1: members, sessions, bills, the change feed, mail and audit.
    r#"
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE roster (
    member_id     TEXT PRIMARY KEY,
    first_name    TEXT NOT NULL,
    last_name     TEXT NOT NULL,
    date_of_birth TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE accounts (
    id                  INTEGER PRIMARY KEY,
    member_id           TEXT NOT NULL UNIQUE REFERENCES roster(member_id),
    email               TEXT NOT NULL UNIQUE,
    password_hash       TEXT NOT NULL,
    verified_at         INTEGER,
    created_at          INTEGER NOT NULL,
    password_changed_at INTEGER NOT NULL
);

-- One outstanding code per account and purpose ('verify' or 'reset').
CREATE TABLE account_codes (
    account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    purpose    TEXT NOT NULL,
    code_hash  BLOB NOT NULL,
    expires_at INTEGER NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (account_id, purpose)
) WITHOUT ROWID;

CREATE TABLE sessions (
    id             INTEGER PRIMARY KEY,
    account_id     INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    remember       INTEGER NOT NULL,
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    revoked_at     INTEGER,
    revoked_reason TEXT
);
CREATE INDEX sessions_account ON sessions(account_id);

CREATE TABLE refresh_tokens (
    token_hash BLOB PRIMARY KEY,
    session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    issued_at  INTEGER NOT NULL,
    rotated_at INTEGER
) WITHOUT ROWID;
CREATE INDEX refresh_tokens_session ON refresh_tokens(session_id);

CREATE TABLE access_tokens (
    token_hash BLOB PRIMARY KEY,
    session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX access_tokens_session ON access_tokens(session_id);

CREATE TABLE bills (
    id                   TEXT PRIMARY KEY,
    member_id            TEXT NOT NULL REFERENCES roster(member_id),
    account_number       TEXT NOT NULL,
    statement_number     TEXT NOT NULL UNIQUE,
    kind                 TEXT NOT NULL CHECK (kind IN ('hospital', 'professional')),
    provider             TEXT NOT NULL,
    facility             TEXT NOT NULL,
    service_date_from    TEXT NOT NULL,
    service_date_to      TEXT NOT NULL,
    statement_date       TEXT NOT NULL,
    due_date             TEXT NOT NULL,
    total_charges_cents  INTEGER NOT NULL CHECK (total_charges_cents >= 0),
    insurance_paid_cents INTEGER NOT NULL CHECK (insurance_paid_cents >= 0),
    adjustments_cents    INTEGER NOT NULL CHECK (adjustments_cents >= 0),
    settled_cents        INTEGER NOT NULL DEFAULT 0 CHECK (settled_cents >= 0),
    pending_cents        INTEGER NOT NULL DEFAULT 0 CHECK (pending_cents >= 0),
    created_at           INTEGER NOT NULL,
    CHECK (total_charges_cents - insurance_paid_cents - adjustments_cents - settled_cents - pending_cents >= 0)
);
CREATE INDEX bills_member_due ON bills(member_id, due_date, id);
-- Open bills (a balance remains), for the default list without scanning paid history. The WHERE
-- clause must stay identical to store::BALANCE_SQL > 0 for SQLite to use it.
CREATE INDEX bills_member_open ON bills(member_id, due_date, id)
    WHERE (total_charges_cents - insurance_paid_cents - adjustments_cents - settled_cents) > 0;

CREATE TABLE line_items (
    bill_id              TEXT NOT NULL REFERENCES bills(id) ON DELETE CASCADE,
    position             INTEGER NOT NULL,
    service_date         TEXT NOT NULL,
    description          TEXT NOT NULL,
    code                 TEXT NOT NULL,
    quantity             INTEGER NOT NULL,
    charge_cents         INTEGER NOT NULL,
    insurance_paid_cents INTEGER NOT NULL,
    adjustment_cents     INTEGER NOT NULL,
    PRIMARY KEY (bill_id, position)
) WITHOUT ROWID;

-- Payments and what each paid. Settled payments reduce a bill's balance; pending ones its
-- payable amount. Kept in step with bills.settled_cents / pending_cents in one transaction.
CREATE TABLE payments (
    id                  TEXT PRIMARY KEY,
    member_id           TEXT NOT NULL,
    status              TEXT NOT NULL CHECK (status IN ('processing', 'succeeded', 'pending', 'failed', 'returned')),
    amount_cents        INTEGER NOT NULL CHECK (amount_cents > 0),
    confirmation_number TEXT NOT NULL UNIQUE,
    method_type         TEXT NOT NULL CHECK (method_type IN ('card', 'bank_account')),
    method_brand        TEXT NOT NULL,
    method_last4        TEXT NOT NULL,
    created_at          INTEGER NOT NULL,
    settled_at          INTEGER
);
CREATE INDEX payments_member_created ON payments(member_id, created_at DESC, id DESC);

CREATE TABLE payment_allocations (
    payment_id   TEXT NOT NULL REFERENCES payments(id) ON DELETE CASCADE,
    bill_id      TEXT NOT NULL REFERENCES bills(id),
    amount_cents INTEGER NOT NULL CHECK (amount_cents > 0),
    PRIMARY KEY (payment_id, bill_id)
) WITHOUT ROWID;
CREATE INDEX payment_allocations_bill ON payment_allocations(bill_id);

-- The change feed: one row per (member, entity), moved to a new sequence on every change.
-- Deletions stay as tombstones until pruned; a cursor from before the prune horizon gets 410.
CREATE TABLE changes (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    member_id  TEXT NOT NULL,
    entity     TEXT NOT NULL,
    entity_id  TEXT NOT NULL,
    op         TEXT NOT NULL CHECK (op IN ('upsert', 'delete')),
    changed_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX changes_entity ON changes(member_id, entity, entity_id);
CREATE INDEX changes_member_seq ON changes(member_id, seq);

CREATE TABLE outbox (
    id         INTEGER PRIMARY KEY,
    to_addr    TEXT NOT NULL,
    subject    TEXT NOT NULL,
    body       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    sent_at    INTEGER,
    attempts   INTEGER NOT NULL DEFAULT 0,
    last_error TEXT
);
CREATE INDEX outbox_unsent ON outbox(id) WHERE sent_at IS NULL;

CREATE TABLE audit_log (
    id         INTEGER PRIMARY KEY,
    at         INTEGER NOT NULL,
    account_id INTEGER,
    event      TEXT NOT NULL,
    client     TEXT,
    detail     TEXT
);
"#,
    // 2: payments that happen exactly once, saved payment methods, autopay.
    r#"
-- When a bill was issued, on the business clock (autopay covers bills issued after it is set up).
ALTER TABLE bills ADD COLUMN issued_at INTEGER;
UPDATE bills SET issued_at = CAST(strftime('%s', statement_date) AS INTEGER) * 1000;

ALTER TABLE payments ADD COLUMN source TEXT NOT NULL DEFAULT 'member';
ALTER TABLE payments ADD COLUMN payment_method_id TEXT;
ALTER TABLE payments ADD COLUMN idempotency_key TEXT;
ALTER TABLE payments ADD COLUMN processor_source TEXT;
ALTER TABLE payments ADD COLUMN processor_charge_id TEXT;
ALTER TABLE payments ADD COLUMN failure_code TEXT;
ALTER TABLE payments ADD COLUMN failure_message TEXT;
-- Bank payments: the business date they settle, and the authorization the member accepted.
ALTER TABLE payments ADD COLUMN settle_on TEXT;
ALTER TABLE payments ADD COLUMN ach_text TEXT;
ALTER TABLE payments ADD COLUMN ach_text_version TEXT;
ALTER TABLE payments ADD COLUMN ach_accepted_at INTEGER;
ALTER TABLE payments ADD COLUMN ach_client TEXT;
CREATE INDEX payments_open_states ON payments(status, settle_on) WHERE status IN ('processing', 'pending');

-- Saved cards and bank accounts: a processor reference and display fields only.
CREATE TABLE payment_methods (
    id            TEXT PRIMARY KEY,
    member_id     TEXT NOT NULL,
    processor_ref TEXT NOT NULL,
    fingerprint   BLOB NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('card', 'bank_account')),
    brand         TEXT,
    funding       TEXT,
    last4         TEXT NOT NULL,
    exp_month     INTEGER,
    exp_year      INTEGER,
    bank_name     TEXT,
    account_type  TEXT,
    holder_name   TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    deleted_at    INTEGER
);
CREATE INDEX payment_methods_member ON payment_methods(member_id);
CREATE UNIQUE INDEX payment_methods_fingerprint ON payment_methods(member_id, fingerprint) WHERE deleted_at IS NULL;

-- Idempotency keys, per member, kept at least 24 hours. 'processing' rows hold a lease.
CREATE TABLE idempotency_keys (
    member_id        TEXT NOT NULL,
    key              TEXT NOT NULL,
    fingerprint      BLOB NOT NULL,
    state            TEXT NOT NULL CHECK (state IN ('processing', 'complete')),
    lease_id         TEXT,
    lease_expires_at INTEGER,
    payment_id       TEXT,
    response_status  INTEGER,
    response_body    TEXT,
    created_at       INTEGER NOT NULL,
    PRIMARY KEY (member_id, key)
) WITHOUT ROWID;
CREATE INDEX idempotency_processing ON idempotency_keys(lease_expires_at) WHERE state = 'processing';

-- One autopay rule per member.
CREATE TABLE autopay_rules (
    member_id         TEXT PRIMARY KEY,
    payment_method_id TEXT NOT NULL,
    amount_type       TEXT NOT NULL CHECK (amount_type IN ('statement_balance', 'fixed')),
    fixed_cents       INTEGER,
    max_cents         INTEGER NOT NULL,
    timing_type       TEXT NOT NULL CHECK (timing_type IN ('due_date', 'days_before_due', 'day_of_month')),
    timing_value      INTEGER,
    enabled_at        INTEGER NOT NULL,
    covers_from       TEXT NOT NULL,
    updated_at        INTEGER NOT NULL,
    ach_text_version  TEXT,
    ach_accepted_at   INTEGER,
    ach_client        TEXT
) WITHOUT ROWID;

-- What autopay did with each bill: at most one charge per bill, whatever edits happen.
CREATE TABLE autopay_bills (
    bill_id          TEXT PRIMARY KEY,
    member_id        TEXT NOT NULL,
    skipped_at       INTEGER,
    notice_sent_at   INTEGER,
    outcome          TEXT CHECK (outcome IN ('processing', 'succeeded', 'pending', 'failed', 'over_limit')),
    payment_id       TEXT,
    claim_expires_at INTEGER,
    updated_at       INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX autopay_bills_member ON autopay_bills(member_id);
"#,
    // 3: clinic kiosks and guest pay.
    r#"
-- Enrolled kiosks; the credential is kept only as its hash.
CREATE TABLE kiosk_devices (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    credential_hash BLOB NOT NULL UNIQUE,
    created_at      INTEGER NOT NULL,
    revoked_at      INTEGER
) WITHOUT ROWID;

-- Guest tokens (hashed): one bill, one kiosk, 10 minutes, dead after 3 declines.
CREATE TABLE guest_tokens (
    token_hash BLOB PRIMARY KEY,
    device_id  TEXT NOT NULL REFERENCES kiosk_devices(id),
    bill_id    TEXT NOT NULL REFERENCES bills(id),
    member_id  TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    declines   INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX guest_tokens_expires ON guest_tokens(expires_at);
"#,
];
