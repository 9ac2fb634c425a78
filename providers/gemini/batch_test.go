package gemini_test

import (
	"errors"
	"maps"
	"testing"

	"github.com/jobwatch/jobwatch/providers"
	"github.com/jobwatch/jobwatch/providers/gemini"
	"github.com/jobwatch/jobwatch/tracker"
)

func TestStatus(t *testing.T) {
	t.Parallel()
	tests := map[string]tracker.Status{
		"BATCH_STATE_PENDING":             tracker.StatusPending,
		"JOB_STATE_PENDING":               tracker.StatusPending,
		"JOB_STATE_QUEUED":                tracker.StatusPending,
		"BATCH_STATE_RUNNING":             tracker.StatusRunning,
		"JOB_STATE_RUNNING":               tracker.StatusRunning,
		"BATCH_STATE_CANCELLING":          tracker.StatusRunning,
		"BATCH_STATE_SUCCEEDED":           tracker.StatusSucceeded,
		"JOB_STATE_SUCCEEDED":             tracker.StatusSucceeded,
		"JOB_STATE_PARTIALLY_SUCCEEDED":   tracker.StatusSucceeded,
		"BATCH_STATE_FAILED":              tracker.StatusFailed,
		"JOB_STATE_FAILED":                tracker.StatusFailed,
		"BATCH_STATE_CANCELLED":           tracker.StatusCancelled,
		"JOB_STATE_CANCELLED":             tracker.StatusCancelled,
		"BATCH_STATE_EXPIRED":             tracker.StatusExpired,
		"JOB_STATE_EXPIRED":               tracker.StatusExpired,
		"BATCH_STATE_UNSPECIFIED":         "",
		"JOB_STATE_PAUSED":                "",
		"JOB_STATE_UPDATING":              "",
		"SUCCEEDED":                       "",
		"batch_state_succeeded":           "",
		"BATCH_STATE_JOB_STATE_SUCCEEDED": "",
		"":                                "",
	}
	for word, want := range tests {
		if got := gemini.Status(word); got != want {
			t.Errorf("Status(%q) = %q, want %q", word, got, want)
		}
	}
}

func TestBatchID(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"batches/abc": "abc", "abc": "abc", "batches/batches/abc": "batches/abc", "": ""} {
		if got := gemini.BatchID(in); got != want {
			t.Errorf("BatchID(%q) = %q, want %q", in, got, want)
		}
	}
}

// The batch is read from an operation's metadata or from the top level;
// counts written as strings are counts.
func TestBatchObservationShapes(t *testing.T) {
	t.Parallel()
	for _, body := range []string{
		`{"name":"batches/b1","metadata":{"@type":"type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatch","name":"batches/b1","state":"BATCH_STATE_RUNNING","batchStats":{"requestCount":"10","pendingRequestCount":"4","successfulRequestCount":"5","failedRequestCount":"1"}}}`,
		`{"name":"batches/b1","state":"JOB_STATE_RUNNING","batchStats":{"requestCount":10,"successfulRequestCount":5,"failedRequestCount":1}}`,
		`{"name":"batches/b1","state":"BATCH_STATE_RUNNING","metadata":{"batchStats":{"requestCount":10,"successfulRequestCount":"5","failedRequestCount":1}}}`,
	} {
		obs, err := gemini.BatchObservation([]byte(body))
		if err != nil {
			t.Errorf("%s: %v", body, err)
			continue
		}
		if obs.ExternalID != "b1" || obs.Kind != tracker.KindBatch || obs.Status != tracker.StatusRunning || obs.Usage == nil ||
			*obs.Usage != (tracker.Usage{RequestsTotal: 10, RequestsCompleted: 5, RequestsFailed: 1}) {
			t.Errorf("%s: %+v, usage %+v", body, obs, obs.Usage)
		}
	}
}

// A succeeded batch whose requests failed is flagged, total when every one
// did; PARTIALLY_SUCCEEDED always is; a failed batch keeps its error.
func TestBatchRequestFailureAndError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		body, want string
	}{
		{`{"name":"batches/b","metadata":{"state":"BATCH_STATE_SUCCEEDED","batchStats":{"requestCount":"5","successfulRequestCount":"0","failedRequestCount":"5"}}}`, tracker.RequestFailureTotal},
		{`{"name":"batches/b","metadata":{"state":"BATCH_STATE_SUCCEEDED","batchStats":{"requestCount":"5","successfulRequestCount":"4","failedRequestCount":"1"}}}`, tracker.RequestFailurePartial},
		{`{"name":"batches/b","metadata":{"state":"BATCH_STATE_SUCCEEDED","batchStats":{"requestCount":"5","successfulRequestCount":"5"}}}`, ""},
		{`{"name":"batches/b","state":"JOB_STATE_PARTIALLY_SUCCEEDED"}`, tracker.RequestFailurePartial},
		{`{"name":"batches/b","metadata":{"state":"BATCH_STATE_FAILED","batchStats":{"requestCount":"5","failedRequestCount":"5"}}}`, ""},
		{`{"name":"batches/b","state":"OTHER_PARTIALLY_SUCCEEDED"}`, ""},
	}
	for _, tt := range tests {
		obs, err := gemini.BatchObservation([]byte(tt.body))
		if err != nil || obs.Details[tracker.DetailRequestFailure] != tt.want {
			t.Errorf("%s: %v, details %v; want request_failure %q", tt.body, err, obs.Details, tt.want)
		}
	}
	obs, err := gemini.BatchObservation([]byte(`{"name":"batches/b","done":true,"error":{"code":3,"message":"Input file is not valid JSONL"},"metadata":{"state":"BATCH_STATE_FAILED"}}`))
	if err != nil || obs.Status != tracker.StatusFailed || obs.Details["error_message"] != "Input file is not valid JSONL" || obs.Details["error_code"] != "3" {
		t.Errorf("failed batch: %+v, %v", obs, err)
	}
	obs, err = gemini.BatchObservation([]byte(`{"name":"batches/b","metadata":{"state":"BATCH_STATE_EXPIRED","output":{"responsesFile":"files/batch-b-out"},"batchStats":{"requestCount":"9","successfulRequestCount":"6","pendingRequestCount":"3"}}}`))
	if err != nil || obs.Status != tracker.StatusExpired || obs.Details["responses_file"] != "files/batch-b-out" || obs.Usage.RequestsCompleted != 6 {
		t.Errorf("expired batch with output: %+v, %v", obs, err)
	}
}

func TestMalformedBatches(t *testing.T) {
	t.Parallel()
	tests := []struct {
		body, field string
	}{
		{`not json`, ""},
		{`{"state":"BATCH_STATE_RUNNING"}`, "name"},
		{`{"name":"batches/","state":"BATCH_STATE_RUNNING"}`, "name"},
		{`{"name":"batches/batches/b","state":"BATCH_STATE_RUNNING"}`, "name"},
		{`{"name":"batches/b"}`, "state"},
		{`{"name":"batches/b","metadata":{}}`, "metadata.state"},
		{`{"name":"batches/b","state":"BATCH_STATE_RUNNING","batchStats":{"requestCount":"many"}}`, "batchStats.requestCount"},
		{`{"name":"batches/b","metadata":{"state":7}}`, "metadata.state"},
	}
	for _, tt := range tests {
		_, err := gemini.BatchObservation([]byte(tt.body))
		pe, ok := errors.AsType[*providers.PayloadError](err)
		if !ok || pe.Field != tt.field {
			t.Errorf("%s: error %v, want a payload error at %q", tt.body, err, tt.field)
		}
	}
}

// A batch whose operation failed RESOURCE_EXHAUSTED (code 8 in the
// operation's error, 429 and the status name in Google's HTTP error JSON)
// carries failure_cause quota beside its error's code and message; other
// errors do not.
func TestBatchFailureCause(t *testing.T) {
	t.Parallel()
	const meta = `"metadata":{"@type":"type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatch",` +
		`"model":"models/gemini-2.5-flash","name":"batches/q1","displayName":"nightly-eval","state":"BATCH_STATE_FAILED",` +
		`"createTime":"2026-11-30T08:00:00.000000Z","endTime":"2026-11-30T08:00:04.000000Z"}`
	tests := []struct {
		name string
		body string
		want map[string]string
	}{
		{"operation error, code 8",
			`{"name":"batches/q1",` + meta + `,"done":true,"error":{"code":8,"message":"Resource has been exhausted (e.g. check quota)."}}`,
			map[string]string{"display_name": "nightly-eval", "model": "gemini-2.5-flash", "error_code": "8",
				"error_message": "Resource has been exhausted (e.g. check quota).", tracker.DetailFailureCause: tracker.FailureCauseQuota}},
		{"HTTP error JSON, 429 RESOURCE_EXHAUSTED",
			`{"name":"batches/q1",` + meta + `,"done":true,"error":{"code":429,"message":"You exceeded your current quota, please check your plan and billing details.",` +
				`"status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.Help","links":[{"description":"Learn more about Gemini API quotas","url":"https://ai.google.dev/gemini-api/docs/rate-limits"}]}]}}`,
			map[string]string{"display_name": "nightly-eval", "model": "gemini-2.5-flash", "error_code": "429",
				"error_message": "You exceeded your current quota, please check your plan and billing details.", tracker.DetailFailureCause: tracker.FailureCauseQuota}},
		{"invalid argument",
			`{"name":"batches/q1",` + meta + `,"done":true,"error":{"code":3,"message":"Input file is not valid JSONL"}}`,
			map[string]string{"display_name": "nightly-eval", "model": "gemini-2.5-flash", "error_code": "3", "error_message": "Input file is not valid JSONL"}},
	}
	for _, tt := range tests {
		obs, err := gemini.BatchObservation([]byte(tt.body))
		if err != nil || obs.Status != tracker.StatusFailed || !maps.Equal(obs.Details, tt.want) {
			t.Errorf("%s: %v, %s details %v; want failed, %v", tt.name, err, obs.Status, obs.Details, tt.want)
		}
	}
}
