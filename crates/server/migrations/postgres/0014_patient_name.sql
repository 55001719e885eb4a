-- Who the care was for when not the member (a dependent); NULL for the member and for bills
-- from before (SQLite migration 17).
ALTER TABLE bills ADD COLUMN patient_name TEXT;
