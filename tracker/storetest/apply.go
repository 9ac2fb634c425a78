package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/tracker"
)

// observeConcurrentDuplicateEvents: of one event delivered 50 times at
// once, one applies and the rest are duplicates.
func observeConcurrentDuplicateEvents(t *testing.T, open OpenStore) {
	s := open(t)
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
}

// observeOutOfOrder: a progress event older than the job's end is recorded
// as a conflict and changes nothing.
func observeOutOfOrder(t *testing.T, open OpenStore) {
	s := open(t)
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
}

// observeUnknownJobPolicies: an event of an untracked job is recorded
// without a job unless it adopts the job, and its event id is deduped
// either way.
func observeUnknownJobPolicies(t *testing.T, open OpenStore) {
	s := open(t)
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
}

// applyBatchKeepsOrderPerJob: the observations of one batch apply to each
// job in their order, a duplicate inside the batch included.
func applyBatchKeepsOrderPerJob(t *testing.T, open OpenStore) {
	s := open(t)
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
}

// applyBatchToSeveralTrackedJobs: one batch reads every job it names,
// and each observation applies to its own.
func applyBatchToSeveralTrackedJobs(t *testing.T, open OpenStore) {
	s := open(t)
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
}

// groupCommitUnderConcurrency: 200 concurrent observations sharing
// commits each get their own result, and every job and delivery is stored.
func groupCommitUnderConcurrency(t *testing.T, open OpenStore) {
	s := open(t)
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
}

// batchWriteKeepsPayloadBytes checks that a history row keeps the
// delivered payload byte for byte, whitespace and escapes included.
func batchWriteKeepsPayloadBytes(t *testing.T, open OpenStore) {
	s := open(t)
	payload := "{ \"id\" : \"evt_1\",\n\t\"note\": \"caf\u00e9 \\u00e9 \\\" ' \\\\\" }"
	obs := observation("batch_1", "evt_1", tracker.StatusRunning, time.Now())
	obs.Observation.Payload = json.RawMessage(payload)
	res, err := newTracker(s).Observe(context.Background(), obs)
	if err != nil {
		t.Fatal(err)
	}
	h, err := s.History(context.Background(), res[0].Job.ID, 10)
	if err != nil || len(h) != 1 {
		t.Fatalf("history = %v, %v", h, err)
	}
	if string(h[0].Payload) != payload {
		t.Fatalf("payload = %q, want %q", h[0].Payload, payload)
	}
}
