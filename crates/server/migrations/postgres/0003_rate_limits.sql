-- SQLite migration 6: sign-in throttles and rate limits shared by every server on the database.
-- `count` is failures (sign-in keys) or events in the window that began at `started_at`.
CREATE TABLE rate_limits (
    key           TEXT PRIMARY KEY,
    count         BIGINT NOT NULL,
    started_at    BIGINT NOT NULL,
    blocked_until BIGINT NOT NULL,
    last_at       BIGINT NOT NULL
);
CREATE INDEX rate_limits_last ON rate_limits(last_at);
