package console_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/storage"
	"github.com/jobwatch/jobwatch/storage/storagetest"
	"github.com/jobwatch/jobwatch/tracker"
	"github.com/jobwatch/jobwatch/tracker/httpapi"
)

// benchJobs is how many jobs the console's pages are measured over.
const benchJobs = 100_000

// BenchmarkPages renders each page of the console over 100,000 jobs on
// each backend: ms/page is the figure, under 100 to pass the console's bar.
// The jobs are of three providers, each with a third of its jobs ended by
// webhook, a third by poll and a third running, each job with a label and
// one history row.
func BenchmarkPages(b *testing.B) {
	for _, driver := range storagetest.Backends {
		b.Run(driver, func(b *testing.B) {
			s := storagetest.Open(b, driver)
			now := time.Now().UTC()
			seedJobs(b, s, now)
			tr := tracker.New(s, tracker.Options{StaleAfter: 10 * time.Minute, Alerting: &tracker.Alerting{
				Thresholds: []tracker.Threshold{{Name: "daily-tokens", Metric: "tokens", Window: "day", Limit: 1_000_000}}}})
			api := httpapi.New(httpapi.Options{Tracker: tr, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), MaxBodyBytes: 1 << 20})
			for _, page := range []string{
				"/ui/",
				"/ui/jobs",
				"/ui/jobs?status=failed",
				"/ui/jobs?label=team%3Dteam7",
				"/ui/jobs?provider=p1&status=running",
				"/ui/jobs/p1/job_50000",
				"/ui/deliveries",
				"/ui/alerts",
				"/ui/usage",
			} {
				b.Run(page, func(b *testing.B) {
					for b.Loop() {
						w := httptest.NewRecorder()
						api.ServeHTTP(w, httptest.NewRequest(http.MethodGet, page, nil))
						if w.Code != http.StatusOK {
							b.Fatalf("GET %s = %d %s", page, w.Code, w.Body)
						}
					}
					b.ReportMetric(float64(b.Elapsed())/float64(b.N)/float64(time.Millisecond), "ms/page")
				})
			}
		})
	}
}

// seedJobs adopts benchJobs jobs through Store.Apply, 1000 at a time, and
// labels them.
func seedJobs(b *testing.B, s *storage.Store, now time.Time) {
	b.Helper()
	rules := func(string, tracker.Kind) tracker.Rules { return tracker.Rules{StaleAfter: 10 * time.Minute} }
	const batch = 1000
	for start := 0; start < benchJobs; start += batch {
		items := make([]tracker.ApplyItem, batch)
		for j := range items {
			n := start + j
			obs := &tracker.Observation{Provider: fmt.Sprintf("p%d", n/3%3), ExternalID: fmt.Sprintf("job_%d", n), Kind: tracker.KindBatch,
				OccurredAt: now, Payload: []byte(`{"seeded":true}`)}
			switch n % 3 {
			case 0:
				obs.Status, obs.ProviderStatus, obs.Source, obs.EventID = tracker.StatusSucceeded, "completed", tracker.SourceWebhook, fmt.Sprintf("evt_%d", n)
			case 1:
				obs.Status, obs.ProviderStatus, obs.Source = tracker.StatusFailed, "failed", tracker.SourcePoll
			default:
				obs.Status, obs.ProviderStatus, obs.Source = tracker.StatusRunning, "in_progress", tracker.SourcePoll
			}
			items[j] = tracker.ApplyItem{Adopt: true, Observation: obs}
		}
		if _, err := s.Apply(context.Background(), tracker.ApplyParams{Now: now, Items: items, Rules: rules}); err != nil {
			b.Fatalf("seed jobs: %v", err)
		}
	}
	// An observation brings no labels: give each job one of 50 teams.
	labels := "json_object('team', 'team' || (id % 50))"
	if s.Dialect() == storage.DriverPostgres {
		labels = "jsonb_build_object('team', 'team' || (id % 50))"
	}
	if _, err := s.DB().ExecContext(context.Background(), "UPDATE jobs SET labels = "+labels); err != nil {
		b.Fatalf("label jobs: %v", err)
	}
	// As autovacuum leaves a table after a bulk load: statistics fresh,
	// PostgreSQL's visibility map set, so that index-only scans are.
	analyze := "ANALYZE"
	if s.Dialect() == storage.DriverPostgres {
		analyze = "VACUUM ANALYZE jobs"
	}
	if _, err := s.DB().ExecContext(context.Background(), analyze); err != nil {
		b.Fatalf("analyze: %v", err)
	}
}
