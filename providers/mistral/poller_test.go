package mistral_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/providers"
	"github.com/jobwatch/jobwatch/providers/mistral"
	"github.com/jobwatch/jobwatch/providers/pollhttp"
	"github.com/jobwatch/jobwatch/providers/providertest"
	"github.com/jobwatch/jobwatch/tracker"
)

const testKey = "mistral-test-key"

// answer is one stage of a fake job.
type answer = providertest.Answer

// fakeAPI behaves like Mistral's API, serving jobs under /v1/batch/jobs/
// and /v1/fine_tuning/jobs/: a request without the bearer key is refused
// with 401, an unknown job with 404, as Mistral answers them.
func fakeAPI(t *testing.T, jobs map[string][]answer) (*httptest.Server, func() int) {
	t.Helper()
	return providertest.FakeAPI(t, func(r *http.Request) (int, string) {
		if r.Header.Get("Authorization") != "Bearer "+testKey {
			return http.StatusUnauthorized, `{"message":"Unauthorized","request_id":"req_1"}`
		}
		return 0, ""
	}, `{"object":"error","message":"Job not found","type":"invalid_request_error","code":"3000"}`, jobs)
}

func newPoller(srv *httptest.Server, key string) *mistral.Poller {
	return mistral.NewPoller(srv.URL+"/v1", key, pollhttp.New(pollhttp.Config{Provider: "mistral", Retries: 2, MaxRetryWait: 50 * time.Millisecond}))
}

func batchJob(id, status, counts string) answer {
	return answer{Body: fmt.Sprintf(`{"id":%q,"object":"batch","input_files":["7b1f3c52-0d5e-4a57-9a34-1d1c2a3e4f50"],"endpoint":"/v1/chat/completions",`+
		`"model":"mistral-small-latest","errors":[],"status":%q,"created_at":1733000000%s}`, id, status, counts)}
}

func fineTuningJob(id, status, extra string) answer {
	return answer{Body: fmt.Sprintf(`{"id":%q,"object":"job","auto_start":true,"model":"open-mistral-7b","status":%q,"job_type":"FT",`+
		`"created_at":1733000000,"modified_at":1733000600,"training_files":["e2b1a4c0-5d6e-4f70-8a91-b2c3d4e5f607"]%s}`, id, status, extra)}
}

func TestPollBatchEnds(t *testing.T) {
	t.Parallel()
	const id = "b8c2d0f4-6a1e-4c3b-9f7d-2e5a8b1c0d93"
	srv, _ := fakeAPI(t, map[string][]answer{"/v1/batch/jobs/" + id: {
		batchJob(id, "QUEUED", `,"total_requests":0,"completed_requests":0,"succeeded_requests":0,"failed_requests":0,"output_file":null,"error_file":null`),
		batchJob(id, "RUNNING", `,"total_requests":100,"completed_requests":40,"succeeded_requests":39,"failed_requests":1,"started_at":1733000100`),
		batchJob(id, "SUCCESS", `,"total_requests":100,"completed_requests":100,"succeeded_requests":97,"failed_requests":3,`+
			`"output_file":"0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b","error_file":"9a8b7c6d-5e4f-3a2b-1c0d-e9f8a7b6c5d4","completed_at":1733003600`),
	}})
	p := newPoller(srv, testKey)
	job := tracker.Job{Provider: "mistral", Kind: tracker.KindBatch, ExternalID: id}
	var obs tracker.Observation
	for i, want := range []tracker.Status{tracker.StatusPending, tracker.StatusRunning, tracker.StatusSucceeded} {
		var err error
		if obs, err = p.Poll(t.Context(), job); err != nil {
			t.Fatalf("poll %d: %v", i+1, err)
		}
		if obs.Status != want || obs.ExternalID != id || obs.Kind != tracker.KindBatch {
			t.Errorf("poll %d: %s %s %q (%s), want %q", i+1, obs.Kind, obs.ExternalID, obs.Status, obs.ProviderStatus, want)
		}
		if !strings.Contains(string(obs.Payload), `"total_requests"`) {
			t.Errorf("poll %d: payload %s", i+1, obs.Payload)
		}
	}
	if u := obs.Usage; u == nil || *u != (tracker.Usage{RequestsTotal: 100, RequestsCompleted: 97, RequestsFailed: 3}) {
		t.Errorf("usage %+v", obs.Usage)
	}
	want := map[string]string{tracker.DetailModel: "mistral-small-latest", "output_file_id": "0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b", "error_file_id": "9a8b7c6d-5e4f-3a2b-1c0d-e9f8a7b6c5d4",
		tracker.DetailRequestFailure: tracker.RequestFailurePartial}
	if fmt.Sprint(obs.Details) != fmt.Sprint(want) || obs.ProviderStatus != "SUCCESS" {
		t.Errorf("provider status %q, details %v; want SUCCESS, %v", obs.ProviderStatus, obs.Details, want)
	}
}

func TestPollFineTuningEnds(t *testing.T) {
	t.Parallel()
	const id = "ft-3e9a1c7b-2d4f-4b6a-8c0e-1f2a3b4c5d6e"
	srv, _ := fakeAPI(t, map[string][]answer{"/v1/fine_tuning/jobs/" + id: {
		fineTuningJob(id, "QUEUED", `,"fine_tuned_model":null,"trained_tokens":null`),
		fineTuningJob(id, "VALIDATING", ""),
		fineTuningJob(id, "RUNNING", `,"trained_tokens":120000`),
		fineTuningJob(id, "SUCCESS", `,"fine_tuned_model":"ft:open-mistral-7b:587a6b29:20241201:c1d2e3f4","trained_tokens":3250000`),
	}})
	p := newPoller(srv, testKey)
	job := tracker.Job{Provider: "mistral", Kind: tracker.KindFineTuning, ExternalID: id}
	var obs tracker.Observation
	for i, want := range []tracker.Status{tracker.StatusPending, tracker.StatusPending, tracker.StatusRunning, tracker.StatusSucceeded} {
		var err error
		if obs, err = p.Poll(t.Context(), job); err != nil {
			t.Fatalf("poll %d: %v", i+1, err)
		}
		if obs.Status != want || obs.Kind != tracker.KindFineTuning {
			t.Errorf("poll %d: %s %q (%s), want %q", i+1, obs.Kind, obs.Status, obs.ProviderStatus, want)
		}
	}
	if u := obs.Usage; u == nil || *u != (tracker.Usage{TrainedTokens: 3250000}) {
		t.Errorf("usage %+v", obs.Usage)
	}
	if obs.Details["fine_tuned_model"] != "ft:open-mistral-7b:587a6b29:20241201:c1d2e3f4" || obs.Details[tracker.DetailModel] != "open-mistral-7b" {
		t.Errorf("details %v", obs.Details)
	}
}

// A 429 is retried after the Retry-After it names, and the answer after it
// is the poll's.
func TestPollRetriesAfterTooManyRequests(t *testing.T) {
	t.Parallel()
	const id = "batch-429"
	srv, requests := fakeAPI(t, map[string][]answer{"/v1/batch/jobs/" + id: {
		{Code: http.StatusTooManyRequests, RetryAfter: "0", Body: `{"message":"Requests rate limit exceeded"}`},
		batchJob(id, "TIMEOUT_EXCEEDED", `,"total_requests":10,"succeeded_requests":4,"failed_requests":0`),
	}})
	obs, err := newPoller(srv, testKey).Poll(t.Context(), tracker.Job{Kind: tracker.KindBatch, ExternalID: id})
	if err != nil {
		t.Fatal(err)
	}
	if obs.Status != tracker.StatusExpired || requests() != 2 {
		t.Errorf("status %q after %d requests; want expired after 2", obs.Status, requests())
	}
}

// A job in a status jobwatch does not know is never guessed to have ended:
// its Status is empty (the job keeps its own) and the word is kept.
func TestPollUnknownStatusIsNotTerminal(t *testing.T) {
	t.Parallel()
	srv, _ := fakeAPI(t, map[string][]answer{
		"/v1/batch/jobs/b1":        {batchJob("b1", "PAUSED", "")},
		"/v1/fine_tuning/jobs/ft1": {fineTuningJob("ft1", "ARCHIVED", "")},
	})
	p := newPoller(srv, testKey)
	for _, job := range []tracker.Job{{Kind: tracker.KindBatch, ExternalID: "b1"}, {Kind: tracker.KindFineTuning, ExternalID: "ft1"}} {
		obs, err := p.Poll(t.Context(), job)
		if err != nil {
			t.Fatalf("%s: %v", job.ExternalID, err)
		}
		if obs.Status != "" || obs.ProviderStatus == "" {
			t.Errorf("%s: status %q (%s), want none and the word kept", job.ExternalID, obs.Status, obs.ProviderStatus)
		}
	}
}

func TestPollFailures(t *testing.T) {
	t.Parallel()
	srv, _ := fakeAPI(t, map[string][]answer{
		"/v1/batch/jobs/b1":   {batchJob("b1", "RUNNING", "")},
		"/v1/batch/jobs/busy": {{Code: http.StatusServiceUnavailable, Body: `{"message":"Service unavailable"}`}},
		"/v1/batch/jobs/odd":  {{Body: `{"id":"odd","object":"batch","status":"RUNNING","total_requests":"many"}`}},
	})
	providertest.CheckPollFailures(t, "mistral", func(key string) providers.Poller { return newPoller(srv, key) }, []providertest.PollFailure{
		{Name: "unknown job", Key: testKey, Job: tracker.Job{Kind: tracker.KindBatch, ExternalID: "missing"}, Class: providers.PollNotFound, Code: 404},
		{Name: "wrong key", Key: "wrong-key", Job: tracker.Job{Kind: tracker.KindBatch, ExternalID: "b1"}, Class: providers.PollAuth, Code: 401},
		{Name: "unavailable", Key: testKey, Job: tracker.Job{Kind: tracker.KindBatch, ExternalID: "busy"}, Class: providers.PollTransient, Code: 503},
		{Name: "malformed answer", Key: testKey, Job: tracker.Job{Kind: tracker.KindBatch, ExternalID: "odd"}, Class: providers.PollInvalid, Code: 0},
		{Name: "not a polled kind", Key: testKey, Job: tracker.Job{Kind: tracker.KindResponse, ExternalID: "b1"}, Class: providers.PollInvalid, Code: 0},
	})
}

func TestPolls(t *testing.T) {
	t.Parallel()
	p := mistral.NewPoller("", testKey, pollhttp.New(pollhttp.Config{Provider: "mistral"}))
	providertest.CheckPolls(t, p, map[tracker.Kind]bool{tracker.KindBatch: true, tracker.KindFineTuning: true, tracker.KindResponse: false, tracker.KindEvalRun: false})
}
