package fireworks_test

import (
	"errors"
	"maps"
	"testing"

	"github.com/jobwatch/jobwatch/providers"
	"github.com/jobwatch/jobwatch/providers/fireworks"
	"github.com/jobwatch/jobwatch/tracker"
)

func TestStatuses(t *testing.T) {
	t.Parallel()
	for word, want := range map[string]tracker.Status{
		"JOB_STATE_CREATING": tracker.StatusPending, "JOB_STATE_VALIDATING": tracker.StatusPending, "JOB_STATE_PENDING": tracker.StatusPending,
		"JOB_STATE_RE_QUEUEING": tracker.StatusPending, "JOB_STATE_CREATING_INPUT_DATASET": tracker.StatusPending,
		"JOB_STATE_RUNNING": tracker.StatusRunning, "JOB_STATE_WRITING_RESULTS": tracker.StatusRunning,
		"JOB_STATE_CANCELLING": tracker.StatusRunning, "JOB_STATE_DELETING": tracker.StatusRunning,
		"JOB_STATE_COMPLETED": tracker.StatusSucceeded, "JOB_STATE_EARLY_STOPPED": tracker.StatusSucceeded,
		"JOB_STATE_FAILED": tracker.StatusFailed, "JOB_STATE_EXPIRED": tracker.StatusExpired,
		"JOB_STATE_CANCELLED": tracker.StatusCancelled, "JOB_STATE_DELETED": tracker.StatusCancelled,
		"JOB_STATE_PAUSED": "", "JOB_STATE_IDLE": "", "JOB_STATE_UNSPECIFIED": "", "COMPLETED": "", "": "",
	} {
		if got := fireworks.BatchStatus(word); got != want {
			t.Errorf("%q = %q, want %q", word, got, want)
		}
	}
}

// Counts come as numbers or, as protobuf's JSON writes int64s, as strings;
// a completed job with failed requests is flagged.
func TestBatchCounts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		body  string
		usage tracker.Usage
		flag  string
	}{
		{`{"name":"accounts/a/batchInferenceJobs/j","state":"JOB_STATE_COMPLETED","jobProgress":{"percent":100,"totalInputRequests":10,` +
			`"successfullyProcessedRequests":9,"failedRequests":1,"inputTokens":"12000000000","outputTokens":"3400"}}`,
			tracker.Usage{RequestsTotal: 10, RequestsCompleted: 9, RequestsFailed: 1, InputTokens: 12000000000, OutputTokens: 3400}, tracker.RequestFailurePartial},
		{`{"name":"accounts/a/batchInferenceJobs/j","state":"JOB_STATE_COMPLETED","jobProgress":{"totalInputRequests":"4","failedRequests":"4"}}`,
			tracker.Usage{RequestsTotal: 4, RequestsFailed: 4}, tracker.RequestFailureTotal},
		{`{"name":"accounts/a/batchInferenceJobs/j","state":"JOB_STATE_FAILED","jobProgress":{"totalInputRequests":4,"failedRequests":4}}`,
			tracker.Usage{RequestsTotal: 4, RequestsFailed: 4}, ""},
		{`{"name":"accounts/a/batchInferenceJobs/j","state":"JOB_STATE_COMPLETED","jobProgress":{"totalInputRequests":4,"successfullyProcessedRequests":4,"failedRequests":0}}`,
			tracker.Usage{RequestsTotal: 4, RequestsCompleted: 4}, ""},
	}
	for _, tt := range tests {
		obs, err := fireworks.BatchObservation([]byte(tt.body))
		if err != nil || obs.Usage == nil || *obs.Usage != tt.usage || obs.Details[tracker.DetailRequestFailure] != tt.flag || obs.ExternalID != "j" {
			t.Errorf("%s: %v, %+v; want usage %+v, request_failure %q", tt.body, err, obs, tt.usage, tt.flag)
		}
	}
}

// A figure that is no count is dropped with a note; the rest is kept.
func TestBatchDropsFiguresThatAreNoCounts(t *testing.T) {
	t.Parallel()
	obs, err := fireworks.BatchObservation([]byte(`{"name":"accounts/a/batchInferenceJobs/j","state":"JOB_STATE_RUNNING","jobProgress":{"totalInputRequests":"-1","inputTokens":5,"cachedInputTokenCount":2.5}}`))
	if err != nil || obs.Usage == nil || obs.Usage.InputTokens != 5 || obs.Usage.CachedInputTokens != 0 || len(obs.DroppedUsage) != 2 ||
		obs.DroppedUsage[0].Path != "jobProgress.totalInputRequests" || obs.DroppedUsage[1].Path != "jobProgress.cachedInputTokenCount" {
		t.Errorf("%v: usage %+v, dropped %+v", err, obs.Usage, obs.DroppedUsage)
	}
}

// The model is its resource name's last segment; a model of the caller's
// own account too.
func TestBatchModel(t *testing.T) {
	t.Parallel()
	for model, want := range map[string]string{
		"accounts/fireworks/models/llama-v3p1-8b-instruct": "llama-v3p1-8b-instruct",
		"accounts/acme/models/my-tuned-llama":              "my-tuned-llama",
	} {
		obs, err := fireworks.BatchObservation([]byte(`{"name":"accounts/a/batchInferenceJobs/j","state":"JOB_STATE_RUNNING","model":"` + model + `"}`))
		if err != nil || obs.Details[tracker.DetailModel] != want {
			t.Errorf("%s: %v, details %v; want model %q", model, err, obs.Details, want)
		}
	}
}

func TestMalformedJobs(t *testing.T) {
	t.Parallel()
	tests := []struct{ body, field string }{
		{`not json`, ""},
		{`{"state":"JOB_STATE_RUNNING"}`, "name"},
		{`{"name":"j","state":"JOB_STATE_RUNNING"}`, "name"},
		{`{"name":"accounts/a/datasets/j","state":"JOB_STATE_RUNNING"}`, "name"},
		{`{"name":"accounts/a/batchInferenceJobs/","state":"JOB_STATE_RUNNING"}`, "name"},
		{`{"name":"accounts/a/batchInferenceJobs/j"}`, "state"},
		{`{"name":"accounts/a/batchInferenceJobs/j","state":"JOB_STATE_RUNNING","jobProgress":{"inputTokens":"many"}}`, "jobProgress.inputTokens"},
	}
	for _, tt := range tests {
		_, err := fireworks.BatchObservation([]byte(tt.body))
		pe, ok := errors.AsType[*providers.PayloadError](err)
		if !ok || pe.Field != tt.field {
			t.Errorf("%s: error %v, want a payload error at %q", tt.body, err, tt.field)
		}
	}
}

// The account is required and must be one path segment.
func TestAccountIsChecked(t *testing.T) {
	t.Parallel()
	for account, want := range map[string]bool{"my-team": true, "": false, "a/b": false, "a b": false, "..": false} {
		var faults []string
		fireworks.Type.Validate(providers.Settings{Account: account}, func(table string, err error) { faults = append(faults, table+"|"+err.Error()) })
		if ok := len(faults) == 0; ok != want {
			t.Errorf("account %q: faults %q", account, faults)
		}
		if _, err := fireworks.Type.NewPoller(providers.Settings{Account: account}, nil); (err == nil) != want {
			t.Errorf("account %q: NewPoller: %v", account, err)
		}
	}
}

// A job whose status is RESOURCE_EXHAUSTED carries failure_cause quota
// beside its code and message; other codes do not.
func TestFailureCause(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status string
		want   map[string]string
	}{
		{`{"code":"RESOURCE_EXHAUSTED","message":"Account quota exceeded for batch inference."}`,
			map[string]string{"error_code": "RESOURCE_EXHAUSTED", "error_message": "Account quota exceeded for batch inference.",
				tracker.DetailFailureCause: tracker.FailureCauseQuota}},
		{`{"code":"INVALID_ARGUMENT","message":"Input dataset has no rows."}`,
			map[string]string{"error_code": "INVALID_ARGUMENT", "error_message": "Input dataset has no rows."}},
	}
	for _, tt := range tests {
		obs, err := fireworks.BatchObservation([]byte(`{"name":"accounts/a/batchInferenceJobs/j","state":"JOB_STATE_FAILED","status":` + tt.status + `}`))
		if err != nil || obs.Status != tracker.StatusFailed || !maps.Equal(obs.Details, tt.want) {
			t.Errorf("%s: %v, %s details %v; want failed, %v", tt.status, err, obs.Status, obs.Details, tt.want)
		}
	}
}
