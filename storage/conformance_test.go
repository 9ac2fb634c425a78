package storage_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/storage"
	"github.com/jobwatch/jobwatch/storage/storagetest"
	"github.com/jobwatch/jobwatch/tracker"
)

// The conformance suite: every test runs against SQLite and PostgreSQL.

func newTracker(s *storage.Store) *tracker.Tracker {
	return tracker.New(s, tracker.Options{StaleAfter: 10 * time.Minute})
}

func TestTrackIsIdempotent(t *testing.T) {
	t.Parallel()
	storagetest.Each(t, func(t *testing.T, s *storage.Store) {
		t.Parallel()
		ctx := context.Background()
		tr := newTracker(s)
		req := tracker.TrackRequest{Provider: "openai", Kind: tracker.KindBatch, ExternalID: "batch_1",
			Labels: map[string]string{"team": "search"}, Metadata: json.RawMessage(`{"purpose":"nightly eval"}`)}
		first, created, err := tr.Track(ctx, req)
		if err != nil || !created {
			t.Fatalf("first Track = created %v, %v; want created", created, err)
		}
		if first.Status != tracker.StatusPending || first.NextPollAt == nil {
			t.Errorf("new job = %+v, want pending and due for a poll", first)
		}
		req.Labels = map[string]string{"team": "other"}
		second, created, err := tr.Track(ctx, req)
		if err != nil || created {
			t.Fatalf("second Track = created %v, %v; want existing", created, err)
		}
		if second.ID != first.ID || second.Labels["team"] != "search" {
			t.Errorf("second Track returned %+v, want the first job unchanged", second)
		}
		got, err := tr.Job(ctx, "openai", "batch_1")
		if err != nil {
			t.Fatal(err)
		}
		if string(got.Metadata) != `{"purpose": "nightly eval"}` && string(got.Metadata) != `{"purpose":"nightly eval"}` {
			t.Errorf("metadata = %s", got.Metadata)
		}
		if _, err := tr.Job(ctx, "openai", "batch_missing"); !errors.Is(err, tracker.ErrNotFound) {
			t.Errorf("Job(missing) error = %v, want ErrNotFound", err)
		}
	})
}

func TestTrackConcurrentDuplicates(t *testing.T) {
	t.Parallel()
	storagetest.Each(t, func(t *testing.T, s *storage.Store) {
		t.Parallel()
		tr := newTracker(s)
		const ids, copies = 20, 5
		var mu sync.Mutex
		created := map[string]int{}
		var wg sync.WaitGroup
		for i := range ids * copies {
			wg.Go(func() {
				id := fmt.Sprintf("batch_%d", i%ids)
				_, c, err := tr.Track(context.Background(), tracker.TrackRequest{Provider: "openai", Kind: tracker.KindBatch, ExternalID: id})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				if c {
					created[id]++
				}
			})
		}
		wg.Wait()
		for i := range ids {
			if n := created[fmt.Sprintf("batch_%d", i)]; n != 1 {
				t.Errorf("batch_%d created %d times, want 1", i, n)
			}
		}
	})
}

func TestListFiltersAndPages(t *testing.T) {
	t.Parallel()
	storagetest.Each(t, func(t *testing.T, s *storage.Store) {
		t.Parallel()
		ctx := context.Background()
		tr := newTracker(s)
		for i := range 25 {
			req := tracker.TrackRequest{Provider: "openai", Kind: tracker.KindBatch, ExternalID: fmt.Sprintf("b%02d", i),
				Labels: map[string]string{"team": []string{"a", "b"}[i%2], "env": "prod"}}
			if i >= 20 {
				req.Provider, req.Kind = "anthropic", tracker.KindFineTuning
			}
			if _, _, err := tr.Track(ctx, req); err != nil {
				t.Fatal(err)
			}
		}
		var all []string
		f := tracker.Filter{Limit: 10}
		for {
			page, err := tr.List(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			for _, j := range page.Jobs {
				all = append(all, j.ExternalID)
			}
			if page.NextCursor == "" {
				break
			}
			f.Cursor = page.NextCursor
		}
		if len(all) != 25 || all[0] != "b24" || all[24] != "b00" {
			t.Fatalf("paged through %d jobs %v, want 25 newest first", len(all), all)
		}
		count := func(f tracker.Filter) int {
			t.Helper()
			f.Limit = 100
			page, err := tr.List(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			return len(page.Jobs)
		}
		checks := []struct {
			f    tracker.Filter
			want int
		}{
			{tracker.Filter{Provider: "anthropic"}, 5},
			{tracker.Filter{Kind: tracker.KindBatch}, 20},
			{tracker.Filter{Status: tracker.StatusPending}, 25},
			{tracker.Filter{Status: tracker.StatusSucceeded}, 0},
			{tracker.Filter{Labels: map[string]string{"team": "a"}}, 13},
			{tracker.Filter{Labels: map[string]string{"team": "a", "env": "prod"}, Provider: "openai"}, 10},
			{tracker.Filter{Labels: map[string]string{"team": "c"}}, 0},
		}
		for _, c := range checks {
			if got := count(c.f); got != c.want {
				t.Errorf("List(%+v) = %d jobs, want %d", c.f, got, c.want)
			}
		}
		counts, err := s.CountJobs(ctx)
		if err != nil {
			t.Fatal(err)
		}
		total := int64(0)
		for _, c := range counts {
			total += c.Count
		}
		if len(counts) != 2 || total != 25 {
			t.Errorf("CountJobs = %+v, want 2 groups of 25 jobs", counts)
		}
	})
}

func observation(id, eventID string, status tracker.Status, at time.Time) tracker.ApplyItem {
	return tracker.ApplyItem{Adopt: true, Observation: &tracker.Observation{
		Provider: "mythicdot", ExternalID: id, Kind: tracker.KindBatch, Status: status, ProviderStatus: string(status),
		OccurredAt: at, Source: tracker.SourceWebhook, EventID: eventID, Type: "batch." + string(status),
		Payload: json.RawMessage(fmt.Sprintf(`{"id":%q}`, eventID)),
	}}
}

func TestObserveConcurrentDuplicateEvents(t *testing.T) {
	t.Parallel()
	storagetest.Each(t, func(t *testing.T, s *storage.Store) {
		t.Parallel()
		tr := newTracker(s)
		item := observation("batch_dup", "evt_1", tracker.StatusSucceeded, time.Now())
		item.Observation.Usage = &tracker.Usage{RequestsTotal: 10, RequestsCompleted: 10}
		var (
			mu                 sync.Mutex
			applied, duplicate int
			wg                 sync.WaitGroup
		)
		for range 50 {
			wg.Go(func() {
				res, err := tr.Observe(context.Background(), item)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				if res[0].Duplicate {
					duplicate++
				} else {
					applied++
				}
			})
		}
		wg.Wait()
		if applied != 1 || duplicate != 49 {
			t.Fatalf("applied %d, duplicate %d; want 1 and 49", applied, duplicate)
		}
		job, err := tr.Job(context.Background(), "mythicdot", "batch_dup")
		if err != nil {
			t.Fatal(err)
		}
		if len(job.History) != 1 || job.Status != tracker.StatusSucceeded || job.Usage.RequestsTotal != 10 {
			t.Fatalf("job = %s with %d history rows, want succeeded with 1", job.Status, len(job.History))
		}
	})
}

func TestObserveOutOfOrder(t *testing.T) {
	t.Parallel()
	storagetest.Each(t, func(t *testing.T, s *storage.Store) {
		t.Parallel()
		ctx := context.Background()
		tr := newTracker(s)
		t0 := time.Now().Add(-time.Hour)
		res, err := tr.Observe(ctx, observation("batch_ooo", "evt_done", tracker.StatusSucceeded, t0.Add(time.Minute)))
		if err != nil {
			t.Fatal(err)
		}
		if !res[0].Created || res[0].Effect != tracker.EffectApplied {
			t.Fatalf("first observation = %+v, want the job adopted and resolved", res[0])
		}
		res, err = tr.Observe(ctx, observation("batch_ooo", "evt_late", tracker.StatusRunning, t0))
		if err != nil {
			t.Fatal(err)
		}
		if res[0].Effect != tracker.EffectConflict || res[0].Job.Status != tracker.StatusSucceeded {
			t.Fatalf("late in_progress = %+v, want a recorded conflict", res[0])
		}
		job, err := tr.Job(ctx, "mythicdot", "batch_ooo")
		if err != nil {
			t.Fatal(err)
		}
		if job.Status != tracker.StatusSucceeded || job.ResolvedBy != tracker.SourceWebhook || job.ResolvedAt == nil || job.NextPollAt != nil {
			t.Errorf("job = %+v, want succeeded, resolved by webhook, not due", job)
		}
		if len(job.History) != 2 || job.History[0].EventID != "evt_done" || job.History[1].Effect != tracker.EffectConflict {
			t.Errorf("history = %+v, want the applied event then the conflict", job.History)
		}
	})
}

func TestObserveUnknownJobPolicies(t *testing.T) {
	t.Parallel()
	storagetest.Each(t, func(t *testing.T, s *storage.Store) {
		t.Parallel()
		ctx := context.Background()
		tr := newTracker(s)
		rec := observation("batch_unknown", "evt_r", tracker.StatusFailed, time.Now())
		rec.Adopt = false
		res, err := tr.Observe(ctx, rec)
		if err != nil {
			t.Fatal(err)
		}
		if res[0].Job != nil || res[0].Effect != tracker.EffectRecorded {
			t.Fatalf("record policy = %+v, want the event recorded without a job", res[0])
		}
		if _, err := tr.Job(ctx, "mythicdot", "batch_unknown"); !errors.Is(err, tracker.ErrNotFound) {
			t.Fatalf("record policy created a job: %v", err)
		}
		// The same event again, now with adoption on, is still a duplicate.
		rec.Adopt = true
		if res, err = tr.Observe(ctx, rec); err != nil || !res[0].Duplicate {
			t.Fatalf("redelivery = %+v, %v; want a duplicate", res, err)
		}
		if _, err := tr.Job(ctx, "mythicdot", "batch_unknown"); !errors.Is(err, tracker.ErrNotFound) {
			t.Fatalf("a duplicate created a job: %v", err)
		}
		// A job-less provider event is recorded once.
		pe := tracker.ApplyItem{Observation: &tracker.Observation{Provider: "mythicdot", EventID: "evt_usage", Type: "usage.threshold.reached",
			Source: tracker.SourceWebhook, OccurredAt: time.Now()}}
		for i, wantDup := range []bool{false, true} {
			res, err := tr.Observe(ctx, pe)
			if err != nil || res[0].Duplicate != wantDup {
				t.Fatalf("provider event #%d = %+v, %v; want duplicate=%v", i, res, err, wantDup)
			}
		}
	})
}

func TestApplyBatchKeepsOrderPerJob(t *testing.T) {
	t.Parallel()
	storagetest.Each(t, func(t *testing.T, s *storage.Store) {
		t.Parallel()
		tr := newTracker(s)
		t0 := time.Now().Add(-time.Hour)
		items := []tracker.ApplyItem{
			observation("z_job", "e1", tracker.StatusRunning, t0),
			observation("a_job", "e2", tracker.StatusRunning, t0),
			observation("z_job", "e3", tracker.StatusFailed, t0.Add(time.Minute)),
			observation("a_job", "e2", tracker.StatusRunning, t0), // duplicate inside the batch
		}
		res, err := tr.Observe(context.Background(), items...)
		if err != nil {
			t.Fatal(err)
		}
		if !res[0].Created || res[2].Job.Status != tracker.StatusFailed || res[2].Previous != tracker.StatusRunning || !res[3].Duplicate {
			t.Fatalf("results = %+v", res)
		}
	})
}

// TestApplyBatchToSeveralTrackedJobs: one batch reads every job it names,
// and each observation applies to its own.
func TestApplyBatchToSeveralTrackedJobs(t *testing.T) {
	t.Parallel()
	storagetest.Each(t, func(t *testing.T, s *storage.Store) {
		t.Parallel()
		tr := newTracker(s)
		ctx := context.Background()
		t0 := time.Now().Add(-time.Hour)
		ids := []string{"c_job", "a_job", "b_job"}
		var items []tracker.ApplyItem
		for i, id := range ids {
			items = append(items, observation(id, fmt.Sprintf("created_%d", i), tracker.StatusPending, t0))
		}
		if _, err := tr.Observe(ctx, items...); err != nil {
			t.Fatal(err)
		}
		items = items[:0]
		for i, id := range ids {
			items = append(items, observation(id, fmt.Sprintf("started_%d", i), tracker.StatusRunning, t0.Add(time.Minute)))
		}
		res, err := tr.Observe(ctx, items...)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range res {
			if r.Created || r.Job == nil || r.Job.ExternalID != ids[i] || r.Previous != tracker.StatusPending || r.Job.Status != tracker.StatusRunning {
				t.Errorf("observation of %s: %+v, want its tracked job moved from pending to running", ids[i], r)
			}
		}
	})
}

func TestMigrateIsRepeatableAfterACrash(t *testing.T) {
	t.Parallel()
	storagetest.Each(t, func(t *testing.T, s *storage.Store) {
		t.Parallel()
		ctx := context.Background()
		if names, err := s.Migrate(ctx); err != nil || len(names) != 0 {
			t.Fatalf("second Migrate = %v, %v; want nothing to do", names, err)
		}
		// A start that committed the schema but died before recording it.
		if _, err := s.DB().NewDelete().Table("jobwatch_migrations").Where("1 = 1").Exec(ctx); err != nil {
			t.Fatal(err)
		}
		names, err := s.Migrate(ctx)
		if err != nil || len(names) == 0 {
			t.Fatalf("Migrate after a crash = %v, %v; want the migrations re-run", names, err)
		}
	})
}

// TestOpenRefusesTooFewConnections: with one PostgreSQL connection, Migrate
// would wait forever for a second while it holds the first for its lock.
func TestOpenRefusesTooFewConnections(t *testing.T) {
	t.Parallel()
	_, err := storage.Open(context.Background(), storage.Config{Driver: storage.DriverPostgres, DSN: "postgres://127.0.0.1:1/x", MaxOpenConns: 1})
	if err == nil || !strings.Contains(err.Error(), "1 connections are too few (want at least 2)") {
		t.Fatalf("Open with one connection: %v, want it refused", err)
	}
}

func TestGroupCommitUnderConcurrency(t *testing.T) {
	t.Parallel()
	storagetest.Each(t, func(t *testing.T, s *storage.Store) {
		t.Parallel()
		tr := tracker.New(s, tracker.Options{MaxBatchItems: 16, MaxConcurrentCommits: 2})
		t0 := time.Now().Add(-time.Hour)
		var wg sync.WaitGroup
		for i := range 200 {
			wg.Go(func() {
				id := fmt.Sprintf("job_%d", i)
				item := observation(id, "evt_"+id, tracker.StatusSucceeded, t0)
				item.Delivery = &tracker.Delivery{Provider: "mythicdot", ReceivedAt: time.Now(), Outcome: tracker.OutcomeAccepted, StatusCode: 200, EventID: "evt_" + id}
				res, err := tr.Observe(context.Background(), item)
				if err != nil {
					t.Error(err)
					return
				}
				if res[0].Job == nil || res[0].Job.ExternalID != id || !res[0].Created {
					t.Errorf("result for %s = %+v: results went to the wrong caller", id, res[0])
				}
			})
		}
		wg.Wait()
		page, err := tr.List(context.Background(), tracker.Filter{Status: tracker.StatusSucceeded, Limit: 1000})
		if err != nil || len(page.Jobs) != 200 {
			t.Fatalf("%d succeeded jobs, %v; want 200", len(page.Jobs), err)
		}
		ds, err := s.ListDeliveries(context.Background(), tracker.DeliveryFilter{Outcome: tracker.OutcomeAccepted, Limit: 1000})
		if err != nil || len(ds) != 200 {
			t.Fatalf("%d accepted deliveries, %v; want 200", len(ds), err)
		}
	})
}

func TestDeliveryLog(t *testing.T) {
	t.Parallel()
	storagetest.Each(t, func(t *testing.T, s *storage.Store) {
		t.Parallel()
		ctx := context.Background()
		tr := newTracker(s)
		old := time.Now().Add(-48 * time.Hour)
		accepted := func() tracker.ApplyItem {
			it := observation("batch_d", "evt_d", tracker.StatusRunning, time.Now())
			it.Delivery = &tracker.Delivery{Provider: "mythicdot", ReceivedAt: time.Now(), Outcome: tracker.OutcomeAccepted, StatusCode: 200}
			return it
		}
		rejected := tracker.ApplyItem{Delivery: &tracker.Delivery{Provider: "mythicdot", ReceivedAt: old, Outcome: tracker.OutcomeBadSignature,
			StatusCode: 401, Reason: "bad_signature", Excerpt: "{\"forged\":true}"}}
		unadopted := observation("batch_u", "evt_u", tracker.StatusRunning, time.Now())
		unadopted.Adopt = false
		unadopted.Delivery = &tracker.Delivery{Provider: "mythicdot", ReceivedAt: time.Now(), Outcome: tracker.OutcomeAccepted, StatusCode: 200}
		for _, it := range []tracker.ApplyItem{accepted(), accepted(), rejected, unadopted} {
			if _, err := tr.Observe(ctx, it); err != nil {
				t.Fatal(err)
			}
		}
		all, err := s.ListDeliveries(ctx, tracker.DeliveryFilter{Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		var outcomes []tracker.Outcome
		for _, d := range all {
			outcomes = append(outcomes, d.Outcome)
		}
		want := []tracker.Outcome{tracker.OutcomeRecorded, tracker.OutcomeBadSignature, tracker.OutcomeDuplicate, tracker.OutcomeAccepted}
		if fmt.Sprint(outcomes) != fmt.Sprint(want) {
			t.Fatalf("outcomes newest first = %v, want %v", outcomes, want)
		}
		if bad, _ := s.ListDeliveries(ctx, tracker.DeliveryFilter{Outcome: tracker.OutcomeBadSignature, Limit: 10}); len(bad) != 1 || bad[0].Excerpt != "{\"forged\":true}" {
			t.Errorf("rejected deliveries = %+v", bad)
		}
		n, err := s.PruneDeliveries(ctx, time.Now().Add(-24*time.Hour))
		if err != nil || n != 1 {
			t.Errorf("PruneDeliveries = %d, %v; want the one old delivery", n, err)
		}
	})
}

// TestPruneDeliveriesWalksTheLog: pruning deletes every old delivery
// however many chunks they fill, keeps the new ones, and is not stopped by a
// new one received before old ones (another replica's clock, say).
func TestPruneDeliveriesWalksTheLog(t *testing.T) {
	t.Parallel()
	storagetest.Each(t, func(t *testing.T, s *storage.Store) {
		t.Parallel()
		ctx := context.Background()
		now := time.Now()
		old := now.Add(-48 * time.Hour)
		write := func(n int, at time.Time) {
			t.Helper()
			items := make([]tracker.ApplyItem, n)
			for i := range items {
				items[i] = tracker.ApplyItem{Delivery: &tracker.Delivery{Provider: "mythicdot", ReceivedAt: at, Outcome: tracker.OutcomeBadSignature, StatusCode: 401}}
			}
			if _, err := s.Apply(ctx, tracker.ApplyParams{Now: now, Items: items, Rules: func(string, tracker.Kind) tracker.Rules { return tracker.Rules{} }}); err != nil {
				t.Fatal(err)
			}
		}
		write(1, now)
		for range 5 {
			write(500, old)
		}
		write(3, now)
		write(1, old)
		n, err := s.PruneDeliveries(ctx, now.Add(-24*time.Hour))
		if err != nil || n != 2501 {
			t.Errorf("PruneDeliveries = %d, %v; want the 2,501 old deliveries", n, err)
		}
		left, err := s.ListDeliveries(ctx, tracker.DeliveryFilter{Limit: 10})
		if err != nil || len(left) != 4 {
			t.Errorf("%d deliveries left, %v; want the 4 new ones", len(left), err)
		}
		if n, err := s.PruneDeliveries(ctx, now.Add(-24*time.Hour)); err != nil || n != 0 {
			t.Errorf("second PruneDeliveries = %d, %v; want nothing to do", n, err)
		}
	})
}

// TestTrimDeliveriesKeepsTheNewest: the size bound of the delivery log
// deletes the oldest rows beyond it, however many chunks they fill, and
// keeps the newest.
func TestTrimDeliveriesKeepsTheNewest(t *testing.T) {
	t.Parallel()
	storagetest.Each(t, func(t *testing.T, s *storage.Store) {
		t.Parallel()
		ctx := context.Background()
		now := time.Now()
		for batch := range 5 {
			items := make([]tracker.ApplyItem, 500)
			for i := range items {
				items[i] = tracker.ApplyItem{Delivery: &tracker.Delivery{Provider: "mythicdot", ReceivedAt: now, Outcome: tracker.OutcomeBadSignature,
					StatusCode: 401, Reason: fmt.Sprint(batch*500 + i)}}
			}
			if _, err := s.Apply(ctx, tracker.ApplyParams{Now: now, Items: items, Rules: func(string, tracker.Kind) tracker.Rules { return tracker.Rules{} }}); err != nil {
				t.Fatal(err)
			}
		}
		if n, err := s.TrimDeliveries(ctx, 2600); err != nil || n != 0 {
			t.Errorf("TrimDeliveries(2600) of 2,500 = %d, %v; want nothing to do", n, err)
		}
		if n, err := s.TrimDeliveries(ctx, 300); err != nil || n != 2200 {
			t.Errorf("TrimDeliveries(300) = %d, %v; want the 2,200 oldest", n, err)
		}
		left, err := s.ListDeliveries(ctx, tracker.DeliveryFilter{Limit: 1000})
		if err != nil || len(left) != 300 || left[0].Reason != "2499" || left[299].Reason != "2200" {
			t.Fatalf("%d deliveries left (%v), want the newest 300, 2499 down to 2200", len(left), err)
		}
		if n, err := s.TrimDeliveries(ctx, 0); err != nil || n != 300 {
			t.Errorf("TrimDeliveries(0) = %d, %v; want the 300 left", n, err)
		}
	})
}

// seedDue registers n jobs that are due for a poll at now.
func seedDue(t *testing.T, s *storage.Store, n int, now time.Time) {
	t.Helper()
	tr := tracker.New(s, tracker.Options{StaleAfter: time.Minute, Now: func() time.Time { return now.Add(-time.Hour) }})
	for i := range n {
		if _, _, err := tr.Track(context.Background(), tracker.TrackRequest{Provider: "openai", Kind: tracker.KindBatch, ExternalID: fmt.Sprintf("due_%04d", i)}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestClaimDueLeases(t *testing.T) {
	t.Parallel()
	storagetest.Each(t, func(t *testing.T, s *storage.Store) {
		t.Parallel()
		ctx := context.Background()
		now := time.Now().UTC()
		seedDue(t, s, 10, now)
		// A job not yet due is never claimed.
		if _, _, err := newTracker(s).Track(ctx, tracker.TrackRequest{Provider: "openai", Kind: tracker.KindBatch, ExternalID: "later"}); err != nil {
			t.Fatal(err)
		}
		claim := func(at time.Time) []tracker.Job {
			t.Helper()
			jobs, err := s.ClaimDue(ctx, tracker.ClaimParams{Now: at, Lease: 2 * time.Minute, Limit: 4})
			if err != nil {
				t.Fatal(err)
			}
			return jobs
		}
		seen := map[string]bool{}
		for _, want := range []int{4, 4, 2, 0} {
			jobs := claim(now)
			if len(jobs) != want {
				t.Fatalf("claimed %d, want %d", len(jobs), want)
			}
			for _, j := range jobs {
				if seen[j.ExternalID] || j.ExternalID == "later" {
					t.Fatalf("%s claimed twice or before it was due", j.ExternalID)
				}
				seen[j.ExternalID] = true
			}
		}
		// After the lease, unpolled claims are taken again.
		if n := len(claim(now.Add(2*time.Minute + time.Second))); n != 4 {
			t.Fatalf("after the lease: claimed %d, want 4", n)
		}
	})
}

func TestClaimDueConcurrentClaimersNeverShare(t *testing.T) {
	t.Parallel()
	storagetest.Each(t, func(t *testing.T, s *storage.Store) {
		t.Parallel()
		now := time.Now().UTC()
		seedDue(t, s, 300, now)
		var (
			mu   sync.Mutex
			seen = map[string]int{}
			wg   sync.WaitGroup
		)
		for range 3 {
			wg.Go(func() {
				for {
					jobs, err := s.ClaimDue(context.Background(), tracker.ClaimParams{Now: now, Lease: time.Minute, Limit: 7})
					if err != nil {
						t.Error(err)
						return
					}
					if len(jobs) == 0 {
						return
					}
					mu.Lock()
					for _, j := range jobs {
						seen[j.ExternalID]++
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if len(seen) != 300 {
			t.Fatalf("claimed %d distinct jobs, want 300", len(seen))
		}
		for id, n := range seen {
			if n != 1 {
				t.Fatalf("%s claimed %d times", id, n)
			}
		}
	})
}

func TestRescheduleLeavesFinishedJobsAlone(t *testing.T) {
	t.Parallel()
	storagetest.Each(t, func(t *testing.T, s *storage.Store) {
		t.Parallel()
		ctx := context.Background()
		tr := newTracker(s)
		res, err := tr.Observe(ctx, observation("done", "evt_done", tracker.StatusSucceeded, time.Now()))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Reschedule(ctx, res[0].Job.ID, time.Now().Add(time.Hour), 3); err != nil {
			t.Fatal(err)
		}
		job, _ := tr.Job(ctx, "mythicdot", "done")
		if job.NextPollAt != nil || job.QuietPolls != 0 {
			t.Fatalf("a finished job was rescheduled: %+v", job)
		}
	})
}

func alertingTracker(s *storage.Store, now func() time.Time, a *tracker.Alerting) *tracker.Tracker {
	return tracker.New(s, tracker.Options{StaleAfter: 10 * time.Minute, Now: now, Alerting: a})
}

func outbox(t *testing.T, s *storage.Store) map[string][]string {
	t.Helper()
	all, err := s.ListAlerts(context.Background(), "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	byType := map[string][]string{}
	for _, a := range all {
		byType[a.Alert.Type] = append(byType[a.Alert.Type], a.Notifier)
	}
	for _, n := range byType {
		slices.Sort(n)
	}
	return byType
}

func TestAlertsAreEnqueuedWithTheirChange(t *testing.T) {
	t.Parallel()
	storagetest.Each(t, func(t *testing.T, s *storage.Store) {
		t.Parallel()
		ctx := context.Background()
		tr := alertingTracker(s, time.Now, &tracker.Alerting{Routes: []tracker.Route{
			{Events: []string{"job.failed", "job.lost"}, Notifiers: []string{"slack", "email"}},
			{Events: []string{"job.*"}, Notifiers: []string{"slack"}},
			{Events: []string{"usage.threshold.reached"}, Notifiers: []string{"log"}, RepeatInterval: time.Hour},
		}})
		if _, err := tr.Observe(ctx, observation("b1", "e1", tracker.StatusRunning, time.Now())); err != nil {
			t.Fatal(err)
		}
		if got := outbox(t, s); len(got) != 0 {
			t.Fatalf("progress raised alerts: %v", got)
		}
		if _, err := tr.Observe(ctx, observation("b1", "e2", tracker.StatusFailed, time.Now())); err != nil {
			t.Fatal(err)
		}
		// A redelivery raises nothing more.
		if _, err := tr.Observe(ctx, observation("b1", "e2", tracker.StatusFailed, time.Now())); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			pe := tracker.ApplyItem{Observation: &tracker.Observation{Provider: "mythicdot", Type: "usage.threshold.reached", Source: tracker.SourceWebhook,
				OccurredAt: time.Now(), Payload: json.RawMessage(`{"metric":"tokens"}`)}}
			if _, err := tr.Observe(ctx, pe); err != nil {
				t.Fatal(err)
			}
		}
		got := outbox(t, s)
		if fmt.Sprint(got["job.failed"]) != "[email slack]" {
			t.Errorf("job.failed went to %v, want slack and email once each", got["job.failed"])
		}
		if fmt.Sprint(got["usage.threshold.reached"]) != "[log]" {
			t.Errorf("a repeated provider event went to %v, want log once within the repeat interval", got["usage.threshold.reached"])
		}
		alerts, _ := s.ListAlerts(ctx, tracker.AlertPending, 10)
		for _, a := range alerts {
			if a.Alert.Type == "job.failed" && (a.Alert.Job == nil || a.Alert.Job.ExternalID != "b1" || a.Alert.Summary == "" || a.Alert.ID != tracker.AlertID(a.ID)) {
				t.Errorf("alert = %+v", a.Alert)
			}
		}
	})
}

func TestUsageCountedOnceAndThresholdsAlertOncePerLevel(t *testing.T) {
	t.Parallel()
	storagetest.Each(t, func(t *testing.T, s *storage.Store) {
		t.Parallel()
		ctx := context.Background()
		tr := alertingTracker(s, time.Now, &tracker.Alerting{
			Routes: []tracker.Route{{Events: []string{"usage.threshold"}, Notifiers: []string{"ops"}}},
			Thresholds: []tracker.Threshold{{Name: "daily-tokens", Metric: "tokens", Provider: "mythicdot", Window: "day", Limit: 1000, Levels: []float64{0.8, 1.0}},
				{Name: "team-a", Metric: "jobs", Labels: map[string]string{"team": "a"}, Window: "month", Limit: 100, Levels: []float64{0.5}}},
		})
		end := func(id string, tokens int64) {
			t.Helper()
			// A thin end first, then the figures, then the figures again.
			it := observation(id, "end_"+id, tracker.StatusSucceeded, time.Now())
			if _, err := tr.Observe(ctx, it); err != nil {
				t.Fatal(err)
			}
			for range 2 {
				poll := tracker.ApplyItem{Observation: &tracker.Observation{Provider: "mythicdot", ExternalID: id, Status: tracker.StatusSucceeded,
					Usage: &tracker.Usage{TotalTokens: tokens}, Source: tracker.SourcePoll, OccurredAt: time.Now()}}
				if _, err := tr.Observe(ctx, poll); err != nil {
					t.Fatal(err)
				}
			}
		}
		for _, tok := range []int64{500, 300} { // 800: 80%
			end(fmt.Sprintf("j%d", tok), tok)
		}
		if n := len(outbox(t, s)["usage.threshold"]); n != 1 {
			t.Fatalf("%d threshold alerts at 80%%, want 1", n)
		}
		end("j150", 150) // 950: nothing new
		end("j60", 60)   // 1010: 100%
		end("j70", 70)   // 1080: nothing new
		if n := len(outbox(t, s)["usage.threshold"]); n != 2 {
			t.Fatalf("%d threshold alerts after crossing 80%% and 100%%, want exactly 2", n)
		}
		totals, err := s.UsageTotals(ctx, "day", tracker.WindowStart("day", time.Now()))
		if err != nil || len(totals) != 1 || totals[0].Metrics["tokens"] != 1080 || totals[0].Metrics["jobs"] != 5 || totals[0].Metrics["succeeded_jobs"] != 5 {
			t.Fatalf("day totals = %+v, %v; want 1080 tokens over 5 jobs, each counted once", totals, err)
		}
	})
}

// TestOneBatchFinishingManyJobs: the alerts and usage of every job a batch
// finishes are written, each alert once per notifier and the usage of all
// of them added up.
func TestOneBatchFinishingManyJobs(t *testing.T) {
	t.Parallel()
	storagetest.Each(t, func(t *testing.T, s *storage.Store) {
		t.Parallel()
		ctx := context.Background()
		tr := alertingTracker(s, time.Now, &tracker.Alerting{
			Routes:     []tracker.Route{{Events: []string{"job.*", "usage.threshold"}, Notifiers: []string{"slack", "email"}}},
			Thresholds: []tracker.Threshold{{Name: "daily", Metric: "tokens", Window: "day", Limit: 1000, Levels: []float64{0.5}}},
		})
		var items []tracker.ApplyItem
		for i := range 5 {
			it := observation(fmt.Sprintf("b%d", i), fmt.Sprintf("end%d", i), tracker.StatusSucceeded, time.Now())
			it.Observation.Usage = &tracker.Usage{TotalTokens: 100}
			items = append(items, it)
		}
		if _, err := tr.Observe(ctx, items...); err != nil {
			t.Fatal(err)
		}
		got := outbox(t, s)
		if len(got["job.succeeded"]) != 10 || fmt.Sprint(got["usage.threshold"]) != "[email slack]" {
			t.Errorf("outbox = %v, want job.succeeded for 5 jobs to slack and email, and the threshold crossed once to each", got)
		}
		for _, w := range tracker.Windows {
			totals, err := s.UsageTotals(ctx, w, tracker.WindowStart(w, time.Now()))
			if err != nil || len(totals) != 1 || totals[0].Metrics["tokens"] != 500 || totals[0].Metrics["jobs"] != 5 {
				t.Errorf("%s totals = %+v, %v; want 500 tokens over 5 jobs", w, totals, err)
			}
		}
	})
}

// Two replicas (two stores on one database) crossing a threshold together
// alert once per level.
func TestThresholdCrossingsAcrossReplicas(t *testing.T) {
	t.Parallel()
	for _, driver := range storagetest.Backends {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			cfg := storagetest.Config(t, driver)
			alerting := &tracker.Alerting{
				Routes:     []tracker.Route{{Events: []string{"usage.threshold"}, Notifiers: []string{"ops"}}},
				Thresholds: []tracker.Threshold{{Name: "jobs", Metric: "jobs", Window: "hour", Limit: 100, Levels: []float64{0.25, 0.5, 0.75, 1.0}}},
			}
			var trackers []*tracker.Tracker
			var first *storage.Store
			for range 2 {
				s, err := storage.Open(context.Background(), cfg)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { s.Close() })
				if _, err := s.Migrate(context.Background()); err != nil {
					t.Fatal(err)
				}
				if first == nil {
					first = s
				}
				trackers = append(trackers, tracker.New(s, tracker.Options{Alerting: alerting, MaxConcurrentCommits: 2}))
			}
			var wg sync.WaitGroup
			for i := range 120 {
				wg.Go(func() {
					id := fmt.Sprintf("r%d", i)
					if _, err := trackers[i%2].Observe(context.Background(), observation(id, "e"+id, tracker.StatusFailed, time.Now())); err != nil {
						t.Error(err)
					}
				})
			}
			wg.Wait()
			if n := len(outbox(t, first)["usage.threshold"]); n != 4 {
				t.Fatalf("%d threshold alerts for 4 levels crossed by two replicas, want 4", n)
			}
		})
	}
}

func TestOutboxLifecycle(t *testing.T) {
	t.Parallel()
	storagetest.Each(t, func(t *testing.T, s *storage.Store) {
		t.Parallel()
		ctx := context.Background()
		now := time.Now().UTC()
		tr := alertingTracker(s, func() time.Time { return now }, &tracker.Alerting{Routes: []tracker.Route{{Events: []string{"*"}, Notifiers: []string{"a", "b"}}}})
		for i := range 3 {
			if _, err := tr.Observe(ctx, observation(fmt.Sprint(i), fmt.Sprint("e", i), tracker.StatusFailed, now)); err != nil {
				t.Fatal(err)
			}
		}
		claim := func(n string, at time.Time) []tracker.OutboxAlert {
			got, err := s.ClaimAlerts(ctx, tracker.ClaimAlertsParams{Notifier: n, Now: at, Lease: time.Minute, Limit: 2})
			if err != nil {
				t.Fatal(err)
			}
			return got
		}
		a := claim("a", now)
		// While the oldest are leased, the third waits behind them.
		if len(a) != 2 || a[0].Notifier != "a" || len(claim("a", now)) != 0 {
			t.Fatalf("claims of notifier a = %+v", a)
		}
		if err := s.FinishAlert(ctx, tracker.AlertOutcome{ID: a[0].ID, State: tracker.AlertSent, Attempts: 1, At: now}); err != nil {
			t.Fatal(err)
		}
		if err := s.FinishAlert(ctx, tracker.AlertOutcome{ID: a[1].ID, State: tracker.AlertDead, Attempts: 5, LastError: "410 gone", At: now}); err != nil {
			t.Fatal(err)
		}
		counts, _ := s.CountAlerts(ctx)
		if counts[tracker.AlertSent] != 1 || counts[tracker.AlertDead] != 1 || counts[tracker.AlertPending] != 4 {
			t.Fatalf("counts = %v", counts)
		}
		if err := s.RetryAlert(ctx, a[0].ID, now); !errors.Is(err, tracker.ErrNotFound) {
			t.Errorf("retrying a sent alert: %v, want ErrNotFound", err)
		}
		if err := s.RetryAlert(ctx, a[1].ID, now); err != nil {
			t.Fatal(err)
		}
		// The claims of notifier a not finished come back after the lease, with the retried one.
		if got := claim("a", now.Add(2*time.Minute)); len(got) != 2 {
			t.Fatalf("after the lease and a retry: %d due, want 2", len(got))
		}
	})
}

func TestClaimAlertsKeepsANotifiersOrder(t *testing.T) {
	t.Parallel()
	storagetest.Each(t, func(t *testing.T, s *storage.Store) {
		t.Parallel()
		ctx := context.Background()
		now := time.Now().UTC()
		tr := alertingTracker(s, func() time.Time { return now }, &tracker.Alerting{Routes: []tracker.Route{{Events: []string{"*"}, Notifiers: []string{"a", "b"}}}})
		for i := range 3 {
			if _, err := tr.Observe(ctx, observation(fmt.Sprint(i), fmt.Sprint("e", i), tracker.StatusFailed, now)); err != nil {
				t.Fatal(err)
			}
		}
		claim := func(n string, at time.Time, limit int) []int64 {
			t.Helper()
			got, err := s.ClaimAlerts(ctx, tracker.ClaimAlertsParams{Notifier: n, Now: at, Lease: time.Minute, Limit: limit})
			if err != nil {
				t.Fatal(err)
			}
			ids := make([]int64, len(got))
			for i, a := range got {
				ids[i] = a.ID
			}
			return ids
		}
		finish := func(o tracker.AlertOutcome) {
			t.Helper()
			if err := s.FinishAlert(ctx, o); err != nil {
				t.Fatal(err)
			}
		}
		all := claim("a", now, 10)
		if len(all) != 3 || !slices.IsSorted(all) {
			t.Fatalf("first claim = %v, want the three alerts oldest first", all)
		}
		// The oldest fails and waits a minute; the other two are released.
		finish(tracker.AlertOutcome{ID: all[0], State: tracker.AlertPending, Attempts: 1, NextAttemptAt: now.Add(time.Minute), At: now})
		for _, id := range all[1:] {
			finish(tracker.AlertOutcome{ID: id, State: tracker.AlertPending, NextAttemptAt: now, At: now})
		}
		if got := claim("a", now.Add(time.Second), 10); len(got) != 0 {
			t.Fatalf("claim while the oldest waits for its retry = %v, want none: newer alerts wait behind it", got)
		}
		if got := claim("b", now.Add(time.Second), 10); len(got) != 3 {
			t.Fatalf("notifier b claimed %v, want its three: another notifier's retry holds it back", got)
		}
		if got := claim("a", now.Add(time.Minute), 10); !slices.Equal(got, all) {
			t.Fatalf("claim at the retry = %v, want %v in order", got, all)
		}
		// A dead-lettered alert holds nothing back.
		finish(tracker.AlertOutcome{ID: all[0], State: tracker.AlertDead, Attempts: 2, LastError: "gone", At: now})
		for _, id := range all[1:] {
			finish(tracker.AlertOutcome{ID: id, State: tracker.AlertPending, NextAttemptAt: now, At: now})
		}
		if got := claim("a", now.Add(time.Minute), 10); !slices.Equal(got, all[1:]) {
			t.Fatalf("claim after the oldest died = %v, want %v", got, all[1:])
		}
	})
}

// Replicas claiming one notifier's alerts at once: one gets the oldest, the
// others nothing, never the alerts after the ones being sent.
func TestConcurrentAlertClaimsTakeTurns(t *testing.T) {
	t.Parallel()
	storagetest.Each(t, func(t *testing.T, s *storage.Store) {
		t.Parallel()
		ctx := context.Background()
		now := time.Now().UTC()
		tr := alertingTracker(s, func() time.Time { return now }, &tracker.Alerting{Routes: []tracker.Route{{Events: []string{"*"}, Notifiers: []string{"a"}}}})
		for i := range 40 {
			if _, err := tr.Observe(ctx, observation(fmt.Sprint(i), fmt.Sprint("e", i), tracker.StatusFailed, now)); err != nil {
				t.Fatal(err)
			}
		}
		for round := range 5 {
			var (
				mu     sync.Mutex
				claims [][]int64
				wg     sync.WaitGroup
			)
			at := now.Add(time.Duration(round) * 2 * time.Minute)
			for range 4 {
				wg.Go(func() {
					got, err := s.ClaimAlerts(ctx, tracker.ClaimAlertsParams{Notifier: "a", Now: at, Lease: time.Minute, Limit: 4})
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					defer mu.Unlock()
					if len(got) > 0 {
						ids := make([]int64, len(got))
						for i, a := range got {
							ids[i] = a.ID
						}
						claims = append(claims, ids)
					}
				})
			}
			wg.Wait()
			if len(claims) != 1 {
				t.Fatalf("round %d: %d of 4 concurrent claims got alerts, want 1: %v", round, len(claims), claims)
			}
			// The winner sends the first alert; the lease of the others runs out.
			if err := s.FinishAlert(ctx, tracker.AlertOutcome{ID: claims[0][0], State: tracker.AlertSent, Attempts: 1, At: at}); err != nil {
				t.Fatal(err)
			}
		}
	})
}
