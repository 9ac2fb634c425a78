package gemini_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/providers"
	"github.com/jobwatch/jobwatch/providers/gemini"
	"github.com/jobwatch/jobwatch/tracker"
)

// Every batch event name Google's pages use is a batch event that makes the
// batch due for a poll, whichever way the data names the batch.
func TestParseBatchEvents(t *testing.T) {
	t.Parallel()
	tests := []struct {
		body   string
		status tracker.Status
		word   string
	}{
		{`{"id":"evt_1","type":"batch.succeeded","timestamp":"2026-12-03T12:00:00Z","data":{"name":"batches/abc"}}`, tracker.StatusSucceeded, "succeeded"},
		{`{"id":"evt_1","type":"batch.completed","timestamp":"2026-12-03T12:00:00Z","data":{"id":"abc"}}`, tracker.StatusSucceeded, "completed"},
		{`{"id":"evt_1","type":"batch.failed","create_time":"2026-12-03T12:00:00.5Z","data":{"batch":"batches/abc"}}`, tracker.StatusFailed, "failed"},
		{`{"id":"evt_1","type":"batch.expired","timestamp":"2026-12-03T12:00:00Z","data":{"batch_name":"batches/abc"}}`, tracker.StatusExpired, "expired"},
		{`{"id":"evt_1","type":"batch.cancelled","timestamp":"2026-12-03T12:00:00Z","data":{"batchName":"abc"}}`, tracker.StatusCancelled, "cancelled"},
		{`{"id":"evt_1","type":"batch.succeeded","timestamp":"2026-12-03T12:00:00Z","name":"batches/abc","data":{"user_metadata":{"team":"x"}}}`, tracker.StatusSucceeded, "succeeded"},
	}
	for _, tt := range tests {
		obs, err := gemini.WebhookParser{}.ParseEvent([]byte(tt.body))
		if err != nil {
			t.Errorf("%s: %v", tt.body, err)
			continue
		}
		if obs.ExternalID != "abc" || obs.Kind != tracker.KindBatch || obs.Status != tt.status || obs.ProviderStatus != tt.word || !obs.PollNow ||
			obs.EventID != "evt_1" || obs.OccurredAt.Truncate(time.Second) != time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC) {
			t.Errorf("%s: %+v", tt.body, obs)
		}
	}
}

// A batch event keeps the output pointer or the error its data carries.
func TestParseBatchEventDetails(t *testing.T) {
	t.Parallel()
	tests := []struct {
		body string
		want map[string]string
	}{
		{`{"type":"batch.succeeded","version":"v1","timestamp":"2026-12-03T12:00:00Z","data":{"id":"batches/abc","output_file_uri":"gs://bucket/out.jsonl"}}`,
			map[string]string{"output_file_uri": "gs://bucket/out.jsonl"}},
		{`{"type":"batch.succeeded","data":{"id":"batches/abc","file_name":"files/batch-abc"}}`, map[string]string{"responses_file": "files/batch-abc"}},
		{`{"type":"batch.failed","data":{"id":"batches/abc","error_code":3,"error_message":"Request payload size exceeds the limit"}}`,
			map[string]string{"error_code": "3", "error_message": "Request payload size exceeds the limit"}},
		{`{"type":"batch.failed","data":{"id":"batches/abc","error_code":"INVALID_ARGUMENT","error_message":{"text":"x"}}}`, map[string]string{"error_code": "INVALID_ARGUMENT"}},
		{`{"type":"batch.expired","data":{"id":"batches/abc","error_message":null}}`, nil},
	}
	for _, tt := range tests {
		obs, err := gemini.WebhookParser{}.ParseEvent([]byte(tt.body))
		if err != nil || fmt.Sprint(obs.Details) != fmt.Sprint(tt.want) {
			t.Errorf("%s: details %v, %v; want %v", tt.body, obs.Details, err, tt.want)
		}
	}
}

// Events about no batch (interactions, videos, types added later) are
// provider events, recorded and never rejected.
func TestParseProviderEvents(t *testing.T) {
	t.Parallel()
	for _, body := range []string{
		`{"id":"evt_2","type":"interaction.requires_action","timestamp":"2026-12-03T12:00:00Z","data":{"id":"interactions/i1"}}`,
		`{"id":"evt_3","type":"video.generated","data":{"name":"operations/v1"}}`,
		`{"id":"evt_4","type":"model.tuned"}`,
	} {
		obs, err := gemini.WebhookParser{}.ParseEvent([]byte(body))
		if err != nil || obs.ExternalID != "" || obs.PollNow || obs.Type == "" || obs.EventID == "" {
			t.Errorf("%s: %+v, %v", body, obs, err)
		}
	}
}

// An event without an id gets one from its content: a redelivery with a
// new timestamp dedupes, another event does not.
func TestDerivedEventID(t *testing.T) {
	t.Parallel()
	id := func(body string) string {
		t.Helper()
		obs, err := gemini.WebhookParser{}.ParseEvent([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		return obs.EventID
	}
	a := id(`{"type":"batch.succeeded","timestamp":"2026-12-03T12:00:00Z","data":{"name":"batches/abc"}}`)
	b := id(`{"type":"batch.succeeded","timestamp":"2026-12-03T12:05:00Z","data": {"name": "batches/abc"}}`)
	c := id(`{"type":"batch.failed","timestamp":"2026-12-03T12:00:00Z","data":{"name":"batches/abc"}}`)
	if a == "" || a != b || a == c {
		t.Errorf("derived ids %q, %q, %q; want the first two equal and the third apart", a, b, c)
	}
}

func TestParseMalformedEvents(t *testing.T) {
	t.Parallel()
	tests := []struct {
		body, field string
	}{
		{`not json`, ""},
		{`{"id":"e","data":{"name":"batches/abc"}}`, "type"},
		{`{"id":"e","type":"batch.succeeded","data":{}}`, "name"},
		{`{"id":"e","type":"batch.succeeded","data":{"name":"batches/"}}`, "data.name"},
		{`{"id":"e","type":"batch.succeeded","data":{"name":"batches/batches/abc"}}`, "data.name"},
		{`{"id":"e","type":"batch.succeeded","data":{"name":7}}`, "data.name"},
		{`{"id":"e","type":"batch.succeeded","data":[1]}`, "data"},
		{`{"id":"e","type":"batch.succeeded","timestamp":"yesterday","data":{"name":"abc"}}`, "timestamp"},
		{`{"id":"e","type":"video.generated","timestamp":12}`, "timestamp"},
	}
	for _, tt := range tests {
		_, err := gemini.WebhookParser{}.ParseEvent([]byte(tt.body))
		pe, ok := errors.AsType[*providers.PayloadError](err)
		if !ok || pe.Field != tt.field {
			t.Errorf("%s: error %v, want a payload error at %q", tt.body, err, tt.field)
		}
	}
}

// The sample events send-test-event posts parse back to the job they name,
// given by its id or by its resource name.
func TestSampleEvents(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	for _, et := range gemini.EventTypes {
		for _, jobID := range []string{"abc", "batches/abc"} {
			body, err := gemini.Type.SampleEvent(providers.Settings{Name: "gemini"}, et, jobID, "evt_s", now)
			if err != nil {
				t.Fatal(err)
			}
			obs, err := gemini.WebhookParser{}.ParseEvent(body)
			want := ""
			if et[:6] == "batch." {
				want = "abc"
			}
			if err != nil || obs.ExternalID != want || obs.EventID == "" || !obs.OccurredAt.Equal(now) || obs.Type != et {
				t.Errorf("%s %s: %s parses to %+v, %v", et, jobID, body, obs, err)
			}
		}
	}
}
