package anthropic_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/jobwatch/jobwatch/providers"
	"github.com/jobwatch/jobwatch/providers/anthropic"
	"github.com/jobwatch/jobwatch/tracker"
)

// messageBatch is a message batch as GET /v1/messages/batches/{id} returns
// it, with processing_status, request_counts and the fields in rest.
func messageBatch(id, status, counts, rest string) string {
	return `{"id":"` + id + `","type":"message_batch","processing_status":"` + status + `",` +
		`"request_counts":` + counts + `,"created_at":"2024-09-24T18:37:24.100435Z","expires_at":"2024-09-25T18:37:24.100435Z",` +
		`"archived_at":null` + rest + `}`
}

func TestBatchObservation(t *testing.T) {
	t.Parallel()
	const id = "msgbatch_013Zva2CMHLNnXjNJJKqJ2EF"
	const results = `,"results_url":"https://api.anthropic.com/v1/messages/batches/` + id + `/results"`
	resultsURL := "https://api.anthropic.com/v1/messages/batches/" + id + "/results"
	tests := []struct {
		name    string
		body    string
		status  tracker.Status
		usage   *tracker.Usage
		details map[string]string
	}{
		{
			name:   "in progress",
			body:   messageBatch(id, "in_progress", `{"processing":100,"succeeded":0,"errored":0,"canceled":0,"expired":0}`, `,"ended_at":null,"cancel_initiated_at":null,"results_url":null`),
			status: tracker.StatusRunning,
			usage:  &tracker.Usage{RequestsTotal: 100},
		},
		{
			name:    "ended",
			body:    messageBatch(id, "ended", `{"processing":0,"succeeded":100,"errored":0,"canceled":0,"expired":0}`, `,"ended_at":"2024-09-24T19:01:02.5Z","cancel_initiated_at":null`+results),
			status:  tracker.StatusSucceeded,
			usage:   &tracker.Usage{RequestsTotal: 100, RequestsCompleted: 100},
			details: map[string]string{"results_url": resultsURL},
		},
		{
			name:    "ended with failures",
			body:    messageBatch(id, "ended", `{"processing":0,"succeeded":90,"errored":6,"canceled":0,"expired":4}`, `,"ended_at":"2024-09-24T19:01:02.5Z","cancel_initiated_at":null`+results),
			status:  tracker.StatusSucceeded,
			usage:   &tracker.Usage{RequestsTotal: 100, RequestsCompleted: 90, RequestsFailed: 10},
			details: map[string]string{"results_url": resultsURL, "request_failure": tracker.RequestFailurePartial},
		},
		{
			name:    "ended, every request failed",
			body:    messageBatch(id, "ended", `{"processing":0,"succeeded":0,"errored":20,"canceled":0,"expired":5}`, `,"ended_at":"2024-09-24T19:01:02.5Z"`+results),
			status:  tracker.StatusSucceeded,
			usage:   &tracker.Usage{RequestsTotal: 25, RequestsFailed: 25},
			details: map[string]string{"results_url": resultsURL, "request_failure": tracker.RequestFailureTotal},
		},
		{
			name:   "canceling",
			body:   messageBatch(id, "canceling", `{"processing":60,"succeeded":40,"errored":0,"canceled":0,"expired":0}`, `,"ended_at":null,"cancel_initiated_at":"2024-09-24T18:40:00Z","results_url":null`),
			status: tracker.StatusRunning,
			usage:  &tracker.Usage{RequestsTotal: 100, RequestsCompleted: 40},
		},
		{
			name:    "cancelled",
			body:    messageBatch(id, "ended", `{"processing":0,"succeeded":40,"errored":0,"canceled":60,"expired":0}`, `,"ended_at":"2024-09-24T18:41:00Z","cancel_initiated_at":"2024-09-24T18:40:00Z"`+results),
			status:  tracker.StatusCancelled,
			usage:   &tracker.Usage{RequestsTotal: 100, RequestsCompleted: 40},
			details: map[string]string{"results_url": resultsURL},
		},
		{
			name:   "unknown status",
			body:   messageBatch(id, "paused", `{"processing":10,"succeeded":0,"errored":0,"canceled":0,"expired":0}`, ""),
			status: "",
			usage:  &tracker.Usage{RequestsTotal: 10},
		},
		{
			name:   "no counts",
			body:   `{"id":"` + id + `","type":"message_batch","processing_status":"in_progress"}`,
			status: tracker.StatusRunning,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			obs, err := anthropic.BatchObservation([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			var word struct {
				ProcessingStatus string `json:"processing_status"`
			}
			if err := json.Unmarshal([]byte(tt.body), &word); err != nil {
				t.Fatal(err)
			}
			if obs.ExternalID != id || obs.Kind != tracker.KindBatch || obs.Status != tt.status || obs.ProviderStatus != word.ProcessingStatus {
				t.Errorf("observation %s %s %q %q, want %s batch %q %q", obs.ExternalID, obs.Kind, obs.Status, obs.ProviderStatus, id, tt.status, word.ProcessingStatus)
			}
			if !reflect.DeepEqual(obs.Usage, tt.usage) {
				t.Errorf("usage %+v, want %+v", obs.Usage, tt.usage)
			}
			if !reflect.DeepEqual(obs.Details, tt.details) {
				t.Errorf("details %v, want %v", obs.Details, tt.details)
			}
			if !obs.OccurredAt.IsZero() || obs.EventID != "" || obs.Payload != nil {
				t.Errorf("filled fields not its own: %+v", obs)
			}
		})
	}
}

func TestBatchObservationErrors(t *testing.T) {
	t.Parallel()
	tests := []struct{ body, field string }{
		{`not json`, ""},
		{`[]`, ""},
		{`{"type":"message_batch","processing_status":"ended"}`, "id"},
		{`{"id":"a/b","processing_status":"ended"}`, "id"},
		{`{"id":"msgbatch_1","type":"message"}`, "type"},
		{`{"id":"msgbatch_1","processing_status":3}`, "processing_status"},
		{`{"id":"msgbatch_1","request_counts":{"succeeded":"5"}}`, "request_counts.succeeded"},
		{`{"id":"msgbatch_1","cancel_initiated_at":true}`, "cancel_initiated_at"},
	}
	for _, tt := range tests {
		_, err := anthropic.BatchObservation([]byte(tt.body))
		pe, ok := errors.AsType[*providers.PayloadError](err)
		if !ok {
			t.Errorf("%s: error %v (%T), want a *providers.PayloadError", tt.body, err, err)
			continue
		}
		if pe.Field != tt.field {
			t.Errorf("%s: error %v names %q, want %q", tt.body, err, pe.Field, tt.field)
		}
	}
}

// Request counts that are no counts fail nothing: the request figures are
// left out and each bad one is noted, for the job's history.
func TestBatchObservationDropsCountsThatAreNoCounts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		body string
		want []tracker.DroppedFigure
	}{
		{`{"id":"msgbatch_1","processing_status":"ended","request_counts":{"succeeded":5,"errored":-1}}`,
			[]tracker.DroppedFigure{{Field: "requests_failed", Path: "request_counts.errored", Value: "-1", Reason: tracker.DropNegative}}},
		{`{"id":"msgbatch_1","processing_status":"ended","request_counts":{"succeeded":2.5,"expired":1e30}}`,
			[]tracker.DroppedFigure{{Field: "requests_completed", Path: "request_counts.succeeded", Value: "2.5", Reason: tracker.DropNotInteger},
				{Field: "requests_failed", Path: "request_counts.expired", Value: "1e30", Reason: tracker.DropTooLarge}}},
		{`{"id":"msgbatch_1","processing_status":"ended","request_counts":{"processing":9223372036854775807,"expired":1}}`,
			[]tracker.DroppedFigure{{Field: "requests_total", Path: "request_counts", Value: "9223372036854775808", Reason: tracker.DropTooLarge}}},
	}
	for _, tt := range tests {
		obs, err := anthropic.BatchObservation([]byte(tt.body))
		if err != nil || obs.Status != tracker.StatusSucceeded || obs.Usage != nil || obs.Details["request_failure"] != "" || !reflect.DeepEqual(obs.DroppedUsage, tt.want) {
			t.Errorf("%s:\n got %+v, %v (usage %+v)\nwant succeeded, no usage, dropped %+v", tt.body, obs, err, obs.Usage, tt.want)
		}
	}
}
