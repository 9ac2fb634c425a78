package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/tracker"
)

// endRoute routes every job alert to the notifier ops.
var endRoute = &tracker.Alerting{Routes: []tracker.Route{{Events: []string{"job.*"}, Notifiers: []string{"ops"}}}}

// track registers a mythicdot batch job id.
func track(t *testing.T, tr *tracker.Tracker, id string) tracker.Job {
	t.Helper()
	job, _, err := tr.Track(context.Background(), tracker.TrackRequest{Provider: "mythicdot", Kind: tracker.KindBatch, ExternalID: id})
	if err != nil {
		t.Fatal(err)
	}
	return job
}

// resolveEndsAJobByHand: a job resolved by hand ends as a provider's end
// would (history, resolved_by api, usage counted, one end alert), once;
// a status that is not terminal, an unknown job and an ended job are
// refused.
func resolveEndsAJobByHand(t *testing.T, open OpenStore) {
	s := open(t)
	ctx := context.Background()
	tr := alertingTracker(s, time.Now, endRoute)
	track(t, tr, "batch_hand")
	poll := tracker.ApplyItem{Observation: &tracker.Observation{Provider: "mythicdot", ExternalID: "batch_hand", Status: tracker.StatusRunning,
		ProviderStatus: "finalizing", Usage: &tracker.Usage{RequestsTotal: 10, RequestsCompleted: 7, TotalTokens: 900},
		Source: tracker.SourcePoll, OccurredAt: time.Now()}}
	if _, err := tr.Observe(ctx, poll); err != nil {
		t.Fatal(err)
	}

	if _, err := tr.Resolve(ctx, "mythicdot", "batch_hand", tracker.StatusRunning, "x"); !errors.Is(err, tracker.ErrNotTerminal) {
		t.Errorf("Resolve(running) error = %v, want ErrNotTerminal", err)
	}
	if _, err := tr.Resolve(ctx, "mythicdot", "batch_none", tracker.StatusFailed, "x"); !errors.Is(err, tracker.ErrNotFound) {
		t.Errorf("Resolve(unknown job) error = %v, want ErrNotFound", err)
	}
	if got := outbox(t, s); len(got) != 0 {
		t.Fatalf("refused resolves raised %v", got)
	}

	job, err := tr.Resolve(ctx, "mythicdot", "batch_hand", tracker.StatusFailed, "stuck in finalizing for two days")
	if err != nil {
		t.Fatal(err)
	}
	if job.Status != tracker.StatusFailed || job.ResolvedBy != tracker.SourceAPI || job.ResolvedAt == nil || job.NextPollAt != nil || job.ProviderStatus != "finalizing" {
		t.Errorf("resolved job = status %s, by %q, at %v, next poll %v, provider status %q; want failed by api, not due, provider status kept",
			job.Status, job.ResolvedBy, job.ResolvedAt, job.NextPollAt, job.ProviderStatus)
	}
	last := job.History[len(job.History)-1]
	if last.Source != tracker.SourceAPI || last.Type != tracker.TypeJobResolved || last.Effect != tracker.EffectApplied ||
		last.Status != tracker.StatusFailed || !strings.Contains(string(last.Payload), "stuck in finalizing for two days") {
		t.Errorf("history's last event = %+v (payload %s), want the applied job.resolved with its reason", last, last.Payload)
	}
	if got := outbox(t, s); fmt.Sprint(got) != "map[job.failed:[ops]]" {
		t.Errorf("outbox = %v, want one job.failed to ops", got)
	}
	usage, err := s.UsageTotals(ctx, "day", tracker.WindowStart("day", time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	if len(usage) != 1 || usage[0].Metrics["failed_jobs"] != 1 || usage[0].Metrics["jobs"] != 1 || usage[0].Metrics["total_tokens"] != 900 {
		t.Errorf("usage = %+v, want the job counted once as failed with its 900 tokens", usage)
	}

	again, err := tr.Resolve(ctx, "mythicdot", "batch_hand", tracker.StatusSucceeded, "second thoughts")
	if !errors.Is(err, tracker.ErrJobEnded) || again.Status != tracker.StatusFailed {
		t.Errorf("second Resolve = %s, %v; want the failed job and ErrJobEnded", again.Status, err)
	}
	if got := outbox(t, s); fmt.Sprint(got) != "map[job.failed:[ops]]" {
		t.Errorf("outbox after a second resolve = %v, want the one job.failed", got)
	}
}

// untrackStopsPollsAndAlerts: an untracked job is claimed by no sweep, a
// webhook about it is recorded in its history and changes nothing, raises
// nothing; it stays readable and listed.
func untrackStopsPollsAndAlerts(t *testing.T, open OpenStore) {
	s := open(t)
	ctx := context.Background()
	tr := alertingTracker(s, time.Now, endRoute)
	track(t, tr, "batch_gone")
	track(t, tr, "batch_kept")
	if err := tr.Untrack(ctx, "mythicdot", "batch_gone", false); err != nil {
		t.Fatal(err)
	}
	if err := tr.Untrack(ctx, "mythicdot", "batch_gone", false); err != nil {
		t.Errorf("second Untrack = %v, want nothing done", err)
	}
	if err := tr.Untrack(ctx, "mythicdot", "batch_none", false); !errors.Is(err, tracker.ErrNotFound) {
		t.Errorf("Untrack(unknown job) = %v, want ErrNotFound", err)
	}
	claimed, err := s.ClaimDue(ctx, tracker.ClaimParams{Now: time.Now().Add(24 * time.Hour), Lease: time.Minute, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(claimed) != 1 || claimed[0].ExternalID != "batch_kept" {
		t.Errorf("claimed %v, want batch_kept alone", claimed)
	}

	res, err := tr.Observe(ctx, observation("batch_gone", "evt_end", tracker.StatusFailed, time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Effect != tracker.EffectRecorded || res[0].Job.Status != tracker.StatusPending {
		t.Errorf("webhook about an untracked job = %s, job %s; want recorded, job unchanged", res[0].Effect, res[0].Job.Status)
	}
	if got := outbox(t, s); len(got) != 0 {
		t.Errorf("an untracked job raised %v", got)
	}
	job, err := tr.Job(ctx, "mythicdot", "batch_gone")
	if err != nil {
		t.Fatal(err)
	}
	types := make([]string, len(job.History))
	for i, e := range job.History {
		types[i] = e.Type + ":" + string(e.Effect)
	}
	if job.UntrackedAt == nil || job.NextPollAt != nil || job.Status != tracker.StatusPending ||
		!slices.Equal(types, []string{"job.untracked:applied", "batch.failed:recorded"}) {
		t.Errorf("untracked job = untracked at %v, next poll %v, %s, history %v; want untracked, not due, pending, the untracking and the webhook recorded",
			job.UntrackedAt, job.NextPollAt, job.Status, types)
	}
	if _, err := tr.Resolve(ctx, "mythicdot", "batch_gone", tracker.StatusCancelled, ""); !errors.Is(err, tracker.ErrJobUntracked) {
		t.Errorf("Resolve(untracked job) = %v, want ErrJobUntracked", err)
	}
	page, err := tr.List(ctx, tracker.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Jobs) != 2 {
		t.Errorf("listed %d jobs, want both, untracked included", len(page.Jobs))
	}
}

// purgeDeletesJobHistoryAndAlerts: a purged job is gone with its history
// and its alerts; other jobs' stay.
func purgeDeletesJobHistoryAndAlerts(t *testing.T, open OpenStore) {
	s := open(t)
	ctx := context.Background()
	tr := alertingTracker(s, time.Now, endRoute)
	for _, id := range []string{"batch_purged", "batch_other"} {
		for i, st := range []tracker.Status{tracker.StatusRunning, tracker.StatusFailed} {
			if _, err := tr.Observe(ctx, observation(id, fmt.Sprintf("%s_%d", id, i), st, time.Now())); err != nil {
				t.Fatal(err)
			}
		}
	}
	purged, err := tr.Job(ctx, "mythicdot", "batch_purged")
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Untrack(ctx, "mythicdot", "batch_purged", true); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Job(ctx, "mythicdot", "batch_purged"); !errors.Is(err, tracker.ErrNotFound) {
		t.Errorf("purged job read = %v, want ErrNotFound", err)
	}
	if h, err := s.History(ctx, purged.ID, 100); err != nil || len(h) != 0 {
		t.Errorf("purged job's history = %d events, %v; want none", len(h), err)
	}
	alerts, err := s.ListAlerts(ctx, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(alerts) != 1 || alerts[0].Alert.Job.ExternalID != "batch_other" {
		t.Errorf("outbox holds %d alerts, want batch_other's alone", len(alerts))
	}
	if other, err := tr.Job(ctx, "mythicdot", "batch_other"); err != nil || len(other.History) != 2 {
		t.Errorf("other job = %d events, %v; want its 2", len(other.History), err)
	}
	if err := tr.Untrack(ctx, "mythicdot", "batch_purged", true); !errors.Is(err, tracker.ErrNotFound) {
		t.Errorf("second purge = %v, want ErrNotFound", err)
	}
}

// listQueryMatchesIDSubstring: Filter.Query finds the jobs whose id holds
// it, whatever the case of its ASCII letters, its wildcards taken
// literally, with the other filters and paging.
func listQueryMatchesIDSubstring(t *testing.T, open OpenStore) {
	s := open(t)
	ctx := context.Background()
	tr := newTracker(s)
	for _, id := range []string{"batch_AbC_1", "batch_abc_2", "ft_ABC", "batch_x%y", `batch_x\y`, "batch_other"} {
		track(t, tr, id)
	}
	if _, _, err := tr.Track(ctx, tracker.TrackRequest{Provider: "openai", Kind: tracker.KindBatch, ExternalID: "batch_abc_9"}); err != nil {
		t.Fatal(err)
	}
	ids := func(f tracker.Filter) []string {
		t.Helper()
		page, err := tr.List(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		out := []string{}
		for _, j := range page.Jobs {
			out = append(out, j.ExternalID)
		}
		return out
	}
	checks := []struct {
		f    tracker.Filter
		want []string
	}{
		{tracker.Filter{Query: "abc"}, []string{"batch_abc_9", "ft_ABC", "batch_abc_2", "batch_AbC_1"}},
		{tracker.Filter{Query: "ABC", Provider: "mythicdot"}, []string{"ft_ABC", "batch_abc_2", "batch_AbC_1"}},
		{tracker.Filter{Query: "c_1"}, []string{"batch_AbC_1"}},
		{tracker.Filter{Query: "%"}, []string{"batch_x%y"}},
		{tracker.Filter{Query: `\`}, []string{`batch_x\y`}},
		{tracker.Filter{Query: "b_t"}, []string{}},
		{tracker.Filter{Query: "nothing"}, []string{}},
	}
	for _, c := range checks {
		if got := ids(c.f); !slices.Equal(got, c.want) {
			t.Errorf("List(%+v) = %v, want %v", c.f, got, c.want)
		}
	}
	first, err := tr.List(ctx, tracker.Filter{Query: "abc", Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	rest, err := tr.List(ctx, tracker.Filter{Query: "abc", Limit: 3, Cursor: first.NextCursor})
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Jobs) != 3 || len(rest.Jobs) != 1 || rest.Jobs[0].ExternalID != "batch_AbC_1" || rest.NextCursor != "" {
		t.Errorf("paged %d then %d jobs, want 3 then batch_AbC_1", len(first.Jobs), len(rest.Jobs))
	}
	if _, err := tr.List(ctx, tracker.Filter{Query: "a\x00"}); err == nil {
		t.Error("a query holding NUL was taken")
	}
}

// pruneJobsDeletesEndedJobsInChunks: PruneJobs deletes, a chunk at a
// time, the jobs that ended (or were untracked) before the cutoff, with
// their history and their sent alerts, walking past old jobs still live;
// those, newer ends and alerts not yet sent stay.
func pruneJobsDeletesEndedJobsInChunks(t *testing.T, open OpenStore) {
	s := open(t)
	ctx := context.Background()
	t0 := time.Date(2026, 9, 1, 12, 0, 0, 0, time.UTC)
	clock := t0
	tr := alertingTracker(s, func() time.Time { return clock }, endRoute)
	end := func(id string) {
		t.Helper()
		if _, err := tr.Observe(ctx, observation(id, "end_"+id, tracker.StatusFailed, clock)); err != nil {
			t.Fatal(err)
		}
	}
	// A first chunk of 2 with nothing to delete, then ended jobs, then a
	// job registered after the cutoff.
	track(t, tr, "live_a")
	track(t, tr, "live_b")
	end("old_sent")
	clock = t0.Add(time.Minute)
	end("old_pending")
	clock = t0.Add(2 * time.Minute)
	track(t, tr, "old_untracked")
	if err := tr.Untrack(ctx, "mythicdot", "old_untracked", false); err != nil {
		t.Fatal(err)
	}
	clock = t0.Add(10 * 24 * time.Hour)
	end("new")
	pending, err := s.ListAlerts(ctx, tracker.AlertPending, 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range pending {
		if a.Alert.Job.ExternalID == "old_sent" {
			if err := s.FinishAlerts(ctx, []tracker.AlertOutcome{{ID: a.ID, State: tracker.AlertSent, Attempts: 1, At: clock}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	oldSent, err := tr.Job(ctx, "mythicdot", "old_sent")
	if err != nil {
		t.Fatal(err)
	}

	cutoff := t0.Add(24 * time.Hour)
	if n, err := s.PruneJobs(ctx, cutoff, 2); err != nil || n != 3 {
		t.Errorf("PruneJobs in chunks of 2 = %d, %v; want the 3 old ended jobs", n, err)
	}
	if n, err := s.PruneJobs(ctx, cutoff, 2); err != nil || n != 0 {
		t.Errorf("second PruneJobs = %d, %v; want nothing to do", n, err)
	}
	for _, id := range []string{"old_sent", "old_pending", "old_untracked"} {
		if _, err := s.GetJob(ctx, "mythicdot", id); !errors.Is(err, tracker.ErrNotFound) {
			t.Errorf("%s after pruning: %v, want ErrNotFound", id, err)
		}
	}
	if h, err := s.History(ctx, oldSent.ID, 10); err != nil || len(h) != 0 {
		t.Errorf("pruned job's history = %d events, %v; want none", len(h), err)
	}
	for _, id := range []string{"live_a", "live_b", "new"} {
		if _, err := tr.Job(ctx, "mythicdot", id); err != nil {
			t.Errorf("%s after pruning: %v, want it kept", id, err)
		}
	}
	all, err := s.ListAlerts(ctx, "", 10)
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, a := range all {
		left = append(left, a.Alert.Job.ExternalID+":"+string(a.State))
	}
	slices.Sort(left)
	if !slices.Equal(left, []string{"new:pending", "old_pending:pending"}) {
		t.Errorf("alerts left = %v, want the pending ones, the pruned job's sent alert gone", left)
	}
	if n, err := s.PruneJobs(ctx, clock.Add(time.Hour), 2); err != nil || n != 1 {
		t.Errorf("PruneJobs after the newest end = %d, %v; want it pruned too", n, err)
	}
}
