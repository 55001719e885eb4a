-- The language of a member's mail, and of a registration waiting for its code (SQLite
-- migration 8).
ALTER TABLE accounts ADD COLUMN locale TEXT NOT NULL DEFAULT 'en' CHECK (locale IN ('en', 'es'));
ALTER TABLE pending_registrations ADD COLUMN locale TEXT NOT NULL DEFAULT 'en' CHECK (locale IN ('en', 'es'));
