package llmtune_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/providers"
	"github.com/jobwatch/jobwatch/providers/llmtune"
	"github.com/jobwatch/jobwatch/tracker"
)

// Payloads of LLMTune's webhook documentation. The training event's example
// there has no deliveredAt; the envelope's example does.
const (
	seedPayloadFormat = `{
  "event": "training.completed",
  "data": {
    "jobId": "job-uuid",
    "baseModel": "meta-llama/Llama-3.3-70B-Instruct",
    "artifact": "ionet-finetune-model-id",
    "metrics": {
      "loss": 1.12,
      "tokens": 3250000,
      "duration_seconds": 1450
    }
  },
  "deliveredAt": "2025-11-08T14:22:31Z"
}`
	seedTrainingEvent = `{
  "event": "training.completed",
  "data": {
    "jobId": "job-uuid",
    "baseModel": "meta-llama/Llama-3.3-70B-Instruct",
    "trainingMethod": "sft",
    "status": "completed",
    "metrics": {
      "loss": 1.12,
      "evalLoss": 1.02,
      "tokensPerSecond": 178,
      "totalTokens": 3250000
    },
    "createdAt": "2025-11-01T15:23:54Z",
    "completedAt": "2025-11-01T16:45:12Z"
  },
  "deliveredAt": "2025-11-08T14:22:31Z"
}`
	seedModelDeployed = `{
  "event": "model.deployed",
  "data": {
    "deploymentId": "deploy-uuid",
    "modelId": "meta-llama/Llama-3.3-70B-Instruct",
    "version": "v1",
    "environment": "production",
    "endpoint": "https://api.llmtune.io/v1/models/deploy-uuid/inference"
  },
  "deliveredAt": "2025-11-08T14:22:31Z"
}`
)

var (
	delivered = time.Date(2025, 11, 8, 14, 22, 31, 0, time.UTC)
	created   = time.Date(2025, 11, 1, 15, 23, 54, 0, time.UTC)
	completed = time.Date(2025, 11, 1, 16, 45, 12, 0, time.UTC)
)

// wantID is the documented derivation, computed independently of the parser:
// "llmtune_" and the first 32 hex digits of SHA-256(event "\n" compact data).
func wantID(event, compactData string) string {
	sum := sha256.Sum256([]byte(event + "\n" + compactData))
	return "llmtune_" + hex.EncodeToString(sum[:])[:32]
}

func parse(t *testing.T, body string) tracker.Observation {
	t.Helper()
	obs, err := llmtune.WebhookParser{}.ParseEvent([]byte(body))
	if err != nil {
		t.Fatalf("ParseEvent(%s): %v", body, err)
	}
	return obs
}

// checkObservation fails the test unless got is want, field by field; an
// empty want.EventID accepts any id with the llmtune_ prefix.
func checkObservation(t *testing.T, got, want tracker.Observation) {
	t.Helper()
	if !got.OccurredAt.Equal(want.OccurredAt) || got.OccurredAt.Location() != time.UTC {
		t.Errorf("OccurredAt = %v, want %v in UTC", got.OccurredAt, want.OccurredAt)
	}
	got.OccurredAt, want.OccurredAt = time.Time{}, time.Time{}
	if want.EventID == "" {
		if !strings.HasPrefix(got.EventID, "llmtune_") || len(got.EventID) != len("llmtune_")+32 {
			t.Errorf("EventID = %q, want llmtune_ and 32 hex digits", got.EventID)
		}
		want.EventID = got.EventID
	}
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
			name: "training.completed (the payload format's example)",
			body: seedPayloadFormat,
			want: tracker.Observation{
				ExternalID: "job-uuid", Kind: tracker.KindFineTuning, Status: tracker.StatusSucceeded, ProviderStatus: "completed",
				Usage:      &tracker.Usage{TrainedTokens: 3250000},
				Details:    map[string]string{"fine_tuned_model": "ionet-finetune-model-id", "base_model": "meta-llama/Llama-3.3-70B-Instruct", tracker.DetailModel: "meta-llama/Llama-3.3-70B-Instruct"},
				OccurredAt: delivered, Type: "training.completed",
				EventID: wantID("training.completed", `{"jobId":"job-uuid","baseModel":"meta-llama/Llama-3.3-70B-Instruct","artifact":"ionet-finetune-model-id","metrics":{"loss":1.12,"tokens":3250000,"duration_seconds":1450}}`),
			},
		},
		{
			name: "training.completed (the training event's example)",
			body: seedTrainingEvent,
			want: tracker.Observation{
				ExternalID: "job-uuid", Kind: tracker.KindFineTuning, Status: tracker.StatusSucceeded, ProviderStatus: "completed",
				Usage:      &tracker.Usage{TrainedTokens: 3250000},
				Details:    map[string]string{"base_model": "meta-llama/Llama-3.3-70B-Instruct", tracker.DetailModel: "meta-llama/Llama-3.3-70B-Instruct"},
				OccurredAt: completed, Type: "training.completed",
			},
		},
		{
			name: "totalTokens wins over tokens",
			body: `{"event":"training.completed","data":{"jobId":"job-1","status":"completed","metrics":{"totalTokens":10,"tokens":20}}}`,
			want: tracker.Observation{
				ExternalID: "job-1", Kind: tracker.KindFineTuning, Status: tracker.StatusSucceeded, ProviderStatus: "completed",
				Usage: &tracker.Usage{TrainedTokens: 10}, Type: "training.completed",
			},
		},
		{
			name: "training.started",
			body: `{"event":"training.started","data":{"jobId":"job-uuid","baseModel":"meta-llama/Llama-3.3-70B-Instruct","trainingMethod":"sft","status":"running","createdAt":"2025-11-01T15:23:54Z"},"deliveredAt":"2025-11-01T15:24:02Z"}`,
			want: tracker.Observation{
				ExternalID: "job-uuid", Kind: tracker.KindFineTuning, Status: tracker.StatusRunning, ProviderStatus: "running",
				Details:    map[string]string{"base_model": "meta-llama/Llama-3.3-70B-Instruct", tracker.DetailModel: "meta-llama/Llama-3.3-70B-Instruct"},
				OccurredAt: created, Type: "training.started",
			},
		},
		{
			name: "training.started ignores completedAt",
			body: `{"event":"training.started","data":{"jobId":"job-uuid","createdAt":"2025-11-01T15:23:54Z","completedAt":"2025-11-01T16:45:12Z"}}`,
			want: tracker.Observation{
				ExternalID: "job-uuid", Kind: tracker.KindFineTuning, Status: tracker.StatusRunning, ProviderStatus: "started",
				OccurredAt: created, Type: "training.started",
			},
		},
		{
			name: "training.failed",
			body: `{"event":"training.failed","data":{"jobId":"job-uuid","status":"failed","metrics":{"tokens":120000},"createdAt":"2025-11-01T15:23:54Z","completedAt":"2025-11-01T16:45:12Z"},"deliveredAt":"2025-11-08T14:22:31Z"}`,
			want: tracker.Observation{
				ExternalID: "job-uuid", Kind: tracker.KindFineTuning, Status: tracker.StatusFailed, ProviderStatus: "failed",
				Usage: &tracker.Usage{TrainedTokens: 120000}, OccurredAt: completed, Type: "training.failed",
			},
		},
		{
			name: "training.failed, cancelled",
			body: `{"event":"training.failed","data":{"jobId":"job-uuid","status":"cancelled","createdAt":"2025-11-01T15:23:54Z"},"deliveredAt":"2025-11-08T14:22:31Z"}`,
			want: tracker.Observation{
				ExternalID: "job-uuid", Kind: tracker.KindFineTuning, Status: tracker.StatusCancelled, ProviderStatus: "cancelled",
				OccurredAt: created, Type: "training.failed",
			},
		},
		{
			name: "training.failed, canceled",
			body: `{"event":"training.failed","data":{"jobId":"job-uuid","status":"canceled"},"deliveredAt":"2025-11-08T14:22:31Z"}`,
			want: tracker.Observation{
				ExternalID: "job-uuid", Kind: tracker.KindFineTuning, Status: tracker.StatusCancelled, ProviderStatus: "canceled",
				OccurredAt: delivered, Type: "training.failed",
			},
		},
		{
			name: "training event with null fields",
			body: `{"event":"training.completed","data":{"jobId":"job-uuid","status":null,"baseModel":null,"artifact":null,"metrics":null,"createdAt":null,"completedAt":null},"deliveredAt":null}`,
			want: tracker.Observation{
				ExternalID: "job-uuid", Kind: tracker.KindFineTuning, Status: tracker.StatusSucceeded, ProviderStatus: "completed",
				Type: "training.completed",
			},
		},
		{
			name: "time offsets become UTC",
			body: `{"event":"training.completed","data":{"jobId":"job-uuid","completedAt":"2025-11-01T18:45:12.250+02:00"}}`,
			want: tracker.Observation{
				ExternalID: "job-uuid", Kind: tracker.KindFineTuning, Status: tracker.StatusSucceeded, ProviderStatus: "completed",
				OccurredAt: completed.Add(250 * time.Millisecond), Type: "training.completed",
			},
		},
		{
			name: "model.deployed",
			body: seedModelDeployed,
			want: tracker.Observation{OccurredAt: delivered, Type: "model.deployed"},
		},
		{
			name: "deployment.created",
			body: `{"event":"deployment.created","data":{"deploymentId":"deploy-uuid","environment":"production"},"deliveredAt":"2025-11-08T14:22:31Z"}`,
			want: tracker.Observation{OccurredAt: delivered, Type: "deployment.created"},
		},
		{
			name: "deployment.paused",
			body: `{"event":"deployment.paused","data":{"deploymentId":"deploy-uuid"},"deliveredAt":"2025-11-08T14:22:31Z"}`,
			want: tracker.Observation{OccurredAt: delivered, Type: "deployment.paused"},
		},
		{
			name: "deployment.deleted",
			body: `{"event":"deployment.deleted","data":{"deploymentId":"deploy-uuid"},"deliveredAt":"2025-11-08T14:22:31Z"}`,
			want: tracker.Observation{OccurredAt: delivered, Type: "deployment.deleted"},
		},
		{
			name: "usage.threshold_reached",
			body: `{"event":"usage.threshold_reached","data":{"metric":"tokens","threshold":5000000,"current":5000120},"deliveredAt":"2025-11-08T14:22:31Z"}`,
			want: tracker.Observation{OccurredAt: delivered, Type: "usage.threshold_reached"},
		},
		{
			name: "unknown event, data of any shape, no time",
			body: `{"event":"training.queued","data":["job-uuid",7]}`,
			want: tracker.Observation{Type: "training.queued", EventID: wantID("training.queued", `["job-uuid",7]`)},
		},
		{
			name: "unknown event without data",
			body: `{"event":"workspace.updated"}`,
			want: tracker.Observation{Type: "workspace.updated", EventID: wantID("workspace.updated", "")},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			checkObservation(t, parse(t, tt.body), tt.want)
		})
	}
}

// TestEventIDDedupesRetries: a retry of one event hashes alike whatever its
// deliveredAt or whitespace; a different event does not.
func TestEventIDDedupesRetries(t *testing.T) {
	t.Parallel()
	first := parse(t, seedTrainingEvent).EventID
	tests := []struct {
		name, body string
		same       bool
	}{
		{"another deliveredAt", strings.Replace(seedTrainingEvent, "2025-11-08T14:22:31Z", "2025-11-08T14:27:31Z", 1), true},
		{"no deliveredAt", strings.Replace(seedTrainingEvent, `,
  "deliveredAt": "2025-11-08T14:22:31Z"`, "", 1), true},
		{"compacted", `{"event":"training.completed","deliveredAt":"2025-11-08T16:22:31Z","data":{"jobId":"job-uuid","baseModel":"meta-llama/Llama-3.3-70B-Instruct","trainingMethod":"sft","status":"completed","metrics":{"loss":1.12,"evalLoss":1.02,"tokensPerSecond":178,"totalTokens":3250000},"createdAt":"2025-11-01T15:23:54Z","completedAt":"2025-11-01T16:45:12Z"}}`, true},
		{"another status", strings.Replace(seedTrainingEvent, `"status": "completed"`, `"status": "succeeded"`, 1), false},
		{"another job", strings.Replace(seedTrainingEvent, `"jobId": "job-uuid"`, `"jobId": "job-uuid-2"`, 1), false},
		{"another event", strings.Replace(seedTrainingEvent, `"event": "training.completed"`, `"event": "training.failed"`, 1), false},
		{"another metric", strings.Replace(seedTrainingEvent, `3250000`, `3250001`, 1), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := parse(t, tt.body).EventID; (got == first) != tt.same {
				t.Errorf("EventID %s, first %s: same = %v, want %v", got, first, got == first, tt.same)
			}
		})
	}
}

func TestWebhookParserErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, body, field, msg string
	}{
		{"not JSON", `event=training.completed`, "", "malformed JSON"},
		{"truncated", seedTrainingEvent[:100], "", "malformed JSON"},
		{"empty body", ``, "", "malformed JSON"},
		{"array", `[` + seedTrainingEvent + `]`, "", ""},
		{"missing event", `{"data":{"jobId":"job-uuid"},"deliveredAt":"2025-11-08T14:22:31Z"}`, "event", "required"},
		{"event not a string", `{"event":1,"data":{"jobId":"job-uuid"}}`, "event", ""},
		{"missing data", `{"event":"training.completed","deliveredAt":"2025-11-08T14:22:31Z"}`, "data.jobId", "required"},
		{"data not an object", `{"event":"training.completed","data":"job-uuid"}`, "data", ""},
		{"missing jobId", `{"event":"training.started","data":{"status":"running"}}`, "data.jobId", "required"},
		{"numeric jobId", `{"event":"training.failed","data":{"jobId":42}}`, "data.jobId", ""},
		{"jobId with a space", `{"event":"training.failed","data":{"jobId":"job uuid"}}`, "data.jobId", ""},
		{"tokens not a number", `{"event":"training.completed","data":{"jobId":"job-uuid","metrics":{"totalTokens":"3250000"}}}`, "data.metrics.totalTokens", ""},
		{"bad completedAt", `{"event":"training.completed","data":{"jobId":"job-uuid","completedAt":"yesterday"}}`, "data.completedAt", ""},
		{"bad createdAt", `{"event":"training.started","data":{"jobId":"job-uuid","createdAt":"2025-11-01 15:23:54"}}`, "data.createdAt", ""},
		{"bad deliveredAt", `{"event":"training.completed","data":{"jobId":"job-uuid"},"deliveredAt":"1762611751"}`, "deliveredAt", ""},
		{"bad deliveredAt on a provider event", `{"event":"model.deployed","data":{},"deliveredAt":"Sat, 08 Nov 2025 14:22:31 GMT"}`, "deliveredAt", ""},
		{"deliveredAt not a string", `{"event":"model.deployed","deliveredAt":1762611751}`, "deliveredAt", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			obs, err := llmtune.WebhookParser{}.ParseEvent([]byte(tt.body))
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

// A token count that is no count fails nothing: the job's event applies
// without it, and it is noted for the job's history.
func TestParseEventDropsTokensThatAreNoCount(t *testing.T) {
	t.Parallel()
	obs, err := llmtune.WebhookParser{}.ParseEvent([]byte(`{"event":"training.completed","data":{"jobId":"job-uuid","metrics":{"tokens":3250000.5}}}`))
	want := []tracker.DroppedFigure{{Field: "trained_tokens", Path: "data.metrics.tokens", Value: "3250000.5", Reason: tracker.DropNotInteger}}
	if err != nil || obs.Status != tracker.StatusSucceeded || obs.Usage != nil || !reflect.DeepEqual(obs.DroppedUsage, want) {
		t.Errorf("ParseEvent = %+v, %v; want succeeded with %+v dropped", obs, err, want)
	}
}

// Every type of EventTypes is one the parser knows: a training event with
// the job's status, or a provider event.
func TestEventTypesAreTheParsers(t *testing.T) {
	t.Parallel()
	for _, typ := range llmtune.EventTypes {
		obs, err := llmtune.WebhookParser{}.ParseEvent([]byte(`{"event":"` + typ + `","data":{"jobId":"job-1"},"deliveredAt":"2025-11-08T14:22:31Z"}`))
		job := strings.HasPrefix(typ, "training.")
		if err != nil || job != (obs.ExternalID == "job-1" && obs.Status != "") || obs.Type != typ {
			t.Errorf("%s: %+v, %v; want a job event: %v", typ, obs, err, job)
		}
	}
}
