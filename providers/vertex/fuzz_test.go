package vertex_test

import (
	"errors"
	"testing"

	"github.com/jobwatch/jobwatch/providers"
	"github.com/jobwatch/jobwatch/providers/vertex"
	"github.com/jobwatch/jobwatch/tracker"
)

// Whatever the body, a batch prediction job maps to a valid observation or
// to a *providers.PayloadError; a state is normalized only when known
// (never guessed terminal), and request_failure only flags a succeeded job.
func FuzzBatchObservation(f *testing.F) {
	for _, seed := range []string{
		`{"name":"projects/1/locations/us-central1/batchPredictionJobs/42","state":"JOB_STATE_RUNNING","completionStats":{"successfulCount":"10","incompleteCount":"90"}}`,
		`{"name":"42","state":"JOB_STATE_PARTIALLY_SUCCEEDED","completionStats":{"successfulCount":"97","failedCount":"3","incompleteCount":"0"},"outputInfo":{"gcsOutputDirectory":"gs://b/o"}}`,
		`{"name":"42","state":"JOB_STATE_FAILED","error":{"code":3,"message":"bad"},"completionStats":{"incompleteCount":"-1"}}`,
		`{"name":"42","state":"JOB_STATE_PAUSED","completionStats":{"successfulCount":1e3,"failedCount":"-7"}}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		obs, err := vertex.BatchObservation(body)
		if err != nil {
			if pe, ok := errors.AsType[*providers.PayloadError](err); !ok || pe.Msg == "" {
				t.Fatalf("error %v (%T) is not a *providers.PayloadError with a message", err, err)
			}
			return
		}
		if err := tracker.ValidateExternalID(obs.ExternalID); err != nil {
			t.Fatalf("ExternalID %q: %v", obs.ExternalID, err)
		}
		if obs.Kind != tracker.KindBatch || obs.ProviderStatus == "" || obs.Status != vertex.Status(obs.ProviderStatus) || !obs.OccurredAt.IsZero() {
			t.Fatalf("observation %+v", obs)
		}
		for k, v := range obs.Details {
			if v == "" {
				t.Fatalf("Details[%q] is empty", k)
			}
		}
		if _, ok := obs.Details[tracker.DetailRequestFailure]; ok && obs.Status != tracker.StatusSucceeded {
			t.Fatalf("request_failure on %+v", obs)
		}
		if u := obs.Usage; u != nil && u.RequestsTotal != 0 && u.RequestsTotal < u.RequestsCompleted+u.RequestsFailed {
			t.Fatalf("total below its parts: %+v", u)
		}
	})
}
