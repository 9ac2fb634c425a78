package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/tracker"
)

// seedDue registers n jobs that are due for a poll at now.
func seedDue(t *testing.T, s tracker.Store, n int, now time.Time) {
	t.Helper()
	tr := tracker.New(s, tracker.Options{StaleAfter: time.Minute, Now: func() time.Time { return now.Add(-time.Hour) }})
	for i := range n {
		if _, _, err := tr.Track(context.Background(), tracker.TrackRequest{Provider: "openai", Kind: tracker.KindBatch, ExternalID: fmt.Sprintf("due_%04d", i)}); err != nil {
			t.Fatal(err)
		}
	}
}

// claimDueLeases: due jobs are claimed once until their lease ends, and
// a job not yet due never.
func claimDueLeases(t *testing.T, open OpenStore) {
	s := open(t)
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
}

// claimDueWriteEndsLease: a write of a claimed job (here the reschedule of
// a poll that learned nothing) ends its lease, so that the job is claimed
// again as soon as it is due, long before the lease would have expired;
// the job not written stays leased.
func claimDueWriteEndsLease(t *testing.T, open OpenStore) {
	s := open(t)
	ctx := context.Background()
	now := time.Now().UTC()
	seedDue(t, s, 2, now)
	claim := func() []tracker.Job {
		t.Helper()
		jobs, err := s.ClaimDue(ctx, tracker.ClaimParams{Now: now, Lease: time.Hour, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		return jobs
	}
	first := claim()
	if len(first) != 2 {
		t.Fatalf("claimed %d, want 2", len(first))
	}
	if err := s.Reschedule(ctx, first[0].ID, now, 1); err != nil {
		t.Fatal(err)
	}
	again := claim()
	if len(again) != 1 || again[0].ID != first[0].ID || again[0].QuietPolls != 1 {
		t.Fatalf("after the reschedule claimed %+v, want only %s with 1 quiet poll", again, first[0].ExternalID)
	}
	if n := len(claim()); n != 0 {
		t.Fatalf("claimed %d leased jobs", n)
	}
}

// claimDueConcurrentClaimersNeverShare: three claimers at once take every
// due job, each exactly once.
func claimDueConcurrentClaimersNeverShare(t *testing.T, open OpenStore) {
	s := open(t)
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
}

// rescheduleLeavesFinishedJobsAlone: rescheduling a job that has ended
// changes nothing.
func rescheduleLeavesFinishedJobsAlone(t *testing.T, open OpenStore) {
	s := open(t)
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
}

// parentIDRoundTrips: a job's parent id (an eval run's eval id) is kept
// from registration through reads, a claim (the sweep polls with it) and an
// applied observation; a job registered without one has none.
func parentIDRoundTrips(t *testing.T, open OpenStore) {
	s := open(t)
	ctx := context.Background()
	now := time.Now().UTC()
	tr := tracker.New(s, tracker.Options{StaleAfter: time.Minute, Now: func() time.Time { return now.Add(-time.Hour) }})
	const eval = "eval_67abd54d9b0081909a86353f6fb9317a"
	job, _, err := tr.Track(ctx, tracker.TrackRequest{Provider: "openai", Kind: tracker.KindEvalRun, ExternalID: "evalrun_1", ParentID: eval})
	if err != nil || job.ParentID != eval {
		t.Fatalf("Track = %+v, %v; want parent %s", job, err, eval)
	}
	if _, _, err := tr.Track(ctx, tracker.TrackRequest{Provider: "openai", Kind: tracker.KindBatch, ExternalID: "batch_1"}); err != nil {
		t.Fatal(err)
	}
	claimed, err := s.ClaimDue(ctx, tracker.ClaimParams{Now: now, Lease: time.Minute, Limit: 10})
	if err != nil || len(claimed) != 2 {
		t.Fatalf("ClaimDue = %d jobs, %v; want 2", len(claimed), err)
	}
	for _, j := range claimed {
		if want := map[string]string{"evalrun_1": eval}[j.ExternalID]; j.ParentID != want {
			t.Errorf("claimed %s with parent %q, want %q", j.ExternalID, j.ParentID, want)
		}
	}
	if _, err := tr.Observe(ctx, tracker.ApplyItem{Observation: &tracker.Observation{
		Provider: "openai", ExternalID: "evalrun_1", Kind: tracker.KindEvalRun, Status: tracker.StatusRunning, ProviderStatus: "in_progress",
		OccurredAt: now, Source: tracker.SourcePoll,
	}}); err != nil {
		t.Fatal(err)
	}
	got, err := tr.Job(ctx, "openai", "evalrun_1")
	if err != nil || got.ParentID != eval || got.Status != tracker.StatusRunning {
		t.Errorf("Job = parent %q, status %s, %v; want %s, running", got.ParentID, got.Status, err, eval)
	}
	page, err := tr.List(ctx, tracker.Filter{Kind: tracker.KindEvalRun})
	if err != nil || len(page.Jobs) != 1 || page.Jobs[0].ParentID != eval {
		t.Errorf("List = %+v, %v; want the eval run with its parent", page.Jobs, err)
	}
}
