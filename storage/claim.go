package storage

import (
	"context"
	"fmt"
	"time"

	"github.com/jobwatch/jobwatch/tracker"
)

// The due-job claim, once per dialect. Both walk jobs_due_idx (a partial
// index on next_poll_at of live jobs) in order and stop after the limit, so a
// claim costs O(claimed jobs), not O(all jobs). PostgreSQL skips rows another
// replica's claim holds locked; SQLite has one writer, so the statement alone
// is atomic.
const (
	claimPostgres = `UPDATE jobs SET next_poll_at = ?
WHERE id IN (
	SELECT id FROM jobs
	WHERE next_poll_at <= ?
	ORDER BY next_poll_at
	LIMIT ?
	FOR UPDATE SKIP LOCKED)
RETURNING *`
	claimSQLite = `UPDATE jobs SET next_poll_at = ?
WHERE id IN (
	SELECT id FROM jobs
	WHERE next_poll_at <= ?
	ORDER BY next_poll_at
	LIMIT ?)
RETURNING *`
)

// ClaimDue leases due jobs; see tracker.Store.
func (s *Store) ClaimDue(ctx context.Context, p tracker.ClaimParams) ([]tracker.Job, error) {
	q := claimSQLite
	if s.postgres {
		q = claimPostgres
	}
	var rows []jobRow
	now := p.Now.UTC()
	if err := s.db.NewRaw(q, now.Add(p.Lease), now, p.Limit).Scan(ctx, &rows); err != nil {
		return nil, fmt.Errorf("claim due jobs: %w", err)
	}
	jobs := make([]tracker.Job, len(rows))
	for i, r := range rows {
		j, err := r.job()
		if err != nil {
			return nil, err
		}
		jobs[i] = j
	}
	return jobs, nil
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
		Where("id = ? AND next_poll_at IS NOT NULL", jobID).
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("reschedule job %d: %w", jobID, err)
	}
	return nil
}
