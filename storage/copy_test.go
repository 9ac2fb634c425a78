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

// More rows than one INSERT takes are copied whole, each event still
// pointing at its job, and PostgreSQL's next ids come after the copied.
func TestCopyInChunks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	from := storagetest.Open(t, storage.DriverSQLite)
	to := storagetest.Open(t, storage.DriverPostgres)
	now := time.Now().UTC()
	const n = 1234
	if _, err := from.DB().ExecContext(ctx, `INSERT INTO jobs (provider, external_id, kind, status, created_at, updated_at, last_heard_at)
WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < ?)
SELECT 'openai', 'batch_' || i, 'batch', 'running', ?, ?, ? FROM seq`, n, now, now, now); err != nil {
		t.Fatal(err)
	}
	// Each job's event names it by id; the ids run backwards from the
	// external ids' numbers, so that a copy that renumbered rows would show.
	if _, err := from.DB().ExecContext(ctx, `INSERT INTO events (id, provider, event_id, job_id, source, type, effect, occurred_at, recorded_at)
SELECT 100000 - id, provider, 'evt_' || external_id, id, 'webhook', 'batch.in_progress', 'applied', ?, ? FROM jobs`, now, now); err != nil {
		t.Fatal(err)
	}

	counts, err := storage.Copy(ctx, from, to)
	if err != nil {
		t.Fatal(err)
	}
	if counts[0] != (storage.TableCount{Table: "jobs", Rows: n}) || counts[1] != (storage.TableCount{Table: "events", Rows: n}) {
		t.Errorf("counts = %+v, want %d jobs and %d events first", counts, n, n)
	}
	for _, table := range []string{"jobs", "events"} {
		var rows int
		if err := to.DB().NewRaw("SELECT count(*) FROM "+table).Scan(ctx, &rows); err != nil || rows != n {
			t.Errorf("the target's %s holds %d rows (%v), want %d", table, rows, err, n)
		}
	}
	var wrong int
	if err := to.DB().NewRaw(`SELECT count(*) FROM events e JOIN jobs j ON j.id = e.job_id
WHERE e.event_id <> 'evt_' || j.external_id OR e.id <> 100000 - j.id`).Scan(ctx, &wrong); err != nil || wrong != 0 {
		t.Errorf("%d copied events point at another job than their own (%v)", wrong, err)
	}
	job, created, err := to.CreateJob(ctx, tracker.Job{Provider: "openai", Kind: tracker.KindBatch, ExternalID: "batch_new", Status: tracker.StatusPending,
		CreatedAt: now, UpdatedAt: now, LastHeardAt: now})
	if err != nil || !created || job.ID != n+1 {
		t.Errorf("a new job on the target: id %d, created %v, %v; want id %d", job.ID, created, err, n+1)
	}
}
