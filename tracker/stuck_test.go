package tracker

import (
	"slices"
	"testing"
	"time"
)

func TestStuck(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	rules := Rules{StuckAfter: map[string]time.Duration{"finalizing": 2 * time.Hour, "off": 0}}
	since := func(j Job, d time.Duration) Job { x := t0.Add(-d); j.StatusSince = &x; return j }
	live := Job{Status: StatusRunning, ProviderStatus: "finalizing"}
	tests := []struct {
		name    string
		job     Job
		want    bool
		wantFor time.Duration
	}{
		{"past stuck_after", since(live, 3*time.Hour), true, 3 * time.Hour},
		{"exactly at stuck_after", since(live, 2*time.Hour), true, 2 * time.Hour},
		{"not yet", since(live, time.Hour), false, time.Hour},
		{"already stuck in this status", func() Job { j := since(live, 3*time.Hour); j.StuckStatus = "finalizing"; return j }(), false, 0},
		{"stuck before in another status", func() Job { j := since(live, 3*time.Hour); j.StuckStatus = "validating"; return j }(), true, 3 * time.Hour},
		{"status without stuck_after", since(Job{Status: StatusRunning, ProviderStatus: "in_progress"}, 30*time.Hour), false, 0},
		{"stuck_after 0 is off", since(Job{Status: StatusRunning, ProviderStatus: "off"}, 30*time.Hour), false, 0},
		{"ended", since(Job{Status: StatusSucceeded, ProviderStatus: "finalizing"}, 3*time.Hour), false, 0},
		{"lost", since(Job{Status: StatusLost, ProviderStatus: "finalizing"}, 3*time.Hour), false, 0},
		{"never seen in a status", Job{Status: StatusRunning, ProviderStatus: "finalizing"}, false, 0},
	}
	for _, tt := range tests {
		d, got := Stuck(tt.job, t0, rules)
		if got != tt.want || (got && d != tt.wantFor) {
			t.Errorf("%s: Stuck = %s, %v; want %s, %v", tt.name, d, got, tt.wantFor, tt.want)
		}
	}
}

func TestStuckTransitions(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	rules := Rules{StaleAfter: 10 * time.Minute, StuckAfter: map[string]time.Duration{"finalizing": 2 * time.Hour}}
	poll := func(ps string, at time.Time) Observation {
		return Observation{Status: StatusRunning, ProviderStatus: ps, OccurredAt: at, Source: SourcePoll}
	}
	job := Job{Status: StatusPending}
	job, _ = Transition(job, poll("finalizing", t0), t0, rules)
	if job.StatusSince == nil || !job.StatusSince.Equal(t0) {
		t.Fatalf("status since %v, want %v", job.StatusSince, t0)
	}
	// The same status again keeps the time it was first seen.
	job, _ = Transition(job, poll("finalizing", t0.Add(time.Hour)), t0.Add(time.Hour), rules)
	if !job.StatusSince.Equal(t0) {
		t.Fatalf("status since %v after a poll in the same status, want %v", job.StatusSince, t0)
	}
	now := t0.Add(3 * time.Hour)
	verdict := Observation{Source: SourceSweep, Type: TypeJobStuck, ProviderStatus: "finalizing", OccurredAt: now}
	before := job
	job, eff := Transition(job, verdict, now, rules)
	if eff != EffectApplied || job.StuckStatus != "finalizing" {
		t.Fatalf("stuck verdict: %s, stuck in %q", eff, job.StuckStatus)
	}
	if got := AlertTypes(before, Result{Job: &job, Effect: eff}, verdict); !slices.Equal(got, []string{AlertJobStuck}) {
		t.Errorf("alerts %v, want job.stuck", got)
	}
	// Once per status: a second verdict is stale and alerts nothing.
	again, eff := Transition(job, verdict, now.Add(time.Hour), rules)
	if eff != EffectStale || len(AlertTypes(job, Result{Job: &again, Effect: eff}, verdict)) != 0 {
		t.Errorf("second stuck verdict: %s, want stale and no alert", eff)
	}
	// A verdict about a status the job has left is stale.
	if _, eff := Transition(job, Observation{Source: SourceSweep, Type: TypeJobStuck, ProviderStatus: "validating", OccurredAt: now}, now, rules); eff != EffectStale {
		t.Errorf("verdict about another status: %s, want stale", eff)
	}
	// A change of provider status clears it.
	later := now.Add(time.Hour)
	job, _ = Transition(job, Observation{Status: StatusSucceeded, ProviderStatus: "completed", OccurredAt: later, Source: SourcePoll}, later, rules)
	if job.StuckStatus != "" || !job.StatusSince.Equal(later) {
		t.Errorf("after completion: stuck in %q since %v, want not stuck since %v", job.StuckStatus, job.StatusSince, later)
	}
}

// The observation that moves a stuck job on is followed in its history by
// job.unstuck, which raises no alert.
func TestPlanUnstuckEvent(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	since := t0.Add(-3 * time.Hour)
	k := JobKey{Provider: "openai", ExternalID: "batch_1"}
	jobs := map[JobKey]*Job{k: {ID: 7, Provider: "openai", ExternalID: "batch_1", Kind: KindBatch, Status: StatusRunning,
		ProviderStatus: "finalizing", StatusSince: &since, StuckStatus: "finalizing"}}
	obs := Observation{Provider: "openai", ExternalID: "batch_1", Status: StatusRunning, ProviderStatus: "in_progress", OccurredAt: t0, Source: SourcePoll}
	p := ApplyParams{Items: []ApplyItem{{Observation: &obs}}, Now: t0, Rules: func(string, Kind) Rules { return Rules{StaleAfter: time.Minute} }, Alerting: &Alerting{}}
	pl := PlanApply(p, ApplyOrder(p.Items), jobs, nil)
	var evs []string
	for _, ev := range pl.Events {
		evs = append(evs, ev.Type)
	}
	if !slices.Equal(evs, []string{"", TypeJobUnstuck}) || pl.Events[1].JobID == nil || *pl.Events[1].JobID != 7 {
		t.Errorf("events %v, want the poll then job.unstuck of job 7", evs)
	}
	for _, a := range pl.Alerts {
		if a.Type == TypeJobUnstuck {
			t.Errorf("job.unstuck alerted")
		}
	}
}
