-- Alerts: the outbox, usage totals per UTC window, threshold crossings (one
-- row per threshold, window and level, so that replicas and restarts never
-- alert twice), repeat suppression, and each job's usage already counted.
CREATE TABLE IF NOT EXISTS alerts (
    id              BIGSERIAL PRIMARY KEY,
    notifier        TEXT NOT NULL,
    type            TEXT NOT NULL,
    provider        TEXT NOT NULL DEFAULT '',
    payload         JSON NOT NULL,
    state           TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    sent_at         TIMESTAMPTZ,
    last_error      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS alerts_due_idx ON alerts (notifier, next_attempt_at) WHERE state = 'pending';
CREATE INDEX IF NOT EXISTS alerts_state_idx ON alerts (state, id);

CREATE TABLE IF NOT EXISTS usage_totals (
    provider           TEXT NOT NULL,
    scope              TEXT NOT NULL,
    period             TEXT NOT NULL,
    window_start       TIMESTAMPTZ NOT NULL,
    tokens             BIGINT NOT NULL DEFAULT 0,
    input_tokens       BIGINT NOT NULL DEFAULT 0,
    output_tokens      BIGINT NOT NULL DEFAULT 0,
    total_tokens       BIGINT NOT NULL DEFAULT 0,
    trained_tokens     BIGINT NOT NULL DEFAULT 0,
    requests           BIGINT NOT NULL DEFAULT 0,
    completed_requests BIGINT NOT NULL DEFAULT 0,
    failed_requests    BIGINT NOT NULL DEFAULT 0,
    jobs               BIGINT NOT NULL DEFAULT 0,
    succeeded_jobs     BIGINT NOT NULL DEFAULT 0,
    failed_jobs        BIGINT NOT NULL DEFAULT 0,
    cancelled_jobs     BIGINT NOT NULL DEFAULT 0,
    expired_jobs       BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (provider, scope, period, window_start)
);

CREATE TABLE IF NOT EXISTS threshold_crossings (
    threshold    TEXT NOT NULL,
    window_start TIMESTAMPTZ NOT NULL,
    level        TEXT NOT NULL,
    value        BIGINT NOT NULL,
    crossed_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (threshold, window_start, level)
);

CREATE TABLE IF NOT EXISTS alert_repeats (
    key     TEXT PRIMARY KEY,
    last_at TIMESTAMPTZ NOT NULL
);

ALTER TABLE jobs ADD COLUMN counted_usage JSONB NOT NULL DEFAULT '{}';
