package anthropic_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/providers"
	"github.com/jobwatch/jobwatch/providers/anthropic"
	"github.com/jobwatch/jobwatch/providers/pollhttp"
	"github.com/jobwatch/jobwatch/providers/providertest"
	"github.com/jobwatch/jobwatch/tracker"
)

const testKey = "sk-ant-api03-test"

// fakeAPI behaves like Anthropic's Message Batches API: each GET of a known
// batch answers the next stage of its sequence (the last one forever); a
// request without the key or the version header is refused as Anthropic
// refuses it.
func fakeAPI(t *testing.T, batches map[string][]string) *httptest.Server {
	t.Helper()
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		refuse := func(code int, typ, msg string) {
			w.WriteHeader(code)
			fmt.Fprintf(w, `{"type":"error","error":{"type":%q,"message":%q}}`, typ, msg)
		}
		switch {
		case r.Header.Get("X-Api-Key") != testKey:
			refuse(http.StatusUnauthorized, "authentication_error", "invalid x-api-key")
			return
		case r.Header.Get("Anthropic-Version") != "2023-06-01":
			refuse(http.StatusBadRequest, "invalid_request_error", "anthropic-version: header is required")
			return
		}
		id, ok := strings.CutPrefix(r.URL.Path, "/v1/messages/batches/")
		seq := batches[id]
		if !ok || r.Method != http.MethodGet || len(seq) == 0 {
			refuse(http.StatusNotFound, "not_found_error", "Not found")
			return
		}
		fmt.Fprint(w, seq[0])
		if len(seq) > 1 {
			batches[id] = seq[1:]
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func newPoller(srv *httptest.Server, key string) *anthropic.Poller {
	return anthropic.NewPoller(srv.URL, key, pollhttp.New(pollhttp.Config{Provider: "anthropic", MaxRetryWait: 10 * time.Millisecond}))
}

func TestPollBatchEnds(t *testing.T) {
	t.Parallel()
	const id = "msgbatch_01HkcTjaV5uDC8jWR4ZsDV8d"
	srv := fakeAPI(t, map[string][]string{id: {
		messageBatch(id, "in_progress", `{"processing":2,"succeeded":0,"errored":0,"canceled":0,"expired":0}`, `,"ended_at":null,"cancel_initiated_at":null,"results_url":null`),
		messageBatch(id, "in_progress", `{"processing":1,"succeeded":1,"errored":0,"canceled":0,"expired":0}`, `,"ended_at":null,"cancel_initiated_at":null,"results_url":null`),
		messageBatch(id, "ended", `{"processing":0,"succeeded":1,"errored":1,"canceled":0,"expired":0}`,
			`,"ended_at":"2024-09-24T18:50:00Z","cancel_initiated_at":null,"results_url":"https://api.anthropic.com/v1/messages/batches/`+id+`/results"`),
	}})
	p := newPoller(srv, testKey)
	job := tracker.Job{Provider: "anthropic", Kind: tracker.KindBatch, ExternalID: id}
	var obs tracker.Observation
	for i, want := range []tracker.Status{tracker.StatusRunning, tracker.StatusRunning, tracker.StatusSucceeded} {
		var err error
		if obs, err = p.Poll(t.Context(), job); err != nil {
			t.Fatalf("poll %d: %v", i+1, err)
		}
		if obs.Status != want || obs.ExternalID != id {
			t.Errorf("poll %d: %s %q (%s), want %q", i+1, obs.ExternalID, obs.Status, obs.ProviderStatus, want)
		}
		if !strings.Contains(string(obs.Payload), `"processing_status"`) {
			t.Errorf("poll %d: payload %s", i+1, obs.Payload)
		}
	}
	if u := obs.Usage; u == nil || *u != (tracker.Usage{RequestsTotal: 2, RequestsCompleted: 1, RequestsFailed: 1}) {
		t.Errorf("usage %+v", obs.Usage)
	}
	if obs.ProviderStatus != "ended" || obs.Details["request_failure"] != "partial" || obs.Details["results_url"] == "" {
		t.Errorf("provider status %q, details %v", obs.ProviderStatus, obs.Details)
	}
}

func TestPollBatchCancelled(t *testing.T) {
	t.Parallel()
	const id = "msgbatch_cancelled"
	srv := fakeAPI(t, map[string][]string{id: {
		messageBatch(id, "canceling", `{"processing":70,"succeeded":30,"errored":0,"canceled":0,"expired":0}`, `,"ended_at":null,"cancel_initiated_at":"2024-09-24T18:40:00Z","results_url":null`),
		messageBatch(id, "ended", `{"processing":0,"succeeded":30,"errored":0,"canceled":70,"expired":0}`,
			`,"ended_at":"2024-09-24T18:41:00Z","cancel_initiated_at":"2024-09-24T18:40:00Z","results_url":"https://api.anthropic.com/v1/messages/batches/`+id+`/results"`),
	}})
	p := newPoller(srv, testKey)
	job := tracker.Job{Kind: tracker.KindBatch, ExternalID: id}
	for i, want := range []tracker.Status{tracker.StatusRunning, tracker.StatusCancelled} {
		obs, err := p.Poll(t.Context(), job)
		if err != nil {
			t.Fatalf("poll %d: %v", i+1, err)
		}
		if obs.Status != want {
			t.Errorf("poll %d: %q (%s), want %q", i+1, obs.Status, obs.ProviderStatus, want)
		}
		if i == 1 && (obs.Usage == nil || *obs.Usage != tracker.Usage{RequestsTotal: 100, RequestsCompleted: 30}) {
			t.Errorf("usage %+v", obs.Usage)
		}
	}
}

func TestPollFailures(t *testing.T) {
	t.Parallel()
	srv := fakeAPI(t, map[string][]string{"msgbatch_1": {messageBatch("msgbatch_1", "in_progress", `{}`, "")}})
	tests := []struct {
		name  string
		key   string
		job   tracker.Job
		class providers.PollErrorClass
		code  int
	}{
		{"unknown batch", testKey, tracker.Job{Kind: tracker.KindBatch, ExternalID: "msgbatch_missing"}, providers.PollNotFound, 404},
		{"wrong key", "sk-ant-wrong", tracker.Job{Kind: tracker.KindBatch, ExternalID: "msgbatch_1"}, providers.PollAuth, 401},
		{"not a batch", testKey, tracker.Job{Kind: tracker.KindFineTuning, ExternalID: "msgbatch_1"}, providers.PollInvalid, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := newPoller(srv, tt.key).Poll(t.Context(), tt.job)
			providertest.CheckPollError(t, err, "anthropic", tt.job, tt.key, tt.class, tt.code)
		})
	}
}

func TestPolls(t *testing.T) {
	t.Parallel()
	p := anthropic.NewPoller("", testKey, pollhttp.New(pollhttp.Config{Provider: "anthropic"}))
	for kind, want := range map[tracker.Kind]bool{tracker.KindBatch: true, tracker.KindFineTuning: false, tracker.KindResponse: false, tracker.KindEvalRun: false} {
		if got := p.Polls(kind); got != want {
			t.Errorf("Polls(%s) = %v, want %v", kind, got, want)
		}
	}
}
