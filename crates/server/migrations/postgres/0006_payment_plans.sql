-- Payment plans, their bills and instalments, one-time payments scheduled for a date, and the
-- notices the scheduler decides once per entity and event (SQLite migration 9).
CREATE TABLE payment_plans (
    id                  TEXT PRIMARY KEY,
    member_id           TEXT NOT NULL,
    number              TEXT NOT NULL UNIQUE,
    status              TEXT NOT NULL CHECK (status IN ('active', 'paused', 'behind', 'completed', 'cancelled', 'ended')),
    monthly_cents       BIGINT NOT NULL CHECK (monthly_cents > 0),
    day_of_month        BIGINT NOT NULL CHECK (day_of_month BETWEEN 1 AND 28),
    payment_method_id   TEXT NOT NULL,
    first_date          TEXT NOT NULL,
    next_date           TEXT NOT NULL,
    paused_until        TEXT,
    behind_cents        BIGINT NOT NULL DEFAULT 0 CHECK (behind_cents >= 0),
    behind_since        BIGINT,
    misses              BIGINT NOT NULL DEFAULT 0,
    needs_authorization BIGINT NOT NULL DEFAULT 0,
    auth_text           TEXT NOT NULL,
    auth_text_version   TEXT NOT NULL,
    auth_accepted_at    BIGINT NOT NULL,
    auth_client         TEXT,
    idempotency_key     TEXT NOT NULL,
    version             BIGINT NOT NULL DEFAULT 1,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL
);
CREATE UNIQUE INDEX payment_plans_key ON payment_plans(member_id, idempotency_key);
CREATE INDEX payment_plans_open ON payment_plans(next_date) WHERE status IN ('active', 'paused', 'behind');
CREATE TABLE plan_bills (
    plan_id  TEXT NOT NULL,
    bill_id  TEXT NOT NULL,
    added_at BIGINT NOT NULL,
    PRIMARY KEY (plan_id, bill_id)
);
CREATE INDEX plan_bills_bill ON plan_bills(bill_id);
CREATE TABLE plan_instalments (
    plan_id      TEXT NOT NULL,
    nominal_date TEXT NOT NULL,
    charge_date  TEXT NOT NULL,
    amount_cents BIGINT NOT NULL CHECK (amount_cents > 0),
    status       TEXT NOT NULL CHECK (status IN ('processing', 'paid', 'missed', 'skipped')),
    payment_id   TEXT,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (plan_id, nominal_date)
);
CREATE TABLE scheduled_payments (
    id                TEXT PRIMARY KEY,
    member_id         TEXT NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('scheduled', 'processing', 'made', 'cancelled')),
    pay_on            TEXT NOT NULL,
    payment_method_id TEXT NOT NULL,
    ach_text          TEXT,
    ach_text_version  TEXT,
    ach_accepted_at   BIGINT,
    client            TEXT,
    idempotency_key   TEXT NOT NULL,
    payment_id        TEXT,
    cancel_reason     TEXT,
    version           BIGINT NOT NULL DEFAULT 1,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL
);
CREATE UNIQUE INDEX scheduled_payments_key ON scheduled_payments(member_id, idempotency_key);
CREATE INDEX scheduled_payments_due ON scheduled_payments(pay_on) WHERE status = 'scheduled';
CREATE TABLE scheduled_allocations (
    scheduled_id TEXT NOT NULL,
    bill_id      TEXT NOT NULL,
    amount_cents BIGINT NOT NULL CHECK (amount_cents > 0),
    PRIMARY KEY (scheduled_id, bill_id)
);
CREATE TABLE notices (
    entity     TEXT NOT NULL,
    event      TEXT NOT NULL,
    member_id  TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (entity, event)
);
ALTER TABLE bills ADD COLUMN payment_plan_id TEXT;
CREATE INDEX bills_plan ON bills(payment_plan_id) WHERE payment_plan_id IS NOT NULL;
