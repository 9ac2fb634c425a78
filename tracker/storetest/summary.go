package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/tracker"
)

// consoleSummaries: CountResolutions groups the jobs resolved since a time
// by provider and source, CountStuck counts live stuck jobs per provider,
// and WebhookSilences names the providers whose webhooks went silent.
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

	counts, err := s.CountResolutions(ctx, now.Add(-24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	got := map[tracker.Source]int64{}
	for _, c := range counts {
		if c.Provider != "mythicdot" {
			t.Errorf("resolution count of provider %q", c.Provider)
		}
		got[c.Source] += c.Count
	}
	if len(got) != 2 || got[tracker.SourceWebhook] != 2 || got[tracker.SourcePoll] != 1 {
		t.Errorf("CountResolutions over the day = %+v, want 2 by webhook and 1 by poll", counts)
	}
	stuckCounts, err := s.CountStuck(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(stuckCounts) != 1 || stuckCounts["mythicdot"] != 1 {
		t.Errorf("CountStuck = %v, want mythicdot: 1", stuckCounts)
	}
	silences, err := s.WebhookSilences(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if since, ok := silences["mythicdot"]; len(silences) != 1 || !ok || !since.Equal(clock) {
		t.Errorf("WebhookSilences = %v, want mythicdot silent since %v", silences, clock)
	}
}
