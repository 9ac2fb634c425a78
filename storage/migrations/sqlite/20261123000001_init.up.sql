-- Jobs and everything observed about them. Every statement is idempotent so
-- that a start which crashed after committing this file but before recording
-- it as applied can simply run it again. Times are stored as UTC text, which
-- orders correctly.
CREATE TABLE IF NOT EXISTS jobs (
    id               INTEGER PRIMARY KEY,
    provider         TEXT NOT NULL,
    external_id      TEXT NOT NULL,
    kind             TEXT NOT NULL,
    status           TEXT NOT NULL,
    provider_status  TEXT NOT NULL DEFAULT '',
    labels           TEXT NOT NULL DEFAULT '{}',
    metadata         TEXT,
    usage            TEXT NOT NULL DEFAULT '{}',
    details          TEXT NOT NULL DEFAULT '{}',
    created_at       TIMESTAMP NOT NULL,
    updated_at       TIMESTAMP NOT NULL,
    resolved_at      TIMESTAMP,
    resolved_by      TEXT NOT NULL DEFAULT '',
    last_observed_at TIMESTAMP,
    last_heard_at    TIMESTAMP NOT NULL,
    next_poll_at     TIMESTAMP,
    UNIQUE (provider, external_id)
);

CREATE INDEX IF NOT EXISTS jobs_status_idx ON jobs (status, id);

CREATE TABLE IF NOT EXISTS events (
    id              INTEGER PRIMARY KEY,
    provider        TEXT NOT NULL,
    event_id        TEXT,
    job_id          INTEGER REFERENCES jobs (id) ON DELETE CASCADE,
    source          TEXT NOT NULL,
    type            TEXT NOT NULL DEFAULT '',
    provider_status TEXT NOT NULL DEFAULT '',
    status          TEXT NOT NULL DEFAULT '',
    effect          TEXT NOT NULL,
    occurred_at     TIMESTAMP NOT NULL,
    recorded_at     TIMESTAMP NOT NULL,
    payload         TEXT
);

CREATE UNIQUE INDEX IF NOT EXISTS events_provider_event_id_key ON events (provider, event_id) WHERE event_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS events_job_id_idx ON events (job_id, id);
