package daemon_test

import (
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/storage/storagetest"
	"github.com/jobwatch/jobwatch/tracker"
	"github.com/jobwatch/jobwatch/tracker/config"
	"github.com/jobwatch/jobwatch/tracker/daemon"
)

// A thin end (an OpenAI webhook, which carries no figures) makes its job
// due for an enrichment poll at once only when the provider can be polled:
// with webhooks alone it makes nothing due, so that no sweep claims the
// job and writes it again for nothing.
func TestThinEndIsDueOnlyWhenItsProviderIsPolled(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, apiKey string
		due          bool
	}{{"polled", `api_key = "sk-test"`, true}, {"webhooks only", "", false}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := config.Parse(`
[[providers]]
name = "openai"
type = "openai"
` + tc.apiKey + `
[providers.webhook]
secrets = ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]
`)
			if err != nil {
				t.Fatal(err)
			}
			s := storagetest.Open(t, "sqlite")
			tr := tracker.New(s, daemon.TrackerOptions(cfg))
			now := time.Now().UTC()
			res, err := tr.Observe(t.Context(), tracker.ApplyItem{Adopt: true, Observation: &tracker.Observation{Provider: "openai", ExternalID: "batch_1",
				Kind: tracker.KindBatch, Status: tracker.StatusSucceeded, ProviderStatus: "completed", Source: tracker.SourceWebhook,
				EventID: "evt_1", Type: "batch.completed", OccurredAt: now, PollNow: true}})
			if err != nil || res[0].Job == nil || res[0].Job.Status != tracker.StatusSucceeded {
				t.Fatalf("thin end: %+v, %v", res, err)
			}
			claimed, err := s.ClaimDue(t.Context(), tracker.ClaimParams{Now: now.Add(time.Second), Lease: time.Minute, Limit: 10})
			if err != nil {
				t.Fatal(err)
			}
			if due := len(claimed) == 1; due != tc.due {
				t.Fatalf("%d jobs due after the thin end, want due %v", len(claimed), tc.due)
			}
		})
	}
}
