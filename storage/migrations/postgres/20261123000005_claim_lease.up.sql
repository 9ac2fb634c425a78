-- The claim's lease lives in its own column, which no index covers: with
-- room left on each page (fillfactor), PostgreSQL updates it in place (a HOT
-- update) without touching any of the jobs indexes, where moving the indexed
-- next_poll_at rewrote an entry in every one of them.
ALTER TABLE jobs ADD COLUMN lease_until TIMESTAMPTZ;
ALTER TABLE jobs SET (fillfactor = 90);
