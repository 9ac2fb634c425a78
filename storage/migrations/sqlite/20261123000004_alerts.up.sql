-- Alerts: the outbox, usage totals per UTC window, threshold crossings (one
-- row per threshold, window and level, so that replicas and restarts never
-- alert twice), repeat suppression, and each job's usage already counted.
CREATE TABLE IF NOT EXISTS alerts (
    id              INTEGER PRIMARY KEY,
    notifier        TEXT NOT NULL,
    type            TEXT NOT NULL,
    provider        TEXT NOT NULL DEFAULT '',
    payload         TEXT NOT NULL,
    state           TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL,
    sent_at         TIMESTAMP,
    last_error      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS alerts_due_idx ON alerts (notifier, next_attempt_at) WHERE state = 'pending';
CREATE INDEX IF NOT EXISTS alerts_state_idx ON alerts (state, id);

CREATE TABLE IF NOT EXISTS usage_totals (
    provider           TEXT NOT NULL,
    scope              TEXT NOT NULL,
    period             TEXT NOT NULL,
    window_start       TIMESTAMP NOT NULL,
    tokens             INTEGER NOT NULL DEFAULT 0,
    input_tokens       INTEGER NOT NULL DEFAULT 0,
    output_tokens      INTEGER NOT NULL DEFAULT 0,
    total_tokens       INTEGER NOT NULL DEFAULT 0,
    trained_tokens     INTEGER NOT NULL DEFAULT 0,
    requests           INTEGER NOT NULL DEFAULT 0,
    completed_requests INTEGER NOT NULL DEFAULT 0,
    failed_requests    INTEGER NOT NULL DEFAULT 0,
    jobs               INTEGER NOT NULL DEFAULT 0,
    succeeded_jobs     INTEGER NOT NULL DEFAULT 0,
    failed_jobs        INTEGER NOT NULL DEFAULT 0,
    cancelled_jobs     INTEGER NOT NULL DEFAULT 0,
    expired_jobs       INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (provider, scope, period, window_start)
);

CREATE TABLE IF NOT EXISTS threshold_crossings (
    threshold    TEXT NOT NULL,
    window_start TIMESTAMP NOT NULL,
    level        TEXT NOT NULL,
    value        INTEGER NOT NULL,
    crossed_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (threshold, window_start, level)
);

CREATE TABLE IF NOT EXISTS alert_repeats (
    key     TEXT PRIMARY KEY,
    last_at TIMESTAMP NOT NULL
);

ALTER TABLE jobs ADD COLUMN counted_usage TEXT NOT NULL DEFAULT '{}';
