-- Conversations with the billing office, their messages, and attachments kept in chunks
-- (SQLite migration 11).
CREATE TABLE conversations (
    id          TEXT PRIMARY KEY,
    member_id   TEXT NOT NULL,
    reference   TEXT NOT NULL UNIQUE,
    topic       TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('open', 'waiting_on_member', 'answered', 'closed')),
    bill_id     TEXT,
    line        BIGINT,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    closed_at   BIGINT
);
CREATE INDEX conversations_member ON conversations(member_id, created_at DESC, id);
CREATE INDEX conversations_bill_open ON conversations(bill_id, id) WHERE status != 'closed';
CREATE TABLE conversation_messages (
    id              TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations(id),
    seq             BIGINT NOT NULL,
    member_id       TEXT NOT NULL,
    author          TEXT NOT NULL CHECK (author IN ('member', 'staff')),
    staff_name      TEXT,
    body            TEXT NOT NULL,
    idempotency_key TEXT,
    fingerprint     BYTEA,
    created_at      BIGINT NOT NULL
);
CREATE UNIQUE INDEX conversation_messages_thread ON conversation_messages(conversation_id, seq);
CREATE UNIQUE INDEX conversation_messages_key ON conversation_messages(member_id, idempotency_key);
CREATE TABLE attachments (
    id              TEXT PRIMARY KEY,
    member_id       TEXT NOT NULL,
    message_id      TEXT,
    file_name       TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('pdf', 'jpeg', 'png')),
    size            BIGINT NOT NULL,
    sha256          TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    created_at      BIGINT NOT NULL
);
CREATE UNIQUE INDEX attachments_key ON attachments(member_id, idempotency_key);
CREATE INDEX attachments_message ON attachments(message_id, id);
CREATE TABLE attachment_chunks (
    attachment_id TEXT NOT NULL,
    seq           BIGINT NOT NULL,
    data          BYTEA NOT NULL,
    PRIMARY KEY (attachment_id, seq)
);
