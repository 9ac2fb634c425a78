-- The webhook delivery log: every request to /webhooks/..., accepted or not.
CREATE TABLE IF NOT EXISTS deliveries (
    id          BIGSERIAL PRIMARY KEY,
    provider    TEXT NOT NULL,
    received_at TIMESTAMPTZ NOT NULL,
    outcome     TEXT NOT NULL,
    status_code INTEGER NOT NULL,
    reason      TEXT NOT NULL DEFAULT '',
    event_id    TEXT NOT NULL DEFAULT '',
    event_type  TEXT NOT NULL DEFAULT '',
    job_id      TEXT NOT NULL DEFAULT '',
    excerpt     TEXT NOT NULL DEFAULT ''
);

CREATE INDEX IF NOT EXISTS deliveries_received_at_idx ON deliveries (received_at);
CREATE INDEX IF NOT EXISTS deliveries_provider_idx ON deliveries (provider, id);
