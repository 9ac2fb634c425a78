-- Jobs and everything observed about them. Every statement is idempotent so
-- that a start which crashed after committing this file but before recording
-- it as applied can simply run it again.
CREATE TABLE IF NOT EXISTS jobs (
    id               BIGSERIAL PRIMARY KEY,
    provider         TEXT NOT NULL,
    external_id      TEXT NOT NULL,
    kind             TEXT NOT NULL,
    status           TEXT NOT NULL,
    provider_status  TEXT NOT NULL DEFAULT '',
    labels           JSONB NOT NULL DEFAULT '{}',
    metadata         JSONB,
    usage            JSONB NOT NULL DEFAULT '{}',
    details          JSONB NOT NULL DEFAULT '{}',
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL,
    resolved_at      TIMESTAMPTZ,
    resolved_by      TEXT NOT NULL DEFAULT '',
    last_observed_at TIMESTAMPTZ,
    last_heard_at    TIMESTAMPTZ NOT NULL,
    next_poll_at     TIMESTAMPTZ,
    CONSTRAINT jobs_provider_external_id_key UNIQUE (provider, external_id)
);

CREATE INDEX IF NOT EXISTS jobs_labels_idx ON jobs USING GIN (labels jsonb_path_ops);
CREATE INDEX IF NOT EXISTS jobs_status_idx ON jobs (status, id);

-- events is the history of every observation: those applied to a job, and
-- those recorded without one (provider events, unknown jobs).
CREATE TABLE IF NOT EXISTS events (
    id              BIGSERIAL PRIMARY KEY,
    provider        TEXT NOT NULL,
    event_id        TEXT,
    job_id          BIGINT REFERENCES jobs (id) ON DELETE CASCADE,
    source          TEXT NOT NULL,
    type            TEXT NOT NULL DEFAULT '',
    provider_status TEXT NOT NULL DEFAULT '',
    status          TEXT NOT NULL DEFAULT '',
    effect          TEXT NOT NULL,
    occurred_at     TIMESTAMPTZ NOT NULL,
    recorded_at     TIMESTAMPTZ NOT NULL,
    payload         JSON
);

CREATE UNIQUE INDEX IF NOT EXISTS events_provider_event_id_key ON events (provider, event_id) WHERE event_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS events_job_id_idx ON events (job_id, id);
