package together_test

import (
	"errors"
	"testing"

	"github.com/jobwatch/jobwatch/providers"
	"github.com/jobwatch/jobwatch/providers/together"
	"github.com/jobwatch/jobwatch/tracker"
)

// Whatever the body, a job maps to a valid observation of its kind or to a
// *providers.PayloadError; a status word is normalized only when known.
func FuzzJobObservation(f *testing.F) {
	for _, seed := range []string{
		`{"id":"b-1","status":"VALIDATING","progress":0}`,
		`{"id":"b-1","status":"COMPLETED","progress":100,"output_file_id":"o","error_file_id":"e"}`,
		`{"id":"b-1","status":"FAILED","error":"bad input"}`,
		`{"id":"ft-1","status":"completed","token_count":"3250000","model_output_name":"me/m"}`,
		`{"id":"ft-1","status":"error","events":[{"type":"JOB_ERROR","level":"Error","message":"x"}]}`,
		`{"id":"ft-1","status":"paused","token_count":1.5}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for kind, observe := range map[tracker.Kind]func([]byte) (tracker.Observation, error){
			tracker.KindBatch:      together.BatchObservation,
			tracker.KindFineTuning: together.FineTuningObservation,
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
			normalize := together.BatchStatus
			if kind == tracker.KindFineTuning {
				normalize = together.FineTuningStatus
			}
			if obs.Kind != kind || obs.ProviderStatus == "" || obs.Status != normalize(obs.ProviderStatus) || obs.Payload != nil {
				t.Fatalf("%s: observation %+v", kind, obs)
			}
			for k, v := range obs.Details {
				if v == "" {
					t.Fatalf("%s: Details[%q] is empty", kind, k)
				}
			}
			if _, ok := obs.Details[tracker.DetailRequestFailure]; ok {
				t.Fatalf("%s: request_failure on %+v", kind, obs)
			}
		}
	})
}
