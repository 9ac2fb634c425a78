package azureopenai_test

import (
	"cmp"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/providers"
	"github.com/jobwatch/jobwatch/providers/azureopenai"
	"github.com/jobwatch/jobwatch/providers/pollhttp"
	"github.com/jobwatch/jobwatch/providers/providertest"
	"github.com/jobwatch/jobwatch/tracker"
)

const testKey = "azure-test-key-0123456789abcdef"

type answer = providertest.Answer

// fakeResource behaves like an Azure OpenAI resource's v1 API: each GET of a
// known job, under /openai/v1/batches/ or /openai/v1/fine_tuning/jobs/,
// answers the next stage of its sequence (the last one forever). A request
// without an api-key (or with a query: the v1 API takes no api-version) is
// refused with 401 and one with the wrong key with 403 (Azure answers a
// wrong key with 401 too; both are auth failures), an unknown job with 404,
// in Azure's error shape.
func fakeResource(t *testing.T, jobs map[string][]answer) (*httptest.Server, func() int) {
	t.Helper()
	return providertest.FakeAPI(t, func(r *http.Request) (int, string) {
		switch key := r.Header.Get("api-key"); {
		case key == "" || r.URL.RawQuery != "":
			return http.StatusUnauthorized, `{"error":{"code":"401","message":"Access denied due to missing subscription key."}}`
		case key != testKey:
			return http.StatusForbidden, `{"error":{"code":"PermissionDenied","message":"Principal does not have access to API/Operation."}}`
		}
		return 0, ""
	}, `{"error":{"code":"404","message":"Resource not found"}}`, jobs)
}

func newPoller(srv *httptest.Server, key string) *azureopenai.Poller {
	return azureopenai.NewPoller(srv.URL, key, pollhttp.New(pollhttp.Config{Provider: "azure", Retries: 2, MaxRetryWait: 50 * time.Millisecond}))
}

// batch is a batch object as Azure's v1 API answers it, with extra fields
// after its status.
func batch(id, status, extra string) answer {
	return answer{Body: fmt.Sprintf(`{"id":%q,"object":"batch","endpoint":"/chat/completions","errors":null,"input_file_id":"file-7c1f2e3d4b5a",`+
		`"completion_window":"24h","status":%q,"created_at":1733000000,"metadata":null%s}`, id, status, extra)}
}

// fineTune is a fine-tuning job object as Azure's v1 API answers it.
func fineTune(id, status, extra string) answer {
	return answer{Body: fmt.Sprintf(`{"id":%q,"object":"fine_tuning.job","model":"gpt-4.1-mini-2025-04-14","created_at":1733000000,`+
		`"training_file":"file-0678a7e63fca41a0","validation_file":null,"result_files":[],"status":%q%s}`, id, status, extra)}
}

func counts(total, completed, failed int) string {
	return fmt.Sprintf(`,"request_counts":{"total":%d,"completed":%d,"failed":%d}`, total, completed, failed)
}

// Each job goes through Azure's statuses to each end (a fine-tune's through
// its earlier API versions' words too; a paused one is not ended); the last
// answer's figures and details are the observation's.
func TestPollEnds(t *testing.T) {
	t.Parallel()
	const batchID, fineTuneID = "batch_ok", "ftjob-1"
	tests := []struct {
		name    string
		kind    tracker.Kind
		seq     []answer
		want    []tracker.Status
		usage   tracker.Usage
		details map[string]string
	}{
		{
			name: "batch completed with failed requests",
			kind: tracker.KindBatch,
			seq: []answer{
				batch(batchID, "validating", counts(0, 0, 0)),
				batch(batchID, "in_progress", counts(100, 40, 1)),
				batch(batchID, "finalizing", counts(100, 97, 3)),
				// Azure's model is the deployment's name: kept as it is.
				batch(batchID, "completed", counts(100, 97, 3)+`,"model":"gpt-4o-mini-batch","output_file_id":"file-out","error_file_id":"file-err","completed_at":1733003600,`+
					`"usage":{"input_tokens":12000,"input_tokens_details":{"cached_tokens":4096},"output_tokens":3400,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":15400}`),
			},
			want:    []tracker.Status{tracker.StatusPending, tracker.StatusRunning, tracker.StatusRunning, tracker.StatusSucceeded},
			usage:   tracker.Usage{InputTokens: 12000, CachedInputTokens: 4096, OutputTokens: 3400, TotalTokens: 15400, RequestsTotal: 100, RequestsCompleted: 97, RequestsFailed: 3},
			details: map[string]string{tracker.DetailModel: "gpt-4o-mini-batch", "output_file_id": "file-out", "error_file_id": "file-err", tracker.DetailRequestFailure: tracker.RequestFailurePartial},
		},
		{
			name:    "batch completed with every request failed",
			kind:    tracker.KindBatch,
			seq:     []answer{batch(batchID, "completed", counts(5, 0, 5)+`,"output_file_id":null,"error_file_id":"file-err"`)},
			want:    []tracker.Status{tracker.StatusSucceeded},
			usage:   tracker.Usage{RequestsTotal: 5, RequestsFailed: 5},
			details: map[string]string{"error_file_id": "file-err", tracker.DetailRequestFailure: tracker.RequestFailureTotal},
		},
		{
			name: "batch failed",
			kind: tracker.KindBatch,
			seq: []answer{
				batch(batchID, "validating", ""),
				batch(batchID, "failed", `,"errors":{"object":"list","data":[{"code":"invalid_json_line","message":"Line 3 is not valid JSON.","line":3}]}`),
			},
			want:    []tracker.Status{tracker.StatusPending, tracker.StatusFailed},
			details: map[string]string{"error_code": "invalid_json_line", "error_message": "Line 3 is not valid JSON."},
		},
		{
			name: "batch failed for the deployment's enqueued token limit",
			kind: tracker.KindBatch,
			seq: []answer{
				batch(batchID, "validating", ""),
				batch(batchID, "failed", `,"errors":{"object":"list","data":[{"code":"token_limit_exceeded",`+
					`"message":"The number of enqueued tokens has surpassed the configured limit of 30K for the deployment 'gpt-4.1-batch'. `+
					`Please either increase the limit or try again once the current jobs have finished.","line":null,"param":null}]}`),
			},
			want: []tracker.Status{tracker.StatusPending, tracker.StatusFailed},
			details: map[string]string{
				"error_code": "token_limit_exceeded",
				"error_message": "The number of enqueued tokens has surpassed the configured limit of 30K for the deployment 'gpt-4.1-batch'. " +
					"Please either increase the limit or try again once the current jobs have finished.",
				tracker.DetailFailureCause: tracker.FailureCauseQuota,
			},
		},
		{
			name: "batch expired with partial output",
			kind: tracker.KindBatch,
			seq: []answer{
				batch(batchID, "in_progress", counts(10, 2, 0)),
				batch(batchID, "expired", counts(10, 6, 0)+`,"output_file_id":"file-partial","expired_at":1733090000`),
			},
			want:    []tracker.Status{tracker.StatusRunning, tracker.StatusExpired},
			usage:   tracker.Usage{RequestsTotal: 10, RequestsCompleted: 6},
			details: map[string]string{"output_file_id": "file-partial"},
		},
		{
			name:  "batch cancelled",
			kind:  tracker.KindBatch,
			seq:   []answer{batch(batchID, "cancelling", counts(10, 2, 0)), batch(batchID, "cancelled", counts(10, 2, 0))},
			want:  []tracker.Status{tracker.StatusRunning, tracker.StatusCancelled},
			usage: tracker.Usage{RequestsTotal: 10, RequestsCompleted: 2},
		},
		{
			name: "fine-tune succeeded",
			kind: tracker.KindFineTuning,
			seq: []answer{
				fineTune(fineTuneID, "pending", `,"fine_tuned_model":null,"trained_tokens":null`),
				fineTune(fineTuneID, "validating_files", ""),
				fineTune(fineTuneID, "queued", ""),
				fineTune(fineTuneID, "running", `,"trained_tokens":null`),
				fineTune(fineTuneID, "pausing", ""),
				fineTune(fineTuneID, "paused", ""),
				fineTune(fineTuneID, "resuming", ""),
				fineTune(fineTuneID, "succeeded", `,"fine_tuned_model":"gpt-4.1-mini-2025-04-14.ft-0123456789abcdef","trained_tokens":325000,"finished_at":1733030000`),
			},
			want: []tracker.Status{tracker.StatusPending, tracker.StatusPending, tracker.StatusPending, tracker.StatusRunning,
				"", "", "", tracker.StatusSucceeded},
			usage:   tracker.Usage{TrainedTokens: 325000},
			details: map[string]string{tracker.DetailModel: "gpt-4.1-mini-2025-04-14", "fine_tuned_model": "gpt-4.1-mini-2025-04-14.ft-0123456789abcdef"},
		},
		{
			name: "fine-tune failed",
			kind: tracker.KindFineTuning,
			seq: []answer{
				fineTune(fineTuneID, "created", ""),
				fineTune(fineTuneID, "failed", `,"error":{"code":"invalidTrainingFile","message":"The training file has too few examples.","param":"training_file"}`),
			},
			want:    []tracker.Status{tracker.StatusPending, tracker.StatusFailed},
			details: map[string]string{tracker.DetailModel: "gpt-4.1-mini-2025-04-14", "error_code": "invalidTrainingFile", "error_message": "The training file has too few examples."},
		},
		{
			name:    "fine-tune cancelled",
			kind:    tracker.KindFineTuning,
			seq:     []answer{fineTune(fineTuneID, "running", ""), fineTune(fineTuneID, "cancelled", `,"trained_tokens":1200`)},
			want:    []tracker.Status{tracker.StatusRunning, tracker.StatusCancelled},
			usage:   tracker.Usage{TrainedTokens: 1200},
			details: map[string]string{tracker.DetailModel: "gpt-4.1-mini-2025-04-14"},
		},
		{
			name:    "fine-tune canceled, as Azure's legacy fine-tunes spell it",
			kind:    tracker.KindFineTuning,
			seq:     []answer{fineTune(fineTuneID, "canceled", "")},
			want:    []tracker.Status{tracker.StatusCancelled},
			details: map[string]string{tracker.DetailModel: "gpt-4.1-mini-2025-04-14"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			job := tracker.Job{Provider: "azure", Kind: tt.kind, ExternalID: batchID}
			path := "/openai/v1/batches/" + batchID
			if tt.kind == tracker.KindFineTuning {
				job.ExternalID, path = fineTuneID, "/openai/v1/fine_tuning/jobs/"+fineTuneID
			}
			srv, _ := fakeResource(t, map[string][]answer{path: tt.seq})
			p := newPoller(srv, testKey)
			var obs tracker.Observation
			for i, want := range tt.want {
				var err error
				if obs, err = p.Poll(t.Context(), job); err != nil {
					t.Fatalf("poll %d: %v", i+1, err)
				}
				if obs.Status != want || obs.ProviderStatus == "" || obs.ExternalID != job.ExternalID || obs.Kind != tt.kind || !strings.Contains(string(obs.Payload), `"status"`) {
					t.Errorf("poll %d: %s %s %q (%s), payload %s; want %q", i+1, obs.Kind, obs.ExternalID, obs.Status, obs.ProviderStatus, obs.Payload, want)
				}
			}
			var usage tracker.Usage
			if obs.Usage != nil {
				usage = *obs.Usage
			}
			if usage != tt.usage || fmt.Sprint(obs.Details) != fmt.Sprint(tt.details) {
				t.Errorf("usage %+v, details %v; want %+v, %v", usage, obs.Details, tt.usage, tt.details)
			}
		})
	}
}

// A 429 is retried after the Retry-After it names, and the answer after it
// is the poll's.
func TestPollRetriesAfterTooManyRequests(t *testing.T) {
	t.Parallel()
	srv, requests := fakeResource(t, map[string][]answer{"/openai/v1/batches/batch_429": {
		{Code: http.StatusTooManyRequests, RetryAfter: "0", Body: `{"error":{"code":"429","message":"Requests to the Batch API have exceeded call rate limit."}}`},
		batch("batch_429", "in_progress", counts(10, 1, 0)),
	}})
	obs, err := newPoller(srv, testKey).Poll(t.Context(), tracker.Job{Kind: tracker.KindBatch, ExternalID: "batch_429"})
	if err != nil {
		t.Fatal(err)
	}
	if obs.Status != tracker.StatusRunning || requests() != 2 {
		t.Errorf("status %q after %d requests; want running after 2", obs.Status, requests())
	}
}

func TestPollFailures(t *testing.T) {
	t.Parallel()
	srv, _ := fakeResource(t, map[string][]answer{
		"/openai/v1/batches/batch_1":    {batch("batch_1", "in_progress", "")},
		"/openai/v1/batches/busy":       {{Code: http.StatusServiceUnavailable, Body: `{"error":{"code":"ServiceUnavailable","message":"The service is temporarily unavailable."}}`}},
		"/openai/v1/batches/limited":    {{Code: http.StatusTooManyRequests, RetryAfter: "0", Body: `{"error":{"code":"429","message":"Rate limit is exceeded."}}`}},
		"/openai/v1/batches/odd":        {{Body: `{"id":"odd","object":"batch","status":"in_progress","request_counts":{"total":"many"}}`}},
		"/openai/v1/batches/not_json":   {{Body: `<html>Bad gateway</html>`}},
		"/openai/v1/batches/batch_mine": {batch("batch_theirs", "completed", counts(1, 1, 0))},
		"/openai/v1/batches/ftjob-2":    {fineTune("ftjob-2", "running", "")},
	})
	tests := []struct {
		name  string
		key   string
		job   tracker.Job
		class providers.PollErrorClass
		code  int
	}{
		{"unknown job", testKey, tracker.Job{Kind: tracker.KindBatch, ExternalID: "missing"}, providers.PollNotFound, 404},
		{"no key", "", tracker.Job{Kind: tracker.KindBatch, ExternalID: "batch_1"}, providers.PollAuth, 401},
		{"wrong key", "wrong-key", tracker.Job{Kind: tracker.KindBatch, ExternalID: "batch_1"}, providers.PollAuth, 403},
		{"unavailable", testKey, tracker.Job{Kind: tracker.KindBatch, ExternalID: "busy"}, providers.PollTransient, 503},
		{"rate limited throughout", testKey, tracker.Job{Kind: tracker.KindBatch, ExternalID: "limited"}, providers.PollTransient, 429},
		{"malformed answer", testKey, tracker.Job{Kind: tracker.KindBatch, ExternalID: "odd"}, providers.PollInvalid, 0},
		{"answer not JSON", testKey, tracker.Job{Kind: tracker.KindBatch, ExternalID: "not_json"}, providers.PollInvalid, 0},
		{"answer about another job", testKey, tracker.Job{Kind: tracker.KindBatch, ExternalID: "batch_mine"}, providers.PollInvalid, 0},
		{"answer of another kind", testKey, tracker.Job{Kind: tracker.KindBatch, ExternalID: "ftjob-2"}, providers.PollInvalid, 0},
		{"not a polled kind", testKey, tracker.Job{Kind: tracker.KindResponse, ExternalID: "batch_1"}, providers.PollInvalid, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := newPoller(srv, tt.key).Poll(t.Context(), tt.job)
			providertest.CheckPollError(t, err, "azure", tt.job, cmp.Or(tt.key, testKey), tt.class, tt.code)
		})
	}
}

// The endpoint is the resource's, with or without a trailing "/" or the
// v1 API's path: each reaches the same job.
func TestEndpointSpellings(t *testing.T) {
	t.Parallel()
	srv, _ := fakeResource(t, map[string][]answer{"/openai/v1/batches/batch_1": {batch("batch_1", "completed", "")}})
	for _, endpoint := range []string{srv.URL, srv.URL + "/", srv.URL + "/openai/v1", srv.URL + "/openai/v1/"} {
		p := azureopenai.NewPoller(endpoint, testKey, pollhttp.New(pollhttp.Config{Provider: "azure"}))
		obs, err := p.Poll(t.Context(), tracker.Job{Kind: tracker.KindBatch, ExternalID: "batch_1"})
		if err != nil || obs.Status != tracker.StatusSucceeded {
			t.Errorf("endpoint %q: %q, %v", endpoint, obs.Status, err)
		}
	}
}

func TestPolls(t *testing.T) {
	t.Parallel()
	p := azureopenai.NewPoller("https://example.openai.azure.com", testKey, pollhttp.New(pollhttp.Config{Provider: "azure"}))
	for kind, want := range map[tracker.Kind]bool{tracker.KindBatch: true, tracker.KindFineTuning: true, tracker.KindResponse: false, tracker.KindEvalRun: false} {
		if got := p.Polls(kind); got != want {
			t.Errorf("Polls(%s) = %v, want %v", kind, got, want)
		}
	}
}
