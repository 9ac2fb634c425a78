package fireworks_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/providers"
	"github.com/jobwatch/jobwatch/providers/fireworks"
	"github.com/jobwatch/jobwatch/providers/pollhttp"
	"github.com/jobwatch/jobwatch/providers/providertest"
	"github.com/jobwatch/jobwatch/tracker"
)

const (
	testKey     = "fw_test-key"
	testAccount = "acme-ml"
	jobsPath    = "/v1/accounts/" + testAccount + "/batchInferenceJobs/"
)

// fakeAPI behaves like Fireworks' API: a wrong key is refused with 401,
// an unknown job 404, with Fireworks' (gRPC-status-shaped) error bodies.
func fakeAPI(t *testing.T, jobs map[string][]providertest.Answer) *providertest.Server {
	return providertest.NewFakeAPI(t, jobs,
		func(r *http.Request) bool { return r.Header.Get("Authorization") == "Bearer "+testKey },
		providertest.Answer{Code: http.StatusUnauthorized, Body: `{"code":16,"message":"unauthenticated: invalid API key"}`},
		`{"code":5,"message":"batch inference job not found"}`)
}

func newPoller(srv *providertest.Server, key string) *fireworks.Poller {
	return fireworks.NewPoller(srv.URL, testAccount, key, pollhttp.New(pollhttp.Config{Provider: "fireworks", Retries: 2, MaxRetryWait: 50 * time.Millisecond}))
}

// job is a Fireworks batch inference job in state with extra fields.
func job(id, state, extra string) providertest.Answer {
	return providertest.Answer{Body: fmt.Sprintf(`{"name":"accounts/%s/batchInferenceJobs/%s","displayName":"nightly","createTime":"2026-12-03T17:00:00Z",`+
		`"createdBy":"me@acme.example","state":%q,"model":"accounts/fireworks/models/llama-v3p1-8b-instruct","inputDatasetId":"in-ds",`+
		`"updateTime":"2026-12-03T17:30:00Z"%s}`, testAccount, id, state, extra)}
}

// progress is a jobProgress field.
func progress(total, ok, failed int) string {
	return fmt.Sprintf(`,"jobProgress":{"percent":%d,"totalInputRequests":%d,"totalProcessedRequests":%d,"successfullyProcessedRequests":%d,`+
		`"failedRequests":%d,"inputTokens":"%d","outputTokens":"%d","cachedInputTokenCount":"%d"}`, 100*(ok+failed)/max(total, 1), total, ok+failed, ok, failed, 100*total, 20*ok, 30*total)
}

// Each end is reached through Fireworks' states; counts, tokens, the output
// dataset and the error are kept.
func TestPollBatchEnds(t *testing.T) {
	t.Parallel()
	srv := fakeAPI(t, map[string][]providertest.Answer{
		jobsPath + "ok": {job("ok", "JOB_STATE_CREATING", ""), job("ok", "JOB_STATE_VALIDATING", ""), job("ok", "JOB_STATE_RUNNING", progress(10, 4, 0)),
			job("ok", "JOB_STATE_WRITING_RESULTS", progress(10, 9, 1)), job("ok", "JOB_STATE_COMPLETED", `,"outputDatasetId":"out-ds"`+progress(10, 9, 1))},
		jobsPath + "bad":  {job("bad", "JOB_STATE_PENDING", ""), job("bad", "JOB_STATE_FAILED", `,"status":{"code":"INVALID_ARGUMENT","message":"line 3: invalid JSON"}`)},
		jobsPath + "late": {job("late", "JOB_STATE_RUNNING", progress(10, 2, 0)), job("late", "JOB_STATE_EXPIRED", `,"outputDatasetId":"out-partial"`+progress(10, 6, 0))},
		jobsPath + "stop": {job("stop", "JOB_STATE_CANCELLING", ""), job("stop", "JOB_STATE_CANCELLED", "")},
	})
	p := newPoller(srv, testKey)
	// The job's model, "accounts/fireworks/models/llama-v3p1-8b-instruct",
	// without its resource path.
	const model, llama = tracker.DetailModel, "llama-v3p1-8b-instruct"
	tests := []struct {
		id      string
		want    []tracker.Status
		usage   *tracker.Usage
		details map[string]string
	}{
		{"ok", []tracker.Status{tracker.StatusPending, tracker.StatusPending, tracker.StatusRunning, tracker.StatusRunning, tracker.StatusSucceeded},
			&tracker.Usage{RequestsTotal: 10, RequestsCompleted: 9, RequestsFailed: 1, InputTokens: 1000, CachedInputTokens: 300, OutputTokens: 180},
			map[string]string{model: llama, "output_dataset_id": "out-ds", tracker.DetailRequestFailure: tracker.RequestFailurePartial}},
		{"bad", []tracker.Status{tracker.StatusPending, tracker.StatusFailed}, nil,
			map[string]string{model: llama, "error_code": "INVALID_ARGUMENT", "error_message": "line 3: invalid JSON"}},
		{"late", []tracker.Status{tracker.StatusRunning, tracker.StatusExpired},
			&tracker.Usage{RequestsTotal: 10, RequestsCompleted: 6, InputTokens: 1000, CachedInputTokens: 300, OutputTokens: 120},
			map[string]string{model: llama, "output_dataset_id": "out-partial"}},
		{"stop", []tracker.Status{tracker.StatusRunning, tracker.StatusCancelled}, nil, map[string]string{model: llama}},
	}
	for _, tt := range tests {
		j := tracker.Job{Provider: "fireworks", Kind: tracker.KindBatch, ExternalID: tt.id}
		var obs tracker.Observation
		for i, want := range tt.want {
			var err error
			if obs, err = p.Poll(t.Context(), j); err != nil {
				t.Fatalf("%s poll %d: %v", tt.id, i+1, err)
			}
			if obs.Status != want || obs.ExternalID != tt.id || len(obs.Payload) == 0 {
				t.Errorf("%s poll %d: %s %q (%s), want %q", tt.id, i+1, obs.ExternalID, obs.Status, obs.ProviderStatus, want)
			}
		}
		if fmt.Sprint(obs.Usage) != fmt.Sprint(tt.usage) || fmt.Sprint(obs.Details) != fmt.Sprint(tt.details) {
			t.Errorf("%s: usage %+v, details %v; want %+v, %v", tt.id, obs.Usage, obs.Details, tt.usage, tt.details)
		}
	}
}

// A 429 is retried after the Retry-After it names.
func TestPollRetriesAfterTooManyRequests(t *testing.T) {
	t.Parallel()
	srv := fakeAPI(t, map[string][]providertest.Answer{jobsPath + "busy": {
		{Code: http.StatusTooManyRequests, RetryAfter: "0", Body: `{"code":8,"message":"rate limit exceeded"}`},
		job("busy", "JOB_STATE_COMPLETED", progress(1, 1, 0)),
	}})
	obs, err := newPoller(srv, testKey).Poll(t.Context(), tracker.Job{Kind: tracker.KindBatch, ExternalID: "busy"})
	if err != nil || obs.Status != tracker.StatusSucceeded || srv.Requests() != 2 {
		t.Errorf("status %q, %v after %d requests; want succeeded after 2", obs.Status, err, srv.Requests())
	}
}

// A paused job, or one in a state jobwatch does not know, is not ended: its
// state is kept verbatim.
func TestPollPausedIsNotTerminal(t *testing.T) {
	t.Parallel()
	srv := fakeAPI(t, map[string][]providertest.Answer{
		jobsPath + "p": {job("p", "JOB_STATE_PAUSED", "")},
		jobsPath + "n": {job("n", "JOB_STATE_HIBERNATING", "")},
	})
	for _, id := range []string{"p", "n"} {
		obs, err := newPoller(srv, testKey).Poll(t.Context(), tracker.Job{Kind: tracker.KindBatch, ExternalID: id})
		if err != nil || obs.Status != "" || obs.ProviderStatus == "" {
			t.Errorf("%s: status %q (%s), %v; want none and the word kept", id, obs.Status, obs.ProviderStatus, err)
		}
	}
}

func TestPollFailures(t *testing.T) {
	t.Parallel()
	srv := fakeAPI(t, map[string][]providertest.Answer{
		jobsPath + "j1":     {job("j1", "JOB_STATE_RUNNING", "")},
		jobsPath + "denied": {{Code: http.StatusForbidden, Body: `{"code":7,"message":"permission denied on account acme-ml"}`}},
		jobsPath + "down":   {{Code: http.StatusInternalServerError, Body: `{"code":13,"message":"internal"}`}},
		jobsPath + "odd":    {{Body: `{"name":"accounts/acme-ml/batchInferenceJobs/odd","state":"JOB_STATE_RUNNING","jobProgress":{"failedRequests":{}}}`}},
		jobsPath + "other":  {job("someone-else", "JOB_STATE_COMPLETED", "")},
	})
	j := func(id string) tracker.Job { return tracker.Job{Kind: tracker.KindBatch, ExternalID: id} }
	providertest.CheckPollFailures(t, "fireworks", func(key string) providers.Poller { return newPoller(srv, key) }, []providertest.PollFailure{
		{Name: "unknown job", Key: testKey, Job: j("missing"), Class: providers.PollNotFound, Code: 404},
		{Name: "wrong key", Key: "wrong-key", Job: j("j1"), Class: providers.PollAuth, Code: 401},
		{Name: "forbidden", Key: testKey, Job: j("denied"), Class: providers.PollAuth, Code: 403},
		{Name: "internal error", Key: testKey, Job: j("down"), Class: providers.PollTransient, Code: 500},
		{Name: "malformed answer", Key: testKey, Job: j("odd"), Class: providers.PollInvalid, Code: 0},
		{Name: "answer about another job", Key: testKey, Job: j("other"), Class: providers.PollInvalid, Code: 0},
	})
}

func TestPolls(t *testing.T) {
	t.Parallel()
	p := fireworks.NewPoller("", testAccount, testKey, pollhttp.New(pollhttp.Config{Provider: "fireworks"}))
	for kind, want := range map[tracker.Kind]bool{tracker.KindBatch: true, tracker.KindFineTuning: false, tracker.KindResponse: false} {
		if got := p.Polls(kind); got != want {
			t.Errorf("Polls(%s) = %v, want %v", kind, got, want)
		}
	}
}
