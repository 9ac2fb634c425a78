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
			name:       "lost job seen running again",
			job:        Job{Status: StatusLost, LastObservedAt: at(0)},
			obs:        Observation{Status: StatusRunning, OccurredAt: t0.Add(time.Minute)},
			wantEffect: EffectApplied, wantStatus: StatusRunning, wantNext: at(time.Hour + 10*time.Minute),
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
