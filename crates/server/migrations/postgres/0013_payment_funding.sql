-- A payment's card funding (`hsa_fsa`, `credit`, `debit`); NULL for bank accounts and for
-- payments made before (SQLite migration 16).
ALTER TABLE payments ADD COLUMN method_funding TEXT;
