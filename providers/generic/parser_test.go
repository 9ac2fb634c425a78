package generic_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/providers"
	"github.com/jobwatch/jobwatch/providers/generic"
	"github.com/jobwatch/jobwatch/tracker"
)

// The two shapes of the generic task API seed (002): an event envelope around
// a batch, and a bare task.
const (
	seedBatchEvent = `{
    "id": "evt_def456",
    "type": "batch.completed",
    "created_at": "2025-01-15T12:45:00Z",
    "api_version": "2025-01-01",
    "data": {
        "batch_id": "batch_abc123",
        "status": "completed",
        "total_requests": 1000,
        "completed": 995,
        "failed": 5,
        "output_file_id": "file-output-xyz",
        "error_file_id": "file-error-xyz",
        "processing_time_seconds": 3600
    }
}`
	seedTask = `{"task_id": "task_7f3a", "status": "completed", "result": {"content": "The response content...", "total_tokens": 650}}`
)

// batchConfig maps seedBatchEvent.
func batchConfig() generic.Config {
	return generic.Config{
		EventID:    "id",
		EventType:  "type",
		JobID:      "data.batch_id",
		Status:     "data.status",
		OccurredAt: "created_at",
		Model:      "data.model",
		StatusMap: map[string]tracker.Status{
			"created": tracker.StatusPending, "processing": tracker.StatusRunning,
			"completed": tracker.StatusSucceeded, "failed": tracker.StatusFailed, "cancelled": tracker.StatusCancelled,
		},
		Usage: map[string]string{
			"requests_total": "data.total_requests", "requests_completed": "data.completed", "requests_failed": "data.failed",
		},
	}
}

// taskConfig maps seedTask: no event id, type or time.
func taskConfig() generic.Config {
	return generic.Config{
		JobID:     "task_id",
		Status:    "status",
		Kind:      "task",
		StatusMap: map[string]tracker.Status{"pending": tracker.StatusPending, "running": tracker.StatusRunning, "completed": tracker.StatusSucceeded, "failed": tracker.StatusFailed},
		Usage:     map[string]string{"total_tokens": "result.total_tokens"},
	}
}

func mustNew(t testing.TB, cfg generic.Config) *generic.Parser {
	t.Helper()
	p, err := generic.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// derivedID is the documented derivation, computed independently of the
// parser: "generic_" and the first 32 hex digits of SHA-256(compact body).
func derivedID(compactBody string) string {
	sum := sha256.Sum256([]byte(compactBody))
	return "generic_" + hex.EncodeToString(sum[:])[:32]
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

func TestNewErrorsNameTheKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  func(*generic.Config)
		want []string // each error line, sorted
	}{
		{"no job id", func(c *generic.Config) { c.JobID = "" }, []string{"job_id: required"}},
		{"no status", func(c *generic.Config) { c.Status = "" }, []string{"status: required"}},
		{"bad status word", func(c *generic.Config) { c.StatusMap["done"] = "finished" },
			[]string{`status_map.done: "finished" is not a status (want pending, running, succeeded, failed, cancelled or expired)`}},
		{"lost is jobwatch's own", func(c *generic.Config) { c.StatusMap["gone"] = tracker.StatusLost },
			[]string{`status_map.gone: "lost" is not a status (want pending, running, succeeded, failed, cancelled or expired)`}},
		{"unknown usage field", func(c *generic.Config) { c.Usage["tokens"] = "data.tokens" },
			[]string{"usage.tokens: unknown usage field (want input_tokens, cached_input_tokens, output_tokens, total_tokens, trained_tokens, requests_total, requests_completed, requests_failed)"}},
		{"bad usage path", func(c *generic.Config) { c.Usage["input_tokens"] = "usage..input" },
			[]string{`usage.input_tokens: "usage..input" is not a path (dot-separated object keys, none empty)`}},
		{"bad model path", func(c *generic.Config) { c.Model = "data.model." },
			[]string{`model: "data.model." is not a path (dot-separated object keys, none empty)`}},
		{"bad kind", func(c *generic.Config) { c.Kind = "Batch Job" },
			[]string{`kind: "Batch Job" is not a kind (a lower-case name such as batch, fine_tuning, response, eval_run)`}},
		{"bad paths", func(c *generic.Config) {
			c.EventID, c.EventType, c.OccurredAt, c.JobID = ".id", "type.", "a..b", "data. id"
		}, []string{
			`event_id: ".id" is not a path (dot-separated object keys, none empty)`,
			`event_type: "type." is not a path (dot-separated object keys, none empty)`,
			`occurred_at: "a..b" is not a path (dot-separated object keys, none empty)`,
		}},
		{"several at once", func(c *generic.Config) { c.JobID, c.Status, c.StatusMap["x"], c.StatusMap["y"] = "", "", "done", "ok" }, []string{
			"job_id: required",
			"status: required",
			`status_map.x: "done" is not a status (want pending, running, succeeded, failed, cancelled or expired)`,
			`status_map.y: "ok" is not a status (want pending, running, succeeded, failed, cancelled or expired)`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := batchConfig()
			tt.cfg(&cfg)
			p, err := generic.New(cfg)
			if err == nil {
				t.Fatalf("New = %v, want errors %q", p, tt.want)
			}
			if got := strings.Split(err.Error(), "\n"); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("New errors\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestNewDefaultsAndCopies(t *testing.T) {
	t.Parallel()
	cfg := generic.Config{JobID: "task_id", Status: "status", StatusMap: map[string]tracker.Status{"completed": tracker.StatusSucceeded}}
	p := mustNew(t, cfg)
	// The caller's map is the caller's: changing it later changes nothing.
	cfg.StatusMap["completed"] = tracker.StatusFailed
	obs, err := p.ParseObject([]byte(seedTask))
	if err != nil {
		t.Fatal(err)
	}
	if obs.Kind != tracker.KindBatch || obs.Status != tracker.StatusSucceeded {
		t.Errorf("Kind %q, Status %q; want the default kind batch and the status mapped at New", obs.Kind, obs.Status)
	}
}

func TestParseEvent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  generic.Config
		body string
		want tracker.Observation
	}{
		{
			name: "seed batch event",
			cfg:  batchConfig(), body: seedBatchEvent,
			want: tracker.Observation{
				ExternalID: "batch_abc123", Kind: tracker.KindBatch, Status: tracker.StatusSucceeded, ProviderStatus: "completed",
				Usage:      &tracker.Usage{RequestsTotal: 1000, RequestsCompleted: 995, RequestsFailed: 5},
				OccurredAt: time.Date(2025, 1, 15, 12, 45, 0, 0, time.UTC), EventID: "evt_def456", Type: "batch.completed",
			},
		},
		{
			name: "seed task, event id derived from the body",
			cfg:  taskConfig(), body: seedTask,
			want: tracker.Observation{
				ExternalID: "task_7f3a", Kind: "task", Status: tracker.StatusSucceeded, ProviderStatus: "completed",
				Usage:   &tracker.Usage{TotalTokens: 650},
				EventID: derivedID(`{"task_id":"task_7f3a","status":"completed","result":{"content":"The response content...","total_tokens":650}}`),
			},
		},
		{
			name: "unmapped status is unknown, kept verbatim",
			cfg:  batchConfig(),
			body: `{"id":"evt_1","type":"batch.paused","created_at":"2025-01-15T12:45:00Z","data":{"batch_id":"batch_abc123","status":"Paused By Admin"}}`,
			want: tracker.Observation{
				ExternalID: "batch_abc123", Kind: tracker.KindBatch, ProviderStatus: "Paused By Admin",
				OccurredAt: time.Date(2025, 1, 15, 12, 45, 0, 0, time.UTC), EventID: "evt_1", Type: "batch.paused",
			},
		},
		{
			name: "optional fields absent or null",
			cfg:  batchConfig(),
			body: `{"id":"evt_2","type":null,"data":{"batch_id":"batch_abc123","status":"processing","total_requests":null}}`,
			want: tracker.Observation{ExternalID: "batch_abc123", Kind: tracker.KindBatch, Status: tracker.StatusRunning, ProviderStatus: "processing", EventID: "evt_2"},
		},
		{
			name: "numeric ids and unix seconds",
			cfg:  batchConfig(),
			body: `{"id":90071992547409930,"type":"batch.failed","created_at":1736945100,"data":{"batch_id":1234567,"status":"failed","failed":1e3,"total_requests":1000.0}}`,
			want: tracker.Observation{
				ExternalID: "1234567", Kind: tracker.KindBatch, Status: tracker.StatusFailed, ProviderStatus: "failed",
				Usage:      &tracker.Usage{RequestsTotal: 1000, RequestsFailed: 1000},
				OccurredAt: time.Date(2025, 1, 15, 12, 45, 0, 0, time.UTC), EventID: "90071992547409930", Type: "batch.failed",
			},
		},
		{
			name: "an id in exponent form, an id past int64, fractional seconds",
			cfg:  batchConfig(),
			body: `{"id":123456789012345678901234567890,"created_at":1736945100.25,"data":{"batch_id":1.5e3,"status":"completed"}}`,
			want: tracker.Observation{
				ExternalID: "1500", Kind: tracker.KindBatch, Status: tracker.StatusSucceeded, ProviderStatus: "completed",
				OccurredAt: time.Date(2025, 1, 15, 12, 45, 0, 250e6, time.UTC), EventID: "123456789012345678901234567890",
			},
		},
		{
			name: "the model, without its resource path",
			cfg:  batchConfig(),
			body: `{"id":"evt_4","data":{"batch_id":"b","status":"processing","model":"publishers/google/models/gemini-2.0-flash-001"}}`,
			want: tracker.Observation{
				ExternalID: "b", Kind: tracker.KindBatch, Status: tracker.StatusRunning, ProviderStatus: "processing", EventID: "evt_4",
				Details: map[string]string{tracker.DetailModel: "gemini-2.0-flash-001"},
			},
		},
		{
			name: "a null or empty model is none",
			cfg:  batchConfig(),
			body: `{"id":"evt_5","data":{"batch_id":"b","status":"processing","model":""}}`,
			want: tracker.Observation{ExternalID: "b", Kind: tracker.KindBatch, Status: tracker.StatusRunning, ProviderStatus: "processing", EventID: "evt_5"},
		},
		{
			name: "time with an offset becomes UTC",
			cfg:  batchConfig(),
			body: `{"id":"evt_3","created_at":"2025-01-15T13:45:00+01:00","data":{"batch_id":"b","status":"created"}}`,
			want: tracker.Observation{
				ExternalID: "b", Kind: tracker.KindBatch, Status: tracker.StatusPending, ProviderStatus: "created",
				OccurredAt: time.Date(2025, 1, 15, 12, 45, 0, 0, time.UTC), EventID: "evt_3",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := mustNew(t, tt.cfg).ParseEvent([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			checkObservation(t, got, tt.want)
		})
	}
}

// TestDerivedEventID: without an event id path, a redelivery of the same body
// (whatever its whitespace) dedupes and any other body does not.
func TestDerivedEventID(t *testing.T) {
	t.Parallel()
	p := mustNew(t, taskConfig())
	id := func(body string) string {
		t.Helper()
		obs, err := p.ParseEvent([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		return obs.EventID
	}
	first := id(seedTask)
	if got := id("\n" + strings.ReplaceAll(seedTask, ", ", ",\n\t") + "\n"); got != first {
		t.Errorf("re-indented body: EventID %s, want %s", got, first)
	}
	if got := id(strings.Replace(seedTask, "completed", "failed", 1)); got == first {
		t.Errorf("another status: EventID %s, same as the first", got)
	}
	if got := id(strings.Replace(seedTask, "task_7f3a", "task_7f3b", 1)); got == first {
		t.Errorf("another task: EventID %s, same as the first", got)
	}
}

func TestParseObject(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  generic.Config
		body string
		want tracker.Observation
	}{
		{
			name: "seed task polled",
			cfg:  taskConfig(), body: `{"task_id":"task_7f3a","status":"running","result":null}`,
			want: tracker.Observation{ExternalID: "task_7f3a", Kind: "task", Status: tracker.StatusRunning, ProviderStatus: "running"},
		},
		{
			name: "no event id, type or time from a poll",
			cfg:  batchConfig(), body: seedBatchEvent,
			want: tracker.Observation{
				ExternalID: "batch_abc123", Kind: tracker.KindBatch, Status: tracker.StatusSucceeded, ProviderStatus: "completed",
				Usage: &tracker.Usage{RequestsTotal: 1000, RequestsCompleted: 995, RequestsFailed: 5},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := mustNew(t, tt.cfg).ParseObject([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			checkObservation(t, got, tt.want)
		})
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	batch := func(data string) string {
		return `{"id":"evt_1","type":"batch.completed","created_at":"2025-01-15T12:45:00Z","data":` + data + `}`
	}
	tests := []struct {
		name       string
		cfg        generic.Config
		body       string
		field, msg string
	}{
		{"not JSON", batchConfig(), `id=evt_1`, "", "malformed JSON"},
		{"truncated", batchConfig(), seedBatchEvent[:80], "", "malformed JSON"},
		{"two documents", taskConfig(), seedTask + seedTask, "", "malformed JSON"},
		{"empty body", taskConfig(), ``, "", "malformed JSON"},
		{"array", taskConfig(), `[` + seedTask + `]`, "", "want a JSON object"},
		{"missing event id", batchConfig(), `{"type":"batch.completed","data":{"batch_id":"b","status":"completed"}}`, "id", "required"},
		{"empty event id", batchConfig(), `{"id":"","data":{"batch_id":"b","status":"completed"}}`, "id", "required"},
		{"event id an object", batchConfig(), `{"id":{"v":1},"data":{"batch_id":"b","status":"completed"}}`, "id", ""},
		{"type not a string", batchConfig(), `{"id":"evt_1","type":["batch"],"data":{"batch_id":"b","status":"completed"}}`, "type", ""},
		{"job id a boolean", batchConfig(), batch(`{"batch_id":true,"status":"completed"}`), "data.batch_id", ""},
		{"job id fractional", batchConfig(), batch(`{"batch_id":1.5,"status":"completed"}`), "data.batch_id", ""},
		{"job id with a slash", batchConfig(), batch(`{"batch_id":"a/b","status":"completed"}`), "data.batch_id", ""},
		{"missing status", batchConfig(), batch(`{"batch_id":"b"}`), "data.status", "required"},
		{"empty status", batchConfig(), batch(`{"batch_id":"b","status":""}`), "data.status", "required"},
		{"status a number", batchConfig(), batch(`{"batch_id":"b","status":2}`), "data.status", "want a string, got number 2"},
		{"status an object", taskConfig(), `{"task_id":"t","status":{"state":"done"}}`, "status", "want a string, got object"},
		{"bad time string", batchConfig(), `{"id":"e","created_at":"15/01/2025","data":{"batch_id":"b","status":"completed"}}`, "created_at", ""},
		{"time a boolean", batchConfig(), `{"id":"e","created_at":false,"data":{"batch_id":"b","status":"completed"}}`, "created_at", ""},
		{"time out of range", batchConfig(), `{"id":"e","created_at":1e300,"data":{"batch_id":"b","status":"completed"}}`, "created_at", ""},
		{"negative time", batchConfig(), `{"id":"e","created_at":-1.5,"data":{"batch_id":"b","status":"completed"}}`, "created_at", ""},
		{"model a number", batchConfig(), batch(`{"batch_id":"b","status":"completed","model":4}`), "data.model", "want a string, got number 4"},
		{"usage a string", batchConfig(), batch(`{"batch_id":"b","status":"completed","total_requests":"1000"}`), "data.total_requests", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			obs, err := mustNew(t, tt.cfg).ParseEvent([]byte(tt.body))
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

// An event that names no job is a provider event: recorded, never rejected.
func TestEventWithoutJobIsAProviderEvent(t *testing.T) {
	t.Parallel()
	p := mustNew(t, batchConfig())
	for _, data := range []string{`{"status":"completed"}`, `{"batch_id":null}`, `"batch_abc123"`, `{"metric":"tokens","percent":80}`} {
		body := `{"id":"evt_w","type":"usage.limit_warning","created_at":"2025-01-15T12:45:00Z","data":` + data + `}`
		obs, err := p.ParseEvent([]byte(body))
		if err != nil {
			t.Fatalf("%s: %v", data, err)
		}
		if obs.ExternalID != "" || obs.Status != "" || obs.EventID != "evt_w" || obs.Type != "usage.limit_warning" || obs.OccurredAt.IsZero() {
			t.Errorf("%s: observation %+v, want a provider event", data, obs)
		}
	}
}

// Usage figures that are no counts fail nothing: they are left out of Usage
// and noted, for the job's history; the other figures are kept.
func TestParseDropsFiguresThatAreNoCounts(t *testing.T) {
	t.Parallel()
	batch := func(data string) string {
		return `{"id":"evt_1","type":"batch.completed","created_at":"2025-01-15T12:45:00Z","data":` + data + `}`
	}
	obs, err := mustNew(t, batchConfig()).ParseEvent([]byte(batch(`{"batch_id":"b","status":"completed","total_requests":1000,"completed":99.5,"failed":-5}`)))
	want := []tracker.DroppedFigure{
		{Field: "requests_completed", Path: "data.completed", Value: "99.5", Reason: tracker.DropNotInteger},
		{Field: "requests_failed", Path: "data.failed", Value: "-5", Reason: tracker.DropNegative},
	}
	if err != nil || obs.Usage == nil || *obs.Usage != (tracker.Usage{RequestsTotal: 1000}) || !reflect.DeepEqual(obs.DroppedUsage, want) {
		t.Fatalf("ParseEvent = %+v, %v (usage %+v)\nwant requests_total 1000 kept and dropped %+v", obs, err, obs.Usage, want)
	}
	for _, n := range []string{"1e30", "9223372036854775808", "-99999999999999999999", "1e-7"} {
		obs, err := mustNew(t, batchConfig()).ParseEvent([]byte(batch(`{"batch_id":"b","status":"completed","completed":` + n + `}`)))
		if err != nil || obs.Usage != nil || len(obs.DroppedUsage) != 1 || obs.DroppedUsage[0].Value != n {
			t.Errorf("completed %s: ParseEvent = %+v, %v; want it dropped", n, obs, err)
		}
	}
	obs, err = mustNew(t, batchConfig()).ParseEvent([]byte(batch(`{"batch_id":"b","status":"completed","completed":1e17,"failed":5.0}`)))
	if err != nil || obs.Usage == nil || *obs.Usage != (tracker.Usage{RequestsCompleted: 1e17, RequestsFailed: 5}) || obs.DroppedUsage != nil {
		t.Errorf("integers written as floats: ParseEvent = %+v, %v (usage %+v)", obs, err, obs.Usage)
	}
}
