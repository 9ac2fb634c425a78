package sweep_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/storage"
	"github.com/jobwatch/jobwatch/storage/storagetest"
	"github.com/jobwatch/jobwatch/tracker"
)

// A batch the provider holds in finalizing past its stuck_after raises
// job.stuck once however many sweeps poll it, stays tracked and polled,
// and, when it completes, records job.unstuck in its history (no alert).
func TestStuckFinalizingBatch(t *testing.T) {
	t.Parallel()
	storagetest.Each(t, func(t *testing.T, s *storage.Store) {
		t.Parallel()
		api := newFakeOpenAI(t)
		api.script("batch_fin", batch("batch_fin", "finalizing", 10, 10, 0))
		r := rules
		r.StuckAfter = map[string]time.Duration{"finalizing": 2 * time.Hour}
		e := setupRules(t, s, api, r)
		e.track(t, tracker.KindBatch, "batch_fin")
		e.clock.Advance(rules.StaleAfter)
		e.sweep(t)
		j := e.job(t, "batch_fin")
		if j.ProviderStatus != "finalizing" || j.StatusSince == nil || !j.StatusSince.Equal(e.clock.Now()) {
			t.Fatalf("provider status %q since %v; want finalizing since %v", j.ProviderStatus, j.StatusSince, e.clock.Now())
		}
		since := *j.StatusSince
		for range 12 {
			e.clock.Advance(30 * time.Minute)
			e.sweep(t)
		}
		polls := api.callCount("batch_fin")
		if polls < 6 {
			t.Errorf("polled %d times in 6 h; want the stuck job still polled", polls)
		}
		var stuck []tracker.Alert
		for _, a := range e.alerts(t) {
			if a.Type == tracker.AlertJobStuck {
				stuck = append(stuck, a)
			}
		}
		if len(stuck) != 1 {
			t.Fatalf("job.stuck raised %d times, want once; alerts %v", len(stuck), types(e.alerts(t)))
		}
		if sum := stuck[0].Summary; !strings.Contains(sum, "stuck: finalizing for ") {
			t.Errorf("summary %q names no status and duration", sum)
		}
		if d := stuck[0].CreatedAt.Sub(since); d < 2*time.Hour || d > 3*time.Hour {
			t.Errorf("job.stuck raised %s after the job entered finalizing, want within a poll interval past 2h", d)
		}
		j = e.job(t, "batch_fin")
		if j.StuckStatus != "finalizing" || j.Status.Terminal() || j.NextPollAt == nil || !j.StatusSince.Equal(since) {
			t.Fatalf("job stuck in %q, status %s, next poll %v, since %v; want stuck in finalizing, live, polled, since %v", j.StuckStatus, j.Status, j.NextPollAt, j.StatusSince, since)
		}

		api.script("batch_fin", batch("batch_fin", "completed", 10, 10, 0))
		e.clock.Advance(2 * time.Hour)
		e.sweep(t)
		e.clock.Advance(2 * time.Hour)
		e.sweep(t)
		j = e.job(t, "batch_fin")
		if j.Status != tracker.StatusSucceeded || j.StuckStatus != "" {
			t.Fatalf("after completion: %s, stuck in %q; want succeeded, not stuck", j.Status, j.StuckStatus)
		}
		var hist []string
		for _, ev := range j.History {
			if ev.Type != "" {
				hist = append(hist, ev.Type)
			}
		}
		if !slices.Equal(hist, []string{tracker.TypeJobStuck, tracker.TypeJobUnstuck}) {
			t.Errorf("history types %v, want job.stuck then job.unstuck", hist)
		}
		got := types(e.alerts(t))
		if slices.Contains(got, tracker.TypeJobUnstuck) || !slices.Contains(got, tracker.AlertJobSucceeded) {
			t.Errorf("alerts %v: want job.succeeded and no job.unstuck", got)
		}
	})
}
