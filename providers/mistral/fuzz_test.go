package mistral_test

import (
	"testing"

	"github.com/jobwatch/jobwatch/providers/mistral"
	"github.com/jobwatch/jobwatch/providers/providertest"
	"github.com/jobwatch/jobwatch/tracker"
)

// Whatever the body, a job object maps to a valid observation of its kind
// or to a *providers.PayloadError; a status word is normalized only when
// known (never guessed terminal), and request_failure only flags a SUCCESS
// batch with failed requests.
func FuzzJobObservation(f *testing.F) {
	for _, seed := range []string{
		`{"id":"b1","object":"batch","status":"QUEUED","total_requests":0,"completed_requests":0,"succeeded_requests":0,"failed_requests":0,"output_file":null,"error_file":null}`,
		`{"id":"b1","object":"batch","status":"RUNNING","total_requests":100,"completed_requests":40,"succeeded_requests":39,"failed_requests":1}`,
		`{"id":"b1","object":"batch","status":"SUCCESS","total_requests":100,"succeeded_requests":97,"failed_requests":3,"output_file":"o","error_file":"e"}`,
		`{"id":"b1","object":"batch","status":"TIMEOUT_EXCEEDED","total_requests":1e3,"succeeded_requests":-1}`,
		`{"id":"ft-1","object":"job","status":"FAILED_VALIDATION","fine_tuned_model":null}`,
		`{"id":"ft-1","object":"job","status":"SUCCESS","fine_tuned_model":"ft:open-mistral-7b:x","trained_tokens":3250000}`,
		`{"id":"ft-1","status":"PAUSED","trained_tokens":1.5}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for kind, observe := range map[tracker.Kind]func([]byte) (tracker.Observation, error){
			tracker.KindBatch:      mistral.BatchObservation,
			tracker.KindFineTuning: mistral.FineTuningObservation,
		} {
			normalize := mistral.BatchStatus
			if kind == tracker.KindFineTuning {
				normalize = mistral.FineTuningStatus
			}
			obs, err := observe(body)
			providertest.CheckObservation(t, kind, obs, err, normalize, "SUCCESS")
			if err == nil && obs.ProviderStatus == "" {
				t.Fatalf("%s: observation %+v has no provider status", kind, obs)
			}
		}
	})
}
