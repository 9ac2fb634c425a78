package mistral_test

import (
	"errors"
	"testing"

	"github.com/jobwatch/jobwatch/providers"
	"github.com/jobwatch/jobwatch/providers/mistral"
	"github.com/jobwatch/jobwatch/tracker"
)

func TestStatuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		normalize func(string) tracker.Status
		word      string
		want      tracker.Status
	}{
		{mistral.BatchStatus, "QUEUED", tracker.StatusPending},
		{mistral.BatchStatus, "RUNNING", tracker.StatusRunning},
		{mistral.BatchStatus, "CANCELLATION_REQUESTED", tracker.StatusRunning},
		{mistral.BatchStatus, "SUCCESS", tracker.StatusSucceeded},
		{mistral.BatchStatus, "FAILED", tracker.StatusFailed},
		{mistral.BatchStatus, "TIMEOUT_EXCEEDED", tracker.StatusExpired},
		{mistral.BatchStatus, "CANCELLED", tracker.StatusCancelled},
		{mistral.BatchStatus, "success", ""},
		{mistral.BatchStatus, "FAILED_VALIDATION", ""},
		{mistral.FineTuningStatus, "QUEUED", tracker.StatusPending},
		{mistral.FineTuningStatus, "VALIDATING", tracker.StatusPending},
		{mistral.FineTuningStatus, "VALIDATED", tracker.StatusPending},
		{mistral.FineTuningStatus, "STARTED", tracker.StatusRunning},
		{mistral.FineTuningStatus, "RUNNING", tracker.StatusRunning},
		{mistral.FineTuningStatus, "CANCELLATION_REQUESTED", tracker.StatusRunning},
		{mistral.FineTuningStatus, "SUCCESS", tracker.StatusSucceeded},
		{mistral.FineTuningStatus, "FAILED", tracker.StatusFailed},
		{mistral.FineTuningStatus, "FAILED_VALIDATION", tracker.StatusFailed},
		{mistral.FineTuningStatus, "CANCELLED", tracker.StatusCancelled},
		{mistral.FineTuningStatus, "TIMEOUT_EXCEEDED", ""},
		{mistral.FineTuningStatus, "", ""},
	}
	for _, tt := range tests {
		if got := tt.normalize(tt.word); got != tt.want {
			t.Errorf("%q = %q, want %q", tt.word, got, tt.want)
		}
	}
}

// A SUCCESS batch whose every request failed is flagged total, not taken
// for a plain success; one with none failed is not flagged.
func TestBatchRequestFailure(t *testing.T) {
	t.Parallel()
	tests := []struct {
		body, want string
	}{
		{`{"id":"b","status":"SUCCESS","total_requests":5,"succeeded_requests":0,"failed_requests":5,"error_file":"e"}`, tracker.RequestFailureTotal},
		{`{"id":"b","status":"SUCCESS","total_requests":5,"succeeded_requests":4,"failed_requests":1}`, tracker.RequestFailurePartial},
		{`{"id":"b","status":"SUCCESS","total_requests":5,"succeeded_requests":5,"failed_requests":0}`, ""},
		{`{"id":"b","status":"FAILED","total_requests":5,"succeeded_requests":0,"failed_requests":5}`, ""},
	}
	for _, tt := range tests {
		obs, err := mistral.BatchObservation([]byte(tt.body))
		if err != nil || obs.Details[tracker.DetailRequestFailure] != tt.want {
			t.Errorf("%s: %v, details %v; want request_failure %q", tt.body, err, obs.Details, tt.want)
		}
	}
}

// A figure that is no count is dropped with a note; the rest is kept.
func TestBatchDropsFiguresThatAreNoCounts(t *testing.T) {
	t.Parallel()
	obs, err := mistral.BatchObservation([]byte(`{"id":"b","status":"RUNNING","total_requests":-3,"succeeded_requests":2,"failed_requests":0}`))
	if err != nil {
		t.Fatal(err)
	}
	if obs.Usage == nil || obs.Usage.RequestsTotal != 0 || obs.Usage.RequestsCompleted != 2 || len(obs.DroppedUsage) != 1 || obs.DroppedUsage[0].Path != "total_requests" {
		t.Errorf("usage %+v, dropped %+v", obs.Usage, obs.DroppedUsage)
	}
}

// The model is the batch's (none for an agent's batch, whose model is
// null) and the fine-tune's base model.
func TestModel(t *testing.T) {
	t.Parallel()
	tests := []struct {
		observe func([]byte) (tracker.Observation, error)
		body    string
		want    string
	}{
		{mistral.BatchObservation, `{"id":"b","object":"batch","status":"RUNNING","model":"mistral-small-latest","agent_id":null}`, "mistral-small-latest"},
		{mistral.BatchObservation, `{"id":"b","object":"batch","status":"RUNNING","model":null,"agent_id":"ag_0123"}`, ""},
		{mistral.FineTuningObservation, `{"id":"f","object":"job","status":"RUNNING","model":"open-mistral-nemo","fine_tuned_model":null}`, "open-mistral-nemo"},
	}
	for _, tt := range tests {
		obs, err := tt.observe([]byte(tt.body))
		got, ok := obs.Details[tracker.DetailModel]
		if err != nil || got != tt.want || ok != (tt.want != "") {
			t.Errorf("%s: %v, details %v; want model %q", tt.body, err, obs.Details, tt.want)
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
		{mistral.BatchObservation, `not json`, ""},
		{mistral.BatchObservation, `{"id":"b","object":"job","status":"RUNNING"}`, "object"},
		{mistral.BatchObservation, `{"status":"RUNNING"}`, "id"},
		{mistral.BatchObservation, `{"id":"b"}`, "status"},
		{mistral.BatchObservation, `{"id":"b","status":"RUNNING","output_file":7}`, "output_file"},
		{mistral.FineTuningObservation, `{"id":"f","object":"batch","status":"RUNNING"}`, "object"},
		{mistral.FineTuningObservation, `{"id":"f","status":"RUNNING","trained_tokens":"lots"}`, "trained_tokens"},
	}
	for _, tt := range tests {
		_, err := tt.observe([]byte(tt.body))
		pe, ok := errors.AsType[*providers.PayloadError](err)
		if !ok || pe.Field != tt.field {
			t.Errorf("%s: error %v, want a payload error at %q", tt.body, err, tt.field)
		}
	}
}
