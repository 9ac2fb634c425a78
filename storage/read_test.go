package storage_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lib/pq"

	"github.com/jobwatch/jobwatch/storage"
	"github.com/jobwatch/jobwatch/storage/storagetest"
	"github.com/jobwatch/jobwatch/tracker"
)

// TestReadJobsProbesTheIndexOnAFreshTable fills a table that has never been
// analyzed, as a burst of adopting webhooks fills a new database, and checks
// that reading a few of its jobs touches only those jobs. A plain
// "external_id IN (...)" read was planned there as a scan of every job of
// the provider, filtered: one such read per batch made ingest slower with
// every job it stored.
func TestReadJobsProbesTheIndexOnAFreshTable(t *testing.T) {
	t.Parallel()
	s := unanalysedStore(t)
	ctx := context.Background()
	fill(t, s, "batch", false)
	// A batch's worth of ids: 62 jobs of the table and two it lacks.
	want := []string{}
	for i := range 62 {
		want = append(want, fmt.Sprintf("batch%d_%d", 39-i%40, i*7))
	}
	ids := pq.Array(append(slices.Clone(want), "batch_none", "batch40_0"))
	strs := func(query string) []string {
		t.Helper()
		rows, err := s.DB().DB.QueryContext(ctx, query, ids, "openai")
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		if err := s.DB().ScanRows(ctx, rows, &got); err != nil {
			t.Fatal(err)
		}
		return got
	}
	plan := strs("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) " + storage.ReadJobsPostgres)
	text := strings.Join(plan, "\n")
	if strings.Contains(text, "Rows Removed by Filter") || strings.Contains(text, "Seq Scan") || !strings.Contains(text, "jobs_provider_external_id_key") {
		t.Errorf("the read does not probe the unique index key by key:\n%s", text)
	}
	found := strs(strings.Replace(storage.ReadJobsPostgres, "SELECT j.*", "SELECT j.external_id", 1))
	if !slices.Equal(found, want) {
		t.Errorf("read %v, want %v: the jobs there are, in the order asked", found, want)
	}
}

// TestUpdateProbesThePrimaryKeyOnAGrownTable applies observations of
// tracked jobs in a table grown faster than autovacuum analyses it, as a
// daemon's first day can: the update must find the jobs by key, not scan
// every job for each batch (as the hash join planned for the unanalysed
// table did).
func TestUpdateProbesThePrimaryKeyOnAGrownTable(t *testing.T) {
	t.Parallel()
	s := unanalysedStore(t)
	fill(t, s, "batch", false)
	before := seqScanned(t, s, "jobs")
	for range 8 {
		apply(t, s, observations("batch7", 16, tracker.StatusRunning, false, false))
		apply(t, s, observations("batch7", 16, tracker.StatusPending, false, false))
	}
	if n := seqScanned(t, s, "jobs") - before; n > 5000 {
		t.Errorf("16 batches of 16 updates read %d job rows sequentially, want them found by key", n)
	}
}

// TestDedupeProbesTheIndexOnAGrownTable redelivers events into an events
// table grown faster than autovacuum analyses it: finding which were seen
// must probe the unique index, not scan every event.
func TestDedupeProbesTheIndexOnAGrownTable(t *testing.T) {
	t.Parallel()
	s := unanalysedStore(t)
	fill(t, s, "batch", true)
	before := seqScanned(t, s, "events")
	for range 8 {
		if res := apply(t, s, observations("batch7", 16, tracker.StatusPending, true, true)); !res[0].Duplicate {
			t.Fatalf("redelivered event: %+v, want a duplicate", res[0])
		}
	}
	if n := seqScanned(t, s, "events") - before; n > 5000 {
		t.Errorf("8 batches of 16 redeliveries read %d event rows sequentially, want them found by key", n)
	}
}

// unanalysedStore opens a PostgreSQL store whose tables autovacuum leaves
// alone, so that no analyze corrects the planner's view of what a test
// fills.
func unanalysedStore(t *testing.T) *storage.Store {
	t.Helper()
	s := storagetest.Open(t, storage.DriverPostgres)
	for _, table := range []string{"jobs", "events", "deliveries"} {
		if _, err := s.DB().ExecContext(context.Background(), "ALTER TABLE "+table+" SET (autovacuum_enabled = false)"); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// fill adopts 20,000 pending jobs, prefix0_0 to prefix39_499, in batches of
// 500, from webhook events when events is set.
func fill(t *testing.T, s *storage.Store, prefix string, events bool) {
	t.Helper()
	for b := range 40 {
		apply(t, s, observations(fmt.Sprintf("%s%d", prefix, b), 500, tracker.StatusPending, true, events))
	}
}

// observations are n observations of jobs prefix_0 to prefix_n-1 at status,
// from webhook events (evt_prefix_i) when events is set, else from polls.
func observations(prefix string, n int, status tracker.Status, adopt, events bool) []tracker.ApplyItem {
	items := make([]tracker.ApplyItem, n)
	for i := range items {
		o := &tracker.Observation{Provider: "openai", Kind: tracker.KindBatch, ExternalID: fmt.Sprintf("%s_%d", prefix, i),
			Status: status, Source: tracker.SourcePoll, OccurredAt: time.Now()}
		if events {
			o.Source, o.EventID, o.Type, o.Payload = tracker.SourceWebhook, fmt.Sprintf("evt_%s_%d", prefix, i), "batch.in_progress", []byte(`{}`)
		}
		items[i] = tracker.ApplyItem{Adopt: adopt, Observation: o}
	}
	return items
}

// apply applies items as one batch.
func apply(t *testing.T, s *storage.Store, items []tracker.ApplyItem) []tracker.Result {
	t.Helper()
	res, err := s.Apply(context.Background(), tracker.ApplyParams{Now: time.Now(), Items: items,
		Rules: func(string, tracker.Kind) tracker.Rules { return tracker.Rules{StaleAfter: time.Hour} }})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// seqScanned is how many rows of table PostgreSQL has read by sequential
// scans so far.
func seqScanned(t *testing.T, s *storage.Store, table string) int64 {
	t.Helper()
	ctx := context.Background()
	// A backend's statistics reach the shared counters when it flushes
	// them; one connection of the pool may not have yet.
	if err := s.DB().QueryRowContext(ctx, "SELECT pg_stat_force_next_flush()").Err(); err != nil {
		t.Fatal(err)
	}
	var n int64
	if err := s.DB().QueryRowContext(ctx, "SELECT seq_tup_read FROM pg_stat_user_tables WHERE relname = ?", table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
