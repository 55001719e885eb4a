-- Reminders: the bills due around today, and the bills issued lately (SQLite migration 15).
CREATE INDEX bills_open_due ON bills(due_date, id)
    WHERE (total_charges_cents - insurance_paid_cents - adjustments_cents - settled_cents - other_payments_cents) > 0;
CREATE INDEX bills_issued ON bills(issued_at);
