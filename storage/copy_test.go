package storage_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/storage"
	"github.com/jobwatch/jobwatch/storage/storagetest"
	"github.com/jobwatch/jobwatch/tracker"
)

// A column and a table that a later migration adds to both stores come
// along with Copy, which names neither; a column only the target has takes
// its default.
func TestCopyTakesColumnsAndTablesItDoesNotName(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	from := storagetest.Open(t, storage.DriverSQLite)
	to := storagetest.Open(t, storage.DriverPostgres)
	now := time.Now().UTC()
	job, _, err := from.CreateJob(ctx, tracker.Job{Provider: "openai", Kind: tracker.KindBatch, ExternalID: "batch_1", Status: tracker.StatusPending,
		CreatedAt: now, UpdatedAt: now, LastHeardAt: now})
	if err != nil {
		t.Fatal(err)
	}
	for _, ddl := range []struct {
		s    *storage.Store
		stmt string
	}{
		{from, "ALTER TABLE jobs ADD COLUMN untracked_note TEXT NOT NULL DEFAULT ''"},
		{to, "ALTER TABLE jobs ADD COLUMN untracked_note TEXT NOT NULL DEFAULT ''"},
		{to, "ALTER TABLE jobs ADD COLUMN target_only INTEGER NOT NULL DEFAULT 7"},
		{from, "CREATE TABLE untracked_jobs (provider TEXT NOT NULL, external_id TEXT NOT NULL, seen_at TIMESTAMP NOT NULL)"},
		{to, "CREATE TABLE untracked_jobs (provider TEXT NOT NULL, external_id TEXT NOT NULL, seen_at TIMESTAMPTZ NOT NULL)"},
	} {
		if _, err := ddl.s.DB().ExecContext(ctx, ddl.stmt); err != nil {
			t.Fatalf("%s: %v", ddl.stmt, err)
		}
	}
	if _, err := from.DB().ExecContext(ctx, "UPDATE jobs SET untracked_note = 'kept' WHERE id = ?", job.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := from.DB().ExecContext(ctx, "INSERT INTO untracked_jobs VALUES ('openai', 'batch_x', ?)", now); err != nil {
		t.Fatal(err)
	}

	counts, err := storage.Copy(ctx, from, to)
	if err != nil {
		t.Fatal(err)
	}
	if last := counts[len(counts)-1]; last != (storage.TableCount{Table: "untracked_jobs", Rows: 1}) {
		t.Errorf("last table copied = %+v, want untracked_jobs with 1 row", last)
	}
	var (
		note   string
		target int
		seen   time.Time
	)
	if err := to.DB().NewRaw("SELECT untracked_note, target_only FROM jobs WHERE id = ?", job.ID).Scan(ctx, &note, &target); err != nil || note != "kept" || target != 7 {
		t.Errorf("copied job: untracked_note %q, target_only %d, %v; want kept and the default 7", note, target, err)
	}
	if err := to.DB().NewRaw("SELECT seen_at FROM untracked_jobs WHERE external_id = 'batch_x'").Scan(ctx, &seen); err != nil || !seen.Equal(now.Truncate(time.Microsecond)) {
		t.Errorf("copied untracked_jobs row: seen_at %v, %v; want %v", seen, err, now)
	}

	// A second copy would mix two histories.
	if _, err := storage.Copy(ctx, from, to); !errors.Is(err, storage.ErrTargetNotEmpty) {
		t.Errorf("copy into a store with rows = %v, want ErrTargetNotEmpty", err)
	}
}
