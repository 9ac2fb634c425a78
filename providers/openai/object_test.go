package openai_test

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/providers/openai"
	"github.com/jobwatch/jobwatch/tracker"
)

// readTestdata returns testdata/name: objects as OpenAI's API spec shows them.
func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestStatusMaps(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		fn   func(string) tracker.Status
		want map[string]tracker.Status
	}{
		{"BatchStatus", openai.BatchStatus, map[string]tracker.Status{
			"validating": tracker.StatusPending, "in_progress": tracker.StatusRunning,
			"finalizing": tracker.StatusRunning, "cancelling": tracker.StatusRunning,
			"completed": tracker.StatusSucceeded, "failed": tracker.StatusFailed,
			"expired": tracker.StatusExpired, "cancelled": tracker.StatusCancelled,
			"": "", "canceled": "", "COMPLETED": "", "paused": "", "succeeded": "",
		}},
		{"FineTuningStatus", openai.FineTuningStatus, map[string]tracker.Status{
			"validating_files": tracker.StatusPending, "queued": tracker.StatusPending,
			"running": tracker.StatusRunning, "succeeded": tracker.StatusSucceeded,
			"failed": tracker.StatusFailed, "cancelled": tracker.StatusCancelled,
			"": "", "paused": "", "completed": "", "canceled": "",
		}},
		{"ResponseStatus", openai.ResponseStatus, map[string]tracker.Status{
			"queued": tracker.StatusPending, "in_progress": tracker.StatusRunning,
			"completed": tracker.StatusSucceeded, "failed": tracker.StatusFailed,
			"cancelled": tracker.StatusCancelled, "incomplete": tracker.StatusFailed,
			"": "", "expired": "", "requires_action": "",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for word, want := range tt.want {
				if got := tt.fn(word); got != want {
					t.Errorf("%s(%q) = %q, want %q", tt.name, word, got, want)
				}
			}
		})
	}
}

func TestObjectObservation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		kind tracker.Kind
		obj  string // a file in testdata when it ends in .json
		want tracker.Observation
	}{
		{
			name: "batch completed with partial failures",
			kind: tracker.KindBatch, obj: "batch_completed.json",
			want: tracker.Observation{
				ExternalID: "batch_abc123", Kind: tracker.KindBatch, Status: tracker.StatusSucceeded, ProviderStatus: "completed",
				Usage:   &tracker.Usage{InputTokens: 1500, CachedInputTokens: 1024, OutputTokens: 500, TotalTokens: 2000, RequestsTotal: 100, RequestsCompleted: 95, RequestsFailed: 5},
				Details: map[string]string{"model": "gpt-5-2025-08-07", "output_file_id": "file-cvaTdG", "error_file_id": "file-HOWS94", "request_failure": "partial"},
				EndedAt: unix(1711493163),
			},
		},
		{
			name: "batch completed with every request failed",
			kind: tracker.KindBatch,
			obj: `{"id":"batch_allfail","object":"batch","endpoint":"/v1/chat/completions","errors":null,"input_file_id":"file-in",` +
				`"completion_window":"24h","status":"completed","output_file_id":null,"error_file_id":"file-errors",` +
				`"created_at":1711471533,"completed_at":1711493163,"request_counts":{"total":250,"completed":0,"failed":250},"usage":null}`,
			want: tracker.Observation{
				ExternalID: "batch_allfail", Kind: tracker.KindBatch, Status: tracker.StatusSucceeded, ProviderStatus: "completed",
				Usage:   &tracker.Usage{RequestsTotal: 250, RequestsFailed: 250},
				Details: map[string]string{"error_file_id": "file-errors", "request_failure": "total"},
				EndedAt: unix(1711493163),
			},
		},
		{
			name: "batch completed without failures",
			kind: tracker.KindBatch,
			obj:  `{"id":"batch_ok","status":"completed","output_file_id":"file-out","request_counts":{"total":10,"completed":10,"failed":0}}`,
			want: tracker.Observation{
				ExternalID: "batch_ok", Kind: tracker.KindBatch, Status: tracker.StatusSucceeded, ProviderStatus: "completed",
				Usage:   &tracker.Usage{RequestsTotal: 10, RequestsCompleted: 10},
				Details: map[string]string{"output_file_id": "file-out"},
			},
		},
		{
			name: "batch expired keeps its partial output",
			kind: tracker.KindBatch,
			obj: `{"id":"batch_exp","object":"batch","status":"expired","output_file_id":"file-partial","error_file_id":"file-err",` +
				`"expired_at":1711557933,"request_counts":{"total":1000,"completed":640,"failed":0}}`,
			want: tracker.Observation{
				ExternalID: "batch_exp", Kind: tracker.KindBatch, Status: tracker.StatusExpired, ProviderStatus: "expired",
				Usage:   &tracker.Usage{RequestsTotal: 1000, RequestsCompleted: 640},
				Details: map[string]string{"output_file_id": "file-partial", "error_file_id": "file-err"},
				EndedAt: unix(1711557933),
			},
		},
		{
			name: "batch failed validation",
			kind: tracker.KindBatch,
			obj: `{"id":"batch_bad","object":"batch","status":"failed","errors":{"object":"list","data":[` +
				`{"code":"invalid_json_line","message":"This line is not parseable as valid JSON.","param":null,"line":3},` +
				`{"code":"invalid_json_line","message":"second","param":null,"line":9}]},` +
				`"request_counts":{"total":0,"completed":0,"failed":0}}`,
			want: tracker.Observation{
				ExternalID: "batch_bad", Kind: tracker.KindBatch, Status: tracker.StatusFailed, ProviderStatus: "failed",
				Details: map[string]string{"error_code": "invalid_json_line", "error_message": "This line is not parseable as valid JSON."},
			},
		},
		{
			name: "batch failed for the enqueued token limit",
			kind: tracker.KindBatch,
			obj: `{"id":"batch_67a1b2c3","object":"batch","endpoint":"/v1/chat/completions","errors":{"object":"list","data":[` +
				`{"code":"token_limit_exceeded","line":null,"message":"Enqueued token limit reached for gpt-4o in organization org-snq6hvcTYRCMyB87hjZjkoFr. ` +
				`Limit: 90,000 enqueued tokens. Please try again once some in_progress batches have been completed.","param":null}]},` +
				`"input_file_id":"file-in","completion_window":"24h","status":"failed","output_file_id":null,"error_file_id":null,` +
				`"created_at":1738650000,"in_progress_at":null,"expires_at":1738736400,"finalizing_at":null,"completed_at":null,` +
				`"failed_at":1738650003,"expired_at":null,"cancelling_at":null,"cancelled_at":null,` +
				`"request_counts":{"total":0,"completed":0,"failed":0},"metadata":null}`,
			want: tracker.Observation{
				ExternalID: "batch_67a1b2c3", Kind: tracker.KindBatch, Status: tracker.StatusFailed, ProviderStatus: "failed",
				Details: map[string]string{
					"error_code": "token_limit_exceeded",
					"error_message": "Enqueued token limit reached for gpt-4o in organization org-snq6hvcTYRCMyB87hjZjkoFr. " +
						"Limit: 90,000 enqueued tokens. Please try again once some in_progress batches have been completed.",
					tracker.DetailFailureCause: tracker.FailureCauseQuota,
				},
				EndedAt: unix(1738650003),
			},
		},
		{
			name: "batch failed, its quota error after line errors",
			kind: tracker.KindBatch,
			obj: `{"id":"batch_q2","object":"batch","status":"failed","errors":{"object":"list","data":[` +
				`{"code":"invalid_json_line","message":"This line is not parseable as valid JSON.","param":null,"line":3},` +
				`{"code":"token_limit_exceeded","message":"Enqueued token limit reached for gpt-4o-mini.","param":null,"line":null}]}}`,
			want: tracker.Observation{
				ExternalID: "batch_q2", Kind: tracker.KindBatch, Status: tracker.StatusFailed, ProviderStatus: "failed",
				Details: map[string]string{"error_code": "token_limit_exceeded", "error_message": "Enqueued token limit reached for gpt-4o-mini.",
					tracker.DetailFailureCause: tracker.FailureCauseQuota},
			},
		},
		{
			name: "batch failed, error at the top of errors (OpenAI guide's shape)",
			kind: tracker.KindBatch,
			obj:  `{"id":"batch_abc123","status":"failed","errors":{"message":"Batch processing failed","code":"batch_error"}}`,
			want: tracker.Observation{
				ExternalID: "batch_abc123", Kind: tracker.KindBatch, Status: tracker.StatusFailed, ProviderStatus: "failed",
				Details: map[string]string{"error_code": "batch_error", "error_message": "Batch processing failed"},
			},
		},
		{
			name: "batch finalizing is running",
			kind: tracker.KindBatch,
			obj:  `{"id":"batch_fin","status":"finalizing","request_counts":{"total":100,"completed":100,"failed":0}}`,
			want: tracker.Observation{
				ExternalID: "batch_fin", Kind: tracker.KindBatch, Status: tracker.StatusRunning, ProviderStatus: "finalizing",
				Usage: &tracker.Usage{RequestsTotal: 100, RequestsCompleted: 100},
			},
		},
		{
			name: "batch validating, every optional field null",
			kind: tracker.KindBatch,
			obj: `{"id":"batch_new","object":"batch","model":null,"errors":null,"status":"validating","output_file_id":null,` +
				`"error_file_id":null,"request_counts":null,"usage":null,"metadata":null}`,
			want: tracker.Observation{ExternalID: "batch_new", Kind: tracker.KindBatch, Status: tracker.StatusPending, ProviderStatus: "validating"},
		},
		{
			name: "batch in an unknown status",
			kind: tracker.KindBatch,
			obj:  `{"id":"batch_x","status":"archived"}`,
			want: tracker.Observation{ExternalID: "batch_x", Kind: tracker.KindBatch, ProviderStatus: "archived"},
		},
		{
			name: "batch without a status",
			kind: tracker.KindBatch,
			obj:  `{"id":"batch_x","output_file_id":"file-out"}`,
			want: tracker.Observation{ExternalID: "batch_x", Kind: tracker.KindBatch, Details: map[string]string{"output_file_id": "file-out"}},
		},
		{
			name: "fine-tune succeeded",
			kind: tracker.KindFineTuning, obj: "fine_tuning_succeeded.json",
			want: tracker.Observation{
				ExternalID: "ftjob-abc123", Kind: tracker.KindFineTuning, Status: tracker.StatusSucceeded, ProviderStatus: "succeeded",
				Usage:   &tracker.Usage{TrainedTokens: 5768},
				Details: map[string]string{"model": "davinci-002", "fine_tuned_model": "ft:davinci-002:my-org:custom_suffix:7q8mpxmy"},
				EndedAt: unix(1692661190),
			},
		},
		{
			name: "fine-tune paused is unknown, not terminal",
			kind: tracker.KindFineTuning,
			obj:  `{"object":"fine_tuning.job","id":"ftjob-paused","status":"paused","fine_tuned_model":null,"trained_tokens":null,"error":null}`,
			want: tracker.Observation{ExternalID: "ftjob-paused", Kind: tracker.KindFineTuning, ProviderStatus: "paused"},
		},
		{
			name: "fine-tune failed",
			kind: tracker.KindFineTuning,
			obj: `{"object":"fine_tuning.job","id":"ftjob-fail","status":"failed","fine_tuned_model":null,"trained_tokens":null,` +
				`"error":{"code":"invalid_training_file","message":"The file has 3 examples; 10 are required.","param":"training_file"}}`,
			want: tracker.Observation{
				ExternalID: "ftjob-fail", Kind: tracker.KindFineTuning, Status: tracker.StatusFailed, ProviderStatus: "failed",
				Details: map[string]string{"error_code": "invalid_training_file", "error_message": "The file has 3 examples; 10 are required."},
			},
		},
		{
			name: "fine-tune validating files with an empty error",
			kind: tracker.KindFineTuning,
			obj:  `{"object":"fine_tuning.job","id":"ftjob-new","status":"validating_files","error":{},"estimated_finish":null}`,
			want: tracker.Observation{ExternalID: "ftjob-new", Kind: tracker.KindFineTuning, Status: tracker.StatusPending, ProviderStatus: "validating_files"},
		},
		{
			name: "response completed with usage",
			kind: tracker.KindResponse, obj: "response_completed.json",
			want: tracker.Observation{
				ExternalID: "resp_67ccd2bed1ec8190b14f964abc0542670bb6a6b452d3795b", Kind: tracker.KindResponse,
				Status: tracker.StatusSucceeded, ProviderStatus: "completed",
				Usage:   &tracker.Usage{InputTokens: 36, OutputTokens: 87, TotalTokens: 123},
				Details: map[string]string{"model": "gpt-5.4"},
			},
		},
		{
			name: "response served partly from the prompt cache",
			kind: tracker.KindResponse,
			obj: `{"id":"resp_cached","object":"response","status":"completed","model":"gpt-4o-2024-08-06",` +
				`"usage":{"input_tokens":2006,"input_tokens_details":{"cached_tokens":1920},"output_tokens":300,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":2306}}`,
			want: tracker.Observation{
				ExternalID: "resp_cached", Kind: tracker.KindResponse, Status: tracker.StatusSucceeded, ProviderStatus: "completed",
				Usage:   &tracker.Usage{InputTokens: 2006, CachedInputTokens: 1920, OutputTokens: 300, TotalTokens: 2306},
				Details: map[string]string{"model": "gpt-4o-2024-08-06"},
			},
		},
		{
			name: "batch whose cached tokens are no count",
			kind: tracker.KindBatch,
			obj:  `{"id":"batch_neg","status":"in_progress","usage":{"input_tokens":100,"input_tokens_details":{"cached_tokens":-5},"output_tokens":0,"total_tokens":100}}`,
			want: tracker.Observation{
				ExternalID: "batch_neg", Kind: tracker.KindBatch, Status: tracker.StatusRunning, ProviderStatus: "in_progress",
				Usage:        &tracker.Usage{InputTokens: 100, TotalTokens: 100},
				DroppedUsage: []tracker.DroppedFigure{{Field: "cached_input_tokens", Path: "usage.input_tokens_details.cached_tokens", Value: "-5", Reason: tracker.DropNegative}},
			},
		},
		{
			name: "response incomplete is failed",
			kind: tracker.KindResponse,
			obj: `{"id":"resp_trunc","object":"response","status":"incomplete","error":null,` +
				`"incomplete_details":{"reason":"max_output_tokens"},"usage":{"input_tokens":10,"output_tokens":4096,"total_tokens":4106}}`,
			want: tracker.Observation{
				ExternalID: "resp_trunc", Kind: tracker.KindResponse, Status: tracker.StatusFailed, ProviderStatus: "incomplete",
				Usage:   &tracker.Usage{InputTokens: 10, OutputTokens: 4096, TotalTokens: 4106},
				Details: map[string]string{"incomplete_reason": "max_output_tokens"},
			},
		},
		{
			name: "response failed",
			kind: tracker.KindResponse,
			obj:  `{"id":"resp_err","object":"response","status":"failed","error":{"code":"server_error","message":"The model failed."},"usage":null}`,
			want: tracker.Observation{
				ExternalID: "resp_err", Kind: tracker.KindResponse, Status: tracker.StatusFailed, ProviderStatus: "failed",
				Details: map[string]string{"error_code": "server_error", "error_message": "The model failed."},
			},
		},
		{
			name: "response failed for a rate limit",
			kind: tracker.KindResponse,
			obj: `{"id":"resp_rl","object":"response","status":"failed","background":true,` +
				`"error":{"code":"rate_limit_exceeded","message":"Rate limit reached for gpt-4.1 in organization org-abc on tokens per min (TPM)."},"usage":null}`,
			want: tracker.Observation{
				ExternalID: "resp_rl", Kind: tracker.KindResponse, Status: tracker.StatusFailed, ProviderStatus: "failed",
				Details: map[string]string{"error_code": "rate_limit_exceeded",
					"error_message":            "Rate limit reached for gpt-4.1 in organization org-abc on tokens per min (TPM).",
					tracker.DetailFailureCause: tracker.FailureCauseQuota},
			},
		},
		{
			name: "response queued",
			kind: tracker.KindResponse,
			obj:  `{"id":"resp_bg","object":"response","status":"queued","error":null,"incomplete_details":null,"output":[],"usage":null}`,
			want: tracker.Observation{ExternalID: "resp_bg", Kind: tracker.KindResponse, Status: tracker.StatusPending, ProviderStatus: "queued"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			obj := []byte(tt.obj)
			if filepath.Ext(tt.obj) == ".json" {
				obj = readTestdata(t, tt.obj)
			}
			got, err := openai.ObjectObservation(tt.kind, obj)
			if err != nil {
				t.Fatal(err)
			}
			checkObservation(t, got, tt.want)
		})
	}
}

// unix is a time in unix seconds, as a provider's end time.
func unix(s int64) *time.Time {
	t := time.Unix(s, 0).UTC()
	return &t
}

func TestObjectObservationErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		kind  tracker.Kind
		obj   string
		field string
	}{
		{"not JSON", tracker.KindBatch, `{"id":`, ""},
		{"empty", tracker.KindBatch, ``, ""},
		{"array", tracker.KindResponse, `[]`, ""},
		{"unmapped kind", "training", `{"id":"run_1","status":"completed"}`, ""},
		{"empty kind", "", `{"id":"batch_1","status":"completed"}`, ""},
		{"missing id", tracker.KindBatch, `{"status":"completed"}`, "id"},
		{"null id", tracker.KindFineTuning, `{"id":null,"status":"running"}`, "id"},
		{"numeric id", tracker.KindResponse, `{"id":12,"status":"completed"}`, "id"},
		{"status not a string", tracker.KindBatch, `{"id":"batch_1","status":3}`, "status"},
		{"object of another kind", tracker.KindBatch, `{"id":"resp_1","object":"response","status":"completed"}`, "object"},
		{"request count not a number", tracker.KindBatch, `{"id":"batch_1","status":"completed","request_counts":{"total":"100"}}`, "request_counts.total"},
		{"errors not an object", tracker.KindBatch, `{"id":"batch_1","status":"failed","errors":"boom"}`, "errors"},
		{"error code not a string", tracker.KindFineTuning, `{"id":"ft_1","status":"failed","error":{"code":400}}`, "error.code"},
		{"trained_tokens not a number", tracker.KindFineTuning, `{"id":"ft_1","status":"succeeded","trained_tokens":"5768"}`, "trained_tokens"},
		{"incomplete reason not a string", tracker.KindResponse, `{"id":"resp_1","status":"incomplete","incomplete_details":{"reason":true}}`, "incomplete_details.reason"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			obs, err := openai.ObjectObservation(tt.kind, []byte(tt.obj))
			if err == nil {
				t.Fatalf("ObjectObservation = %+v, want an error on %q", obs, tt.field)
			}
			checkPayloadError(t, err, tt.field)
		})
	}
}

// Figures that are no counts (Prism's negative total_tokens, a fraction, a
// number beyond int64) fail nothing: they are left out of Usage and noted,
// for the job's history; the object's other figures are kept.
func TestObjectObservationDropsFiguresThatAreNoCounts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		kind  tracker.Kind
		obj   string
		usage *tracker.Usage
		want  []tracker.DroppedFigure
	}{
		{tracker.KindBatch, `{"id":"batch_1","status":"completed","request_counts":{"total":10,"completed":9,"failed":1.5},"usage":{"input_tokens":1500,"output_tokens":700,"total_tokens":-96087485}}`,
			&tracker.Usage{RequestsTotal: 10, RequestsCompleted: 9, InputTokens: 1500, OutputTokens: 700},
			[]tracker.DroppedFigure{{Field: "requests_failed", Path: "request_counts.failed", Value: "1.5", Reason: tracker.DropNotInteger},
				{Field: "total_tokens", Path: "usage.total_tokens", Value: "-96087485", Reason: tracker.DropNegative}}},
		{tracker.KindResponse, `{"id":"resp_1","status":"completed","usage":{"total_tokens":99999999999999999999}}`, nil,
			[]tracker.DroppedFigure{{Field: "total_tokens", Path: "usage.total_tokens", Value: "99999999999999999999", Reason: tracker.DropTooLarge}}},
		{tracker.KindFineTuning, `{"id":"ft_1","status":"succeeded","trained_tokens":1e300}`, nil,
			[]tracker.DroppedFigure{{Field: "trained_tokens", Path: "trained_tokens", Value: "1e300", Reason: tracker.DropTooLarge}}},
	}
	for _, tt := range tests {
		obs, err := openai.ObjectObservation(tt.kind, []byte(tt.obj))
		if err != nil || !reflect.DeepEqual(obs.Usage, tt.usage) || !reflect.DeepEqual(obs.DroppedUsage, tt.want) || obs.Details["request_failure"] != "" {
			t.Errorf("%s:\n got %+v, %v (usage %+v)\nwant usage %+v, dropped %+v", tt.obj, obs, err, obs.Usage, tt.usage, tt.want)
		}
	}
}
