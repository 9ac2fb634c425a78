-- untracked_at: when a person stopped tracking the job (NULL while it is
-- tracked); an untracked job has no next_poll_at, so no sweep claims it.
ALTER TABLE jobs ADD COLUMN untracked_at TIMESTAMP;

-- job_external_id: the external id of the job an alert is about ('' for
-- none), beside its provider, so that a job's alerts can be found when the
-- job is pruned or purged. Alerts raised before it take it from their
-- payload.
ALTER TABLE alerts ADD COLUMN job_external_id TEXT NOT NULL DEFAULT '';
UPDATE alerts SET job_external_id = json_extract(payload, '$.job.id')
    WHERE job_external_id = '' AND json_extract(payload, '$.job.id') IS NOT NULL;
CREATE INDEX IF NOT EXISTS alerts_job_idx ON alerts (provider, job_external_id) WHERE job_external_id <> '';
