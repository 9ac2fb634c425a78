package bench

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/storage"
	"github.com/jobwatch/jobwatch/storage/storagetest"
	"github.com/jobwatch/jobwatch/tracker"
)

// TestSeedHistory checks that the seeded history is what History says,
// rows the store reads back as ingest would have left them.
func TestSeedHistory(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, s *storage.Store) {
		ctx := t.Context()
		now := time.Now().UTC()
		// 1,001 events make 251 jobs of four; the log keeps 100 ends.
		h, err := seedHistory(ctx, s, 1001, now, 7*24*time.Hour, 100)
		if err != nil {
			t.Fatal(err)
		}
		if h.Jobs != 251 || h.Events != 1004 || h.Deliveries != 100 || h.LastEventID != 1004 {
			t.Fatalf("seeded %+v, want 251 jobs, 1004 events, 100 deliveries, last event 1004", h)
		}
		count := func(q string) int {
			t.Helper()
			var n int
			if err := s.DB().NewRaw(q).Scan(ctx, &n); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
			return n
		}
		for q, want := range map[string]int{
			"SELECT count(*) FROM jobs WHERE status = 'succeeded' AND resolved_at IS NOT NULL AND next_poll_at IS NULL": 251,
			"SELECT count(*) FROM events":                            1004,
			"SELECT count(*) FROM events WHERE source = 'webhook'":   251,
			"SELECT count(*) FROM events WHERE event_id IS NOT NULL": 251,
			"SELECT count(*) FROM deliveries":                        100,
			// Each delivery is of a stored end, of the newest jobs.
			"SELECT count(*) FROM deliveries d JOIN events e ON e.provider = d.provider AND e.event_id = d.event_id AND e.source = 'webhook' " +
				"JOIN jobs j ON j.id = e.job_id AND j.external_id = d.job_id WHERE j.id > 151": 100,
		} {
			if got := count(q); got != want {
				t.Errorf("%s: %d, want %d", q, got, want)
			}
		}

		last, err := s.GetJob(ctx, "openai", "batch_hist_251")
		if err != nil {
			t.Fatal(err)
		}
		if last.Status != tracker.StatusSucceeded || last.ResolvedAt == nil || last.ResolvedBy != tracker.SourceWebhook ||
			last.Usage.TotalTokens != 150 || last.NextPollAt != nil {
			t.Errorf("last job %+v, want ended by webhook with 150 tokens, not polled", last)
		}
		if end := *last.ResolvedAt; end.After(now) || end.Before(now.Add(-2*time.Minute)) {
			t.Errorf("last job ended at %s, want within the 2 minutes before %s", end, now)
		}
		events, err := s.History(ctx, last.ID, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(events) != HistoryEventsPerJob {
			t.Fatalf("last job has %d events, want %d", len(events), HistoryEventsPerJob)
		}
		var end *tracker.Event
		for i, e := range events {
			if e.Source == tracker.SourceWebhook {
				end = &events[i]
			}
		}
		if end == nil || end.EventID != "evt_hist_251" || end.Type != "batch.completed" || !end.RecordedAt.Equal(*last.ResolvedAt) {
			t.Errorf("last job's events %+v, want its end evt_hist_251 by webhook at %s", events, last.ResolvedAt)
		}
		first, err := s.GetJob(ctx, "openai", "batch_hist_1")
		if err != nil {
			t.Fatal(err)
		}
		if gap := last.ResolvedAt.Sub(*first.ResolvedAt); gap != 250*time.Minute {
			t.Errorf("first and last jobs ended %s apart, want 250 minutes", gap)
		}
	})
}

// TestSeedHistoryDeliveriesWithinRetention checks that only the ends
// received within the delivery log's retention are in it.
func TestSeedHistoryDeliveriesWithinRetention(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, s *storage.Store) {
		h, err := seedHistory(t.Context(), s, 400, time.Now().UTC(), 30*time.Minute, 1000)
		if err != nil {
			t.Fatal(err)
		}
		// 100 jobs a minute apart: the newest 30 ended within 30 minutes.
		var n int
		if err := s.DB().NewRaw("SELECT count(*) FROM deliveries").Scan(t.Context(), &n); err != nil {
			t.Fatal(err)
		}
		if h.Deliveries != 30 || n != 30 {
			t.Errorf("%d deliveries stored, %d said; want 30", n, h.Deliveries)
		}
	})
}

// TestIngestAfterHistory checks that a run over a seeded history counts
// only its own events, and that its checks hold.
func TestIngestAfterHistory(t *testing.T) {
	for _, workload := range []string{WorkloadAdopt, WorkloadRegistered} {
		for _, driver := range storagetest.Backends {
			t.Run(fmt.Sprintf("%s/%s", workload, driver), func(t *testing.T) {
				dsn := ""
				if driver == storage.DriverPostgres {
					if dsn = os.Getenv(EnvPostgresDSN); dsn == "" {
						t.Skipf("set %s to run the PostgreSQL bench", EnvPostgresDSN)
					}
				}
				res, err := Ingest(t.Context(), IngestOptions{Storage: driver, DSN: dsn, Workload: workload, History: 2000,
					Concurrency: 4, Duration: 400 * time.Millisecond, Rounds: 2})
				if err != nil {
					t.Fatal(err)
				}
				if res.History.Events != 2000 || res.History.Jobs != 500 {
					t.Errorf("history %+v, want 2000 events of 500 jobs", res.History)
				}
				if res.Jobwatch.OK == 0 || res.Stored != res.expectedStored() {
					t.Errorf("answered %d, stored %d, want some, as many as expected (%d)", res.Jobwatch.OK, res.Stored, res.expectedStored())
				}
			})
		}
	}
}
