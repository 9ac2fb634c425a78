package gemini_test

import (
	"errors"
	"testing"

	"github.com/jobwatch/jobwatch/providers"
	"github.com/jobwatch/jobwatch/providers/gemini"
	"github.com/jobwatch/jobwatch/tracker"
)

// checkFailure fails t unless err is a *providers.PayloadError with a
// message.
func checkFailure(t *testing.T, err error) {
	t.Helper()
	if pe, ok := errors.AsType[*providers.PayloadError](err); !ok || pe.Msg == "" {
		t.Fatalf("error %v (%T) is not a *providers.PayloadError with a message", err, err)
	}
}

// Whatever the body, an answer maps to a valid batch observation or to a
// *providers.PayloadError; a state is normalized only when known (never
// guessed terminal), and request_failure only flags a succeeded batch.
func FuzzBatchObservation(f *testing.F) {
	for _, seed := range []string{
		`{"name":"batches/b1","metadata":{"@type":"type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatch","state":"BATCH_STATE_PENDING","batchStats":{"requestCount":"100","pendingRequestCount":"100"}}}`,
		`{"name":"batches/b1","done":true,"metadata":{"state":"BATCH_STATE_SUCCEEDED","output":{"responsesFile":"files/o"},"batchStats":{"requestCount":"100","successfulRequestCount":"97","failedRequestCount":"3"}}}`,
		`{"name":"batches/b1","done":true,"error":{"code":3,"message":"bad"},"metadata":{"state":"BATCH_STATE_FAILED"}}`,
		`{"name":"batches/b1","state":"JOB_STATE_PARTIALLY_SUCCEEDED","batchStats":{"requestCount":1e3,"failedRequestCount":-1}}`,
		`{"name":"b1","state":"JOB_STATE_PAUSED","batchStats":{"requestCount":"1.5"}}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		obs, err := gemini.BatchObservation(body)
		if err != nil {
			checkFailure(t, err)
			return
		}
		if err := tracker.ValidateExternalID(obs.ExternalID); err != nil {
			t.Fatalf("ExternalID %q: %v", obs.ExternalID, err)
		}
		if obs.Kind != tracker.KindBatch || obs.ProviderStatus == "" || !obs.OccurredAt.IsZero() || obs.Payload != nil || obs.PollNow {
			t.Fatalf("observation %+v", obs)
		}
		if obs.Status != gemini.Status(obs.ProviderStatus) {
			t.Fatalf("Status %q for %q", obs.Status, obs.ProviderStatus)
		}
		for k, v := range obs.Details {
			if v == "" {
				t.Fatalf("Details[%q] is empty", k)
			}
		}
		if _, ok := obs.Details[tracker.DetailRequestFailure]; ok && obs.Status != tracker.StatusSucceeded {
			t.Fatalf("request_failure on %+v", obs)
		}
	})
}

// Whatever the body, an event is a batch event due for a poll, a provider
// event about no job, or a *providers.PayloadError; it always has an id and
// a type.
func FuzzParseEvent(f *testing.F) {
	for _, seed := range []string{
		`{"id":"evt_1","type":"batch.succeeded","timestamp":"2026-12-03T12:00:00Z","data":{"name":"batches/abc"}}`,
		`{"type":"batch.completed","data":{"id":"abc"}}`,
		`{"id":"evt_1","type":"batch.failed","create_time":"2026-12-03T12:00:00Z","data":{"batch":"batches/abc"}}`,
		`{"id":"evt_2","type":"interaction.completed","data":{"id":"interactions/i1"}}`,
		`{"id":"evt_3","type":"batch.expired","name":"batches/abc","data":null}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		obs, err := gemini.WebhookParser{}.ParseEvent(body)
		if err != nil {
			checkFailure(t, err)
			return
		}
		if obs.EventID == "" || obs.Type == "" {
			t.Fatalf("observation %+v lacks an id or a type", obs)
		}
		if obs.ExternalID == "" {
			if obs.PollNow || obs.Status != "" || obs.Kind != "" {
				t.Fatalf("provider event %+v", obs)
			}
			return
		}
		if err := tracker.ValidateExternalID(obs.ExternalID); err != nil {
			t.Fatalf("ExternalID %q: %v", obs.ExternalID, err)
		}
		if !obs.PollNow || obs.Kind != tracker.KindBatch || obs.Status == "" || obs.ProviderStatus == "" {
			t.Fatalf("batch event %+v", obs)
		}
		for k, v := range obs.Details {
			if v == "" {
				t.Fatalf("Details[%q] is empty", k)
			}
		}
	})
}
