package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/tracker"
)

// consoleSummaries: SummarizeJobs counts the jobs, the live stuck ones and
// those resolved since a time by webhook and by poll, per provider, kind
// and status; WebhookSilences names the providers whose webhooks went
// silent.
func consoleSummaries(t *testing.T, open OpenStore) {
	s := open(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	clock := now
	tr := tracker.New(s, tracker.Options{
		Now: func() time.Time { return clock },
		Rules: func(provider string, kind tracker.Kind) tracker.Rules {
			return tracker.Rules{StaleAfter: 10 * time.Minute, WebhookGrace: time.Minute,
				StuckAfter: map[string]time.Duration{"validating": time.Hour}}
		},
		Alerting: &tracker.Alerting{SilentAfter: map[string]int{"mythicdot": 1}},
	})
	observe := func(it tracker.ApplyItem) {
		t.Helper()
		if _, err := tr.Observe(ctx, it); err != nil {
			t.Fatal(err)
		}
	}
	byPoll := func(id string, status tracker.Status) tracker.ApplyItem {
		it := observation(id, "", status, clock)
		it.Observation.Source, it.Observation.Type = tracker.SourcePoll, ""
		return it
	}
	// Two ends by webhook, one by poll, one live job stuck, one live job
	// not; an end 30 hours ago is outside the day.
	clock = now.Add(-30 * time.Hour)
	observe(observation("old", "evt_old", tracker.StatusSucceeded, clock))
	clock = now
	observe(observation("w1", "evt_w1", tracker.StatusSucceeded, now))
	observe(observation("w2", "evt_w2", tracker.StatusFailed, now))
	observe(byPoll("p1", tracker.StatusRunning))
	observe(byPoll("p1", tracker.StatusSucceeded))
	stuck := observation("s1", "evt_s1", tracker.StatusRunning, now)
	stuck.Observation.ProviderStatus = "validating"
	observe(stuck)
	observe(observation("r1", "evt_r1", tracker.StatusRunning, now))
	clock = now.Add(2 * time.Hour)
	verdict := func(id, typ, providerStatus string) tracker.ApplyItem {
		return tracker.ApplyItem{Observation: &tracker.Observation{Provider: "mythicdot", ExternalID: id,
			Source: tracker.SourceSweep, Type: typ, ProviderStatus: providerStatus, OccurredAt: clock}}
	}
	observe(verdict("s1", tracker.TypeJobStuck, "validating"))
	observe(verdict("p1", tracker.TypeJobWebhookMissed, ""))

	summary, err := s.SummarizeJobs(ctx, now.Add(-24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var jobs, stuckJobs, webhookEnds, pollEnds int64
	for _, r := range summary {
		if r.Provider != "mythicdot" || r.Kind != tracker.KindBatch {
			t.Errorf("summary row of %s %s", r.Provider, r.Kind)
		}
		if r.Status == tracker.StatusRunning && (r.Count != 2 || r.Stuck != 1) {
			t.Errorf("running: %+v, want 2 jobs, 1 stuck", r)
		}
		jobs, stuckJobs, webhookEnds, pollEnds = jobs+r.Count, stuckJobs+r.Stuck, webhookEnds+r.ByWebhook, pollEnds+r.ByPoll
	}
	if jobs != 6 || stuckJobs != 1 || webhookEnds != 2 || pollEnds != 1 {
		t.Errorf("SummarizeJobs over the day = %+v; want 6 jobs, 1 stuck, 2 ended by webhook and 1 by poll in the day", summary)
	}
	silences, err := s.WebhookSilences(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if since, ok := silences["mythicdot"]; len(silences) != 1 || !ok || !since.Equal(clock) {
		t.Errorf("WebhookSilences = %v, want mythicdot silent since %v", silences, clock)
	}
}
