package gemini_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/providers"
	"github.com/jobwatch/jobwatch/providers/gemini"
	"github.com/jobwatch/jobwatch/providers/pollhttp"
	"github.com/jobwatch/jobwatch/providers/providertest"
	"github.com/jobwatch/jobwatch/tracker"
)

const (
	testKey    = "gemini-test-key"
	revokedKey = "gemini-revoked-key"
)

// answer is one stage of a fake batch.
type answer = providertest.Answer

// googleError is a Google API error body, as the Gemini API sends it.
func googleError(code int, status, msg string) string {
	return fmt.Sprintf(`{"error":{"code":%d,"message":%q,"status":%q}}`, code, msg, status)
}

// fakeAPI behaves like the Gemini API, serving batches under
// /v1beta/batches/. A request with the key in the URL's query (it must never
// be there), without x-goog-api-key or with an unknown key is refused with
// 401; revokedKey, a key without access to the API, with 403; an unknown
// batch is answered 404.
func fakeAPI(t *testing.T, batches map[string][]answer) (*httptest.Server, func() int) {
	t.Helper()
	return providertest.FakeAPI(t, func(r *http.Request) (int, string) {
		switch key := r.Header.Get("X-Goog-Api-Key"); {
		case key == revokedKey:
			return http.StatusForbidden, googleError(403, "PERMISSION_DENIED", "Permission denied: Consumer has been suspended.")
		case r.URL.RawQuery != "" || key != testKey:
			return http.StatusUnauthorized, googleError(401, "UNAUTHENTICATED", "API key not valid. Please pass a valid API key.")
		}
		return 0, ""
	}, googleError(404, "NOT_FOUND", "Requested entity was not found."), batches)
}

func newPoller(srv *httptest.Server, key string) *gemini.Poller {
	return gemini.NewPoller(srv.URL+"/v1beta", key, pollhttp.New(pollhttp.Config{Provider: "gemini", Retries: 2, MaxRetryWait: 50 * time.Millisecond}))
}

// operation is a batches.get answer: the batch as the operation's metadata,
// with extra fields (batchStats, output) and the operation's own (done,
// error) after it.
func operation(id, state, meta, op string) answer {
	return answer{Body: fmt.Sprintf(`{"name":"batches/%s","metadata":{"@type":"type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatch",`+
		`"model":"models/gemini-2.5-flash","displayName":"nightly-eval","inputConfig":{"fileName":"files/input-7k2"},"createTime":"2026-12-03T10:00:00.123456Z",`+
		`"name":"batches/%s","state":%q%s}%s}`, id, id, state, meta, op)}
}

func TestPollBatchEnds(t *testing.T) {
	t.Parallel()
	const done = `,"done":true`
	tests := []struct {
		name, id string
		stages   []answer
		want     []tracker.Status
		usage    tracker.Usage
		details  map[string]string
	}{
		{"succeeded", "s1", []answer{
			operation("s1", "BATCH_STATE_PENDING", `,"batchStats":{"requestCount":"100","pendingRequestCount":"100"}`, ""),
			operation("s1", "BATCH_STATE_RUNNING", `,"batchStats":{"requestCount":"100","pendingRequestCount":"60","successfulRequestCount":"39","failedRequestCount":"1"}`, ""),
			operation("s1", "BATCH_STATE_SUCCEEDED", `,"output":{"responsesFile":"files/batch-s1"},"batchStats":{"requestCount":"100","successfulRequestCount":"97","failedRequestCount":"3"}`,
				done+`,"response":{"@type":"type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatchOutput","responsesFile":"files/batch-s1"}`),
		}, []tracker.Status{tracker.StatusPending, tracker.StatusRunning, tracker.StatusSucceeded},
			tracker.Usage{RequestsTotal: 100, RequestsCompleted: 97, RequestsFailed: 3},
			map[string]string{"responses_file": "files/batch-s1", "display_name": "nightly-eval", tracker.DetailModel: "gemini-2.5-flash", tracker.DetailRequestFailure: tracker.RequestFailurePartial}},
		{"failed", "f1", []answer{
			operation("f1", "BATCH_STATE_PENDING", "", ""),
			operation("f1", "BATCH_STATE_FAILED", `,"batchStats":{"requestCount":"10","failedRequestCount":"10"}`, done+`,"error":{"code":3,"message":"Request payload size exceeds the limit"}`),
		}, []tracker.Status{tracker.StatusPending, tracker.StatusFailed},
			tracker.Usage{RequestsTotal: 10, RequestsFailed: 10},
			map[string]string{"display_name": "nightly-eval", tracker.DetailModel: "gemini-2.5-flash", "error_message": "Request payload size exceeds the limit", "error_code": "3"}},
		{"cancelled", "c1", []answer{
			operation("c1", "BATCH_STATE_RUNNING", "", ""),
			operation("c1", "BATCH_STATE_CANCELLED", `,"batchStats":{"requestCount":"10","successfulRequestCount":"2","pendingRequestCount":"8"}`, done),
		}, []tracker.Status{tracker.StatusRunning, tracker.StatusCancelled},
			tracker.Usage{RequestsTotal: 10, RequestsCompleted: 2},
			map[string]string{"display_name": "nightly-eval", tracker.DetailModel: "gemini-2.5-flash"}},
		{"expired with output", "e1", []answer{
			operation("e1", "BATCH_STATE_RUNNING", "", ""),
			operation("e1", "BATCH_STATE_EXPIRED", `,"output":{"responsesFile":"files/batch-e1"},"batchStats":{"requestCount":"10","successfulRequestCount":"7","pendingRequestCount":"3"}`, done),
		}, []tracker.Status{tracker.StatusRunning, tracker.StatusExpired},
			tracker.Usage{RequestsTotal: 10, RequestsCompleted: 7},
			map[string]string{"responses_file": "files/batch-e1", "display_name": "nightly-eval", tracker.DetailModel: "gemini-2.5-flash"}},
		{"SDK spelling", "j1", []answer{
			{Body: `{"name":"batches/j1","state":"JOB_STATE_RUNNING"}`},
			{Body: `{"name":"batches/j1","state":"JOB_STATE_SUCCEEDED","batchStats":{"requestCount":4,"successfulRequestCount":4}}`},
		}, []tracker.Status{tracker.StatusRunning, tracker.StatusSucceeded},
			tracker.Usage{RequestsTotal: 4, RequestsCompleted: 4}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			id := tt.id
			srv, _ := fakeAPI(t, map[string][]answer{"/v1beta/batches/" + id: tt.stages})
			p := newPoller(srv, testKey)
			job := tracker.Job{Provider: "gemini", Kind: tracker.KindBatch, ExternalID: id}
			var obs tracker.Observation
			for i, want := range tt.want {
				var err error
				if obs, err = p.Poll(t.Context(), job); err != nil {
					t.Fatalf("poll %d: %v", i+1, err)
				}
				if obs.Status != want || obs.ExternalID != id || obs.Kind != tracker.KindBatch || obs.ProviderStatus == "" {
					t.Errorf("poll %d: %s %s %q (%s), want %q", i+1, obs.Kind, obs.ExternalID, obs.Status, obs.ProviderStatus, want)
				}
				if !strings.Contains(string(obs.Payload), `"batches/`+id+`"`) {
					t.Errorf("poll %d: payload %s", i+1, obs.Payload)
				}
			}
			if obs.Usage == nil || *obs.Usage != tt.usage {
				t.Errorf("usage %+v, want %+v", obs.Usage, tt.usage)
			}
			if fmt.Sprint(obs.Details) != fmt.Sprint(tt.details) {
				t.Errorf("details %v, want %v", obs.Details, tt.details)
			}
		})
	}
}

// A 429 is retried after the Retry-After it names, and the answer after it
// is the poll's.
func TestPollRetriesAfterTooManyRequests(t *testing.T) {
	t.Parallel()
	const id = "r429"
	srv, requests := fakeAPI(t, map[string][]answer{"/v1beta/batches/" + id: {
		{Code: http.StatusTooManyRequests, RetryAfter: "0", Body: googleError(429, "RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota).")},
		operation(id, "BATCH_STATE_RUNNING", "", ""),
	}})
	obs, err := newPoller(srv, testKey).Poll(t.Context(), tracker.Job{Kind: tracker.KindBatch, ExternalID: id})
	if err != nil {
		t.Fatal(err)
	}
	if obs.Status != tracker.StatusRunning || requests() != 2 {
		t.Errorf("status %q after %d requests; want running after 2", obs.Status, requests())
	}
}

// A state jobwatch does not know, or a paused job, is never guessed to have
// ended: its Status is empty and the word is kept.
func TestPollUnknownStateIsNotTerminal(t *testing.T) {
	t.Parallel()
	srv, _ := fakeAPI(t, map[string][]answer{
		"/v1beta/batches/u1": {operation("u1", "BATCH_STATE_UNSPECIFIED", "", "")},
		"/v1beta/batches/u2": {operation("u2", "JOB_STATE_PAUSED", "", "")},
		"/v1beta/batches/u3": {operation("u3", "BATCH_STATE_ARCHIVED", "", "")},
	})
	p := newPoller(srv, testKey)
	for _, id := range []string{"u1", "u2", "u3"} {
		obs, err := p.Poll(t.Context(), tracker.Job{Kind: tracker.KindBatch, ExternalID: id})
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		if obs.Status != "" || obs.ProviderStatus == "" {
			t.Errorf("%s: status %q (%s), want none and the word kept", id, obs.Status, obs.ProviderStatus)
		}
	}
}

func TestPollFailures(t *testing.T) {
	t.Parallel()
	srv, _ := fakeAPI(t, map[string][]answer{
		"/v1beta/batches/b1":    {operation("b1", "BATCH_STATE_RUNNING", "", "")},
		"/v1beta/batches/busy":  {{Code: http.StatusServiceUnavailable, Body: googleError(503, "UNAVAILABLE", "The service is currently unavailable.")}},
		"/v1beta/batches/odd":   {{Body: `{"name":"batches/odd","metadata":{"state":"BATCH_STATE_RUNNING","batchStats":{"requestCount":"many"}}}`}},
		"/v1beta/batches/other": {operation("b1", "BATCH_STATE_SUCCEEDED", "", "")},
	})
	providertest.CheckPollFailures(t, "gemini", func(key string) providers.Poller { return newPoller(srv, key) }, []providertest.PollFailure{
		{Name: "unknown batch", Key: testKey, Job: tracker.Job{Kind: tracker.KindBatch, ExternalID: "missing"}, Class: providers.PollNotFound, Code: 404},
		{Name: "wrong key", Key: "wrong-key", Job: tracker.Job{Kind: tracker.KindBatch, ExternalID: "b1"}, Class: providers.PollAuth, Code: 401},
		{Name: "revoked key", Key: revokedKey, Job: tracker.Job{Kind: tracker.KindBatch, ExternalID: "b1"}, Class: providers.PollAuth, Code: 403},
		{Name: "unavailable", Key: testKey, Job: tracker.Job{Kind: tracker.KindBatch, ExternalID: "busy"}, Class: providers.PollTransient, Code: 503},
		{Name: "malformed answer", Key: testKey, Job: tracker.Job{Kind: tracker.KindBatch, ExternalID: "odd"}, Class: providers.PollInvalid, Code: 0},
		{Name: "answer about another batch", Key: testKey, Job: tracker.Job{Kind: tracker.KindBatch, ExternalID: "other"}, Class: providers.PollInvalid, Code: 0},
		{Name: "not a polled kind", Key: testKey, Job: tracker.Job{Kind: tracker.KindFineTuning, ExternalID: "b1"}, Class: providers.PollInvalid, Code: 0},
	})
}

func TestPolls(t *testing.T) {
	t.Parallel()
	p := gemini.NewPoller("", testKey, pollhttp.New(pollhttp.Config{Provider: "gemini"}))
	providertest.CheckPolls(t, p, map[tracker.Kind]bool{tracker.KindBatch: true, tracker.KindFineTuning: false, tracker.KindResponse: false, tracker.KindEvalRun: false})
}
