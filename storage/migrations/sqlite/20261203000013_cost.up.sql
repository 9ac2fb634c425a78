-- cost: the job's cost at the configured prices (tracker.Cost as JSON),
-- NULL when none was computed.
ALTER TABLE jobs ADD COLUMN cost TEXT;
-- Usage totals gain the model dimension, the cached part of input tokens
-- and the cost in nanos of the prices' currency. SQLite cannot change a
-- primary key, so the table is copied into one with the new key; the
-- columns are added to the old one first, so that a re-run copies the
-- new table into itself unchanged.
ALTER TABLE usage_totals ADD COLUMN model TEXT NOT NULL DEFAULT '';
ALTER TABLE usage_totals ADD COLUMN cached_input_tokens INTEGER NOT NULL DEFAULT 0;
ALTER TABLE usage_totals ADD COLUMN cost INTEGER NOT NULL DEFAULT 0;
CREATE TABLE usage_totals_by_model (
    provider            TEXT NOT NULL,
    model               TEXT NOT NULL DEFAULT '',
    scope               TEXT NOT NULL,
    period              TEXT NOT NULL,
    window_start        TIMESTAMP NOT NULL,
    tokens              INTEGER NOT NULL DEFAULT 0,
    input_tokens        INTEGER NOT NULL DEFAULT 0,
    cached_input_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens       INTEGER NOT NULL DEFAULT 0,
    total_tokens        INTEGER NOT NULL DEFAULT 0,
    trained_tokens      INTEGER NOT NULL DEFAULT 0,
    requests            INTEGER NOT NULL DEFAULT 0,
    completed_requests  INTEGER NOT NULL DEFAULT 0,
    failed_requests     INTEGER NOT NULL DEFAULT 0,
    jobs                INTEGER NOT NULL DEFAULT 0,
    succeeded_jobs      INTEGER NOT NULL DEFAULT 0,
    failed_jobs         INTEGER NOT NULL DEFAULT 0,
    cancelled_jobs      INTEGER NOT NULL DEFAULT 0,
    expired_jobs        INTEGER NOT NULL DEFAULT 0,
    cost                INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (provider, model, scope, period, window_start)
);
INSERT INTO usage_totals_by_model (provider, model, scope, period, window_start, tokens, input_tokens, cached_input_tokens,
    output_tokens, total_tokens, trained_tokens, requests, completed_requests, failed_requests, jobs, succeeded_jobs,
    failed_jobs, cancelled_jobs, expired_jobs, cost)
SELECT provider, model, scope, period, window_start, tokens, input_tokens, cached_input_tokens,
    output_tokens, total_tokens, trained_tokens, requests, completed_requests, failed_requests, jobs, succeeded_jobs,
    failed_jobs, cancelled_jobs, expired_jobs, cost FROM usage_totals;
DROP TABLE usage_totals;
ALTER TABLE usage_totals_by_model RENAME TO usage_totals;
