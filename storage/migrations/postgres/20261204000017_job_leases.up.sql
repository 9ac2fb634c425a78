-- A sweep's claim of a due job is a row here, not a write of the job: the
-- claim locks the job (FOR UPDATE SKIP LOCKED, which writes no new row
-- version) and records the lease, with the job's row version (xmin) at the
-- claim. Writing jobs.lease_until instead made every claimed job a new row
-- version with an entry in each of the jobs indexes, and the poll's write
-- then made a second one. A lease holds while it has not expired and the
-- job is still that version: any write of the job (the poll's result, a
-- webhook, a reschedule) ends it, as setting lease_until to NULL did.
-- Leases are deleted with their jobs. jobs.lease_until stays, no longer
-- written on PostgreSQL, and a claim still honours it, so that a lease
-- taken before this migration holds to its end.
CREATE TABLE IF NOT EXISTS job_leases (
    job_id      BIGINT PRIMARY KEY,
    version     XID NOT NULL,
    lease_until TIMESTAMPTZ NOT NULL
);
