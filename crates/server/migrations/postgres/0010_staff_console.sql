-- The billing office console: staff accounts, recovery codes, sessions, access with a reason,
-- internal notes, assignment (SQLite migration 13).
CREATE TABLE staff_accounts (
    id                  TEXT PRIMARY KEY,
    email               TEXT NOT NULL UNIQUE,
    name                TEXT NOT NULL,
    role                TEXT NOT NULL CHECK (role IN ('agent', 'supervisor')),
    password_hash       TEXT,
    totp_secret         BYTEA,
    totp_last_step      BIGINT NOT NULL DEFAULT 0,
    setup_hash          BYTEA,
    setup_expires_at    BIGINT,
    setup_password_hash TEXT,
    setup_totp_secret   BYTEA,
    disabled_at         BIGINT,
    created_at          BIGINT NOT NULL
);
CREATE INDEX staff_accounts_setup ON staff_accounts(setup_hash);
CREATE TABLE staff_recovery_codes (
    staff_id  TEXT NOT NULL REFERENCES staff_accounts(id),
    code_hash BYTEA NOT NULL,
    used_at   BIGINT,
    PRIMARY KEY (staff_id, code_hash)
);
CREATE TABLE staff_sessions (
    token_hash   BYTEA PRIMARY KEY,
    staff_id     TEXT NOT NULL REFERENCES staff_accounts(id),
    origin       TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    revoked_at   BIGINT
);
CREATE INDEX staff_sessions_staff ON staff_sessions(staff_id);
CREATE TABLE staff_member_access (
    token_hash BYTEA NOT NULL,
    member_id  TEXT NOT NULL,
    reason     TEXT NOT NULL,
    granted_at BIGINT NOT NULL,
    PRIMARY KEY (token_hash, member_id)
);
CREATE TABLE conversation_notes (
    id              TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations(id),
    staff_id        TEXT NOT NULL REFERENCES staff_accounts(id),
    body            TEXT NOT NULL,
    created_at      BIGINT NOT NULL
);
CREATE INDEX conversation_notes_thread ON conversation_notes(conversation_id, created_at);
ALTER TABLE conversations ADD COLUMN assigned_to TEXT REFERENCES staff_accounts(id);
ALTER TABLE conversation_messages ADD COLUMN staff_id TEXT;
