package storage

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"

	"github.com/jobwatch/jobwatch/tracker"
)

// jobKeyRow names a job to delete: its row id, and its provider and
// external id, by which its alerts name it.
type jobKeyRow struct {
	ID         int64  `bun:"id"`
	Provider   string `bun:"provider"`
	ExternalID string `bun:"external_id"`
}

// DeleteJob deletes a job, its history and all its alerts; see
// tracker.Store.
func (s *Store) DeleteJob(ctx context.Context, provider, externalID string) error {
	err := s.inTx(ctx, func(tx bun.Tx) error {
		row, err := s.selectJob(ctx, tx, provider, externalID, true)
		if err != nil {
			return err
		}
		return deleteJobs(ctx, tx, []jobKeyRow{{row.ID, row.Provider, row.ExternalID}}, "")
	})
	s.jobs.drop([]tracker.JobKey{{Provider: provider, ExternalID: externalID}})
	if err != nil {
		return fmt.Errorf("delete job: %w", err)
	}
	return nil
}

// PruneJobs deletes the jobs that ended before a time with their history
// and sent alerts; see tracker.Store.
//
// It walks the jobs in id order, which is the order of registration, chunk
// jobs at a time: each chunk's jobs that ended (resolved, or untracked
// when never resolved) before the time are deleted in a short transaction
// of their own, and the walk stops after the first chunk holding no job
// registered before the time, since no later one can have ended before
// it. So no index on the end time is kept up for it, which every job's end
// would write on the ingest path; what a prune reads again each time is
// the old jobs still live.
func (s *Store) PruneJobs(ctx context.Context, before time.Time, chunk int) (int64, error) {
	var deleted, after int64
	before = before.UTC()
	for {
		var size, old int
		var last int64
		err := s.db.NewRaw(`SELECT count(*), coalesce(max(id), 0), coalesce(sum(CASE WHEN created_at < ? THEN 1 ELSE 0 END), 0)
FROM (SELECT id, created_at FROM jobs WHERE id > ? ORDER BY id LIMIT ?) AS c`, before, after, chunk).Scan(ctx, &size, &last, &old)
		if err != nil {
			return deleted, fmt.Errorf("prune jobs: find the next chunk: %w", err)
		}
		if old == 0 {
			return deleted, nil
		}
		q := `SELECT id, provider, external_id FROM jobs WHERE id > ? AND id <= ?
AND (resolved_at IS NOT NULL OR untracked_at IS NOT NULL) AND COALESCE(resolved_at, untracked_at) < ?`
		if s.postgres {
			// A job a writer holds is left for the next prune.
			q += " FOR UPDATE SKIP LOCKED"
		}
		var jobs []jobKeyRow
		err = s.inTx(ctx, func(tx bun.Tx) error {
			jobs = nil
			if err := tx.NewRaw(q, after, last, before).Scan(ctx, &jobs); err != nil {
				return fmt.Errorf("select ended jobs: %w", err)
			}
			return deleteJobs(ctx, tx, jobs, tracker.AlertSent)
		})
		ids := make([]int64, len(jobs))
		for i, j := range jobs {
			ids[i] = j.ID
		}
		s.jobs.dropIDs(ids)
		if err != nil {
			return deleted, fmt.Errorf("prune jobs: %w", err)
		}
		deleted += int64(len(jobs))
		if size < chunk {
			return deleted, nil
		}
		after = last
	}
}

// deleteJobs deletes jobs, their history, their alerts in alertState
// ("" for every state) and, on PostgreSQL, their leases, in the
// transaction tx.
func deleteJobs(ctx context.Context, tx bun.Tx, jobs []jobKeyRow, alertState tracker.AlertState) error {
	if len(jobs) == 0 {
		return nil
	}
	ids := make([]int64, len(jobs))
	keys := make([]string, len(jobs))
	var keyArgs []any
	for i, j := range jobs {
		ids[i] = j.ID
		keys[i] = "(?, ?)"
		keyArgs = append(keyArgs, j.Provider, j.ExternalID)
	}
	if _, err := tx.NewDelete().Table("events").Where("job_id IN (?)", bun.In(ids)).Exec(ctx); err != nil {
		return fmt.Errorf("delete history: %w", err)
	}
	q := tx.NewDelete().Table("alerts").Where("job_external_id <> '' AND (provider, job_external_id) IN ("+strings.Join(keys, ", ")+")", keyArgs...)
	if alertState != "" {
		q = q.Where("state = ?", alertState)
	}
	if _, err := q.Exec(ctx); err != nil {
		return fmt.Errorf("delete alerts: %w", err)
	}
	if _, err := tx.NewDelete().Table("jobs").Where("id IN (?)", bun.In(ids)).Exec(ctx); err != nil {
		return fmt.Errorf("delete jobs: %w", err)
	}
	if tx.Dialect().Name() == dialect.PG {
		if _, err := tx.NewDelete().Table("job_leases").Where("job_id IN (?)", bun.In(ids)).Exec(ctx); err != nil {
			return fmt.Errorf("delete leases: %w", err)
		}
	}
	return nil
}
