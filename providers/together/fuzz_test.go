package together_test

import (
	"testing"

	"github.com/jobwatch/jobwatch/providers/providertest"
	"github.com/jobwatch/jobwatch/providers/together"
	"github.com/jobwatch/jobwatch/tracker"
)

// Whatever the body, a job maps to a valid observation of its kind or to a
// *providers.PayloadError; a status word is normalized only when known,
// and no request_failure is claimed (Together counts no requests).
func FuzzJobObservation(f *testing.F) {
	for _, seed := range []string{
		`{"id":"b-1","status":"VALIDATING","progress":0}`,
		`{"id":"b-1","status":"COMPLETED","progress":100,"output_file_id":"o","error_file_id":"e"}`,
		`{"id":"b-1","status":"FAILED","error":"bad input"}`,
		`{"id":"ft-1","status":"completed","token_count":3250000,"model_output_name":"me/m"}`,
		`{"id":"ft-1","status":"error","events":[{"type":"JOB_ERROR","level":"Error","message":"x"}]}`,
		`{"id":"ft-1","status":"paused","token_count":1.5}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		obs, err := together.BatchObservation(body)
		if providertest.CheckObservation(t, tracker.KindBatch, obs, err, together.BatchStatus, "") && obs.Details[tracker.DetailRequestFailure] != "" {
			t.Fatalf("request_failure on %+v", obs)
		}
		obs, err = together.FineTuningObservation(body)
		providertest.CheckObservation(t, tracker.KindFineTuning, obs, err, together.FineTuningStatus, "")
	})
}
