package openai_test

import (
	"errors"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/providers"
	"github.com/jobwatch/jobwatch/providers/openai"
	"github.com/jobwatch/jobwatch/tracker"
)

// Seed corpora live in testdata/fuzz/<FuzzName>/, made from OpenAI's example
// payloads.

// checkFuzzResult fails the test unless a parse either failed with a
// *providers.PayloadError or returned an observation the tracker can take.
func checkFuzzResult(t *testing.T, obs tracker.Observation, err error) {
	t.Helper()
	if err != nil {
		var pe *providers.PayloadError
		if !errors.As(err, &pe) || pe.Msg == "" {
			t.Fatalf("error %v (%T) is not a *providers.PayloadError with a message", err, err)
		}
		return
	}
	if obs.Provider != "" || obs.Source != "" || obs.Payload != nil {
		t.Fatalf("filled the caller's fields: %+v", obs)
	}
	if obs.ExternalID != "" {
		if err := tracker.ValidateExternalID(obs.ExternalID); err != nil {
			t.Fatalf("ExternalID %q: %v", obs.ExternalID, err)
		}
		if err := tracker.ValidateKind(obs.Kind); err != nil {
			t.Fatalf("Kind: %v", err)
		}
	}
	if obs.Status != "" && (!obs.Status.Valid() || obs.Status == tracker.StatusLost) {
		t.Fatalf("Status %q is not a provider's status", obs.Status)
	}
	if obs.OccurredAt.Location() != time.UTC {
		t.Fatalf("OccurredAt %v is not in UTC", obs.OccurredAt)
	}
	if obs.Usage != nil && obs.Usage.IsZero() {
		t.Fatal("Usage is set but empty")
	}
	for k, v := range obs.Details {
		if v == "" {
			t.Fatalf("Details[%q] is empty", k)
		}
	}
}

func FuzzParseEvent(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte) {
		obs, err := openai.WebhookParser{}.ParseEvent(body)
		checkFuzzResult(t, obs, err)
		if err != nil {
			return
		}
		if obs.EventID == "" || obs.Type == "" {
			t.Fatalf("accepted an event without id or type: %+v", obs)
		}
		if job := obs.ExternalID != ""; job != obs.PollNow || job != obs.Status.Terminal() || job && obs.OccurredAt.IsZero() {
			t.Fatalf("job event %v, but PollNow %v, Status %q, OccurredAt %v", job, obs.PollNow, obs.Status, obs.OccurredAt)
		}
	})
}

func FuzzObjectObservation(f *testing.F) {
	f.Fuzz(func(t *testing.T, kind string, obj []byte) {
		obs, err := openai.ObjectObservation(tracker.Kind(kind), obj)
		checkFuzzResult(t, obs, err)
		if err != nil {
			return
		}
		if obs.ExternalID == "" || obs.Kind != tracker.Kind(kind) || !obs.OccurredAt.IsZero() || obs.EventID != "" || obs.PollNow {
			t.Fatalf("object observation %+v", obs)
		}
	})
}
