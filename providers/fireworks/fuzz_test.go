package fireworks_test

import (
	"testing"

	"github.com/jobwatch/jobwatch/providers/fireworks"
	"github.com/jobwatch/jobwatch/providers/providertest"
	"github.com/jobwatch/jobwatch/tracker"
)

// Whatever the body, a job maps to a valid batch observation (its id the
// last segment of its name) or to a *providers.PayloadError; a state is
// normalized only when known, and request_failure only flags a succeeded
// job with failed requests.
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
		providertest.CheckObservation(t, tracker.KindBatch, obs, err, fireworks.BatchStatus, "")
	})
}
