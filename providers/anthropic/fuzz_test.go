package anthropic_test

import (
	"errors"
	"testing"

	"github.com/jobwatch/jobwatch/providers"
	"github.com/jobwatch/jobwatch/providers/anthropic"
	"github.com/jobwatch/jobwatch/tracker"
)

// The seed corpus, in testdata/fuzz/FuzzBatchObservation/, holds message
// batches shaped like the API's at each stage of their life.
func FuzzBatchObservation(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte) {
		obs, err := anthropic.BatchObservation(body)
		if err != nil {
			if pe, ok := errors.AsType[*providers.PayloadError](err); !ok || pe.Msg == "" {
				t.Fatalf("error %v (%T) is not a *providers.PayloadError with a message", err, err)
			}
			return
		}
		if err := tracker.ValidateExternalID(obs.ExternalID); err != nil {
			t.Fatalf("ExternalID %q: %v", obs.ExternalID, err)
		}
		if obs.Kind != tracker.KindBatch || !obs.OccurredAt.IsZero() || obs.EventID != "" || obs.Payload != nil || obs.PollNow {
			t.Fatalf("observation %+v", obs)
		}
		if obs.Status != "" && obs.Status != tracker.StatusRunning && obs.Status != tracker.StatusSucceeded && obs.Status != tracker.StatusCancelled {
			t.Fatalf("Status %q", obs.Status)
		}
		if (obs.Status == "") != (obs.ProviderStatus != "in_progress" && obs.ProviderStatus != "canceling" && obs.ProviderStatus != "ended") {
			t.Fatalf("Status %q for processing_status %q", obs.Status, obs.ProviderStatus)
		}
		if u := obs.Usage; u != nil {
			if u.IsZero() {
				t.Fatal("Usage is set but empty")
			}
			if u.RequestsCompleted < 0 || u.RequestsFailed < 0 || u.RequestsCompleted+u.RequestsFailed > u.RequestsTotal {
				t.Fatalf("usage %+v does not add up", *u)
			}
		}
		for k, v := range obs.Details {
			if v == "" {
				t.Fatalf("Details[%q] is empty", k)
			}
		}
		if _, ok := obs.Details["request_failure"]; ok && (obs.ProviderStatus != "ended" || obs.Usage == nil || obs.Usage.RequestsFailed == 0) {
			t.Fatalf("request_failure on %+v", obs)
		}
	})
}
