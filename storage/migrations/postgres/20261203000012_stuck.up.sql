-- status_since: when jobwatch first saw the job in its provider status;
-- stuck_status: the provider status a job.stuck alert was raised for, ''
-- when none (a change of provider status clears it).
ALTER TABLE jobs ADD COLUMN status_since TIMESTAMPTZ;
ALTER TABLE jobs ADD COLUMN stuck_status TEXT NOT NULL DEFAULT '';
