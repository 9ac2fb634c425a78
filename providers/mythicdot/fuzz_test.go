package mythicdot_test

import (
	"errors"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/providers"
	"github.com/jobwatch/jobwatch/providers/mythicdot"
	"github.com/jobwatch/jobwatch/tracker"
)

// Seed corpora live in testdata/fuzz/FuzzParseEvent/, made from the payload
// of MythicDot's documentation and the OpenAI objects it embeds.

func FuzzParseEvent(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte) {
		obs, err := mythicdot.WebhookParser{}.ParseEvent(body)
		if err != nil {
			var pe *providers.PayloadError
			if !errors.As(err, &pe) || pe.Msg == "" {
				t.Fatalf("error %v (%T) is not a *providers.PayloadError with a message", err, err)
			}
			return
		}
		if obs.EventID == "" || obs.Type == "" || obs.PollNow || obs.Provider != "" || obs.Source != "" || obs.Payload != nil {
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
		if obs.Kind != tracker.KindBatch && obs.Kind != tracker.KindFineTuning {
			t.Fatalf("Kind %q", obs.Kind)
		}
		if obs.Status != "" && (!obs.Status.Valid() || obs.Status == tracker.StatusLost) {
			t.Fatalf("Status %q is not a provider's status", obs.Status)
		}
		if obs.ProviderStatus == "" || obs.OccurredAt.IsZero() {
			t.Fatalf("job event without a provider status or a time: %+v", obs)
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
