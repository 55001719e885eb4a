-- SQLite migration 5: a sender claims the mail it delivers for a while, so two servers never
-- deliver the same mail at once.
ALTER TABLE outbox ADD COLUMN claimed_until BIGINT;
