package fireworks_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/jobwatch/jobwatch/providers"
	"github.com/jobwatch/jobwatch/providers/fireworks"
	"github.com/jobwatch/jobwatch/tracker"
)

// Whatever the body, a job maps to a valid batch observation or to a
// *providers.PayloadError; a state is normalized only when known, and
// request_failure only flags a succeeded job with failed requests.
func FuzzBatchObservation(f *testing.F) {
	for _, seed := range []string{
		`{"name":"accounts/a/batchInferenceJobs/j","state":"JOB_STATE_CREATING"}`,
		`{"name":"accounts/a/batchInferenceJobs/j","state":"JOB_STATE_COMPLETED","jobProgress":{"totalInputRequests":10,"failedRequests":"3","inputTokens":"99"}}`,
		`{"name":"accounts/a/batchInferenceJobs/j","state":"JOB_STATE_FAILED","status":{"code":"INTERNAL","message":"boom"}}`,
		`{"name":"accounts/a/batchInferenceJobs/j","state":"JOB_STATE_PAUSED","jobProgress":{"inputTokens":"1e400"}}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		obs, err := fireworks.BatchObservation(body)
		if err != nil {
			if pe, ok := errors.AsType[*providers.PayloadError](err); !ok || pe.Msg == "" {
				t.Fatalf("error %v (%T) is not a *providers.PayloadError with a message", err, err)
			}
			return
		}
		if err := tracker.ValidateExternalID(obs.ExternalID); err != nil || strings.Contains(obs.ExternalID, "/") {
			t.Fatalf("ExternalID %q: %v", obs.ExternalID, err)
		}
		if obs.Kind != tracker.KindBatch || obs.ProviderStatus == "" || obs.Status != fireworks.BatchStatus(obs.ProviderStatus) || obs.Payload != nil {
			t.Fatalf("observation %+v", obs)
		}
		for k, v := range obs.Details {
			if v == "" {
				t.Fatalf("Details[%q] is empty", k)
			}
		}
		if _, ok := obs.Details[tracker.DetailRequestFailure]; ok && (obs.Status != tracker.StatusSucceeded || obs.Usage == nil || obs.Usage.RequestsFailed == 0) {
			t.Fatalf("request_failure on %+v", obs)
		}
	})
}
