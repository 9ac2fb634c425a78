package groq_test

import (
	"errors"
	"testing"

	"github.com/jobwatch/jobwatch/providers"
	"github.com/jobwatch/jobwatch/providers/groq"
	"github.com/jobwatch/jobwatch/providers/openai"
	"github.com/jobwatch/jobwatch/tracker"
)

// Whatever the body, a batch maps to a valid batch observation or to a
// *providers.PayloadError; a status word is normalized only when it is
// one of OpenAI's batch statuses, and request_failure only flags a
// completed batch with failed requests.
func FuzzBatchObservation(f *testing.F) {
	for _, seed := range []string{
		`{"id":"batch_01","object":"batch","status":"validating","request_counts":{"total":0,"completed":0,"failed":0}}`,
		`{"id":"batch_01","object":"batch","status":"completed","request_counts":{"total":"100","completed":"97","failed":"3"},"output_file_id":"file_o"}`,
		`{"id":"batch_01","object":"batch","status":"expired","request_counts":{"total":10,"completed":6,"failed":-1},"output_file_id":"file_p"}`,
		`{"id":"batch_01","status":"failed","errors":{"data":[{"code":"x","message":"y"}]}}`,
		`{"id":"batch_01","object":"list","status":"PAUSED"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		obs, err := groq.BatchObservation(body)
		if err != nil {
			if pe, ok := errors.AsType[*providers.PayloadError](err); !ok || pe.Msg == "" {
				t.Fatalf("error %v (%T) is not a *providers.PayloadError with a message", err, err)
			}
			return
		}
		if obs.Kind != tracker.KindBatch || obs.Status != openai.BatchStatus(obs.ProviderStatus) || obs.Payload != nil {
			t.Fatalf("observation %+v", obs)
		}
		if obs.ProviderStatus != "" {
			if err := tracker.ValidateExternalID(obs.ExternalID); err != nil {
				t.Fatalf("ExternalID %q: %v", obs.ExternalID, err)
			}
		}
		if _, ok := obs.Details[tracker.DetailRequestFailure]; ok && (obs.ProviderStatus != "completed" || obs.Usage == nil || obs.Usage.RequestsFailed == 0) {
			t.Fatalf("request_failure on %+v", obs)
		}
	})
}
