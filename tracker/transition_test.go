package tracker

import (
	"testing"
	"time"
)

func TestTransition(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	now := t0.Add(time.Hour)
	rules := Rules{StaleAfter: 10 * time.Minute}
	at := func(d time.Duration) *time.Time { x := t0.Add(d); return &x }

	tests := []struct {
		name       string
		job        Job
		obs        Observation
		wantEffect Effect
		wantStatus Status
		wantNext   *time.Time
		resolved   bool
	}{
		{
			name:       "pending to running",
			job:        Job{Status: StatusPending},
			obs:        Observation{Status: StatusRunning, OccurredAt: t0, Source: SourcePoll},
			wantEffect: EffectApplied, wantStatus: StatusRunning, wantNext: at(time.Hour + 10*time.Minute),
		},
		{
			name:       "running to succeeded resolves",
			job:        Job{Status: StatusRunning, LastObservedAt: at(0)},
			obs:        Observation{Status: StatusSucceeded, OccurredAt: t0.Add(time.Minute), Source: SourceWebhook},
			wantEffect: EffectApplied, wantStatus: StatusSucceeded, resolved: true,
		},
		{
			name:       "terminal never goes back",
			job:        Job{Status: StatusSucceeded, LastObservedAt: at(0)},
			obs:        Observation{Status: StatusRunning, OccurredAt: t0.Add(time.Minute)},
			wantEffect: EffectConflict, wantStatus: StatusSucceeded,
		},
		{
			name:       "older observation does not overwrite",
			job:        Job{Status: StatusRunning, ProviderStatus: "finalizing", LastObservedAt: at(time.Minute)},
			obs:        Observation{Status: StatusPending, ProviderStatus: "validating", OccurredAt: t0},
			wantEffect: EffectStale, wantStatus: StatusRunning,
		},
		{
			name:       "older terminal observation still ends a live job",
			job:        Job{Status: StatusRunning, LastObservedAt: at(time.Minute)},
			obs:        Observation{Status: StatusFailed, OccurredAt: t0, Source: SourceWebhook},
			wantEffect: EffectApplied, wantStatus: StatusFailed, resolved: true,
		},
		{
			name:       "conflicting terminal is recorded only",
			job:        Job{Status: StatusSucceeded, LastObservedAt: at(0)},
			obs:        Observation{Status: StatusFailed, OccurredAt: t0.Add(time.Minute)},
			wantEffect: EffectConflict, wantStatus: StatusSucceeded,
		},
		{
			name:       "agreeing terminal enriches",
			job:        Job{Status: StatusSucceeded, LastObservedAt: at(0)},
			obs:        Observation{Status: StatusSucceeded, OccurredAt: t0.Add(time.Minute), Usage: &Usage{TotalTokens: 7}},
			wantEffect: EffectApplied, wantStatus: StatusSucceeded,
		},
		{
			name:       "agreeing but older terminal is stale",
			job:        Job{Status: StatusSucceeded, LastObservedAt: at(time.Minute)},
			obs:        Observation{Status: StatusSucceeded, OccurredAt: t0},
			wantEffect: EffectStale, wantStatus: StatusSucceeded,
		},
		{
			name:       "lost job resolves later",
			job:        Job{Status: StatusLost, LastObservedAt: at(0)},
			obs:        Observation{Status: StatusSucceeded, OccurredAt: t0.Add(time.Minute), Source: SourcePoll},
			wantEffect: EffectApplied, wantStatus: StatusSucceeded, resolved: true,
		},
		{
			name:       "lost job seen running stays lost",
			job:        Job{Status: StatusLost, LastObservedAt: at(0)},
			obs:        Observation{Status: StatusRunning, OccurredAt: t0.Add(time.Minute)},
			wantEffect: EffectApplied, wantStatus: StatusLost, wantNext: at(time.Hour),
		},
		{
			name:       "unknown provider status keeps the status",
			job:        Job{Status: StatusRunning, ProviderStatus: "running", LastObservedAt: at(0)},
			obs:        Observation{ProviderStatus: "paused", OccurredAt: t0.Add(time.Minute)},
			wantEffect: EffectApplied, wantStatus: StatusRunning, wantNext: at(time.Hour + 10*time.Minute),
		},
		{
			name:       "unknown provider status after the end is a conflict",
			job:        Job{Status: StatusSucceeded, LastObservedAt: at(0)},
			obs:        Observation{ProviderStatus: "paused", OccurredAt: t0.Add(time.Minute)},
			wantEffect: EffectConflict, wantStatus: StatusSucceeded,
		},
		{
			name:       "thin event makes the job due now",
			job:        Job{Status: StatusRunning},
			obs:        Observation{Status: StatusSucceeded, OccurredAt: t0, PollNow: true},
			wantEffect: EffectApplied, wantStatus: StatusSucceeded, wantNext: &now, resolved: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, effect := Transition(tt.job, tt.obs, now, rules)
			if effect != tt.wantEffect || got.Status != tt.wantStatus {
				t.Fatalf("got (%s, %s), want (%s, %s)", got.Status, effect, tt.wantStatus, tt.wantEffect)
			}
			if !got.LastHeardAt.Equal(now) {
				t.Errorf("LastHeardAt = %v, want %v", got.LastHeardAt, now)
			}
			if effect != EffectApplied {
				got.LastHeardAt = tt.job.LastHeardAt
				if got.Status != tt.job.Status || got.ProviderStatus != tt.job.ProviderStatus || got.LastObservedAt != tt.job.LastObservedAt || got.Usage != tt.job.Usage {
					t.Errorf("a %s observation changed the job: %+v", effect, got)
				}
				return
			}
			if (got.NextPollAt == nil) != (tt.wantNext == nil) || (got.NextPollAt != nil && !got.NextPollAt.Equal(*tt.wantNext)) {
				t.Errorf("NextPollAt = %v, want %v", got.NextPollAt, tt.wantNext)
			}
			if tt.resolved != (got.ResolvedAt != nil && got.ResolvedBy == tt.obs.Source) {
				t.Errorf("resolved = %v/%q, want %v", got.ResolvedAt, got.ResolvedBy, tt.resolved)
			}
			if tt.obs.Usage != nil && got.Usage != *tt.obs.Usage {
				t.Errorf("usage = %+v, want %+v", got.Usage, *tt.obs.Usage)
			}
		})
	}
}

func TestMergeUsageKeepsUnreportedFields(t *testing.T) {
	t.Parallel()
	got := mergeUsage(Usage{InputTokens: 5, RequestsTotal: 10}, Usage{RequestsTotal: 12, RequestsFailed: 1})
	want := Usage{InputTokens: 5, RequestsTotal: 12, RequestsFailed: 1}
	if got != want {
		t.Fatalf("mergeUsage = %+v, want %+v", got, want)
	}
}

func TestTransitionScheduling(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	now := t0.Add(time.Hour)
	rules := Rules{StaleAfter: 10 * time.Minute, MaxPollInterval: time.Hour, LostPollInterval: 6 * time.Hour, NotFoundLimit: 3}
	running := func(quiet, notFound int) Job {
		at := t0
		return Job{Status: StatusRunning, ProviderStatus: "in_progress", LastObservedAt: &at, LastHeardAt: t0, QuietPolls: quiet, NotFoundPolls: notFound}
	}
	poll := func(status Status, word string) Observation {
		return Observation{Source: SourcePoll, Status: status, ProviderStatus: word, OccurredAt: now}
	}
	tests := []struct {
		name         string
		job          Job
		obs          Observation
		wantEffect   Effect
		wantStatus   Status
		wantQuiet    int
		wantNext     time.Duration // from now; -1: no next poll
		wantHeard    bool
		checkDetails string
	}{
		{"quiet poll backs off", running(0, 0), poll(StatusRunning, "in_progress"), EffectApplied, StatusRunning, 1, 20 * time.Minute, true, ""},
		{"backoff doubles", running(2, 0), poll(StatusRunning, "in_progress"), EffectApplied, StatusRunning, 3, time.Hour, true, ""},
		{"backoff is capped", running(9, 0), poll(StatusRunning, "in_progress"), EffectApplied, StatusRunning, 10, time.Hour, true, ""},
		{"a change resets the backoff", running(5, 0), poll(StatusRunning, "finalizing"), EffectApplied, StatusRunning, 0, 10 * time.Minute, true, ""},
		{"a webhook resets the backoff", running(5, 0), Observation{Source: SourceWebhook, Status: StatusRunning, OccurredAt: now}, EffectApplied, StatusRunning, 0, 10 * time.Minute, true, ""},
		{"terminal poll ends polling", running(5, 0), poll(StatusSucceeded, "completed"), EffectApplied, StatusSucceeded, 0, -1, true, ""},
		{"conflicting poll of a finished job ends polling", func() Job { j := running(0, 0); j.Status = StatusSucceeded; n := now; j.NextPollAt = &n; return j }(), poll(StatusFailed, "failed"), EffectConflict, StatusSucceeded, 1, -1, true, ""},
		{"404 below the limit", running(0, 1), Observation{Source: SourcePoll, Type: TypePollNotFound, OccurredAt: now}, EffectRecorded, StatusRunning, 1, 20 * time.Minute, false, ""},
		{"404 at the limit loses the job", running(0, 2), Observation{Source: SourcePoll, Type: TypePollNotFound, OccurredAt: now}, EffectApplied, StatusLost, 1, 6 * time.Hour, false, "the provider answered 404 to 3 polls in a row"},
		{"a good poll clears the 404 count", running(0, 2), poll(StatusRunning, "in_progress"), EffectApplied, StatusRunning, 1, 20 * time.Minute, true, ""},
		{"job.lost", running(0, 0), Observation{Source: SourceSweep, Type: TypeJobLost, OccurredAt: now, Details: map[string]string{"lost_reason": "unresolved 26h after registration"}}, EffectApplied, StatusLost, 0, 6 * time.Hour, false, "unresolved 26h after registration"},
		{"job.lost of a finished job is recorded only", func() Job { j := running(0, 0); j.Status = StatusFailed; j.NextPollAt = nil; return j }(), Observation{Source: SourceSweep, Type: TypeJobLost, OccurredAt: now}, EffectRecorded, StatusFailed, 0, -1, false, ""},
		{"lost job is polled slowly", func() Job { j := running(0, 0); j.Status = StatusLost; return j }(), poll(StatusLost, ""), EffectApplied, StatusLost, 1, 6 * time.Hour, true, ""},
		{"a missed webhook ends the wait", func() Job {
			j := running(0, 0)
			j.Status = StatusSucceeded
			d := now
			j.WebhookDueBy = &d
			j.NextPollAt = &d
			return j
		}(), Observation{Source: SourceSweep, Type: TypeJobWebhookMissed, OccurredAt: now}, EffectApplied, StatusSucceeded, 0, -1, false, ""},
		{"a missed webhook that came meanwhile is stale", func() Job { j := running(0, 0); j.Status = StatusSucceeded; j.NextPollAt = nil; return j }(), Observation{Source: SourceSweep, Type: TypeJobWebhookMissed, OccurredAt: now}, EffectStale, StatusSucceeded, 0, -1, false, ""},
		{"the enrich wait keeps the enrichment's schedule", func() Job { j := running(0, 0); j.Status = StatusSucceeded; h := now; j.AlertHeldUntil = &h; return j }(), Observation{Source: SourceSweep, Type: TypeEnrichTimeout, OccurredAt: now}, EffectApplied, StatusSucceeded, 0, -2, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, effect := Transition(tt.job, tt.obs, now, rules)
			if effect != tt.wantEffect || got.Status != tt.wantStatus || got.QuietPolls != tt.wantQuiet {
				t.Fatalf("got (%s, %s, quiet %d), want (%s, %s, quiet %d)", got.Status, effect, got.QuietPolls, tt.wantStatus, tt.wantEffect, tt.wantQuiet)
			}
			switch {
			case tt.wantNext == -2: // unchanged
				if got.NextPollAt != tt.job.NextPollAt {
					t.Errorf("NextPollAt changed to %v", got.NextPollAt)
				}
			case tt.wantNext == -1:
				if got.NextPollAt != nil {
					t.Errorf("NextPollAt = %v, want none", got.NextPollAt)
				}
			case got.NextPollAt == nil || !got.NextPollAt.Equal(now.Add(tt.wantNext)):
				t.Errorf("NextPollAt = %v, want now+%v", got.NextPollAt, tt.wantNext)
			}
			if heard := got.LastHeardAt.Equal(now); heard != tt.wantHeard {
				t.Errorf("heard = %v, want %v", heard, tt.wantHeard)
			}
			if tt.checkDetails != "" && got.Details["lost_reason"] != tt.checkDetails {
				t.Errorf("lost_reason = %q, want %q", got.Details["lost_reason"], tt.checkDetails)
			}
			if got.WebhookDueBy != nil || got.AlertHeldUntil != nil {
				t.Errorf("webhook due by %v, alert held until %v; want neither (no grace, no enrich wait)", got.WebhookDueBy, got.AlertHeldUntil)
			}
			if (tt.obs.Source == SourceWebhook) != (got.WebhookAt != nil) {
				t.Errorf("WebhookAt = %v after a %s observation", got.WebhookAt, tt.obs.Source)
			}
		})
	}
}

// A poll that ends a job of a provider with webhooks awaits the end's
// webhook for the grace, from the provider's end time when it gives one;
// the webhook clears the wait. A thin webhook's end holds its alert for the
// enrich wait; the enrichment poll releases it.
func TestTransitionAwaitsWebhooksAndFigures(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	rules := Rules{StaleAfter: 10 * time.Minute, MaxPollInterval: time.Hour, WebhookGrace: 10 * time.Minute, EnrichWait: 2 * time.Minute}
	running := Job{Status: StatusRunning, NextPollAt: &now}
	ended := now.Add(-3 * time.Minute)

	j, _ := Transition(running, Observation{Source: SourcePoll, Status: StatusSucceeded, OccurredAt: now, EndedAt: &ended}, now, rules)
	if want := ended.Add(10 * time.Minute); j.WebhookDueBy == nil || !j.WebhookDueBy.Equal(want) || !j.NextPollAt.Equal(want) || j.AlertHeldUntil != nil {
		t.Fatalf("ended by poll: webhook due by %v, next due %v, held %v; want both %v", j.WebhookDueBy, j.NextPollAt, j.AlertHeldUntil, want)
	}
	j, effect := Transition(j, Observation{Source: SourceWebhook, Status: StatusSucceeded, OccurredAt: now}, now.Add(time.Minute), rules)
	if effect != EffectApplied || j.WebhookDueBy != nil || j.NextPollAt != nil {
		t.Fatalf("after its webhook: %s, webhook due by %v, next due %v; want nothing awaited", effect, j.WebhookDueBy, j.NextPollAt)
	}

	j, _ = Transition(running, Observation{Source: SourceWebhook, Status: StatusFailed, OccurredAt: now, PollNow: true}, now, rules)
	if want := now.Add(2 * time.Minute); j.AlertHeldUntil == nil || !j.AlertHeldUntil.Equal(want) || !j.NextPollAt.Equal(now) || j.WebhookDueBy != nil {
		t.Fatalf("thin end: held until %v, next due %v; want held until %v, due now", j.AlertHeldUntil, j.NextPollAt, want)
	}
	j, _ = Transition(j, Observation{Source: SourcePoll, Status: StatusFailed, OccurredAt: now, Details: map[string]string{"error_message": "x"}}, now, rules)
	if j.AlertHeldUntil != nil || j.NextPollAt != nil {
		t.Fatalf("enriched: held until %v, next due %v; want released, done", j.AlertHeldUntil, j.NextPollAt)
	}
}

func TestPollIntervalJitter(t *testing.T) {
	t.Parallel()
	r := Rules{StaleAfter: time.Minute, MaxPollInterval: 5 * time.Minute, Jitter: func(d time.Duration) time.Duration { return d + time.Second }}
	for quiet, want := range []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 5 * time.Minute, 5 * time.Minute} {
		if got := r.PollInterval(quiet); got != want+time.Second {
			t.Errorf("PollInterval(%d) = %v, want %v", quiet, got, want+time.Second)
		}
	}
}
