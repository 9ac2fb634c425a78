package together_test

import (
	"errors"
	"testing"

	"github.com/jobwatch/jobwatch/providers"
	"github.com/jobwatch/jobwatch/providers/together"
	"github.com/jobwatch/jobwatch/tracker"
)

func TestStatuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		normalize func(string) tracker.Status
		word      string
		want      tracker.Status
	}{
		{together.BatchStatus, "VALIDATING", tracker.StatusPending},
		{together.BatchStatus, "IN_PROGRESS", tracker.StatusRunning},
		{together.BatchStatus, "CANCELING", tracker.StatusRunning},
		{together.BatchStatus, "CANCELLING", tracker.StatusRunning},
		{together.BatchStatus, "COMPLETED", tracker.StatusSucceeded},
		{together.BatchStatus, "FAILED", tracker.StatusFailed},
		{together.BatchStatus, "EXPIRED", tracker.StatusExpired},
		{together.BatchStatus, "CANCELLED", tracker.StatusCancelled},
		{together.BatchStatus, "completed", ""},
		{together.BatchStatus, "PAUSED", ""},
		{together.FineTuningStatus, "pending", tracker.StatusPending},
		{together.FineTuningStatus, "queued", tracker.StatusPending},
		{together.FineTuningStatus, "running", tracker.StatusRunning},
		{together.FineTuningStatus, "compressing", tracker.StatusRunning},
		{together.FineTuningStatus, "uploading", tracker.StatusRunning},
		{together.FineTuningStatus, "cancel_requested", tracker.StatusRunning},
		{together.FineTuningStatus, "completed", tracker.StatusSucceeded},
		{together.FineTuningStatus, "error", tracker.StatusFailed},
		{together.FineTuningStatus, "cancelled", tracker.StatusCancelled},
		{together.FineTuningStatus, "COMPLETED", ""},
		{together.FineTuningStatus, "", ""},
	}
	for _, tt := range tests {
		if got := tt.normalize(tt.word); got != tt.want {
			t.Errorf("%q = %q, want %q", tt.word, got, tt.want)
		}
	}
}

// The fine-tuned model's name is read under either spelling, and a failed
// job's last error event is its error message.
func TestFineTuningDetails(t *testing.T) {
	t.Parallel()
	tests := []struct {
		body string
		want map[string]string
	}{
		{`{"id":"ft-1","status":"completed","model":"meta-llama/Meta-Llama-3-8B","model_output_name":"me/Llama-3-8b-ft-1"}`,
			map[string]string{tracker.DetailModel: "meta-llama/Meta-Llama-3-8B", "output_name": "me/Llama-3-8b-ft-1"}},
		{`{"id":"ft-1","status":"completed","output_name":"me/Llama-3-8b-ft-1"}`, map[string]string{"output_name": "me/Llama-3-8b-ft-1"}},
		{`{"id":"ft-1","status":"error","events":[{"type":"JOB_START","level":"info","message":"started"},` +
			`{"type":"JOB_ERROR","level":"Error","message":"Training file has an invalid line 7"}]}`, map[string]string{"error_message": "Training file has an invalid line 7"}},
		{`{"id":"ft-1","status":"running","events":[{"type":"WARNING","level":"error","message":"retrying"}]}`, nil},
	}
	for _, tt := range tests {
		obs, err := together.FineTuningObservation([]byte(tt.body))
		if err != nil || len(obs.Details) != len(tt.want) {
			t.Errorf("%s: %v, details %v; want %v", tt.body, err, obs.Details, tt.want)
			continue
		}
		for k, v := range tt.want {
			if obs.Details[k] != v {
				t.Errorf("%s: details %v; want %v", tt.body, obs.Details, tt.want)
			}
		}
	}
}

func TestMalformedJobs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		observe func([]byte) (tracker.Observation, error)
		body    string
		field   string
	}{
		{together.BatchObservation, `not json`, ""},
		{together.BatchObservation, `{"status":"IN_PROGRESS"}`, "id"},
		{together.BatchObservation, `{"id":"b"}`, "status"},
		{together.BatchObservation, `{"id":"b","status":"IN_PROGRESS","output_file_id":7}`, "output_file_id"},
		{together.FineTuningObservation, `{"id":"ft-1","status":"running","token_count":"lots"}`, "token_count"},
		{together.FineTuningObservation, `{"id":"ft-1","status":7}`, "status"},
	}
	for _, tt := range tests {
		_, err := tt.observe([]byte(tt.body))
		pe, ok := errors.AsType[*providers.PayloadError](err)
		if !ok || pe.Field != tt.field {
			t.Errorf("%s: error %v, want a payload error at %q", tt.body, err, tt.field)
		}
	}
}
