package openai_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/providers"
	"github.com/jobwatch/jobwatch/providers/openai"
	"github.com/jobwatch/jobwatch/providers/pollhttp"
	"github.com/jobwatch/jobwatch/providers/providertest"
	"github.com/jobwatch/jobwatch/tracker"
)

const testKey = "sk-test-key"

// fakeAPI is an httptest server behaving like OpenAI's API: a GET of a known
// object path answers the next object of its sequence (the last one
// forever), an unknown path 404, a wrong key 401, with OpenAI's error bodies.
type fakeAPI struct {
	*httptest.Server
	mu      sync.Mutex
	objects map[string][]string
	gets    []string
}

func newFakeAPI(t *testing.T, objects map[string][]string) *fakeAPI {
	t.Helper()
	a := &fakeAPI{objects: objects}
	a.Server = httptest.NewServer(http.HandlerFunc(a.serve))
	t.Cleanup(a.Close)
	return a
}

func (a *fakeAPI) serve(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.gets = append(a.gets, r.Method+" "+r.URL.EscapedPath())
	w.Header().Set("Content-Type", "application/json")
	if r.Header.Get("Authorization") != "Bearer "+testKey {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"error":{"message":"Incorrect API key provided: sk-wron*****. You can find your API key at https://platform.openai.com/account/api-keys.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`)
		return
	}
	seq := a.objects[r.URL.EscapedPath()]
	if r.Method != http.MethodGet || len(seq) == 0 {
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintf(w, `{"error":{"message":"No such object: '%s'","type":"invalid_request_error","param":"id","code":null}}`, r.URL.Path)
		return
	}
	fmt.Fprint(w, seq[0])
	if len(seq) > 1 {
		a.objects[r.URL.EscapedPath()] = seq[1:]
	}
}

// requests returns the requests so far, as "GET /path".
func (a *fakeAPI) requests() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.gets...)
}

func newPoller(t *testing.T, api *fakeAPI, key string) *openai.Poller {
	t.Helper()
	client := pollhttp.New(pollhttp.Config{Provider: "openai", MaxRetryWait: 10 * time.Millisecond})
	return openai.NewPoller(api.URL+"/v1", key, client)
}

// batchObject is a batch as GET /v1/batches/{id} returns it at a stage of
// its life: the fields of OpenAI's Batch schema, times included.
func batchObject(id, status, rest string) string {
	return fmt.Sprintf(`{"id":%q,"object":"batch","endpoint":"/v1/chat/completions","model":"gpt-4o-mini-2024-07-18","errors":null,`+
		`"input_file_id":"file-In42","completion_window":"24h","status":%q,"created_at":1711471533,"expires_at":1711557933,`+
		`"failed_at":null,"expired_at":null,"cancelling_at":null,"cancelled_at":null,"metadata":{"customer_id":"user_123456789"}%s}`, id, status, rest)
}

func TestPollBatchLifecycle(t *testing.T) {
	t.Parallel()
	const id = "batch_67abc"
	counts := func(total, completed, failed int) string {
		return fmt.Sprintf(`,"request_counts":{"total":%d,"completed":%d,"failed":%d}`, total, completed, failed)
	}
	api := newFakeAPI(t, map[string][]string{"/v1/batches/" + id: {
		batchObject(id, "validating", counts(0, 0, 0)+`,"output_file_id":null,"error_file_id":null,"in_progress_at":null`),
		batchObject(id, "in_progress", counts(100, 40, 1)+`,"output_file_id":null,"error_file_id":null,"in_progress_at":1711471538`),
		// Counts at 100%, yet not done.
		batchObject(id, "finalizing", counts(100, 95, 5)+`,"output_file_id":null,"error_file_id":null,"in_progress_at":1711471538,"finalizing_at":1711493133`),
		batchObject(id, "completed", counts(100, 95, 5)+`,"output_file_id":"file-cvaTdG","error_file_id":"file-HOWS94","in_progress_at":1711471538,"finalizing_at":1711493133,"completed_at":1711493163,`+
			`"usage":{"input_tokens":1500,"input_tokens_details":{"cached_tokens":1024},"output_tokens":500,"output_tokens_details":{"reasoning_tokens":300},"total_tokens":2000}`),
	}})
	p := newPoller(t, api, testKey)
	job := tracker.Job{Provider: "openai", Kind: tracker.KindBatch, ExternalID: id}
	want := []struct {
		status         tracker.Status
		providerStatus string
	}{
		{tracker.StatusPending, "validating"},
		{tracker.StatusRunning, "in_progress"},
		{tracker.StatusRunning, "finalizing"},
		{tracker.StatusSucceeded, "completed"},
	}
	var obs tracker.Observation
	for i, w := range want {
		var err error
		if obs, err = p.Poll(t.Context(), job); err != nil {
			t.Fatalf("poll %d: %v", i+1, err)
		}
		if obs.ExternalID != id || obs.Kind != tracker.KindBatch || obs.Status != w.status || obs.ProviderStatus != w.providerStatus {
			t.Errorf("poll %d: %s %s %q %q, want %s batch %q %q", i+1, obs.ExternalID, obs.Kind, obs.Status, obs.ProviderStatus, id, w.status, w.providerStatus)
		}
		if !strings.Contains(string(obs.Payload), `"status":"`+w.providerStatus+`"`) {
			t.Errorf("poll %d: payload %s", i+1, obs.Payload)
		}
		if obs.Provider != "" || obs.Source != "" || !obs.OccurredAt.IsZero() {
			t.Errorf("poll %d filled the caller's fields: %+v", i+1, obs)
		}
	}
	wantUsage := tracker.Usage{InputTokens: 1500, CachedInputTokens: 1024, OutputTokens: 500, TotalTokens: 2000, RequestsTotal: 100, RequestsCompleted: 95, RequestsFailed: 5}
	if obs.Usage == nil || *obs.Usage != wantUsage {
		t.Errorf("usage %+v, want %+v", obs.Usage, wantUsage)
	}
	wantDetails := map[string]string{tracker.DetailModel: "gpt-4o-mini-2024-07-18", "output_file_id": "file-cvaTdG", "error_file_id": "file-HOWS94", "request_failure": tracker.RequestFailurePartial}
	if !reflect.DeepEqual(obs.Details, wantDetails) {
		t.Errorf("details %v, want %v", obs.Details, wantDetails)
	}
	for _, r := range api.requests() {
		if r != "GET /v1/batches/"+id {
			t.Errorf("request %q", r)
		}
	}
}

func TestPollFineTuningLifecycle(t *testing.T) {
	t.Parallel()
	const id = "ftjob-abc123"
	ft := func(status, model, trained, finished string) string {
		return fmt.Sprintf(`{"object":"fine_tuning.job","id":%q,"model":"gpt-4o-mini-2024-07-18","created_at":1692661014,"finished_at":%s,`+
			`"fine_tuned_model":%s,"organization_id":"org-123","result_files":[],"status":%q,"validation_file":null,"training_file":"file-abc123",`+
			`"hyperparameters":{"n_epochs":4,"batch_size":1,"learning_rate_multiplier":1.0},"trained_tokens":%s,"error":null,"integrations":[],"seed":0,`+
			`"estimated_finish":null,"method":{"type":"supervised"},"metadata":null}`, id, finished, model, status, trained)
	}
	api := newFakeAPI(t, map[string][]string{"/v1/fine_tuning/jobs/" + id: {
		ft("validating_files", "null", "null", "null"),
		ft("queued", "null", "null", "null"),
		ft("running", "null", "null", "null"),
		ft("succeeded", `"ft:gpt-4o-mini-2024-07-18:my-org:custom_suffix:7q8mpxmy"`, "5768", "1692661190"),
	}})
	p := newPoller(t, api, testKey)
	job := tracker.Job{Provider: "openai", Kind: tracker.KindFineTuning, ExternalID: id}
	var obs tracker.Observation
	for i, want := range []tracker.Status{tracker.StatusPending, tracker.StatusPending, tracker.StatusRunning, tracker.StatusSucceeded} {
		var err error
		if obs, err = p.Poll(t.Context(), job); err != nil {
			t.Fatalf("poll %d: %v", i+1, err)
		}
		if obs.Status != want {
			t.Errorf("poll %d: status %q (%s), want %q", i+1, obs.Status, obs.ProviderStatus, want)
		}
	}
	if obs.Usage == nil || obs.Usage.TrainedTokens != 5768 {
		t.Errorf("usage %+v, want 5768 trained tokens", obs.Usage)
	}
	if got := obs.Details["fine_tuned_model"]; got != "ft:gpt-4o-mini-2024-07-18:my-org:custom_suffix:7q8mpxmy" {
		t.Errorf("fine_tuned_model %q", got)
	}
	if got := api.requests(); got[0] != "GET /v1/fine_tuning/jobs/"+id {
		t.Errorf("requests %v", got)
	}
}

func TestPollResponse(t *testing.T) {
	t.Parallel()
	const id = "resp_67ccd2bed1ec8190b14f964abc054267"
	api := newFakeAPI(t, map[string][]string{"/v1/responses/" + id: {
		fmt.Sprintf(`{"id":%q,"object":"response","created_at":1741476542,"status":"completed","background":true,"error":null,"incomplete_details":null,`+
			`"model":"gpt-4.1-2025-04-14","output":[],"usage":{"input_tokens":36,"input_tokens_details":{"cached_tokens":0},"output_tokens":87,`+
			`"output_tokens_details":{"reasoning_tokens":0},"total_tokens":123}}`, id),
	}})
	obs, err := newPoller(t, api, testKey).Poll(t.Context(), tracker.Job{Kind: tracker.KindResponse, ExternalID: id})
	if err != nil {
		t.Fatal(err)
	}
	if obs.Status != tracker.StatusSucceeded || obs.Usage == nil || obs.Usage.TotalTokens != 123 {
		t.Errorf("observation %+v", obs)
	}
}

func TestPollBatchEveryRequestFailed(t *testing.T) {
	t.Parallel()
	const id = "batch_allfail"
	api := newFakeAPI(t, map[string][]string{"/v1/batches/" + id: {
		batchObject(id, "completed", `,"output_file_id":null,"error_file_id":"file-errors","in_progress_at":1711471538,"finalizing_at":1711493133,"completed_at":1711493163,"request_counts":{"total":250,"completed":0,"failed":250}`),
	}})
	obs, err := newPoller(t, api, testKey).Poll(t.Context(), tracker.Job{Kind: tracker.KindBatch, ExternalID: id})
	if err != nil {
		t.Fatal(err)
	}
	if obs.Status != tracker.StatusSucceeded || obs.Details["request_failure"] != tracker.RequestFailureTotal || obs.Details["error_file_id"] != "file-errors" {
		t.Errorf("status %q, details %v; want succeeded with request_failure total", obs.Status, obs.Details)
	}
	if _, ok := obs.Details["output_file_id"]; ok {
		t.Errorf("details %v hold an output file", obs.Details)
	}
}

func TestPollExpiredBatchKeepsOutput(t *testing.T) {
	t.Parallel()
	const id = "batch_late"
	api := newFakeAPI(t, map[string][]string{"/v1/batches/" + id: {
		strings.Replace(batchObject(id, "expired", `,"output_file_id":"file-partial","error_file_id":"file-err","in_progress_at":1711471538,"request_counts":{"total":1000,"completed":640,"failed":0}`),
			`"expired_at":null`, `"expired_at":1711557933`, 1),
	}})
	obs, err := newPoller(t, api, testKey).Poll(t.Context(), tracker.Job{Kind: tracker.KindBatch, ExternalID: id})
	if err != nil {
		t.Fatal(err)
	}
	if obs.Status != tracker.StatusExpired || obs.Details["output_file_id"] != "file-partial" {
		t.Errorf("status %q, details %v; want expired with its output file", obs.Status, obs.Details)
	}
	if obs.Usage == nil || obs.Usage.RequestsCompleted != 640 {
		t.Errorf("usage %+v", obs.Usage)
	}
}

func TestPollFailures(t *testing.T) {
	t.Parallel()
	api := newFakeAPI(t, map[string][]string{
		"/v1/batches/batch_other": {batchObject("batch_not_asked", "in_progress", "")},
		"/v1/batches/batch_html":  {"<html>Bad gateway</html>"},
	})
	tests := []struct {
		name string
		key  string
		job  tracker.Job
		want providers.PollErrorClass
		code int
	}{
		{"unknown batch", testKey, tracker.Job{Kind: tracker.KindBatch, ExternalID: "batch_missing"}, providers.PollNotFound, 404},
		{"wrong key", "sk-wrong", tracker.Job{Kind: tracker.KindBatch, ExternalID: "batch_other"}, providers.PollAuth, 401},
		{"another batch's answer", testKey, tracker.Job{Kind: tracker.KindBatch, ExternalID: "batch_other"}, providers.PollInvalid, 0},
		{"not JSON", testKey, tracker.Job{Kind: tracker.KindBatch, ExternalID: "batch_html"}, providers.PollInvalid, 0},
		{"path step", testKey, tracker.Job{Kind: tracker.KindBatch, ExternalID: ".."}, providers.PollInvalid, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := newPoller(t, api, tt.key).Poll(t.Context(), tt.job)
			providertest.CheckPollError(t, err, "openai", tt.job, tt.key, tt.want, tt.code)
		})
	}
	for _, r := range api.requests() {
		if strings.Contains(r, "evalrun") || strings.HasSuffix(r, "/..") {
			t.Errorf("polled %s", r)
		}
	}
}

func TestPolls(t *testing.T) {
	t.Parallel()
	p := openai.NewPoller("", testKey, pollhttp.New(pollhttp.Config{Provider: "openai"}))
	for kind, want := range map[tracker.Kind]bool{
		tracker.KindBatch: true, tracker.KindFineTuning: true, tracker.KindResponse: true,
		tracker.KindEvalRun: true, "training": false,
	} {
		if got := p.Polls(kind); got != want {
			t.Errorf("Polls(%s) = %v, want %v", kind, got, want)
		}
	}
}

// MythicDot's API is OpenAI's at another base URL: the same Poller serves
// it, and its errors name it.
func TestPollCompatibleProvider(t *testing.T) {
	t.Parallel()
	const id = "batch_mythic?1"
	api := newFakeAPI(t, map[string][]string{"/api/v1/batches/batch_mythic%3F1": {batchObject(id, "in_progress", "")}})
	client := pollhttp.New(pollhttp.Config{Provider: "mythicdot", MaxRetryWait: 10 * time.Millisecond})
	p := openai.NewPoller(api.URL+"/api/v1/", testKey, client)
	obs, err := p.Poll(t.Context(), tracker.Job{Kind: tracker.KindBatch, ExternalID: id})
	if err != nil {
		t.Fatal(err)
	}
	if obs.ExternalID != id || obs.Status != tracker.StatusRunning {
		t.Errorf("observation %+v", obs)
	}
	_, err = p.Poll(t.Context(), tracker.Job{Kind: tracker.KindBatch, ExternalID: "batch_gone"})
	if err == nil || !strings.Contains(err.Error(), "poll mythicdot batch batch_gone: ") {
		t.Errorf("error %v does not name mythicdot", err)
	}
}
