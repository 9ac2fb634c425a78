package storage

import (
	"context"
	"fmt"
	"strings"

	"github.com/uptrace/bun"

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
	if err != nil {
		return fmt.Errorf("delete job: %w", err)
	}
	return nil
}

// deleteJobs deletes jobs, their history and their alerts in alertState
// ("" for every state), in the transaction tx.
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
	return nil
}
