package groq_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/providers"
	"github.com/jobwatch/jobwatch/providers/groq"
	"github.com/jobwatch/jobwatch/providers/pollhttp"
	"github.com/jobwatch/jobwatch/providers/providertest"
	"github.com/jobwatch/jobwatch/tracker"
)

const testKey = "gsk_groq-test-key"

// fakeAPI behaves like Groq's API under /openai/v1/batches/: a wrong key
// is refused with 401, an unknown batch 404, with Groq's error bodies.
func fakeAPI(t *testing.T, jobs map[string][]providertest.Answer) *providertest.Server {
	return providertest.NewFakeAPI(t, jobs,
		func(r *http.Request) bool { return r.Header.Get("Authorization") == "Bearer "+testKey },
		providertest.Answer{Code: http.StatusUnauthorized, Body: `{"error":{"message":"Invalid API Key","type":"invalid_request_error","code":"invalid_api_key"}}`},
		`{"error":{"message":"batch not found","type":"invalid_request_error"}}`)
}

func newPoller(srv *providertest.Server, key string) *groq.Poller {
	return groq.NewPoller(srv.URL+"/openai/v1", key, pollhttp.New(pollhttp.Config{Provider: "groq", Retries: 2, MaxRetryWait: 50 * time.Millisecond}))
}

// batch is a Groq batch object in status with the given request counts
// and extra fields.
func batch(id, status string, total, completed, failed int, extra string) providertest.Answer {
	return providertest.Answer{Body: fmt.Sprintf(`{"id":%q,"object":"batch","endpoint":"/v1/chat/completions","errors":null,`+
		`"input_file_id":"file_01jh6x76wtemjr74t1fh0faj5t","completion_window":"24h","status":%q,"created_at":1736472600,`+
		`"expires_at":1736559000,"request_counts":{"total":%d,"completed":%d,"failed":%d},"metadata":null%s}`, id, status, total, completed, failed, extra)}
}

// Each end is reached through Groq's statuses; the ended batch's counts,
// files, error and request_failure are kept.
func TestPollBatchEnds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		id      string
		answers []providertest.Answer
		want    []tracker.Status
		usage   tracker.Usage
		details map[string]string
	}{
		{"completed with failures", "batch_ok", []providertest.Answer{
			batch("batch_ok", "validating", 0, 0, 0, ""),
			batch("batch_ok", "in_progress", 100, 40, 1, `,"in_progress_at":1736472700`),
			batch("batch_ok", "finalizing", 100, 98, 2, ""),
			batch("batch_ok", "completed", 100, 98, 2, `,"output_file_id":"file_out","error_file_id":"file_err","completed_at":1736476200`),
		}, []tracker.Status{tracker.StatusPending, tracker.StatusRunning, tracker.StatusRunning, tracker.StatusSucceeded},
			tracker.Usage{RequestsTotal: 100, RequestsCompleted: 98, RequestsFailed: 2},
			map[string]string{"output_file_id": "file_out", "error_file_id": "file_err", tracker.DetailRequestFailure: tracker.RequestFailurePartial}},
		{"completed, every request failed", "batch_allfail", []providertest.Answer{
			batch("batch_allfail", "in_progress", 3, 0, 1, ""),
			batch("batch_allfail", "completed", 3, 0, 3, `,"error_file_id":"file_err"`),
		}, []tracker.Status{tracker.StatusRunning, tracker.StatusSucceeded},
			tracker.Usage{RequestsTotal: 3, RequestsFailed: 3},
			map[string]string{"error_file_id": "file_err", tracker.DetailRequestFailure: tracker.RequestFailureTotal}},
		{"failed validation", "batch_bad", []providertest.Answer{
			batch("batch_bad", "validating", 0, 0, 0, ""),
			{Body: `{"id":"batch_bad","object":"batch","status":"failed","request_counts":{"total":0,"completed":0,"failed":0},` +
				`"errors":{"object":"list","data":[{"code":"invalid_json_line","message":"Line 3 is not valid JSON","line":3}]}}`},
		}, []tracker.Status{tracker.StatusPending, tracker.StatusFailed}, tracker.Usage{},
			map[string]string{"error_code": "invalid_json_line", "error_message": "Line 3 is not valid JSON"}},
		{"expired with output", "batch_late", []providertest.Answer{
			batch("batch_late", "in_progress", 10, 4, 0, ""),
			batch("batch_late", "expired", 10, 6, 0, `,"output_file_id":"file_partial","expired_at":1736559000`),
		}, []tracker.Status{tracker.StatusRunning, tracker.StatusExpired},
			tracker.Usage{RequestsTotal: 10, RequestsCompleted: 6},
			map[string]string{"output_file_id": "file_partial"}},
		{"cancelled", "batch_stop", []providertest.Answer{
			batch("batch_stop", "cancelling", 10, 2, 0, ""),
			batch("batch_stop", "cancelled", 10, 2, 0, ""),
		}, []tracker.Status{tracker.StatusRunning, tracker.StatusCancelled},
			tracker.Usage{RequestsTotal: 10, RequestsCompleted: 2}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			id := tt.id
			srv := fakeAPI(t, map[string][]providertest.Answer{"/openai/v1/batches/" + id: tt.answers})
			p := newPoller(srv, testKey)
			job := tracker.Job{Provider: "groq", Kind: tracker.KindBatch, ExternalID: id}
			var obs tracker.Observation
			for i, want := range tt.want {
				var err error
				if obs, err = p.Poll(t.Context(), job); err != nil {
					t.Fatalf("poll %d: %v", i+1, err)
				}
				if obs.Status != want || obs.ExternalID != id || obs.Kind != tracker.KindBatch || len(obs.Payload) == 0 {
					t.Errorf("poll %d: %s %s %q (%s), want %q", i+1, obs.Kind, obs.ExternalID, obs.Status, obs.ProviderStatus, want)
				}
			}
			var u tracker.Usage // nil usage: no figures reported
			if obs.Usage != nil {
				u = *obs.Usage
			}
			if u != tt.usage {
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
	srv := fakeAPI(t, map[string][]providertest.Answer{"/openai/v1/batches/batch_429": {
		{Code: http.StatusTooManyRequests, RetryAfter: "0", Body: `{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}`},
		batch("batch_429", "completed", 1, 1, 0, ""),
	}})
	obs, err := newPoller(srv, testKey).Poll(t.Context(), tracker.Job{Kind: tracker.KindBatch, ExternalID: "batch_429"})
	if err != nil {
		t.Fatal(err)
	}
	if obs.Status != tracker.StatusSucceeded || srv.Requests() != 2 {
		t.Errorf("status %q after %d requests; want succeeded after 2", obs.Status, srv.Requests())
	}
}

// A status jobwatch does not know is kept verbatim and never taken for an
// end.
func TestPollUnknownStatusIsNotTerminal(t *testing.T) {
	t.Parallel()
	srv := fakeAPI(t, map[string][]providertest.Answer{"/openai/v1/batches/batch_odd": {batch("batch_odd", "paused", 5, 1, 0, "")}})
	obs, err := newPoller(srv, testKey).Poll(t.Context(), tracker.Job{Kind: tracker.KindBatch, ExternalID: "batch_odd"})
	if err != nil || obs.Status != "" || obs.ProviderStatus != "paused" {
		t.Errorf("status %q (%s), %v; want none and the word kept", obs.Status, obs.ProviderStatus, err)
	}
}

func TestPollFailures(t *testing.T) {
	t.Parallel()
	srv := fakeAPI(t, map[string][]providertest.Answer{
		"/openai/v1/batches/batch_1":      {batch("batch_1", "in_progress", 1, 0, 0, "")},
		"/openai/v1/batches/batch_denied": {{Code: http.StatusForbidden, Body: `{"error":{"message":"Batch API is not enabled for this organization","type":"permissions_error"}}`}},
		"/openai/v1/batches/batch_busy":   {{Code: http.StatusServiceUnavailable, Body: `{"error":{"message":"Service Unavailable"}}`}},
		"/openai/v1/batches/batch_bad":    {{Body: `{"id":"batch_bad","object":"batch","status":"in_progress","request_counts":{"total":"many"}}`}},
		"/openai/v1/batches/batch_other":  {batch("batch_someone_else", "completed", 1, 1, 0, "")},
	})
	providertest.CheckPollFailures(t, "groq", func(key string) providers.Poller { return newPoller(srv, key) }, []providertest.PollFailure{
		{Name: "unknown batch", Key: testKey, Job: tracker.Job{Kind: tracker.KindBatch, ExternalID: "batch_missing"}, Class: providers.PollNotFound, Code: 404},
		{Name: "wrong key", Key: "wrong-key", Job: tracker.Job{Kind: tracker.KindBatch, ExternalID: "batch_1"}, Class: providers.PollAuth, Code: 401},
		{Name: "forbidden", Key: testKey, Job: tracker.Job{Kind: tracker.KindBatch, ExternalID: "batch_denied"}, Class: providers.PollAuth, Code: 403},
		{Name: "unavailable", Key: testKey, Job: tracker.Job{Kind: tracker.KindBatch, ExternalID: "batch_busy"}, Class: providers.PollTransient, Code: 503},
		{Name: "malformed answer", Key: testKey, Job: tracker.Job{Kind: tracker.KindBatch, ExternalID: "batch_bad"}, Class: providers.PollInvalid, Code: 0},
		{Name: "answer about another batch", Key: testKey, Job: tracker.Job{Kind: tracker.KindBatch, ExternalID: "batch_other"}, Class: providers.PollInvalid, Code: 0},
		{Name: "not a polled kind", Key: testKey, Job: tracker.Job{Kind: tracker.KindFineTuning, ExternalID: "batch_1"}, Class: providers.PollInvalid, Code: 0},
	})
}

func TestPolls(t *testing.T) {
	t.Parallel()
	p := groq.NewPoller("", testKey, pollhttp.New(pollhttp.Config{Provider: "groq"}))
	for kind, want := range map[tracker.Kind]bool{tracker.KindBatch: true, tracker.KindFineTuning: false, tracker.KindResponse: false} {
		if got := p.Polls(kind); got != want {
			t.Errorf("Polls(%s) = %v, want %v", kind, got, want)
		}
	}
	if groq.Type.Name != "groq" || groq.Type.DefaultBaseURL != "https://api.groq.com/openai/v1" || groq.Type.NewParser != nil {
		t.Errorf("Type %+v", groq.Type)
	}
}
