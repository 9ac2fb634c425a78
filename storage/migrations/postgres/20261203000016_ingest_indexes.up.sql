-- The console's two indexes of 20261203000015 are dropped on PostgreSQL:
-- written by every webhook that adopts or ends a job, they cut ingest to
-- about 0.37 of its rate (jobwatch bench ingest --storage postgres: 0.08 of
-- the baseline with them, 0.22 without), while the overview's scan of the
-- table and the job lists' other indexes serve the console well enough
-- (README, Web console). SQLite keeps them: its ingest does not slow.
DROP INDEX IF EXISTS jobs_summary_idx;
DROP INDEX IF EXISTS jobs_provider_status_idx;
