-- Missed webhooks and held end alerts replace the per-job stale marker.
-- webhook_due_by: a poll learned the job's end first; its webhook is awaited
-- until then. alert_held_until: the end's alert waits for the enrichment poll.
ALTER TABLE jobs ADD COLUMN webhook_due_by TIMESTAMP;
ALTER TABLE jobs ADD COLUMN alert_held_until TIMESTAMP;
ALTER TABLE jobs DROP COLUMN stale_reported;

-- One row per provider whose webhooks were missed: how many job ends in a
-- row were learned by poll with no webhook, the newest verified delivery
-- counted (a later one breaks the run), and since when the webhooks are
-- silent (provider.webhooks_silent raised; NULL when they are not).
CREATE TABLE IF NOT EXISTS provider_webhooks (
    provider         TEXT PRIMARY KEY,
    missed           INTEGER NOT NULL DEFAULT 0,
    seen_delivery_id BIGINT NOT NULL DEFAULT 0,
    silent_since     TIMESTAMP
);
