package generic_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/providers"
	"github.com/jobwatch/jobwatch/providers/generic"
	"github.com/jobwatch/jobwatch/providers/pollhttp"
	"github.com/jobwatch/jobwatch/tracker"
)

// mistralLike is the config of a provider whose batch API reads like
// Mistral's: GET /v1/batch/jobs/{id}, upper-case statuses, request counts.
var mistralLike = generic.Config{
	JobID:  "id",
	Status: "status",
	Model:  "model",
	StatusMap: map[string]tracker.Status{
		"QUEUED": tracker.StatusPending, "RUNNING": tracker.StatusRunning, "SUCCESS": tracker.StatusSucceeded,
		"FAILED": tracker.StatusFailed, "TIMEOUT_EXCEEDED": tracker.StatusExpired, "CANCELLED": tracker.StatusCancelled,
	},
	Usage: map[string]string{"requests_total": "total_requests", "requests_completed": "succeeded_requests", "requests_failed": "failed_requests"},
}

func batchJob(id, status string, total, succeeded, failed int) string {
	return fmt.Sprintf(`{"id":%q,"object":"batch","input_files":["file-in"],"endpoint":"/v1/chat/completions","model":"mistral-small-latest",`+
		`"errors":[],"status":%q,"created_at":1727268690,"total_requests":%d,"completed_requests":%d,"succeeded_requests":%d,"failed_requests":%d,`+
		`"started_at":1727268700,"completed_at":null,"output_file":null,"error_file":null,"metadata":{}}`, id, status, total, succeeded+failed, succeeded, failed)
}

// seen is what the fake API received.
type seen struct {
	mu       sync.Mutex
	uris     []string
	auth     []string
	projects []string
}

func TestPoller(t *testing.T) {
	t.Parallel()
	const id = "b7a3?c#1" // escaped into one path segment
	answers := []string{
		batchJob(id, "QUEUED", 0, 0, 0),
		batchJob(id, "RUNNING", 10, 4, 1),
		batchJob(id, "CANCELLATION_REQUESTED", 10, 6, 1),
		batchJob(id, "SUCCESS", 10, 8, 2),
	}
	var s seen
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		n := len(s.uris)
		s.uris = append(s.uris, r.RequestURI)
		s.auth = append(s.auth, r.Header.Get("Authorization"))
		s.projects = append(s.projects, r.Header.Get("X-Project"))
		fmt.Fprint(w, answers[min(n, len(answers)-1)])
	}))
	t.Cleanup(srv.Close)

	parser, err := generic.New(mistralLike)
	if err != nil {
		t.Fatal(err)
	}
	headers := http.Header{"Authorization": {"Bearer mk-secret"}, "X-Project": {"p1"}}
	client := pollhttp.New(pollhttp.Config{Provider: "mistral", MaxRetryWait: 10 * time.Millisecond})
	p, err := generic.NewPoller(srv.URL+"/v1/batch/jobs/{id}", headers, parser, client)
	if err != nil {
		t.Fatal(err)
	}
	headers.Set("X-Project", "changed after NewPoller")

	job := tracker.Job{Provider: "mistral", Kind: tracker.KindBatch, ExternalID: id}
	want := []struct {
		status tracker.Status
		word   string
		usage  *tracker.Usage
	}{
		{tracker.StatusPending, "QUEUED", nil},
		{tracker.StatusRunning, "RUNNING", &tracker.Usage{RequestsTotal: 10, RequestsCompleted: 4, RequestsFailed: 1}},
		{"", "CANCELLATION_REQUESTED", &tracker.Usage{RequestsTotal: 10, RequestsCompleted: 6, RequestsFailed: 1}},
		{tracker.StatusSucceeded, "SUCCESS", &tracker.Usage{RequestsTotal: 10, RequestsCompleted: 8, RequestsFailed: 2}},
	}
	for i, w := range want {
		obs, err := p.Poll(t.Context(), job)
		if err != nil {
			t.Fatalf("poll %d: %v", i+1, err)
		}
		if obs.ExternalID != id || obs.Status != w.status || obs.ProviderStatus != w.word {
			t.Errorf("poll %d: %q %q %q, want %q %q %q", i+1, obs.ExternalID, obs.Status, obs.ProviderStatus, id, w.status, w.word)
		}
		if (obs.Usage == nil) != (w.usage == nil) || obs.Usage != nil && *obs.Usage != *w.usage {
			t.Errorf("poll %d: usage %+v, want %+v", i+1, obs.Usage, w.usage)
		}
		if len(obs.Details) != 1 || obs.Details[tracker.DetailModel] != "mistral-small-latest" {
			t.Errorf("poll %d: details %v, want the model mistral-small-latest", i+1, obs.Details)
		}
		if string(obs.Payload) != answers[i] {
			t.Errorf("poll %d: payload %s", i+1, obs.Payload)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.uris {
		if s.uris[i] != "/v1/batch/jobs/b7a3%3Fc%231" || s.auth[i] != "Bearer mk-secret" || s.projects[i] != "p1" {
			t.Errorf("request %d: %s, Authorization %q, X-Project %q", i+1, s.uris[i], s.auth[i], s.projects[i])
		}
	}
}

func TestPollerPollsEveryKind(t *testing.T) {
	t.Parallel()
	parser, err := generic.New(mistralLike)
	if err != nil {
		t.Fatal(err)
	}
	p, err := generic.NewPoller("https://api.example.com/v1/jobs/{id}", nil, parser, pollhttp.New(pollhttp.Config{Provider: "example"}))
	if err != nil {
		t.Fatal(err)
	}
	for _, kind := range []tracker.Kind{tracker.KindBatch, tracker.KindFineTuning, tracker.KindEvalRun, "training"} {
		if !p.Polls(kind) {
			t.Errorf("Polls(%s) = false", kind)
		}
	}
}

func TestPollerAnswers(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/jobs/job_other":
			fmt.Fprint(w, batchJob("job_else", "RUNNING", 1, 0, 0))
		case "/jobs/job_nostatus":
			fmt.Fprint(w, `{"id":"job_nostatus"}`)
		case "/jobs/job_denied":
			http.Error(w, `{"message":"Unauthorized"}`, http.StatusUnauthorized)
		default:
			http.Error(w, `{"message":"Not Found"}`, http.StatusNotFound)
		}
	}))
	t.Cleanup(srv.Close)
	parser, err := generic.New(mistralLike)
	if err != nil {
		t.Fatal(err)
	}
	p, err := generic.NewPoller(srv.URL+"/jobs/{id}", http.Header{"Authorization": {"Bearer mk-secret"}}, parser,
		pollhttp.New(pollhttp.Config{Provider: "example", MaxRetryWait: 10 * time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]providers.PollErrorClass{
		"job_other":     providers.PollInvalid,
		"job_nostatus":  providers.PollInvalid,
		"job_denied":    providers.PollAuth,
		"job_missing":   providers.PollNotFound,
		"job\x00broken": providers.PollInvalid,
	} {
		_, err := p.Poll(t.Context(), tracker.Job{Kind: tracker.KindBatch, ExternalID: id})
		pe, ok := errors.AsType[*providers.PollError](err)
		if !ok {
			t.Errorf("%s: error %v (%T) is not a *providers.PollError", id, err, err)
			continue
		}
		if pe.Class != want {
			t.Errorf("%s: %v, want %s", id, err, want)
		}
		if !strings.HasPrefix(pe.Err.Error(), "poll example batch ") || strings.Contains(err.Error(), "mk-secret") {
			t.Errorf("%s: error %q", id, err)
		}
	}
}

func TestNewPollerErrors(t *testing.T) {
	t.Parallel()
	parser, err := generic.New(mistralLike)
	if err != nil {
		t.Fatal(err)
	}
	client := pollhttp.New(pollhttp.Config{Provider: "example"})
	tests := []struct {
		name     string
		template string
		parser   *generic.Parser
		client   *pollhttp.Client
		want     string
	}{
		{"no {id}", "https://api.example.com/v1/jobs/latest?key=SECRET", parser, client, "no {id}"},
		{"not http", "ftp://api.example.com/{id}?key=SECRET", parser, client, "not an http or https URL"},
		{"no host", "/v1/jobs/{id}", parser, client, "not an http or https URL"},
		{"no parser", "https://api.example.com/{id}", nil, client, "required"},
		{"no client", "https://api.example.com/{id}", parser, nil, "required"},
	}
	for _, tt := range tests {
		_, err := generic.NewPoller(tt.template, nil, tt.parser, tt.client)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want one saying %q", tt.name, err, tt.want)
			continue
		}
		if strings.Contains(err.Error(), "SECRET") {
			t.Errorf("%s: error %q quotes the template", tt.name, err)
		}
	}
}
