package openai_test

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/providers"
	"github.com/jobwatch/jobwatch/providers/openai"
	"github.com/jobwatch/jobwatch/tracker"
)

// t0 is the created_at of OpenAI's example events.
var t0 = time.Date(2024, 6, 23, 18, 40, 0, 0, time.UTC)

// thin is an OpenAI webhook event as OpenAI's spec shows it.
func thin(typ, dataID string) string {
	return fmt.Sprintf(`{"id":"evt_abc123","object":"event","created_at":1719168000,"type":%q,"data":{"id":%q}}`, typ, dataID)
}

// checkObservation fails the test unless got is want, field by field.
func checkObservation(t *testing.T, got, want tracker.Observation) {
	t.Helper()
	if !got.OccurredAt.Equal(want.OccurredAt) || got.OccurredAt.Location() != time.UTC {
		t.Errorf("OccurredAt = %v, want %v in UTC", got.OccurredAt, want.OccurredAt)
	}
	got.OccurredAt, want.OccurredAt = time.Time{}, time.Time{}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("observation\n got %+v (usage %+v)\nwant %+v (usage %+v)", got, got.Usage, want, want.Usage)
	}
}

// checkPayloadError fails the test unless err is a *providers.PayloadError
// naming field.
func checkPayloadError(t *testing.T, err error, field string) {
	t.Helper()
	var pe *providers.PayloadError
	if !errors.As(err, &pe) {
		t.Fatalf("error = %v (%T), want *providers.PayloadError", err, err)
	}
	if pe.Field != field || pe.Msg == "" {
		t.Errorf("error = %q (field %q), want field %q and a message", pe, pe.Field, field)
	}
}

func TestWebhookParserJobEvents(t *testing.T) {
	t.Parallel()
	tests := []struct {
		typ, id string
		kind    tracker.Kind
		status  tracker.Status
		word    string
	}{
		{"batch.completed", "batch_abc123", tracker.KindBatch, tracker.StatusSucceeded, "completed"},
		{"batch.failed", "batch_abc123", tracker.KindBatch, tracker.StatusFailed, "failed"},
		{"batch.expired", "batch_abc123", tracker.KindBatch, tracker.StatusExpired, "expired"},
		{"batch.cancelled", "batch_abc123", tracker.KindBatch, tracker.StatusCancelled, "cancelled"},
		{"fine_tuning.job.succeeded", "ftjob_abc123", tracker.KindFineTuning, tracker.StatusSucceeded, "succeeded"},
		{"fine_tuning.job.failed", "ftjob_abc123", tracker.KindFineTuning, tracker.StatusFailed, "failed"},
		{"fine_tuning.job.cancelled", "ftjob_abc123", tracker.KindFineTuning, tracker.StatusCancelled, "cancelled"},
		{"response.completed", "resp_abc123", tracker.KindResponse, tracker.StatusSucceeded, "completed"},
		{"response.failed", "resp_abc123", tracker.KindResponse, tracker.StatusFailed, "failed"},
		{"response.cancelled", "resp_abc123", tracker.KindResponse, tracker.StatusCancelled, "cancelled"},
		{"response.incomplete", "resp_abc123", tracker.KindResponse, tracker.StatusFailed, "incomplete"},
		{"eval.run.succeeded", "evalrun_abc123", tracker.KindEvalRun, tracker.StatusSucceeded, "succeeded"},
		{"eval.run.failed", "evalrun_abc123", tracker.KindEvalRun, tracker.StatusFailed, "failed"},
		{"eval.run.canceled", "evalrun_abc123", tracker.KindEvalRun, tracker.StatusCancelled, "canceled"},
	}
	for _, tt := range tests {
		t.Run(tt.typ, func(t *testing.T) {
			t.Parallel()
			got, err := openai.WebhookParser{}.ParseEvent([]byte(thin(tt.typ, tt.id)))
			if err != nil {
				t.Fatal(err)
			}
			checkObservation(t, got, tracker.Observation{
				ExternalID: tt.id, Kind: tt.kind, Status: tt.status, ProviderStatus: tt.word,
				OccurredAt: t0, EventID: "evt_abc123", Type: tt.typ, PollNow: true,
			})
		})
	}
}

// TestWebhookStatusAgreesWithObjects holds each event's status to what a poll
// of the object would say for the same word, so a webhook and a poll never
// disagree about one outcome.
func TestWebhookStatusAgreesWithObjects(t *testing.T) {
	t.Parallel()
	statusOf := map[tracker.Kind]func(string) tracker.Status{
		tracker.KindBatch:      openai.BatchStatus,
		tracker.KindFineTuning: openai.FineTuningStatus,
		tracker.KindResponse:   openai.ResponseStatus,
	}
	for _, typ := range []string{
		"batch.completed", "batch.failed", "batch.expired", "batch.cancelled",
		"fine_tuning.job.succeeded", "fine_tuning.job.failed", "fine_tuning.job.cancelled",
		"response.completed", "response.failed", "response.cancelled", "response.incomplete",
	} {
		obs, err := openai.WebhookParser{}.ParseEvent([]byte(thin(typ, "job_1")))
		if err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		if want := statusOf[obs.Kind](obs.ProviderStatus); obs.Status != want {
			t.Errorf("%s: status %q, but a %s object in %q is %q", typ, obs.Status, obs.Kind, obs.ProviderStatus, want)
		}
	}
}

func TestWebhookParserProviderEvents(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, body string
		want       tracker.Observation
	}{
		{
			name: "realtime.call.incoming",
			body: `{"id":"evt_abc123","object":"event","type":"realtime.call.incoming","created_at":1719168000,` +
				`"data":{"call_id":"rtc_479a275623b54bdb9b6fbae2f7cbd408","sip_headers":[{"name":"Max-Forwards","value":"63"}]}}`,
			want: tracker.Observation{EventID: "evt_abc123", Type: "realtime.call.incoming", OccurredAt: t0},
		},
		{
			name: "new type with any data",
			body: `{"id":"evt_new","type":"batch.in_progress","created_at":1719168000,"data":[1,2,3]}`,
			want: tracker.Observation{EventID: "evt_new", Type: "batch.in_progress", OccurredAt: t0},
		},
		{
			name: "unknown type without time or data",
			body: `{"id":"evt_new","type":"file.processed"}`,
			want: tracker.Observation{EventID: "evt_new", Type: "file.processed"},
		},
		{
			name: "unknown type with null fields",
			body: `{"id":"evt_new","object":null,"type":"file.processed","created_at":null,"data":null}`,
			want: tracker.Observation{EventID: "evt_new", Type: "file.processed"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := openai.WebhookParser{}.ParseEvent([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			checkObservation(t, got, tt.want)
		})
	}
}

func TestWebhookParserErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, body, field string
	}{
		{"not JSON", `batch.completed`, ""},
		{"truncated", thin("batch.completed", "batch_abc123")[:40], ""},
		{"trailing garbage", thin("batch.completed", "batch_abc123") + "}", ""},
		{"empty body", ``, ""},
		{"array", `[{"id":"evt_abc123"}]`, ""},
		{"JSON null", `null`, "id"},
		{"missing id", `{"type":"batch.completed","created_at":1719168000,"data":{"id":"batch_abc123"}}`, "id"},
		{"null id", `{"id":null,"type":"batch.completed","created_at":1719168000,"data":{"id":"batch_abc123"}}`, "id"},
		{"numeric id", `{"id":7,"type":"batch.completed","created_at":1719168000,"data":{"id":"batch_abc123"}}`, "id"},
		{"missing type", `{"id":"evt_abc123","created_at":1719168000,"data":{"id":"batch_abc123"}}`, "type"},
		{"missing created_at", `{"id":"evt_abc123","type":"batch.completed","data":{"id":"batch_abc123"}}`, "created_at"},
		{"null created_at", `{"id":"evt_abc123","type":"batch.completed","created_at":null,"data":{"id":"batch_abc123"}}`, "created_at"},
		{"string created_at", `{"id":"evt_abc123","type":"batch.completed","created_at":"1719168000","data":{"id":"batch_abc123"}}`, "created_at"},
		{"fractional created_at", `{"id":"evt_abc123","type":"batch.completed","created_at":1719168000.5,"data":{"id":"batch_abc123"}}`, "created_at"},
		{"negative created_at", `{"id":"evt_abc123","type":"batch.completed","created_at":-1,"data":{"id":"batch_abc123"}}`, "created_at"},
		{"created_at past year 9999", `{"id":"evt_abc123","type":"batch.completed","created_at":253402300800,"data":{"id":"batch_abc123"}}`, "created_at"},
		{"unknown type, bad created_at", `{"id":"evt_abc123","type":"file.processed","created_at":"yesterday"}`, "created_at"},
		{"missing data", `{"id":"evt_abc123","type":"batch.completed","created_at":1719168000}`, "data.id"},
		{"null data", `{"id":"evt_abc123","type":"batch.completed","created_at":1719168000,"data":null}`, "data.id"},
		{"data not an object", `{"id":"evt_abc123","type":"batch.completed","created_at":1719168000,"data":"batch_abc123"}`, "data"},
		{"missing data.id", `{"id":"evt_abc123","type":"batch.completed","created_at":1719168000,"data":{}}`, "data.id"},
		{"empty data.id", thin("fine_tuning.job.failed", ""), "data.id"},
		{"numeric data.id", `{"id":"evt_abc123","type":"response.completed","created_at":1719168000,"data":{"id":42}}`, "data.id"},
		{"data.id with a slash", thin("batch.completed", "batch/abc"), "data.id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			obs, err := openai.WebhookParser{}.ParseEvent([]byte(tt.body))
			if err == nil {
				t.Fatalf("ParseEvent = %+v, want an error on %s", obs, tt.field)
			}
			checkPayloadError(t, err, tt.field)
			if tt.field == "" && !strings.HasPrefix(tt.body, "[") && err.Error() != "malformed JSON" {
				t.Errorf("error = %q, want %q", err, "malformed JSON")
			}
		})
	}
}

// Every type of EventTypes is one the parser knows: a job event with the
// job's status, or realtime.call.incoming, a provider event.
func TestEventTypesAreTheParsers(t *testing.T) {
	t.Parallel()
	for _, typ := range openai.EventTypes {
		obs, err := openai.WebhookParser{}.ParseEvent([]byte(`{"id":"evt_1","object":"event","created_at":1719168000,"type":"` + typ + `","data":{"id":"x_1"}}`))
		job := typ != "realtime.call.incoming"
		if err != nil || job != (obs.ExternalID == "x_1" && obs.Status != "") || obs.Type != typ {
			t.Errorf("%s: %+v, %v; want a job event: %v", typ, obs, err, job)
		}
	}
}
