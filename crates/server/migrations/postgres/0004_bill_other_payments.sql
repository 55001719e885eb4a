-- What the plan's records say was paid elsewhere (at the provider's office, by another party)
-- and the provider's billing phone (SQLite migration 7). Paid elsewhere counts against the
-- amount due like a settled payment.
ALTER TABLE bills ADD COLUMN other_payments_cents BIGINT NOT NULL DEFAULT 0 CHECK (other_payments_cents >= 0);
ALTER TABLE bills ADD COLUMN billing_phone TEXT;
ALTER TABLE bills DROP CONSTRAINT bills_check;
ALTER TABLE bills ADD CONSTRAINT bills_within_amount_due
    CHECK (total_charges_cents - insurance_paid_cents - adjustments_cents - settled_cents - pending_cents - other_payments_cents >= 0);
DROP INDEX bills_member_open;
CREATE INDEX bills_member_open ON bills(member_id, due_date, id)
    WHERE (total_charges_cents - insurance_paid_cents - adjustments_cents - settled_cents - other_payments_cents) > 0;
