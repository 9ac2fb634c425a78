package together_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/providers"
	"github.com/jobwatch/jobwatch/providers/pollhttp"
	"github.com/jobwatch/jobwatch/providers/providertest"
	"github.com/jobwatch/jobwatch/providers/together"
	"github.com/jobwatch/jobwatch/tracker"
)

const testKey = "together-test-key"

// fakeAPI behaves like Together's API under /v1/batches/ and
// /v1/fine-tunes/: a wrong key is refused with 401, an unknown job 404,
// with Together's error bodies.
func fakeAPI(t *testing.T, jobs map[string][]providertest.Answer) *providertest.Server {
	return providertest.NewFakeAPI(t, jobs,
		func(r *http.Request) bool { return r.Header.Get("Authorization") == "Bearer "+testKey },
		providertest.Answer{Code: http.StatusUnauthorized, Body: `{"error":{"message":"Invalid API key provided","type":"invalid_request_error","code":"invalid_api_key"}}`},
		`{"error":{"message":"job not found","type":"invalid_request_error"}}`)
}

func newPoller(srv *providertest.Server, key string) *together.Poller {
	return together.NewPoller(srv.URL+"/v1", key, pollhttp.New(pollhttp.Config{Provider: "together", Retries: 2, MaxRetryWait: 50 * time.Millisecond}))
}

// batch is a Together batch in status with extra fields.
func batch(id, status string, progress float64, extra string) providertest.Answer {
	return providertest.Answer{Body: fmt.Sprintf(`{"id":%q,"user_id":"u-1","input_file_id":"file-8b1c","file_size_bytes":20480,"status":%q,`+
		`"job_deadline":"2026-12-04T17:00:00Z","created_at":"2026-12-03T17:00:00Z","endpoint":"/v1/chat/completions","progress":%g,`+
		`"model_id":"meta-llama/Llama-3.3-70B-Instruct-Turbo"%s}`, id, status, progress, extra)}
}

// fineTune is a Together fine-tuning job in status with extra fields.
func fineTune(id, status, extra string) providertest.Answer {
	return providertest.Answer{Body: fmt.Sprintf(`{"id":%q,"training_file":"file-5e2a","model":"meta-llama/Meta-Llama-3.1-8B-Instruct-Reference",`+
		`"n_epochs":3,"status":%q,"created_at":"2026-12-03T17:00:00Z","updated_at":"2026-12-03T18:00:00Z"%s}`, id, status, extra)}
}

// polls polls job once per status of want and checks each status; it
// returns the last observation.
func polls(t *testing.T, p *together.Poller, job tracker.Job, want ...tracker.Status) tracker.Observation {
	t.Helper()
	var obs tracker.Observation
	for i, w := range want {
		var err error
		if obs, err = p.Poll(t.Context(), job); err != nil {
			t.Fatalf("poll %d: %v", i+1, err)
		}
		if obs.Status != w || obs.ExternalID != job.ExternalID || obs.Kind != job.Kind || len(obs.Payload) == 0 {
			t.Errorf("poll %d: %s %s %q (%s), want %q", i+1, obs.Kind, obs.ExternalID, obs.Status, obs.ProviderStatus, w)
		}
	}
	return obs
}

// Each end of a batch is reached through Together's statuses; files and
// the error are kept.
func TestPollBatchEnds(t *testing.T) {
	t.Parallel()
	srv := fakeAPI(t, map[string][]providertest.Answer{
		"/v1/batches/b-ok": {batch("b-ok", "VALIDATING", 0, ""), batch("b-ok", "IN_PROGRESS", 40, ""),
			batch("b-ok", "COMPLETED", 100, `,"output_file_id":"file-out","error_file_id":"file-err","completed_at":"2026-12-03T18:00:00Z"`)},
		"/v1/batches/b-bad":  {batch("b-bad", "VALIDATING", 0, ""), batch("b-bad", "FAILED", 0, `,"error":"Invalid JSONL on line 3"`)},
		"/v1/batches/b-late": {batch("b-late", "IN_PROGRESS", 60, ""), batch("b-late", "EXPIRED", 60, `,"output_file_id":"file-partial"`)},
		"/v1/batches/b-stop": {batch("b-stop", "CANCELING", 10, ""), batch("b-stop", "CANCELLED", 10, "")},
	})
	p := newPoller(srv, testKey)
	// Together's model names hold a "/" of their own: kept whole.
	const model, llama = tracker.DetailModel, "meta-llama/Llama-3.3-70B-Instruct-Turbo"
	tests := []struct {
		id      string
		want    []tracker.Status
		details map[string]string
	}{
		{"b-ok", []tracker.Status{tracker.StatusPending, tracker.StatusRunning, tracker.StatusSucceeded}, map[string]string{model: llama, "output_file_id": "file-out", "error_file_id": "file-err"}},
		{"b-bad", []tracker.Status{tracker.StatusPending, tracker.StatusFailed}, map[string]string{model: llama, "error_message": "Invalid JSONL on line 3"}},
		{"b-late", []tracker.Status{tracker.StatusRunning, tracker.StatusExpired}, map[string]string{model: llama, "output_file_id": "file-partial"}},
		{"b-stop", []tracker.Status{tracker.StatusRunning, tracker.StatusCancelled}, map[string]string{model: llama}},
	}
	for _, tt := range tests {
		obs := polls(t, p, tracker.Job{Provider: "together", Kind: tracker.KindBatch, ExternalID: tt.id}, tt.want...)
		if fmt.Sprint(obs.Details) != fmt.Sprint(tt.details) || obs.Usage != nil {
			t.Errorf("%s: details %v, usage %+v; want %v and none", tt.id, obs.Details, obs.Usage, tt.details)
		}
	}
}

// Each end of a fine-tune is reached through Together's statuses; trained
// tokens, the model and the error are kept.
func TestPollFineTuningEnds(t *testing.T) {
	t.Parallel()
	srv := fakeAPI(t, map[string][]providertest.Answer{
		"/v1/fine-tunes/ft-ok": {fineTune("ft-ok", "pending", ""), fineTune("ft-ok", "queued", `,"queue_depth":2`),
			fineTune("ft-ok", "running", `,"token_count":120000`), fineTune("ft-ok", "uploading", ""),
			fineTune("ft-ok", "completed", `,"token_count":3250000,"total_price":1200000,"model_output_name":"me/Meta-Llama-3.1-8B-ft-ok"`)},
		"/v1/fine-tunes/ft-bad": {fineTune("ft-bad", "running", ""),
			fineTune("ft-bad", "error", `,"events":[{"object":"fine-tune-event","type":"JOB_ERROR","level":"Error","message":"CUDA out of memory"}]`)},
		"/v1/fine-tunes/ft-stop": {fineTune("ft-stop", "cancel_requested", ""), fineTune("ft-stop", "cancelled", "")},
	})
	p := newPoller(srv, testKey)
	job := func(id string) tracker.Job {
		return tracker.Job{Provider: "together", Kind: tracker.KindFineTuning, ExternalID: id}
	}
	obs := polls(t, p, job("ft-ok"), tracker.StatusPending, tracker.StatusPending, tracker.StatusRunning, tracker.StatusRunning, tracker.StatusSucceeded)
	if obs.Usage == nil || *obs.Usage != (tracker.Usage{TrainedTokens: 3250000}) || obs.Details["output_name"] != "me/Meta-Llama-3.1-8B-ft-ok" ||
		obs.Details[tracker.DetailModel] != "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference" {
		t.Errorf("usage %+v, details %v", obs.Usage, obs.Details)
	}
	obs = polls(t, p, job("ft-bad"), tracker.StatusRunning, tracker.StatusFailed)
	if obs.Details["error_message"] != "CUDA out of memory" {
		t.Errorf("details %v", obs.Details)
	}
	polls(t, p, job("ft-stop"), tracker.StatusRunning, tracker.StatusCancelled)
}

// A 429 is retried after the Retry-After it names.
func TestPollRetriesAfterTooManyRequests(t *testing.T) {
	t.Parallel()
	srv := fakeAPI(t, map[string][]providertest.Answer{"/v1/batches/b-429": {
		{Code: http.StatusTooManyRequests, RetryAfter: "0", Body: `{"error":{"message":"rate limit exceeded","type":"rate_limit"}}`},
		batch("b-429", "COMPLETED", 100, ""),
	}})
	obs, err := newPoller(srv, testKey).Poll(t.Context(), tracker.Job{Kind: tracker.KindBatch, ExternalID: "b-429"})
	if err != nil || obs.Status != tracker.StatusSucceeded || srv.Requests() != 2 {
		t.Errorf("status %q, %v after %d requests; want succeeded after 2", obs.Status, err, srv.Requests())
	}
}

// A status jobwatch does not know is kept verbatim and never taken for an
// end.
func TestPollUnknownStatusIsNotTerminal(t *testing.T) {
	t.Parallel()
	srv := fakeAPI(t, map[string][]providertest.Answer{
		"/v1/batches/b1":     {batch("b1", "PAUSED", 5, "")},
		"/v1/fine-tunes/ft1": {fineTune("ft1", "user_error", "")},
	})
	p := newPoller(srv, testKey)
	for _, job := range []tracker.Job{{Kind: tracker.KindBatch, ExternalID: "b1"}, {Kind: tracker.KindFineTuning, ExternalID: "ft1"}} {
		obs, err := p.Poll(t.Context(), job)
		if err != nil || obs.Status != "" || obs.ProviderStatus == "" {
			t.Errorf("%s: status %q (%s), %v; want none and the word kept", job.ExternalID, obs.Status, obs.ProviderStatus, err)
		}
	}
}

func TestPollFailures(t *testing.T) {
	t.Parallel()
	srv := fakeAPI(t, map[string][]providertest.Answer{
		"/v1/batches/b1":        {batch("b1", "IN_PROGRESS", 1, "")},
		"/v1/batches/denied":    {{Code: http.StatusForbidden, Body: `{"error":{"message":"Forbidden","type":"permission_error"}}`}},
		"/v1/batches/busy":      {{Code: http.StatusBadGateway, Body: `<html>502 Bad Gateway</html>`}},
		"/v1/fine-tunes/odd":    {{Body: `{"id":"odd","status":"running","token_count":-5.5,"events":{}}`}},
		"/v1/fine-tunes/others": {fineTune("ft-someone-else", "completed", "")},
	})
	providertest.CheckPollFailures(t, "together", func(key string) providers.Poller { return newPoller(srv, key) }, []providertest.PollFailure{
		{Name: "unknown job", Key: testKey, Job: tracker.Job{Kind: tracker.KindBatch, ExternalID: "missing"}, Class: providers.PollNotFound, Code: 404},
		{Name: "wrong key", Key: "wrong-key", Job: tracker.Job{Kind: tracker.KindBatch, ExternalID: "b1"}, Class: providers.PollAuth, Code: 401},
		{Name: "forbidden", Key: testKey, Job: tracker.Job{Kind: tracker.KindBatch, ExternalID: "denied"}, Class: providers.PollAuth, Code: 403},
		{Name: "bad gateway", Key: testKey, Job: tracker.Job{Kind: tracker.KindBatch, ExternalID: "busy"}, Class: providers.PollTransient, Code: 502},
		{Name: "malformed answer", Key: testKey, Job: tracker.Job{Kind: tracker.KindFineTuning, ExternalID: "odd"}, Class: providers.PollInvalid, Code: 0},
		{Name: "answer about another job", Key: testKey, Job: tracker.Job{Kind: tracker.KindFineTuning, ExternalID: "others"}, Class: providers.PollInvalid, Code: 0},
		{Name: "not a polled kind", Key: testKey, Job: tracker.Job{Kind: tracker.KindResponse, ExternalID: "b1"}, Class: providers.PollInvalid, Code: 0},
	})
}

func TestPolls(t *testing.T) {
	t.Parallel()
	p := together.NewPoller("", testKey, pollhttp.New(pollhttp.Config{Provider: "together"}))
	for kind, want := range map[tracker.Kind]bool{tracker.KindBatch: true, tracker.KindFineTuning: true, tracker.KindResponse: false} {
		if got := p.Polls(kind); got != want {
			t.Errorf("Polls(%s) = %v, want %v", kind, got, want)
		}
	}
}
