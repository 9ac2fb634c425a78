package llmtune_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/providers"
	"github.com/jobwatch/jobwatch/providers/llmtune"
	"github.com/jobwatch/jobwatch/tracker"
)

// Seed corpora live in testdata/fuzz/FuzzParseEvent/, made from the payloads
// of LLMTune's webhook documentation.

func FuzzParseEvent(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte) {
		obs, err := llmtune.WebhookParser{}.ParseEvent(body)
		if err != nil {
			var pe *providers.PayloadError
			if !errors.As(err, &pe) || pe.Msg == "" {
				t.Fatalf("error %v (%T) is not a *providers.PayloadError with a message", err, err)
			}
			return
		}
		if !strings.HasPrefix(obs.EventID, "llmtune_") || len(obs.EventID) != len("llmtune_")+32 {
			t.Fatalf("EventID %q", obs.EventID)
		}
		if obs.Type == "" || obs.PollNow || obs.Provider != "" || obs.Source != "" || obs.Payload != nil {
			t.Fatalf("observation %+v", obs)
		}
		if obs.OccurredAt.Location() != time.UTC {
			t.Fatalf("OccurredAt %v is not in UTC", obs.OccurredAt)
		}
		if obs.ExternalID == "" {
			if obs.Kind != "" || obs.Status != "" || obs.ProviderStatus != "" || obs.Usage != nil || obs.Details != nil {
				t.Fatalf("provider event with job fields: %+v", obs)
			}
			return
		}
		if err := tracker.ValidateExternalID(obs.ExternalID); err != nil {
			t.Fatalf("ExternalID %q: %v", obs.ExternalID, err)
		}
		if obs.Kind != tracker.KindFineTuning || obs.ProviderStatus == "" {
			t.Fatalf("training event %+v", obs)
		}
		if want := obs.Type == "training.started"; obs.Status == "" || obs.Status.Terminal() == want {
			t.Fatalf("%s: Status %q", obs.Type, obs.Status)
		}
		if obs.Usage != nil && obs.Usage.IsZero() {
			t.Fatal("Usage is set but empty")
		}
		for k, v := range obs.Details {
			if v == "" {
				t.Fatalf("Details[%q] is empty", k)
			}
		}
	})
}
