package mistral_test

import (
	"errors"
	"testing"

	"github.com/jobwatch/jobwatch/providers"
	"github.com/jobwatch/jobwatch/providers/mistral"
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
			obs, err := observe(body)
			if err != nil {
				if pe, ok := errors.AsType[*providers.PayloadError](err); !ok || pe.Msg == "" {
					t.Fatalf("%s: error %v (%T) is not a *providers.PayloadError with a message", kind, err, err)
				}
				continue
			}
			if err := tracker.ValidateExternalID(obs.ExternalID); err != nil {
				t.Fatalf("%s: ExternalID %q: %v", kind, obs.ExternalID, err)
			}
			if obs.Kind != kind || obs.ProviderStatus == "" || !obs.OccurredAt.IsZero() || obs.Payload != nil {
				t.Fatalf("%s: observation %+v", kind, obs)
			}
			normalize := mistral.BatchStatus
			if kind == tracker.KindFineTuning {
				normalize = mistral.FineTuningStatus
			}
			if obs.Status != normalize(obs.ProviderStatus) {
				t.Fatalf("%s: Status %q for %q", kind, obs.Status, obs.ProviderStatus)
			}
			for k, v := range obs.Details {
				if v == "" {
					t.Fatalf("%s: Details[%q] is empty", kind, k)
				}
			}
			if _, ok := obs.Details[tracker.DetailRequestFailure]; ok && (obs.ProviderStatus != "SUCCESS" || obs.Usage == nil || obs.Usage.RequestsFailed == 0) {
				t.Fatalf("%s: request_failure on %+v", kind, obs)
			}
		}
	})
}
