-- The claim's lease lives in its own column (see the PostgreSQL migration).
ALTER TABLE jobs ADD COLUMN lease_until TIMESTAMP;
