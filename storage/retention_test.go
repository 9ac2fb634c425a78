package storage_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/jobwatch/jobwatch/storage"
	"github.com/jobwatch/jobwatch/storage/storagetest"
)

// TestPruneJobsWalksTheEndedIndex: the selection of a chunk of ended jobs
// can use jobs_ended_idx on both backends, so a chunk costs O(chunk), not a
// scan of every job, live ones included.
func TestPruneJobsWalksTheEndedIndex(t *testing.T) {
	t.Parallel()
	for _, driver := range storagetest.Backends {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			s := storagetest.Open(t, driver)
			ctx := context.Background()
			var plan []string
			err := s.DB().RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
				explain := "EXPLAIN QUERY PLAN "
				if driver == storage.DriverPostgres {
					// The table is empty: only a plan that can use the
					// index avoids the scan it would cost then.
					if _, err := tx.ExecContext(ctx, "SET LOCAL enable_seqscan = off"); err != nil {
						return err
					}
					explain = "EXPLAIN (COSTS OFF) "
				}
				rows, err := tx.QueryContext(ctx, explain+storage.EndedJobs, time.Now(), 500)
				if err != nil {
					return err
				}
				defer rows.Close()
				cols, _ := rows.Columns()
				for rows.Next() {
					vals := make([]any, len(cols))
					ptrs := make([]any, len(cols))
					for i := range vals {
						ptrs[i] = &vals[i]
					}
					if err := rows.Scan(ptrs...); err != nil {
						return err
					}
					plan = append(plan, fmt.Sprint(vals...))
				}
				return rows.Err()
			})
			if err != nil {
				t.Fatal(err)
			}
			if text := strings.Join(plan, "\n"); !strings.Contains(text, "jobs_ended_idx") {
				t.Errorf("the chunk's selection does not use jobs_ended_idx:\n%s", text)
			}
		})
	}
}
