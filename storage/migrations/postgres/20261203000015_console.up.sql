-- The console's reads over many jobs. jobs_summary_idx holds every column
-- of its overview (Store.SummarizeJobs), which reads it alone instead of
-- the table; jobs_provider_status_idx serves a job list filtered by
-- provider and status, newest first.
CREATE INDEX IF NOT EXISTS jobs_summary_idx ON jobs (provider, kind, status, resolved_by, resolved_at, stuck_status);
CREATE INDEX IF NOT EXISTS jobs_provider_status_idx ON jobs (provider, status, id);
