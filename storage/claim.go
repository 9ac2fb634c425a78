package storage

import (
	"context"
	"fmt"
	"time"

	"github.com/jobwatch/jobwatch/tracker"
)

// The due-job claim, once per dialect. Both walk jobs_due_idx (a partial
// index on next_poll_at of live jobs) in order and stop after the limit, so a
// claim costs O(claimed jobs), not O(all jobs); the jobs a running sweep
// holds stay in the index range and are passed over.
//
// On PostgreSQL the lease is a row of job_leases naming the job's version
// (xmin) at the claim: the claim locks the jobs it takes, skipping those
// another replica's claim holds locked, and writes no job, so that the
// poll's write is the job's one new row version (migration
// 20261204000017). A lease holds until it expires or the job is written.
// Two claims that both found a job unleased (one committed between the
// other's snapshot and its lock) meet on the lease's primary key, where
// the conflict clause gives it to the first alone.
//
// SQLite has one writer, so the statement alone is atomic; its lease is
// the column lease_until, which every write of the job clears.
const (
	// claimPostgres is prepared (see statements) with the columns to
	// return: $1 is now, $2 the lease's end, $3 the limit.
	claimPostgres = `WITH candidates AS (
	SELECT id, xmin AS version FROM jobs
	WHERE next_poll_at <= $1 AND (lease_until IS NULL OR lease_until <= $1)
		AND COALESCE((SELECT l.lease_until FROM job_leases AS l WHERE l.job_id = jobs.id AND l.version = jobs.xmin), '-infinity') <= $1
	ORDER BY next_poll_at
	LIMIT $3
	FOR UPDATE SKIP LOCKED
), leased AS (
	INSERT INTO job_leases (job_id, version, lease_until)
	SELECT id, version, $2 FROM candidates
	ON CONFLICT (job_id) DO UPDATE SET version = excluded.version, lease_until = excluded.lease_until
	WHERE job_leases.lease_until <= $1 OR job_leases.version IS DISTINCT FROM excluded.version
	RETURNING job_id
)
SELECT %s FROM jobs WHERE id = ANY (ARRAY(SELECT job_id FROM leased))`
	claimSQLite = `UPDATE jobs SET lease_until = ?1
WHERE id IN (
	SELECT id FROM jobs
	WHERE next_poll_at <= ?0 AND (lease_until IS NULL OR lease_until <= ?0)
	ORDER BY next_poll_at
	LIMIT ?2)
RETURNING ` + claimColumns
)

// claimColumns are what a SQLite claim returns: what a sweep needs of a
// claimed job to poll it and schedule the next poll; the rest a poll's
// observation reads afresh. parent_id is there because some jobs cannot be
// polled without it (an OpenAI eval run's eval id); provider_status,
// status_since and stuck_status for the stuck check.
//
// A PostgreSQL claim returns the whole rows and their versions instead
// (jobSelectPostgres), which the job cache takes, so that the poll's
// observation of each claimed job skips the read (one round trip a group
// commit; the read took 1.8 ms of each 6.1 ms batch, README, The sweep). The
// claim read the row under its lock, so it is current; a job changed
// since, by a webhook or another replica, fails the write's version guard
// like any stale cached row.
const claimColumns = "id, provider, external_id, parent_id, kind, status, provider_status, created_at, last_heard_at, quiet_polls, webhook_due_by, alert_held_until, status_since, stuck_status"

// ClaimDue leases due jobs; see tracker.Store.
func (s *Store) ClaimDue(ctx context.Context, p tracker.ClaimParams) ([]tracker.Job, error) {
	now := p.Now.UTC()
	rows, err := s.claim(ctx, now, now.Add(p.Lease), p.Limit)
	if err != nil {
		return nil, fmt.Errorf("claim due jobs: %w", err)
	}
	// The claimed rows were read under the claim's lock: the jobs' newest
	// versions.
	s.jobs.put(rows)
	out := make([]tracker.Job, len(rows))
	for i := range rows {
		out[i] = rows[i].state()
	}
	return out, nil
}

// claim runs the dialect's claim: on PostgreSQL the prepared statement,
// which spares each claim the parsing of its text. PostgreSQL still plans
// each execution with its values: a generic plan, blind to the limit, is
// costed a hundred times higher (and would be compiled by JIT, 30 to 90 ms
// a claim), so the plan cache keeps to custom plans.
func (s *Store) claim(ctx context.Context, now, until time.Time, limit int) ([]jobRow, error) {
	if !s.postgres {
		var rows []jobRow
		err := s.db.NewRaw(claimSQLite, now, until, limit).Scan(ctx, &rows)
		return rows, err
	}
	st, err := s.statements(ctx)
	if err != nil {
		return nil, err
	}
	r, err := st.claim.QueryContext(ctx, now, until, limit)
	if err != nil {
		return nil, err
	}
	return scanJobRows(r)
}

// Reschedule sets a live job's next poll; see tracker.Store.
func (s *Store) Reschedule(ctx context.Context, jobID int64, next time.Time, quietPolls int) error {
	var at *time.Time
	if !next.IsZero() {
		at = utcPtr(&next)
	}
	_, err := s.db.NewUpdate().Model((*jobRow)(nil)).
		Set("next_poll_at = ?", at).
		Set("quiet_polls = ?", quietPolls).
		Set("lease_until = NULL").
		Where("id = ? AND next_poll_at IS NOT NULL", jobID).
		Exec(ctx)
	s.jobs.dropIDs([]int64{jobID})
	if err != nil {
		return fmt.Errorf("reschedule job %d: %w", jobID, err)
	}
	return nil
}
