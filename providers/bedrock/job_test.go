package bedrock_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/jobwatch/jobwatch/providers"
	"github.com/jobwatch/jobwatch/providers/bedrock"
	"github.com/jobwatch/jobwatch/tracker"
)

func TestStatus(t *testing.T) {
	t.Parallel()
	for word, want := range map[string]tracker.Status{
		"Submitted":          tracker.StatusPending,
		"Validating":         tracker.StatusPending,
		"Scheduled":          tracker.StatusPending,
		"InProgress":         tracker.StatusRunning,
		"Stopping":           tracker.StatusRunning,
		"Completed":          tracker.StatusSucceeded,
		"PartiallyCompleted": tracker.StatusSucceeded,
		"Failed":             tracker.StatusFailed,
		"Stopped":            tracker.StatusCancelled,
		"Expired":            tracker.StatusExpired,
		"Paused":             "",
		"COMPLETED":          "",
		"completed":          "",
		"":                   "",
	} {
		if got := bedrock.Status(word); got != want {
			t.Errorf("Status(%q) = %q, want %q", word, got, want)
		}
	}
}

// A succeeded job with failed records is flagged, total when none
// succeeded; PartiallyCompleted always is; a failed job is not.
func TestRequestFailure(t *testing.T) {
	t.Parallel()
	tests := []struct {
		body, want string
	}{
		{`{"jobArn":"a/1","status":"Completed","successRecordCount":0,"errorRecordCount":5}`, tracker.RequestFailureTotal},
		{`{"jobArn":"a/1","status":"Completed","totalRecordCount":5,"errorRecordCount":5}`, tracker.RequestFailureTotal},
		{`{"jobArn":"a/1","status":"Completed","totalRecordCount":6,"errorRecordCount":5}`, tracker.RequestFailurePartial},
		{`{"jobArn":"a/1","status":"Completed","successRecordCount":4,"errorRecordCount":1}`, tracker.RequestFailurePartial},
		{`{"jobArn":"a/1","status":"PartiallyCompleted"}`, tracker.RequestFailurePartial},
		{`{"jobArn":"a/1","status":"PartiallyCompleted","successRecordCount":0,"errorRecordCount":9}`, tracker.RequestFailureTotal},
		{`{"jobArn":"a/1","status":"Completed","successRecordCount":5,"errorRecordCount":0}`, ""},
		{`{"jobArn":"a/1","status":"Completed"}`, ""},
		{`{"jobArn":"a/1","status":"Failed","successRecordCount":0,"errorRecordCount":5}`, ""},
	}
	for _, tt := range tests {
		obs, err := bedrock.JobObservation([]byte(tt.body))
		if err != nil || obs.Details[tracker.DetailRequestFailure] != tt.want {
			t.Errorf("%s: %v, details %v; want request_failure %q", tt.body, err, obs.Details, tt.want)
		}
	}
}

// A record count that is no count is dropped with a note; the others stay.
func TestCounts(t *testing.T) {
	t.Parallel()
	obs, err := bedrock.JobObservation([]byte(`{"jobArn":"a/1","status":"InProgress","totalRecordCount":10,"successRecordCount":-4,"errorRecordCount":1.5,"processedRecordCount":"x"}`))
	if err == nil {
		t.Fatalf("a string count: %+v", obs)
	}
	obs, err = bedrock.JobObservation([]byte(`{"jobArn":"a/1","status":"InProgress","totalRecordCount":10,"successRecordCount":-4,"errorRecordCount":1.5,"processedRecordCount":7}`))
	if err != nil {
		t.Fatal(err)
	}
	if obs.Usage == nil || *obs.Usage != (tracker.Usage{RequestsTotal: 10}) || len(obs.DroppedUsage) != 2 || obs.DroppedUsage[0].Path != "successRecordCount" || obs.Details["records_processed"] != "7" {
		t.Errorf("usage %+v, dropped %+v, details %v", obs.Usage, obs.DroppedUsage, obs.Details)
	}
}

// The message is an error on a job that ended badly, and a status note on
// any other.
func TestMessage(t *testing.T) {
	t.Parallel()
	for body, key := range map[string]string{
		`{"jobArn":"a/1","status":"Failed","message":"m"}`:     "error_message",
		`{"jobArn":"a/1","status":"Stopped","message":"m"}`:    "error_message",
		`{"jobArn":"a/1","status":"Expired","message":"m"}`:    "error_message",
		`{"jobArn":"a/1","status":"Validating","message":"m"}`: "status_message",
		`{"jobArn":"a/1","status":"Completed","message":"m"}`:  "status_message",
	} {
		obs, err := bedrock.JobObservation([]byte(body))
		if err != nil || obs.Details[key] != "m" {
			t.Errorf("%s: %v, details %v; want %s", body, err, obs.Details, key)
		}
	}
}

func TestMalformedJobs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		body  string
		field string
	}{
		{`not json`, ""},
		{`{"status":"InProgress"}`, "jobArn"},
		{`{"jobArn":"arn:aws:bedrock:us-east-1:1:model-invocation-job/","status":"InProgress"}`, "jobArn"},
		{`{"jobArn":"a/1"}`, "status"},
		{`{"jobArn":"a/1","status":"InProgress","errorRecordCount":"lots"}`, "errorRecordCount"},
		{`{"jobArn":"a/1","status":"Failed","outputDataConfig":"s3://b"}`, "outputDataConfig"},
	}
	for _, tt := range tests {
		_, err := bedrock.JobObservation([]byte(tt.body))
		pe, ok := errors.AsType[*providers.PayloadError](err)
		if !ok || pe.Field != tt.field {
			t.Errorf("%s: error %v, want a payload error at %q", tt.body, err, tt.field)
		}
	}
}

// The model is modelId, an ARN's last segment; a job without one has no
// model detail.
func TestModel(t *testing.T) {
	t.Parallel()
	for modelID, want := range map[string]string{
		"anthropic.claude-3-haiku-20240307-v1:0":                                                                "anthropic.claude-3-haiku-20240307-v1:0",
		"arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0":                    "anthropic.claude-3-haiku-20240307-v1:0",
		"arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-5-sonnet-20240620-v1:0": "us.anthropic.claude-3-5-sonnet-20240620-v1:0",
		"": "",
	} {
		body := fmt.Sprintf(`{"jobArn":"a/1","status":"InProgress","modelId":%q}`, modelID)
		obs, err := bedrock.JobObservation([]byte(body))
		got, ok := obs.Details[tracker.DetailModel]
		if err != nil || got != want || ok != (want != "") {
			t.Errorf("modelId %q: %v, details %v; want model %q", modelID, err, obs.Details, want)
		}
	}
}

func TestJobID(t *testing.T) {
	t.Parallel()
	for arn, want := range map[string]string{
		"arn:aws:bedrock:us-east-1:123456789012:model-invocation-job/abc123def456": "abc123def456",
		"abc123def456": "abc123def456",
		"":             "",
	} {
		if got := bedrock.JobID(arn); got != want {
			t.Errorf("JobID(%q) = %q, want %q", arn, got, want)
		}
	}
}
