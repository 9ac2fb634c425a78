package storage_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/jobwatch/jobwatch/storage"
	"github.com/jobwatch/jobwatch/storage/storagetest"
	"github.com/jobwatch/jobwatch/tracker"
)

// BenchmarkApply measures Store.Apply on batches of webhook observations
// that each adopt a new job (the ingest path): events/s is the figure.
func BenchmarkApply(b *testing.B) {
	for _, driver := range storagetest.Backends {
		for _, size := range []int{1, 16, 64} {
			b.Run(fmt.Sprintf("%s/batch=%d", driver, size), func(b *testing.B) {
				s := storagetest.Open(b, driver)
				rules := func(string, tracker.Kind) tracker.Rules { return tracker.Rules{StaleAfter: 10 * time.Minute} }
				n := 0
				b.ReportAllocs()
				for b.Loop() {
					items := make([]tracker.ApplyItem, size)
					for i := range items {
						n++
						items[i] = tracker.ApplyItem{Adopt: true,
							Observation: &tracker.Observation{Provider: "openai", ExternalID: fmt.Sprintf("batch_%d", n), Kind: tracker.KindBatch,
								Status: tracker.StatusSucceeded, ProviderStatus: "completed", Source: tracker.SourceWebhook, EventID: fmt.Sprintf("evt_%d", n),
								Type: "batch.completed", OccurredAt: time.Now(), PollNow: true, Payload: []byte(`{"id":"evt"}`)},
							Delivery: &tracker.Delivery{Provider: "openai", ReceivedAt: time.Now(), Outcome: tracker.OutcomeAccepted, StatusCode: 200}}
					}
					if _, err := s.Apply(context.Background(), tracker.ApplyParams{Now: time.Now(), Items: items, Rules: rules}); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
			})
		}
	}
}

// BenchmarkClaimDue measures one claim of 500 due jobs among 20,000.
func BenchmarkClaimDue(b *testing.B) {
	for _, driver := range storagetest.Backends {
		b.Run(driver, func(b *testing.B) {
			s := storagetest.Open(b, driver)
			ctx := context.Background()
			now := time.Now().UTC()
			seedRunning(b, s, 20000, now, -time.Minute) // all due
			analyzeJobs(b, s)
			b.ResetTimer()
			for b.Loop() {
				jobs, err := s.ClaimDue(ctx, tracker.ClaimParams{Now: now, Lease: time.Minute, Limit: 500})
				if err != nil || len(jobs) != 500 {
					b.Fatalf("claimed %d, %v", len(jobs), err)
				}
				b.StopTimer()
				dueAgain(b, s, jobs, now.Add(-time.Minute))
				b.StartTimer()
			}
		})
	}
}

// BenchmarkClaimAndPoll measures a sweep's storage work on one claim: the
// claim of 500 due jobs among 20,000, then the applies of their polls'
// answers (progress, with request counts) in batches of 32, as the group
// commit makes them. polls/s is the figure.
func BenchmarkClaimAndPoll(b *testing.B) {
	for _, driver := range storagetest.Backends {
		b.Run(driver, func(b *testing.B) {
			s := storagetest.Open(b, driver)
			ctx := context.Background()
			rules := func(string, tracker.Kind) tracker.Rules { return tracker.Rules{StaleAfter: 10 * time.Minute} }
			seedRunning(b, s, 20000, time.Now().UTC(), -time.Minute) // all due
			analyzeJobs(b, s)
			polls := 0
			b.ResetTimer()
			for b.Loop() {
				now := time.Now().UTC()
				jobs, err := s.ClaimDue(ctx, tracker.ClaimParams{Now: now, Lease: time.Minute, Limit: 500})
				if err != nil || len(jobs) != 500 {
					b.Fatalf("claimed %d, %v", len(jobs), err)
				}
				for start := 0; start < len(jobs); start += 32 {
					batch := jobs[start:min(start+32, len(jobs))]
					items := make([]tracker.ApplyItem, len(batch))
					for i, j := range batch {
						polls++
						items[i] = tracker.ApplyItem{Observation: &tracker.Observation{Provider: j.Provider, ExternalID: j.ExternalID, Kind: tracker.KindBatch,
							Status: tracker.StatusRunning, ProviderStatus: "in_progress", Source: tracker.SourcePoll, OccurredAt: now,
							Usage: &tracker.Usage{RequestsTotal: 100, RequestsCompleted: int64(polls % 100)}, Payload: []byte(`{"id":"batch","status":"in_progress"}`)}}
					}
					if _, err := s.Apply(ctx, tracker.ApplyParams{Now: now, Items: items, Rules: rules}); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				dueAgain(b, s, jobs, now.Add(-time.Minute))
				b.StartTimer()
			}
			b.ReportMetric(float64(polls)/b.Elapsed().Seconds(), "polls/s")
		})
	}
}

// analyzeJobs refreshes the planner's statistics of the jobs table, as
// autovacuum keeps them for a daemon's claims: a claim over a table never
// analysed is planned as a sort of every due job, which is what it costs
// a new database's first minute, not a running daemon's claims.
func analyzeJobs(b *testing.B, s *storage.Store) {
	b.Helper()
	if _, err := s.DB().ExecContext(context.Background(), "ANALYZE jobs"); err != nil {
		b.Fatal(err)
	}
}

// dueAgain makes jobs due at at, unleased, for the next claim.
func dueAgain(b *testing.B, s *storage.Store, jobs []tracker.Job, at time.Time) {
	b.Helper()
	ids := make([]int64, len(jobs))
	for i, j := range jobs {
		ids[i] = j.ID
	}
	if _, err := s.DB().NewUpdate().Table("jobs").Set("next_poll_at = ?", at).Set("lease_until = NULL").Where("id IN (?)", bun.In(ids)).Exec(context.Background()); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkApplyToTracked measures Store.Apply on batches of webhook
// observations about jobs tracked before (the usual case: registered
// right after submission), among 20,000 others: events/s is the figure.
func BenchmarkApplyToTracked(b *testing.B) {
	for _, driver := range storagetest.Backends {
		b.Run(driver, func(b *testing.B) {
			s := storagetest.Open(b, driver)
			ctx := context.Background()
			rules := func(string, tracker.Kind) tracker.Rules { return tracker.Rules{StaleAfter: 10 * time.Minute} }
			const tracked = 20000
			seedRunning(b, s, tracked, time.Now(), 10*time.Minute)
			n := 0
			b.ResetTimer()
			for b.Loop() {
				items := make([]tracker.ApplyItem, 16)
				for i := range items {
					n++
					items[i] = tracker.ApplyItem{Observation: &tracker.Observation{Provider: "openai", ExternalID: fmt.Sprintf("batch_%d", n*7919%tracked), Kind: tracker.KindBatch,
						Status: tracker.StatusRunning, ProviderStatus: "in_progress", Source: tracker.SourceWebhook, EventID: fmt.Sprintf("evt_%d", n),
						Type: "batch.in_progress", OccurredAt: time.Now(), Payload: []byte(`{"id":"evt"}`)},
						Delivery: &tracker.Delivery{Provider: "openai", ReceivedAt: time.Now(), Outcome: tracker.OutcomeAccepted, StatusCode: 200}}
				}
				if _, err := s.Apply(ctx, tracker.ApplyParams{Now: time.Now(), Items: items, Rules: rules}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// BenchmarkApplyFinishing measures Store.Apply on batches of 16 webhooks
// that each finish a tracked job with usage, among 20,000 jobs, with
// alerting on (a route of every job alert to one notifier, a daily token
// threshold): the batches that raise alerts and account usage. events/s is
// the figure.
func BenchmarkApplyFinishing(b *testing.B) {
	benchmarkFinishing(b, false)
}

// BenchmarkApplyRegistered is BenchmarkApplyFinishing on jobs registered
// (Store.CreateJob, out of the measure) just before the batch that ends
// them, as applications register their jobs and webhooks end them, with
// the route and no threshold (as jobwatch bench ingest --workload
// registered runs).
func BenchmarkApplyRegistered(b *testing.B) {
	benchmarkFinishing(b, true)
}

// benchmarkFinishing measures batches of 16 webhooks that finish jobs with
// usage, alerting on, among 20,000 seeded jobs: the seeded ones in turn, or
// with register, 16 jobs registered before each batch (and no threshold).
func benchmarkFinishing(b *testing.B, register bool) {
	for _, driver := range storagetest.Backends {
		b.Run(driver, func(b *testing.B) {
			s := storagetest.Open(b, driver)
			ctx := context.Background()
			rules := func(string, tracker.Kind) tracker.Rules { return tracker.Rules{StaleAfter: 10 * time.Minute} }
			alerting := &tracker.Alerting{
				Routes: []tracker.Route{{Events: []string{"job.*"}, Notifiers: []string{"ops"}}},
			}
			if !register {
				alerting.Thresholds = []tracker.Threshold{{Name: "daily", Metric: "tokens", Window: "day", Limit: 1 << 62, Levels: []float64{0.8, 1}}}
			}
			const tracked = 20000
			seedRunning(b, s, tracked, time.Now(), 10*time.Minute)
			n := 0
			b.ResetTimer()
			for b.Loop() {
				ids := make([]string, 16)
				for i := range ids {
					ids[i] = fmt.Sprintf("batch_%d", n+i)
				}
				if register {
					b.StopTimer()
					now := time.Now()
					next := now.Add(10 * time.Minute)
					for i := range ids {
						ids[i] = fmt.Sprintf("registered_%d", n+i)
						job := tracker.Job{Provider: "openai", ExternalID: ids[i], Kind: tracker.KindBatch, Status: tracker.StatusPending,
							CreatedAt: now, UpdatedAt: now, LastHeardAt: now, NextPollAt: &next}
						if _, _, err := s.CreateJob(ctx, job); err != nil {
							b.Fatal(err)
						}
					}
					b.StartTimer()
				} else if n+16 > tracked {
					b.Fatal("every tracked job finished: run fewer iterations")
				}
				items := make([]tracker.ApplyItem, 16)
				for i := range items {
					items[i] = tracker.ApplyItem{Observation: &tracker.Observation{Provider: "openai", ExternalID: ids[i], Kind: tracker.KindBatch,
						Status: tracker.StatusSucceeded, ProviderStatus: "completed", Source: tracker.SourceWebhook, EventID: fmt.Sprintf("evt_%d", n),
						Type: "batch.completed", OccurredAt: time.Now(), Payload: []byte(`{"id":"evt"}`),
						Usage: &tracker.Usage{InputTokens: 1000, OutputTokens: 500, TotalTokens: 1500, RequestsTotal: 10, RequestsCompleted: 10}},
						Delivery: &tracker.Delivery{Provider: "openai", ReceivedAt: time.Now(), Outcome: tracker.OutcomeAccepted, StatusCode: 200}}
					n++
				}
				if _, err := s.Apply(ctx, tracker.ApplyParams{Now: time.Now(), Items: items, Rules: rules, Alerting: alerting}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// seedRunning adopts n running jobs, batch_0 to batch_n-1, observed by polls
// at now and due staleAfter later, in batches of 500.
func seedRunning(b *testing.B, s *storage.Store, n int, now time.Time, staleAfter time.Duration) {
	b.Helper()
	rules := func(string, tracker.Kind) tracker.Rules { return tracker.Rules{StaleAfter: staleAfter} }
	for start := 0; start < n; start += 500 {
		items := make([]tracker.ApplyItem, min(500, n-start))
		for j := range items {
			items[j] = tracker.ApplyItem{Adopt: true, Observation: &tracker.Observation{Provider: "openai",
				ExternalID: fmt.Sprintf("batch_%d", start+j), Kind: tracker.KindBatch, Status: tracker.StatusRunning, Source: tracker.SourcePoll, OccurredAt: now}}
		}
		if _, err := s.Apply(context.Background(), tracker.ApplyParams{Now: now, Items: items, Rules: rules}); err != nil {
			b.Fatal(err)
		}
	}
}
