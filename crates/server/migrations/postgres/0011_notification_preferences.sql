-- What members are told about, and how; paperless statements (SQLite migration 14).
CREATE TABLE notification_preferences (
    member_id              TEXT PRIMARY KEY,
    email_new_bill         BOOLEAN NOT NULL,
    desktop_new_bill       BOOLEAN NOT NULL,
    email_due_soon         BOOLEAN NOT NULL,
    desktop_due_soon       BOOLEAN NOT NULL,
    email_overdue          BOOLEAN NOT NULL,
    desktop_overdue        BOOLEAN NOT NULL,
    email_method_attention BOOLEAN NOT NULL,
    desktop_method_attention BOOLEAN NOT NULL,
    email_payment_failed   BOOLEAN NOT NULL,
    desktop_payment_failed BOOLEAN NOT NULL,
    email_message_reply    BOOLEAN NOT NULL,
    desktop_message_reply  BOOLEAN NOT NULL,
    paperless              BOOLEAN NOT NULL,
    updated_at             BIGINT NOT NULL
);
