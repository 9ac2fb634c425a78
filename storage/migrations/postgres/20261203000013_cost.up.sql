-- cost: the job's cost at the configured prices (tracker.Cost as JSON),
-- NULL when none was computed.
ALTER TABLE jobs ADD COLUMN cost JSONB;
-- Usage totals gain the model dimension, the cached part of input tokens
-- and the cost in nanos of the prices' currency.
ALTER TABLE usage_totals ADD COLUMN model TEXT NOT NULL DEFAULT '';
ALTER TABLE usage_totals ADD COLUMN cached_input_tokens BIGINT NOT NULL DEFAULT 0;
ALTER TABLE usage_totals ADD COLUMN cost BIGINT NOT NULL DEFAULT 0;
ALTER TABLE usage_totals DROP CONSTRAINT IF EXISTS usage_totals_pkey;
ALTER TABLE usage_totals ADD CONSTRAINT usage_totals_pkey PRIMARY KEY (provider, model, scope, period, window_start);
