package vertex_test

import (
	"errors"
	"fmt"
	"maps"
	"testing"

	"golang.org/x/oauth2"

	"github.com/jobwatch/jobwatch/providers"
	"github.com/jobwatch/jobwatch/providers/vertex"
	"github.com/jobwatch/jobwatch/tracker"
)

// staticToken is a token source that always gives the access token tok.
func staticToken(tok string) oauth2.TokenSource {
	return oauth2.StaticTokenSource(&oauth2.Token{AccessToken: tok})
}

func TestStatus(t *testing.T) {
	t.Parallel()
	for word, want := range map[string]tracker.Status{
		"JOB_STATE_QUEUED":              tracker.StatusPending,
		"JOB_STATE_PENDING":             tracker.StatusPending,
		"JOB_STATE_RUNNING":             tracker.StatusRunning,
		"JOB_STATE_CANCELLING":          tracker.StatusRunning,
		"JOB_STATE_UPDATING":            tracker.StatusRunning,
		"JOB_STATE_PAUSED":              tracker.StatusRunning,
		"JOB_STATE_SUCCEEDED":           tracker.StatusSucceeded,
		"JOB_STATE_PARTIALLY_SUCCEEDED": tracker.StatusSucceeded,
		"JOB_STATE_FAILED":              tracker.StatusFailed,
		"JOB_STATE_CANCELLED":           tracker.StatusCancelled,
		"JOB_STATE_EXPIRED":             tracker.StatusExpired,
		"JOB_STATE_UNSPECIFIED":         "",
		"SUCCEEDED":                     "",
		"job_state_succeeded":           "",
		"":                              "",
	} {
		if got := vertex.Status(word); got != want {
			t.Errorf("Status(%q) = %q, want %q", word, got, want)
		}
	}
}

// A succeeded job with failed requests is flagged, total when none
// succeeded; PARTIALLY_SUCCEEDED always is; a failed job is not.
func TestRequestFailure(t *testing.T) {
	t.Parallel()
	tests := []struct {
		body, want string
	}{
		{`{"name":"projects/p/locations/l/batchPredictionJobs/1","state":"JOB_STATE_SUCCEEDED","completionStats":{"successfulCount":"0","failedCount":"5"}}`, tracker.RequestFailureTotal},
		{`{"name":"projects/p/locations/l/batchPredictionJobs/1","state":"JOB_STATE_SUCCEEDED","completionStats":{"successfulCount":"4","failedCount":"1"}}`, tracker.RequestFailurePartial},
		{`{"name":"projects/p/locations/l/batchPredictionJobs/1","state":"JOB_STATE_PARTIALLY_SUCCEEDED"}`, tracker.RequestFailurePartial},
		{`{"name":"projects/p/locations/l/batchPredictionJobs/1","state":"JOB_STATE_PARTIALLY_SUCCEEDED","completionStats":{"successfulCount":"0","failedCount":"9"}}`, tracker.RequestFailureTotal},
		{`{"name":"projects/p/locations/l/batchPredictionJobs/1","state":"JOB_STATE_SUCCEEDED","completionStats":{"successfulCount":"5","failedCount":"0"}}`, ""},
		{`{"name":"projects/p/locations/l/batchPredictionJobs/1","state":"JOB_STATE_FAILED","completionStats":{"successfulCount":"0","failedCount":"5"}}`, ""},
	}
	for _, tt := range tests {
		obs, err := vertex.BatchObservation([]byte(tt.body))
		if err != nil || obs.Details[tracker.DetailRequestFailure] != tt.want {
			t.Errorf("%s: %v, details %v; want request_failure %q", tt.body, err, obs.Details, tt.want)
		}
	}
}

// Counts come as proto3 JSON strings or as numbers; -1 is unknown (no
// figure, not dropped either), and a figure that is no count is dropped
// with a note.
func TestCounts(t *testing.T) {
	t.Parallel()
	obs, err := vertex.BatchObservation([]byte(`{"name":"1","state":"JOB_STATE_FAILED","completionStats":{"successfulCount":"-1","failedCount":12,"incompleteCount":"-1"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if obs.ExternalID != "1" || obs.Usage == nil || *obs.Usage != (tracker.Usage{RequestsFailed: 12}) || len(obs.DroppedUsage) != 0 {
		t.Errorf("id %q, usage %+v, dropped %+v", obs.ExternalID, obs.Usage, obs.DroppedUsage)
	}
	obs, err = vertex.BatchObservation([]byte(`{"name":"1","state":"JOB_STATE_RUNNING","completionStats":{"successfulCount":"-4","failedCount":"1.5","incompleteCount":"3"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if obs.Usage != nil || len(obs.DroppedUsage) != 2 || obs.DroppedUsage[0].Path != "completionStats.successfulCount" {
		t.Errorf("usage %+v, dropped %+v", obs.Usage, obs.DroppedUsage)
	}
}

func TestMalformedJobs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		body  string
		field string
	}{
		{`not json`, ""},
		{`{"state":"JOB_STATE_RUNNING"}`, "name"},
		{`{"name":"projects/p/locations/l/batchPredictionJobs/","state":"JOB_STATE_RUNNING"}`, "name"},
		{`{"name":"projects/p/locations/l/batchPredictionJobs/1"}`, "state"},
		{`{"name":"1","state":"JOB_STATE_RUNNING","completionStats":{"failedCount":"lots"}}`, "completionStats.failedCount"},
		{`{"name":"1","state":"JOB_STATE_RUNNING","completionStats":{"failedCount":true}}`, "completionStats.failedCount"},
		{`{"name":"1","state":"JOB_STATE_FAILED","error":"boom"}`, "error"},
	}
	for _, tt := range tests {
		_, err := vertex.BatchObservation([]byte(tt.body))
		pe, ok := errors.AsType[*providers.PayloadError](err)
		if !ok || pe.Field != tt.field {
			t.Errorf("%s: error %v, want a payload error at %q", tt.body, err, tt.field)
		}
	}
}

// The model is its resource name's last segment, whichever form it has;
// a job that names none has no model detail.
func TestModel(t *testing.T) {
	t.Parallel()
	for model, want := range map[string]string{
		"publishers/google/models/gemini-2.0-flash-001":                                   "gemini-2.0-flash-001",
		"projects/p/locations/us-central1/publishers/google/models/gemini-2.5-flash-lite": "gemini-2.5-flash-lite",
		"projects/p/locations/us-central1/models/5678@2":                                  "5678@2",
		"": "",
	} {
		body := fmt.Sprintf(`{"name":"projects/p/locations/l/batchPredictionJobs/1","state":"JOB_STATE_RUNNING","model":%q}`, model)
		obs, err := vertex.BatchObservation([]byte(body))
		got, ok := obs.Details[tracker.DetailModel]
		if err != nil || got != want || ok != (want != "") {
			t.Errorf("model %q: %v, details %v; want model %q", model, err, obs.Details, want)
		}
	}
}

func TestJobID(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]string{
		"projects/p/locations/us-central1/batchPredictionJobs/123": "123",
		"123": "123",
		"":    "",
	} {
		if got := vertex.JobID(name); got != want {
			t.Errorf("JobID(%q) = %q, want %q", name, got, want)
		}
	}
}

// A job that failed RESOURCE_EXHAUSTED (google.rpc.Code 8) carries
// failure_cause quota beside its error's code and message; other errors do
// not.
func TestFailureCause(t *testing.T) {
	t.Parallel()
	const name = "projects/my-project/locations/us-central1/batchPredictionJobs/4567890123456789012"
	tests := []struct {
		name, error string
		want        map[string]string
	}{
		{"resource exhausted", `{"code":8,"message":"Quota exceeded for aiplatform.googleapis.com/generate_content_requests_per_minute_per_project_per_base_model with base model: gemini-2.0-flash."}`,
			map[string]string{"resource_name": name, "model": "gemini-2.0-flash", "error_code": "8",
				"error_message":            "Quota exceeded for aiplatform.googleapis.com/generate_content_re…", // clipped
				tracker.DetailFailureCause: tracker.FailureCauseQuota}},
		{"invalid argument", `{"code":3,"message":"Failed to import data."}`,
			map[string]string{"resource_name": name, "model": "gemini-2.0-flash", "error_code": "3", "error_message": "Failed to import data."}},
	}
	for _, tt := range tests {
		body := `{"name":"` + name + `","displayName":"nightly","model":"publishers/google/models/gemini-2.0-flash",` +
			`"state":"JOB_STATE_FAILED","error":` + tt.error + `,"createTime":"2026-11-30T08:00:00.000Z","endTime":"2026-11-30T08:10:00.000Z"}`
		obs, err := vertex.BatchObservation([]byte(body))
		if err != nil || obs.Status != tracker.StatusFailed || !maps.Equal(obs.Details, tt.want) {
			t.Errorf("%s: %v, %s details %v; want failed, %v", tt.name, err, obs.Status, obs.Details, tt.want)
		}
	}
}
