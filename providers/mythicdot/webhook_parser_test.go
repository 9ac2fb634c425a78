package mythicdot_test

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/providers"
	"github.com/jobwatch/jobwatch/providers/mythicdot"
	"github.com/jobwatch/jobwatch/tracker"
)

// seedBatchCompleted is the payload of MythicDot's webhook documentation.
const seedBatchCompleted = `{
  "id": "evt_abc123xyz789",
  "type": "batch.completed",
  "created": 1706140800,
  "data": {
    "object": {
      "id": "batch_abc123",
      "status": "completed",
      "request_counts": {
        "total": 1000,
        "completed": 998,
        "failed": 2
      },
      "output_file_id": "file_xyz789"
    }
  }
}`

// t0 is the seed's created.
var t0 = time.Date(2024, 1, 25, 0, 0, 0, 0, time.UTC)

// event is a MythicDot event of type typ around data.object obj.
func event(typ, obj string) string {
	return fmt.Sprintf(`{"id":"evt_abc123xyz789","type":%q,"created":1706140800,"data":{"object":%s}}`, typ, obj)
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

func TestWebhookParser(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, body string
		want       tracker.Observation
	}{
		{
			name: "batch.completed (the seed's payload)",
			body: seedBatchCompleted,
			want: tracker.Observation{
				ExternalID: "batch_abc123", Kind: tracker.KindBatch, Status: tracker.StatusSucceeded, ProviderStatus: "completed",
				Usage:      &tracker.Usage{RequestsTotal: 1000, RequestsCompleted: 998, RequestsFailed: 2},
				Details:    map[string]string{"output_file_id": "file_xyz789", "request_failure": "partial"},
				OccurredAt: t0, EventID: "evt_abc123xyz789", Type: "batch.completed",
			},
		},
		{
			name: "batch.completed with every request failed",
			body: event("batch.completed", `{"id":"batch_abc123","status":"completed","request_counts":{"total":1000,"completed":0,"failed":1000},"output_file_id":null,"error_file_id":"file_err",`+
				`"usage":{"input_tokens":5000,"input_tokens_details":{"cached_tokens":2048},"output_tokens":0,"total_tokens":5000}}`),
			want: tracker.Observation{
				ExternalID: "batch_abc123", Kind: tracker.KindBatch, Status: tracker.StatusSucceeded, ProviderStatus: "completed",
				Usage:      &tracker.Usage{InputTokens: 5000, CachedInputTokens: 2048, TotalTokens: 5000, RequestsTotal: 1000, RequestsFailed: 1000},
				Details:    map[string]string{"error_file_id": "file_err", "request_failure": "total"},
				OccurredAt: t0, EventID: "evt_abc123xyz789", Type: "batch.completed",
			},
		},
		{
			name: "batch.failed",
			body: event("batch.failed", `{"id":"batch_abc123","status":"failed","errors":{"object":"list","data":[{"code":"invalid_request","message":"Input file is empty."}]}}`),
			want: tracker.Observation{
				ExternalID: "batch_abc123", Kind: tracker.KindBatch, Status: tracker.StatusFailed, ProviderStatus: "failed",
				Details:    map[string]string{"error_code": "invalid_request", "error_message": "Input file is empty."},
				OccurredAt: t0, EventID: "evt_abc123xyz789", Type: "batch.failed",
			},
		},
		{
			name: "fine_tuning.job.created",
			body: event("fine_tuning.job.created", `{"id":"ftjob_abc123","object":"fine_tuning.job","status":"validating_files","fine_tuned_model":null,"trained_tokens":null}`),
			want: tracker.Observation{
				ExternalID: "ftjob_abc123", Kind: tracker.KindFineTuning, Status: tracker.StatusPending, ProviderStatus: "validating_files",
				OccurredAt: t0, EventID: "evt_abc123xyz789", Type: "fine_tuning.job.created",
			},
		},
		{
			name: "fine_tuning.job.succeeded",
			body: event("fine_tuning.job.succeeded", `{"id":"ftjob_abc123","object":"fine_tuning.job","model":"gpt-4o-mini-2024-07-18","status":"succeeded","fine_tuned_model":"ft:gpt-4o-mini:mythic:custom:abc123","trained_tokens":50000}`),
			want: tracker.Observation{
				ExternalID: "ftjob_abc123", Kind: tracker.KindFineTuning, Status: tracker.StatusSucceeded, ProviderStatus: "succeeded",
				Usage:      &tracker.Usage{TrainedTokens: 50000},
				Details:    map[string]string{tracker.DetailModel: "gpt-4o-mini-2024-07-18", "fine_tuned_model": "ft:gpt-4o-mini:mythic:custom:abc123"},
				OccurredAt: t0, EventID: "evt_abc123xyz789", Type: "fine_tuning.job.succeeded",
			},
		},
		{
			name: "fine_tuning.job.failed",
			body: event("fine_tuning.job.failed", `{"id":"ftjob_abc123","status":"failed","error":{"code":"invalid_training_data","message":"Training data invalid","param":null}}`),
			want: tracker.Observation{
				ExternalID: "ftjob_abc123", Kind: tracker.KindFineTuning, Status: tracker.StatusFailed, ProviderStatus: "failed",
				Details:    map[string]string{"error_code": "invalid_training_data", "error_message": "Training data invalid"},
				OccurredAt: t0, EventID: "evt_abc123xyz789", Type: "fine_tuning.job.failed",
			},
		},
		{
			name: "fine_tuning.job.cancelled",
			body: event("fine_tuning.job.cancelled", `{"id":"ftjob_abc123","status":"cancelled"}`),
			want: tracker.Observation{
				ExternalID: "ftjob_abc123", Kind: tracker.KindFineTuning, Status: tracker.StatusCancelled, ProviderStatus: "cancelled",
				OccurredAt: t0, EventID: "evt_abc123xyz789", Type: "fine_tuning.job.cancelled",
			},
		},
		{
			name: "the object's status wins over the type",
			body: event("batch.completed", `{"id":"batch_abc123","status":"finalizing"}`),
			want: tracker.Observation{
				ExternalID: "batch_abc123", Kind: tracker.KindBatch, Status: tracker.StatusRunning, ProviderStatus: "finalizing",
				OccurredAt: t0, EventID: "evt_abc123xyz789", Type: "batch.completed",
			},
		},
		{
			name: "an unknown object status is kept, not guessed",
			body: event("fine_tuning.job.succeeded", `{"id":"ftjob_abc123","status":"paused"}`),
			want: tracker.Observation{
				ExternalID: "ftjob_abc123", Kind: tracker.KindFineTuning, ProviderStatus: "paused",
				OccurredAt: t0, EventID: "evt_abc123xyz789", Type: "fine_tuning.job.succeeded",
			},
		},
		{
			name: "usage.threshold.reached",
			body: `{"id":"evt_usage1","type":"usage.threshold.reached","created":1706140800,"data":{"object":{"metric":"tokens","threshold":1000000,"current":1000450}}}`,
			want: tracker.Observation{OccurredAt: t0, EventID: "evt_usage1", Type: "usage.threshold.reached"},
		},
		{
			name: "usage.threshold.reached with odd data",
			body: `{"id":"evt_usage2","type":"usage.threshold.reached","created":1706140800,"data":[{"id":5}]}`,
			want: tracker.Observation{OccurredAt: t0, EventID: "evt_usage2", Type: "usage.threshold.reached"},
		},
		{
			name: "unknown type without created",
			body: `{"id":"evt_new","type":"file.processed","data":{"object":{"id":"file_1","status":"processed"}}}`,
			want: tracker.Observation{EventID: "evt_new", Type: "file.processed"},
		},
		{
			name: "an event about an object under a job is not a job event",
			body: `{"id":"evt_ckpt","type":"fine_tuning.job.checkpoint.created","created":1706140800,"data":{"object":{"id":"ftckpt_1","object":"fine_tuning.job.checkpoint"}}}`,
			want: tracker.Observation{OccurredAt: t0, EventID: "evt_ckpt", Type: "fine_tuning.job.checkpoint.created"},
		},
		{
			name: "a bare prefix is not a job event",
			body: `{"id":"evt_new","type":"batch.","created":1706140800}`,
			want: tracker.Observation{OccurredAt: t0, EventID: "evt_new", Type: "batch."},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := mythicdot.WebhookParser{}.ParseEvent([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			checkObservation(t, got, tt.want)
		})
	}
}

// TestWebhookParserStatusFromType covers objects without a status: the
// event's type stands for it.
func TestWebhookParserStatusFromType(t *testing.T) {
	t.Parallel()
	tests := []struct {
		typ    string
		kind   tracker.Kind
		status tracker.Status
		word   string
	}{
		{"batch.completed", tracker.KindBatch, tracker.StatusSucceeded, "completed"},
		{"batch.failed", tracker.KindBatch, tracker.StatusFailed, "failed"},
		{"batch.expired", tracker.KindBatch, tracker.StatusExpired, "expired"},
		{"batch.cancelled", tracker.KindBatch, tracker.StatusCancelled, "cancelled"},
		{"batch.in_progress", tracker.KindBatch, tracker.StatusRunning, "in_progress"},
		{"batch.created", tracker.KindBatch, tracker.StatusPending, "created"},
		{"fine_tuning.job.created", tracker.KindFineTuning, tracker.StatusPending, "created"},
		{"fine_tuning.job.succeeded", tracker.KindFineTuning, tracker.StatusSucceeded, "succeeded"},
		{"fine_tuning.job.failed", tracker.KindFineTuning, tracker.StatusFailed, "failed"},
		{"fine_tuning.job.cancelled", tracker.KindFineTuning, tracker.StatusCancelled, "cancelled"},
		{"fine_tuning.job.paused", tracker.KindFineTuning, "", "paused"},
	}
	for _, tt := range tests {
		t.Run(tt.typ, func(t *testing.T) {
			t.Parallel()
			for _, obj := range []string{`{"id":"job_1"}`, `{"id":"job_1","status":null}`, `{"id":"job_1","status":""}`} {
				got, err := mythicdot.WebhookParser{}.ParseEvent([]byte(event(tt.typ, obj)))
				if err != nil {
					t.Fatalf("%s: %v", obj, err)
				}
				checkObservation(t, got, tracker.Observation{
					ExternalID: "job_1", Kind: tt.kind, Status: tt.status, ProviderStatus: tt.word,
					OccurredAt: t0, EventID: "evt_abc123xyz789", Type: tt.typ,
				})
			}
		})
	}
}

func TestWebhookParserErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, body, field, msg string
	}{
		{"not JSON", `<html>502 Bad Gateway</html>`, "", "malformed JSON"},
		{"truncated", seedBatchCompleted[:60], "", "malformed JSON"},
		{"empty body", ``, "", "malformed JSON"},
		{"array", `[]`, "", ""},
		{"missing id", `{"type":"batch.completed","created":1706140800,"data":{"object":{"id":"batch_abc123"}}}`, "id", "required"},
		{"numeric id", `{"id":1,"type":"batch.completed","created":1706140800,"data":{"object":{"id":"batch_abc123"}}}`, "id", ""},
		{"missing type", `{"id":"evt_1","created":1706140800,"data":{"object":{"id":"batch_abc123"}}}`, "type", "required"},
		{"null type", `{"id":"evt_1","type":null,"created":1706140800}`, "type", "required"},
		{"missing created", `{"id":"evt_1","type":"batch.completed","data":{"object":{"id":"batch_abc123"}}}`, "created", "required"},
		{"created as a string", `{"id":"evt_1","type":"usage.threshold.reached","created":"2024-01-25T00:00:00Z"}`, "created", ""},
		{"created out of range", `{"id":"evt_1","type":"batch.completed","created":-5,"data":{"object":{"id":"batch_abc123"}}}`, "created", ""},
		{"missing data", `{"id":"evt_1","type":"batch.completed","created":1706140800}`, "data.object", "required"},
		{"data not an object", `{"id":"evt_1","type":"batch.completed","created":1706140800,"data":"batch_abc123"}`, "data", ""},
		{"missing data.object", `{"id":"evt_1","type":"batch.failed","created":1706140800,"data":{}}`, "data.object", "required"},
		{"null data.object", event("fine_tuning.job.created", `null`), "data.object", "required"},
		{"data.object not an object", event("batch.completed", `"batch_abc123"`), "data.object", ""},
		{"missing data.object.id", event("batch.completed", `{"status":"completed"}`), "data.object.id", "required"},
		{"null data.object.id", event("fine_tuning.job.succeeded", `{"id":null,"status":"succeeded"}`), "data.object.id", "required"},
		{"data.object.status not a string", event("batch.completed", `{"id":"batch_abc123","status":1}`), "data.object.status", ""},
		{"bad request counts", event("batch.completed", `{"id":"batch_abc123","request_counts":{"total":"1000"}}`), "data.object.request_counts.total", ""},
		{"fine_tuned_model not a string", event("fine_tuning.job.succeeded", `{"id":"ftjob_1","fine_tuned_model":{"name":"m"}}`), "data.object.fine_tuned_model", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			obs, err := mythicdot.WebhookParser{}.ParseEvent([]byte(tt.body))
			var pe *providers.PayloadError
			if !errors.As(err, &pe) {
				t.Fatalf("ParseEvent = %+v, %v (%T), want a *providers.PayloadError", obs, err, err)
			}
			if pe.Field != tt.field || pe.Msg == "" || tt.msg != "" && pe.Msg != tt.msg {
				t.Errorf("error = %q (field %q), want field %q, message %q", pe, pe.Field, tt.field, tt.msg)
			}
		})
	}
}

// A figure of the embedded object that is no count fails nothing: it is
// left out and noted with its path in the whole event.
func TestParseEventDropsFiguresThatAreNoCounts(t *testing.T) {
	t.Parallel()
	obs, err := mythicdot.WebhookParser{}.ParseEvent([]byte(`{"id":"evt_1","type":"batch.completed","created":1706140800,"data":{"object":` +
		`{"id":"batch_1","status":"completed","request_counts":{"total":1000,"completed":998,"failed":2},"usage":{"total_tokens":-96087485}}}}`))
	want := []tracker.DroppedFigure{{Field: "total_tokens", Path: "data.object.usage.total_tokens", Value: "-96087485", Reason: tracker.DropNegative}}
	if err != nil || obs.Usage == nil || *obs.Usage != (tracker.Usage{RequestsTotal: 1000, RequestsCompleted: 998, RequestsFailed: 2}) || !reflect.DeepEqual(obs.DroppedUsage, want) {
		t.Errorf("ParseEvent = %+v, %v (usage %+v); want the request counts kept and %+v dropped", obs, err, obs.Usage, want)
	}
}

// Every type of EventTypes is one the parser knows: a job event with the
// job's status, or usage.threshold.reached, a provider event.
func TestEventTypesAreTheParsers(t *testing.T) {
	t.Parallel()
	for _, typ := range mythicdot.EventTypes {
		object := map[bool]string{true: `{"id":"x_1","object":"batch"}`, false: `{"id":"x_1","object":"fine_tuning.job"}`}[strings.HasPrefix(typ, "batch.")]
		obs, err := mythicdot.WebhookParser{}.ParseEvent([]byte(`{"id":"evt_1","type":"` + typ + `","created":1706140800,"data":{"object":` + object + `}}`))
		job := typ != "usage.threshold.reached"
		if err != nil || job != (obs.ExternalID == "x_1" && obs.Status != "") || obs.Type != typ {
			t.Errorf("%s: %+v, %v; want a job event: %v", typ, obs, err, job)
		}
	}
}
