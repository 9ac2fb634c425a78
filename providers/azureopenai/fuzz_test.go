package azureopenai_test

import (
	"testing"

	"github.com/jobwatch/jobwatch/providers/azureopenai"
	"github.com/jobwatch/jobwatch/providers/providertest"
	"github.com/jobwatch/jobwatch/tracker"
)

// Whatever the body, a batch or fine-tuning answer maps to a valid
// observation of its kind or to a *providers.PayloadError; a status word is
// normalized only when known (never guessed terminal), and request_failure
// only flags a completed batch with failed requests.
func FuzzObservation(f *testing.F) {
	for _, seed := range []string{
		`{"id":"batch_1","object":"batch","status":"validating","request_counts":{"total":0,"completed":0,"failed":0}}`,
		`{"id":"batch_1","object":"batch","status":"completed","output_file_id":"file-out","error_file_id":"file-err","request_counts":{"total":100,"completed":97,"failed":3},"usage":{"input_tokens":12000,"output_tokens":3400,"total_tokens":15400}}`,
		`{"id":"batch_1","object":"batch","status":"expired","output_file_id":"file-partial","request_counts":{"total":1e3,"completed":-1}}`,
		`{"id":"batch_1","object":"batch","status":"failed","errors":{"data":[{"code":"invalid_json_line","message":"Line 3 is not valid JSON."}]}}`,
		`{"id":"ftjob-1","object":"fine_tuning.job","status":"pending","fine_tuned_model":null,"trained_tokens":null}`,
		`{"id":"ftjob-1","object":"fine_tuning.job","status":"paused","trained_tokens":1.5}`,
		`{"id":"ftjob-1","object":"fine_tuning.job","status":"failed","error":{"code":"invalidTrainingFile","message":"too few examples"}}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for kind, observe := range map[tracker.Kind]func([]byte) (tracker.Observation, error){
			tracker.KindBatch:      azureopenai.BatchObservation,
			tracker.KindFineTuning: azureopenai.FineTuningObservation,
		} {
			normalize := azureopenai.BatchStatus
			if kind == tracker.KindFineTuning {
				normalize = azureopenai.FineTuningStatus
			}
			obs, err := observe(body)
			providertest.CheckObservation(t, kind, obs, err, normalize, "completed")
		}
	})
}
