//! Schema migrations, applied in order and recorded in `PRAGMA user_version`.
//! Never edit a migration that has shipped: add a new one.
//!
//! Conventions: instants are INTEGER milliseconds since the Unix epoch (UTC); calendar dates are
//! TEXT `YYYY-MM-DD`; money is INTEGER cents (exact; converted to `Money` at the edge); secrets
//! (tokens, codes) are stored only as hashes.

/// PostgreSQL's migrations (`crates/server/migrations/postgres/`), recorded in
/// `schema_migrations`: the first is the schema SQLite reached after its four, the sandbox
/// processor's tables included; every later change to the schema is a migration in both lists.
pub const PG_MIGRATIONS: &[&str] = &[
    include_str!("../migrations/postgres/0001_schema.sql"),
    include_str!("../migrations/postgres/0002_outbox_claims.sql"),
    include_str!("../migrations/postgres/0003_rate_limits.sql"),
    include_str!("../migrations/postgres/0004_bill_other_payments.sql"),
    include_str!("../migrations/postgres/0005_account_locale.sql"),
    include_str!("../migrations/postgres/0006_payment_plans.sql"),
    include_str!("../migrations/postgres/0007_claims.sql"),
    include_str!("../migrations/postgres/0008_conversations.sql"),
    include_str!("../migrations/postgres/0009_staff_audit.sql"),
    include_str!("../migrations/postgres/0010_staff_console.sql"),
    include_str!("../migrations/postgres/0011_notification_preferences.sql"),
    include_str!("../migrations/postgres/0012_reminders.sql"),
    include_str!("../migrations/postgres/0013_payment_funding.sql"),
    include_str!("../migrations/postgres/0014_patient_name.sql"),
];

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
    // 4: the security review. Payments that need the billing office's review, processor keys
    // unique per payment record, and idempotency keys that are never forgotten (tombstones).
    r#"
CREATE TABLE payments_v4 (
    id                  TEXT PRIMARY KEY,
    member_id           TEXT NOT NULL,
    status              TEXT NOT NULL CHECK (status IN ('processing', 'succeeded', 'pending', 'failed', 'returned', 'needs_review')),
    amount_cents        INTEGER NOT NULL CHECK (amount_cents > 0),
    confirmation_number TEXT NOT NULL UNIQUE,
    method_type         TEXT NOT NULL CHECK (method_type IN ('card', 'bank_account')),
    method_brand        TEXT NOT NULL,
    method_last4        TEXT NOT NULL,
    created_at          INTEGER NOT NULL,
    settled_at          INTEGER,
    source              TEXT NOT NULL DEFAULT 'member',
    payment_method_id   TEXT,
    idempotency_key     TEXT,
    processor_source    TEXT,
    processor_charge_id TEXT,
    failure_code        TEXT,
    failure_message     TEXT,
    settle_on           TEXT,
    ach_text            TEXT,
    ach_text_version    TEXT,
    ach_accepted_at     INTEGER,
    ach_client          TEXT,
    -- The key the processor charges under: unique per payment record (member, key, payment).
    processor_key       TEXT,
    -- Why a payment waits for the billing office (the charge did not match the payment).
    review_reason       TEXT,
    -- The processor's keyed fingerprint of the card or account (velocity limits per card).
    card_fingerprint    TEXT
);
-- Payments made before this release were charged under "member:key"; recovery keeps using it.
INSERT INTO payments_v4
SELECT id, member_id, status, amount_cents, confirmation_number, method_type, method_brand, method_last4,
       created_at, settled_at, source, payment_method_id, idempotency_key, processor_source, processor_charge_id,
       failure_code, failure_message, settle_on, ach_text, ach_text_version, ach_accepted_at, ach_client,
       member_id || ':' || idempotency_key, NULL, NULL
FROM payments;
DROP TABLE payments;
ALTER TABLE payments_v4 RENAME TO payments;
CREATE INDEX payments_member_created ON payments(member_id, created_at DESC, id DESC);
CREATE INDEX payments_open_states ON payments(status, settle_on) WHERE status IN ('processing', 'pending');
CREATE INDEX payments_review ON payments(created_at) WHERE status = 'needs_review';
CREATE INDEX payments_card ON payments(card_fingerprint, created_at) WHERE card_fingerprint IS NOT NULL;
CREATE INDEX payments_member_key ON payments(member_id, idempotency_key);

-- 'expired': a finished key past its retention keeps its fingerprint (no answer), so it can never
-- be used again for a new payment.
CREATE TABLE idempotency_keys_v4 (
    member_id        TEXT NOT NULL,
    key              TEXT NOT NULL,
    fingerprint      BLOB NOT NULL,
    state            TEXT NOT NULL CHECK (state IN ('processing', 'complete', 'expired')),
    lease_id         TEXT,
    lease_expires_at INTEGER,
    payment_id       TEXT,
    response_status  INTEGER,
    response_body    TEXT,
    created_at       INTEGER NOT NULL,
    PRIMARY KEY (member_id, key)
) WITHOUT ROWID;
INSERT INTO idempotency_keys_v4 SELECT * FROM idempotency_keys;
DROP TABLE idempotency_keys;
ALTER TABLE idempotency_keys_v4 RENAME TO idempotency_keys;
CREATE INDEX idempotency_processing ON idempotency_keys(lease_expires_at) WHERE state = 'processing';
CREATE INDEX idempotency_complete ON idempotency_keys(created_at) WHERE state = 'complete';

-- A registration whose email code, once confirmed, replaces the member's never-verified account
-- (someone else may have registered the member's ID first). Code stored as its HMAC.
CREATE TABLE pending_registrations (
    email         TEXT PRIMARY KEY,
    member_id     TEXT NOT NULL REFERENCES roster(member_id),
    password_hash TEXT NOT NULL,
    code_hash     BLOB NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX pending_registrations_member ON pending_registrations(member_id);
CREATE INDEX accounts_unverified ON accounts(created_at) WHERE verified_at IS NULL;
"#,
    // 5: several servers on one database. A sender claims the mail it delivers for a while, so
    // two servers never deliver the same mail at once.
    r#"
ALTER TABLE outbox ADD COLUMN claimed_until INTEGER;
"#,
    // 6: sign-in throttles and rate limits shared by the servers on one database (kept in memory
    // by a server alone on its SQLite file; the table is here so both engines have one schema).
    r#"
CREATE TABLE rate_limits (
    key           TEXT PRIMARY KEY,
    count         INTEGER NOT NULL,
    started_at    INTEGER NOT NULL,
    blocked_until INTEGER NOT NULL,
    last_at       INTEGER NOT NULL
);
CREATE INDEX rate_limits_last ON rate_limits(last_at);
"#,
    // 7: what the plan's records say was paid elsewhere (at the provider's office, by another
    // party) and the provider's billing phone. Paid elsewhere counts against the amount due like
    // a settled payment: the open-bills index and the guard against paying beyond the amount due
    // include it (SQLite cannot change a table's CHECK without rebuilding the table, so the
    // guard on the new column is a pair of triggers; PostgreSQL replaces its CHECK).
    r#"
ALTER TABLE bills ADD COLUMN other_payments_cents INTEGER NOT NULL DEFAULT 0 CHECK (other_payments_cents >= 0);
ALTER TABLE bills ADD COLUMN billing_phone TEXT;
DROP INDEX bills_member_open;
CREATE INDEX bills_member_open ON bills(member_id, due_date, id)
    WHERE (total_charges_cents - insurance_paid_cents - adjustments_cents - settled_cents - other_payments_cents) > 0;
CREATE TRIGGER bills_within_amount_due_insert BEFORE INSERT ON bills
WHEN NEW.total_charges_cents - NEW.insurance_paid_cents - NEW.adjustments_cents - NEW.settled_cents - NEW.pending_cents - NEW.other_payments_cents < 0
BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: bills_within_amount_due'); END;
CREATE TRIGGER bills_within_amount_due_update BEFORE UPDATE ON bills
WHEN NEW.total_charges_cents - NEW.insurance_paid_cents - NEW.adjustments_cents - NEW.settled_cents - NEW.pending_cents - NEW.other_payments_cents < 0
BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: bills_within_amount_due'); END;
"#,
    // 8: the language of a member's mail (issue 17), and of a registration waiting for its code.
    r#"
ALTER TABLE accounts ADD COLUMN locale TEXT NOT NULL DEFAULT 'en' CHECK (locale IN ('en', 'es'));
ALTER TABLE pending_registrations ADD COLUMN locale TEXT NOT NULL DEFAULT 'en' CHECK (locale IN ('en', 'es'));
"#,
    // 9: payment plans (their bills and the instalments charged), one-time payments scheduled for
    // a date, and `notices`: each mail the scheduler decides, recorded once per entity and event
    // (issue 18). Bills say which open plan pays them.
    r#"
CREATE TABLE payment_plans (
    id                  TEXT PRIMARY KEY,
    member_id           TEXT NOT NULL,
    number              TEXT NOT NULL UNIQUE,
    status              TEXT NOT NULL CHECK (status IN ('active', 'paused', 'behind', 'completed', 'cancelled', 'ended')),
    monthly_cents       INTEGER NOT NULL CHECK (monthly_cents > 0),
    day_of_month        INTEGER NOT NULL CHECK (day_of_month BETWEEN 1 AND 28),
    payment_method_id   TEXT NOT NULL,
    first_date          TEXT NOT NULL,
    next_date           TEXT NOT NULL,
    paused_until        TEXT,
    behind_cents        INTEGER NOT NULL DEFAULT 0 CHECK (behind_cents >= 0),
    behind_since        INTEGER,
    misses              INTEGER NOT NULL DEFAULT 0,
    needs_authorization INTEGER NOT NULL DEFAULT 0,
    auth_text           TEXT NOT NULL,
    auth_text_version   TEXT NOT NULL,
    auth_accepted_at    INTEGER NOT NULL,
    auth_client         TEXT,
    idempotency_key     TEXT NOT NULL,
    version             INTEGER NOT NULL DEFAULT 1,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL
);
CREATE UNIQUE INDEX payment_plans_key ON payment_plans(member_id, idempotency_key);
CREATE INDEX payment_plans_open ON payment_plans(next_date) WHERE status IN ('active', 'paused', 'behind');
CREATE TABLE plan_bills (
    plan_id  TEXT NOT NULL,
    bill_id  TEXT NOT NULL,
    added_at INTEGER NOT NULL,
    PRIMARY KEY (plan_id, bill_id)
) WITHOUT ROWID;
CREATE INDEX plan_bills_bill ON plan_bills(bill_id);
CREATE TABLE plan_instalments (
    plan_id      TEXT NOT NULL,
    nominal_date TEXT NOT NULL,
    charge_date  TEXT NOT NULL,
    amount_cents INTEGER NOT NULL CHECK (amount_cents > 0),
    status       TEXT NOT NULL CHECK (status IN ('processing', 'paid', 'missed', 'skipped')),
    payment_id   TEXT,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    PRIMARY KEY (plan_id, nominal_date)
) WITHOUT ROWID;
CREATE TABLE scheduled_payments (
    id                TEXT PRIMARY KEY,
    member_id         TEXT NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('scheduled', 'processing', 'made', 'cancelled')),
    pay_on            TEXT NOT NULL,
    payment_method_id TEXT NOT NULL,
    ach_text          TEXT,
    ach_text_version  TEXT,
    ach_accepted_at   INTEGER,
    client            TEXT,
    idempotency_key   TEXT NOT NULL,
    payment_id        TEXT,
    cancel_reason     TEXT,
    version           INTEGER NOT NULL DEFAULT 1,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL
);
CREATE UNIQUE INDEX scheduled_payments_key ON scheduled_payments(member_id, idempotency_key);
CREATE INDEX scheduled_payments_due ON scheduled_payments(pay_on) WHERE status = 'scheduled';
CREATE TABLE scheduled_allocations (
    scheduled_id TEXT NOT NULL,
    bill_id      TEXT NOT NULL,
    amount_cents INTEGER NOT NULL CHECK (amount_cents > 0),
    PRIMARY KEY (scheduled_id, bill_id)
) WITHOUT ROWID;
CREATE TABLE notices (
    entity     TEXT NOT NULL,
    event      TEXT NOT NULL,
    member_id  TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (entity, event)
) WITHOUT ROWID;
ALTER TABLE bills ADD COLUMN payment_plan_id TEXT;
CREATE INDEX bills_plan ON bills(payment_plan_id) WHERE payment_plan_id IS NOT NULL;
"#,
    // 10: claims from the plan's Explanations of Benefits (issue 19): the figures a list needs in
    // columns, the lines with every adjudication, totals and benefit balance as JSON (`detail`,
    // read whole with the claim); which claims an adjusted claim replaces; a bill's claim number.
    r#"
CREATE TABLE claims (
    id              TEXT PRIMARY KEY,
    member_id       TEXT NOT NULL,
    claim_number    TEXT NOT NULL UNIQUE,
    status          TEXT NOT NULL CHECK (status IN ('active', 'cancelled', 'superseded')),
    superseded_by   TEXT,
    kind            TEXT NOT NULL CHECK (kind IN ('inpatient', 'outpatient', 'professional', 'pharmacy', 'oral')),
    service_from    TEXT,
    service_to      TEXT,
    provider        TEXT,
    facility        TEXT,
    outcome         TEXT,
    billed_cents    INTEGER,
    allowed_cents   INTEGER,
    plan_paid_cents INTEGER,
    member_cents    INTEGER,
    detail          TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX claims_member ON claims(member_id, service_from DESC, id) WHERE status = 'active';
CREATE TABLE claim_replacements (
    claim_number TEXT NOT NULL,
    replaces     TEXT NOT NULL,
    PRIMARY KEY (replaces, claim_number)
) WITHOUT ROWID;
ALTER TABLE bills ADD COLUMN claim_number TEXT;
"#,
    // 11: conversations with the billing office (issue 20): a conversation (its bill and line,
    // while not closed, hold that bill's automatic charges), its messages (a member's carries the
    // Idempotency-Key it was sent with), and attachments, whose bytes are kept in chunks in the
    // (encrypted) database, uploaded before the message that sends them.
    r#"
CREATE TABLE conversations (
    id          TEXT PRIMARY KEY,
    member_id   TEXT NOT NULL,
    reference   TEXT NOT NULL UNIQUE,
    topic       TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('open', 'waiting_on_member', 'answered', 'closed')),
    bill_id     TEXT,
    line        INTEGER,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    closed_at   INTEGER
);
CREATE INDEX conversations_member ON conversations(member_id, created_at DESC, id);
CREATE INDEX conversations_bill_open ON conversations(bill_id, id) WHERE status != 'closed';
CREATE TABLE conversation_messages (
    id              TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations(id),
    seq             INTEGER NOT NULL,
    member_id       TEXT NOT NULL,
    author          TEXT NOT NULL CHECK (author IN ('member', 'staff')),
    staff_name      TEXT,
    body            TEXT NOT NULL,
    idempotency_key TEXT,
    fingerprint     BLOB,
    created_at      INTEGER NOT NULL
);
CREATE UNIQUE INDEX conversation_messages_thread ON conversation_messages(conversation_id, seq);
CREATE UNIQUE INDEX conversation_messages_key ON conversation_messages(member_id, idempotency_key);
CREATE TABLE attachments (
    id              TEXT PRIMARY KEY,
    member_id       TEXT NOT NULL,
    message_id      TEXT,
    file_name       TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('pdf', 'jpeg', 'png')),
    size            INTEGER NOT NULL,
    sha256          TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    created_at      INTEGER NOT NULL
);
CREATE UNIQUE INDEX attachments_key ON attachments(member_id, idempotency_key);
CREATE INDEX attachments_message ON attachments(message_id, id);
CREATE TABLE attachment_chunks (
    attachment_id TEXT NOT NULL,
    seq           INTEGER NOT NULL,
    data          BLOB NOT NULL,
    PRIMARY KEY (attachment_id, seq)
) WITHOUT ROWID;
"#,
    // 12: the staff audit log (issue 21's first part): every staff view of member data and every
    // staff action, append-only and tamper-evident: each entry carries an HMAC of the one before
    // (keyed by the server secret); `staff_audit_head` holds the last entry's number and link (one
    // row, made by the first entry, so appenders on several servers take turns) and the anchor the
    // oldest kept entry must name (the link of the last entry retention removed).
    r#"
CREATE TABLE staff_audit (
    seq       INTEGER PRIMARY KEY,
    at        INTEGER NOT NULL,
    staff     TEXT NOT NULL,
    member_id TEXT,
    action    TEXT NOT NULL,
    detail    TEXT NOT NULL,
    origin    TEXT NOT NULL,
    reason    TEXT,
    prev_hash BLOB NOT NULL,
    hash      BLOB NOT NULL
);
CREATE INDEX staff_audit_member ON staff_audit(member_id, seq);
CREATE TABLE staff_audit_head (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    seq    INTEGER NOT NULL,
    hash   BLOB NOT NULL,
    anchor BLOB NOT NULL
);
CREATE TRIGGER staff_audit_no_update BEFORE UPDATE ON staff_audit
BEGIN SELECT RAISE(ABORT, 'the staff audit log is append-only'); END;
"#,
    // 13: the billing office console (issue 21): staff accounts (a password and a TOTP secret,
    // set through a one-time setup code; the TOTP secret sealed with the server secret), their
    // recovery codes (hashed), their console sessions (cookie tokens, hashed), the members they
    // opened with a reason (per session), internal notes on conversations, and who works each
    // conversation.
    r#"
CREATE TABLE staff_accounts (
    id                  TEXT PRIMARY KEY,
    email               TEXT NOT NULL UNIQUE,
    name                TEXT NOT NULL,
    role                TEXT NOT NULL CHECK (role IN ('agent', 'supervisor')),
    password_hash       TEXT,
    totp_secret         BLOB,
    totp_last_step      INTEGER NOT NULL DEFAULT 0,
    setup_hash          BLOB,
    setup_expires_at    INTEGER,
    setup_password_hash TEXT,
    setup_totp_secret   BLOB,
    disabled_at         INTEGER,
    created_at          INTEGER NOT NULL
);
CREATE INDEX staff_accounts_setup ON staff_accounts(setup_hash);
CREATE TABLE staff_recovery_codes (
    staff_id  TEXT NOT NULL REFERENCES staff_accounts(id),
    code_hash BLOB NOT NULL,
    used_at   INTEGER,
    PRIMARY KEY (staff_id, code_hash)
);
CREATE TABLE staff_sessions (
    token_hash   BLOB PRIMARY KEY,
    staff_id     TEXT NOT NULL REFERENCES staff_accounts(id),
    origin       TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    revoked_at   INTEGER
);
CREATE INDEX staff_sessions_staff ON staff_sessions(staff_id);
CREATE TABLE staff_member_access (
    token_hash BLOB NOT NULL,
    member_id  TEXT NOT NULL,
    reason     TEXT NOT NULL,
    granted_at INTEGER NOT NULL,
    PRIMARY KEY (token_hash, member_id)
);
CREATE TABLE conversation_notes (
    id              TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations(id),
    staff_id        TEXT NOT NULL REFERENCES staff_accounts(id),
    body            TEXT NOT NULL,
    created_at      INTEGER NOT NULL
);
CREATE INDEX conversation_notes_thread ON conversation_notes(conversation_id, created_at);
ALTER TABLE conversations ADD COLUMN assigned_to TEXT REFERENCES staff_accounts(id);
ALTER TABLE conversation_messages ADD COLUMN staff_id TEXT;
"#,
    // 14: what members are told about, and how (issue 22): a row per member who changed a switch
    // (without one, every switch is on and paperless is off): email and desktop per event, and
    // paperless statements, which the plan's print-and-mail vendor reads (`export --preferences`).
    r#"
CREATE TABLE notification_preferences (
    member_id              TEXT PRIMARY KEY,
    email_new_bill         INTEGER NOT NULL,
    desktop_new_bill       INTEGER NOT NULL,
    email_due_soon         INTEGER NOT NULL,
    desktop_due_soon       INTEGER NOT NULL,
    email_overdue          INTEGER NOT NULL,
    desktop_overdue        INTEGER NOT NULL,
    email_method_attention INTEGER NOT NULL,
    desktop_method_attention INTEGER NOT NULL,
    email_payment_failed   INTEGER NOT NULL,
    desktop_payment_failed INTEGER NOT NULL,
    email_message_reply    INTEGER NOT NULL,
    desktop_message_reply  INTEGER NOT NULL,
    paperless              INTEGER NOT NULL,
    updated_at             INTEGER NOT NULL
);
"#,
    // 15: reminders (issue 22): the scheduler finds the bills due around today, and the bills
    // issued since its last days, without reading every bill.
    r#"
CREATE INDEX bills_open_due ON bills(due_date, id)
    WHERE (total_charges_cents - insurance_paid_cents - adjustments_cents - settled_cents - other_payments_cents) > 0;
CREATE INDEX bills_issued ON bills(issued_at);
"#,
    // 16: a payment's card funding (issue 22: HSA/FSA cards are labelled on receipts and in the
    // history); NULL for bank accounts and for payments made before.
    r#"
ALTER TABLE payments ADD COLUMN method_funding TEXT;
"#,
    // 17: who the care was for when not the member (issue 22: a subscriber pays for dependents);
    // NULL for the member and for bills from before.
    r#"
ALTER TABLE bills ADD COLUMN patient_name TEXT;
"#,
];

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use rusqlite::Connection;

    use super::{MIGRATIONS, PG_MIGRATIONS};
    use crate::db::migrate_with;

    /// Table -> [(column, type)].
    type Tables = BTreeMap<String, Vec<(String, String)>>;

    /// The tables (with their columns and declared types) and the named indexes of a SQLite
    /// database.
    fn sqlite_schema(conn: &Connection) -> (Tables, Vec<String>) {
        let mut tables = BTreeMap::new();
        let names: Vec<String> = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        for name in names {
            let columns: Vec<(String, String)> = conn
                .prepare(&format!(
                    "SELECT name, type FROM pragma_table_info('{name}') ORDER BY cid"
                ))
                .unwrap()
                .query_map([], |r| Ok((r.get(0)?, r.get::<_, String>(1)?.to_lowercase())))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            tables.insert(name, columns);
        }
        let mut indexes: Vec<String> = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_autoindex_%'")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        indexes.sort();
        (tables, indexes)
    }

    /// The PostgreSQL schema and SQLite's (the server's database and the sandbox processor's)
    /// have the same tables, the same columns in the same order with types that hold the same
    /// values (INTEGER: bigint, or boolean for a flag; TEXT: text; BLOB: bytea), and the same
    /// named indexes.
    #[test]
    fn postgres_has_the_schema_sqlite_reaches() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate_with(&mut conn, MIGRATIONS).unwrap();
        let (mut tables, mut indexes) = sqlite_schema(&conn);
        let mut sandbox = Connection::open_in_memory().unwrap();
        migrate_with(&mut sandbox, crate::processor::sandbox::MIGRATIONS).unwrap();
        let (sandbox_tables, sandbox_indexes) = sqlite_schema(&sandbox);
        tables.extend(sandbox_tables);
        indexes.extend(sandbox_indexes);
        indexes.sort();

        let cluster = carebill_testkit::postgres::PgCluster::start().unwrap();
        cluster.create_database("schema").unwrap();
        for migration in PG_MIGRATIONS {
            cluster.psql("schema", migration).unwrap();
        }
        let rows = cluster
            .psql(
                "schema",
                "SELECT table_name || '|' || column_name || '|' || data_type FROM information_schema.columns
                 WHERE table_schema = 'public' ORDER BY table_name, ordinal_position",
            )
            .unwrap();
        let mut pg = Tables::new();
        for line in rows.lines() {
            let parts: Vec<&str> = line.split('|').collect();
            pg.entry(parts[0].to_string())
                .or_default()
                .push((parts[1].to_string(), parts[2].to_string()));
        }
        assert_eq!(
            pg.keys().collect::<Vec<_>>(),
            tables.keys().collect::<Vec<_>>(),
            "the same tables"
        );
        for (table, columns) in &tables {
            let theirs = &pg[table];
            let names = |c: &[(String, String)]| c.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
            assert_eq!(names(theirs), names(columns), "the columns of {table}, in order");
            for ((name, sqlite), (_, postgres)) in columns.iter().zip(theirs) {
                let fits = match sqlite.as_str() {
                    "integer" => postgres == "bigint" || postgres == "boolean",
                    "text" => postgres == "text",
                    "blob" => postgres == "bytea",
                    other => panic!("{table}.{name}: SQLite type {other} has no PostgreSQL rule"),
                };
                assert!(fits, "{table}.{name}: SQLite {sqlite}, PostgreSQL {postgres}");
            }
        }
        let pg_indexes = cluster
            .psql(
                "schema",
                // Named indexes: not those behind a PRIMARY KEY or UNIQUE constraint.
                "SELECT i.relname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
                 JOIN pg_namespace n ON n.oid = i.relnamespace
                 WHERE n.nspname = 'public' AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)
                 ORDER BY i.relname",
            )
            .unwrap();
        let mut pg_indexes: Vec<String> = pg_indexes.lines().map(str::to_string).collect();
        pg_indexes.sort();
        assert_eq!(pg_indexes, indexes, "the same named indexes");
    }

    /// A bill's open question is found through the partial index of open conversations, not by
    /// reading the conversations: every bill a page or a sync reads asks it (`store::BILL_COLUMNS`).
    #[test]
    fn a_bills_open_question_is_looked_up_by_index() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate_with(&mut conn, MIGRATIONS).unwrap();
        let sql = format!(
            "EXPLAIN QUERY PLAN SELECT {} FROM bills b WHERE b.id = 'x'",
            crate::store::BILL_COLUMNS
        );
        let plan: Vec<String> = conn
            .prepare(&sql)
            .unwrap()
            .query_map([], |r| r.get::<_, String>(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(
            plan.iter()
                .any(|step| step.starts_with("SEARCH q USING") && step.contains("INDEX conversations_bill_open")),
            "{plan:?}"
        );
        assert!(!plan.iter().any(|step| step.starts_with("SCAN q")), "{plan:?}");
    }

    /// A database written by the release before migration 4 (payments, their allocations and
    /// keys) keeps every row: the rebuilt tables cascade nothing, and recovery of a payment made
    /// then keeps the processor key it was charged under.
    #[test]
    fn migration_4_rebuilds_payments_and_keys_without_losing_a_row() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("PRAGMA foreign_keys = ON").unwrap();
        migrate_with(&mut conn, &MIGRATIONS[..3]).unwrap();
        conn.execute_batch(
            "INSERT INTO roster VALUES ('M1', 'Jordan', 'Lee', '1980-01-02');
             INSERT INTO bills (id, member_id, account_number, statement_number, kind, provider, facility,
                 service_date_from, service_date_to, statement_date, due_date, total_charges_cents,
                 insurance_paid_cents, adjustments_cents, settled_cents, pending_cents, created_at)
             VALUES ('b1', 'M1', 'A1', 'S1', 'hospital', 'P', 'F', '2026-01-01', '2026-01-01', '2026-01-02',
                 '2026-02-01', 10000, 0, 0, 100, 200, 0);
             INSERT INTO payments (id, member_id, status, amount_cents, confirmation_number, method_type, method_brand,
                 method_last4, created_at, idempotency_key, processor_source)
             VALUES ('p1', 'M1', 'succeeded', 100, 'C1', 'card', 'visa', '4242', 1, 'k1', 'instrument:i1'),
                    ('p2', 'M1', 'processing', 200, 'C2', 'card', 'visa', '4242', 2, 'k2', 'instrument:i1');
             INSERT INTO payment_allocations VALUES ('p1', 'b1', 100), ('p2', 'b1', 200);
             INSERT INTO idempotency_keys (member_id, key, fingerprint, state, payment_id, response_status, response_body, created_at)
             VALUES ('M1', 'k1', x'01', 'complete', 'p1', 201, '{}', 1);
             INSERT INTO idempotency_keys (member_id, key, fingerprint, state, lease_id, lease_expires_at, payment_id, created_at)
             VALUES ('M1', 'k2', x'02', 'processing', 'l', 5, 'p2', 2);",
        )
        .unwrap();
        conn.execute_batch("PRAGMA foreign_keys = ON").unwrap();
        migrate_with(&mut conn, MIGRATIONS).unwrap();
        let count = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap();
        assert_eq!(count("SELECT COUNT(*) FROM payments"), 2);
        assert_eq!(count("SELECT COUNT(*) FROM payment_allocations"), 2);
        assert_eq!(count("SELECT COUNT(*) FROM idempotency_keys"), 2);
        assert_eq!(
            count("SELECT COUNT(*) FROM payments WHERE processor_key = 'M1:' || idempotency_key"),
            2,
            "payments made before keep the processor key they were charged under"
        );
        assert_eq!(count("PRAGMA foreign_keys"), 1, "foreign keys are back on");
        conn.execute("UPDATE payments SET status = 'needs_review' WHERE id = 'p2'", [])
            .unwrap();
        conn.execute("UPDATE idempotency_keys SET state = 'expired' WHERE key = 'k1'", [])
            .unwrap();
        // Deleting a payment still cascades to its allocations (the reference was rebuilt).
        conn.execute("DELETE FROM payments WHERE id = 'p1'", []).unwrap();
        assert_eq!(count("SELECT COUNT(*) FROM payment_allocations"), 1);
    }
}
