-- jobs_provider_status_idx of 20261203000015 is dropped on SQLite too, as
-- on PostgreSQL (20261203000016): every webhook that adopts or ends a job
-- writes it, and the job list it served, by provider and status, walks
-- jobs_status_idx in id order instead (1.9 ms a page over 100,000 jobs,
-- BenchmarkPages). Without it jobwatch bench ingest --storage sqlite
-- --floor answered 1.03-1.11 times its ratio to the floor receiver (3
-- alternated pairs). jobs_summary_idx stays: without it the overview scans
-- the table (246 ms against 53 ms over 100,000 jobs).
DROP INDEX IF EXISTS jobs_provider_status_idx;
