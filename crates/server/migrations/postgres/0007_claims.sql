-- Claims from the plan's Explanations of Benefits, which claims an adjusted claim replaces, and a
-- bill's claim number (SQLite migration 10).
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
    billed_cents    BIGINT,
    allowed_cents   BIGINT,
    plan_paid_cents BIGINT,
    member_cents    BIGINT,
    detail          TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX claims_member ON claims(member_id, service_from DESC, id) WHERE status = 'active';
CREATE TABLE claim_replacements (
    claim_number TEXT NOT NULL,
    replaces     TEXT NOT NULL,
    PRIMARY KEY (replaces, claim_number)
);
ALTER TABLE bills ADD COLUMN claim_number TEXT;
