-- Polling: backoff and not-found counters, webhook and stale bookkeeping,
-- and the index that makes the due-job query O(due jobs). Terminal jobs have
-- no next_poll_at, so the partial index holds live jobs only.
ALTER TABLE jobs ADD COLUMN quiet_polls INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN not_found_polls INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN webhook_at TIMESTAMP;
ALTER TABLE jobs ADD COLUMN stale_reported BOOLEAN NOT NULL DEFAULT 0;
CREATE INDEX IF NOT EXISTS jobs_due_idx ON jobs (next_poll_at) WHERE next_poll_at IS NOT NULL;
