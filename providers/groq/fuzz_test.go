package groq_test

import (
	"testing"

	"github.com/jobwatch/jobwatch/providers/groq"
	"github.com/jobwatch/jobwatch/providers/openai"
	"github.com/jobwatch/jobwatch/providers/providertest"
	"github.com/jobwatch/jobwatch/tracker"
)

// Whatever the body, a batch maps to a valid batch observation or to a
// *providers.PayloadError; a status word is normalized only when it is one
// of OpenAI's batch statuses, and request_failure only flags a completed
// batch with failed requests.
func FuzzBatchObservation(f *testing.F) {
	for _, seed := range []string{
		`{"id":"batch_01","object":"batch","status":"validating","request_counts":{"total":0,"completed":0,"failed":0}}`,
		`{"id":"batch_01","object":"batch","status":"completed","request_counts":{"total":100,"completed":97,"failed":3},"output_file_id":"file_o"}`,
		`{"id":"batch_01","object":"batch","status":"expired","request_counts":{"total":10,"completed":6,"failed":-1},"output_file_id":"file_p"}`,
		`{"id":"batch_01","status":"failed","errors":{"data":[{"code":"x","message":"y"}]}}`,
		`{"id":"batch_01","object":"list","status":"PAUSED"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		obs, err := groq.BatchObservation(body)
		providertest.CheckObservation(t, tracker.KindBatch, obs, err, openai.BatchStatus, "")
	})
}
