-- The staff audit log, append-only and hash-chained, and its head (SQLite migration 12).
CREATE TABLE staff_audit (
    seq       BIGINT PRIMARY KEY,
    at        BIGINT NOT NULL,
    staff     TEXT NOT NULL,
    member_id TEXT,
    action    TEXT NOT NULL,
    detail    TEXT NOT NULL,
    origin    TEXT NOT NULL,
    reason    TEXT,
    prev_hash BYTEA NOT NULL,
    hash      BYTEA NOT NULL
);
CREATE INDEX staff_audit_member ON staff_audit(member_id, seq);
CREATE TABLE staff_audit_head (
    id     BIGINT PRIMARY KEY CHECK (id = 1),
    seq    BIGINT NOT NULL,
    hash   BYTEA NOT NULL,
    anchor BYTEA NOT NULL
);
CREATE FUNCTION staff_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the staff audit log is append-only';
END;
$$;
CREATE TRIGGER staff_audit_no_update BEFORE UPDATE ON staff_audit
    FOR EACH ROW EXECUTE FUNCTION staff_audit_append_only();
