package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/jobwatch/jobwatch/storage"
	"github.com/jobwatch/jobwatch/storage/storagetest"
	"github.com/jobwatch/jobwatch/tracker"
)

func TestPollCommandAndEndpoint(t *testing.T) {
	t.Parallel()
	anthropic := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("x-api-key") != "sk-ant-test" || r.Header.Get("anthropic-version") != "2023-06-01" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		id := strings.TrimPrefix(r.URL.Path, "/v1/messages/batches/")
		if id != "msgbatch_1" {
			http.Error(w, `{"type":"error","error":{"type":"not_found_error"}}`, http.StatusNotFound)
			return
		}
		fmt.Fprintf(w, `{"id":%q,"type":"message_batch","processing_status":"ended",
"request_counts":{"processing":0,"succeeded":98,"errored":2,"canceled":0,"expired":0},
"ended_at":"2026-11-20T10:00:00Z","created_at":"2026-11-19T10:00:00Z","expires_at":"2026-11-20T10:00:00Z",
"cancel_initiated_at":null,"results_url":"https://api.anthropic.com/v1/messages/batches/%s/results"}`, id, id)
	}))
	t.Cleanup(anthropic.Close)
	path, url := writeConfig(t, storagetest.Config(t, storage.DriverSQLite), fmt.Sprintf(`
[[providers]]
name = "anthropic"
type = "anthropic"
base_url = %q
api_key = "sk-ant-test"

[[providers]]
name = "llmtune"
type = "llmtune"
[providers.webhook]
secrets = ["llm-secret"]
`, anthropic.URL))
	startDaemon(t, path, url)
	client := tracker.NewClient(url)
	ctx := context.Background()
	for _, id := range []string{"msgbatch_1", "msgbatch_gone"} {
		if _, _, err := client.Track(ctx, tracker.TrackRequest{Provider: "anthropic", Kind: tracker.KindBatch, ExternalID: id}); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := client.Track(ctx, tracker.TrackRequest{Provider: "llmtune", Kind: tracker.KindFineTuning, ExternalID: "x"}); err != nil {
		t.Fatal(err)
	}

	var stdout, stderr bytes.Buffer
	if code := run(ctx, []string{"poll", "--provider", "anthropic", "msgbatch_1", "--server", url}, &stdout, &stderr); code != 0 {
		t.Fatalf("jobwatch poll: exit %d: %s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), "succeeded") {
		t.Errorf("jobwatch poll printed %q", stdout.String())
	}
	job, err := client.Job(ctx, "anthropic", "msgbatch_1")
	if err != nil || job.Status != tracker.StatusSucceeded || job.ResolvedBy != tracker.SourcePoll || job.Usage.RequestsFailed != 2 || job.Details["request_failure"] != "partial" {
		t.Fatalf("polled job = %+v, %v", job, err)
	}
	if err := client.Untrack(ctx, "anthropic", "msgbatch_1", false); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		path string
		code int
	}{
		{"/v1/jobs/anthropic/nope/poll", 404},
		{"/v1/jobs/anthropic/msgbatch_1/poll", 409}, // untracked
		{"/v1/jobs/llmtune/x/poll", 409},
		{"/v1/jobs/anthropic/msgbatch_gone/poll", 502},
	} {
		resp, err := http.Post(url+tt.path, "application/json", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.code {
			t.Errorf("POST %s = %d, want %d", tt.path, resp.StatusCode, tt.code)
		}
	}
}

// trackAndPoll registers a job of provider on the daemon at url, polls it
// with `jobwatch poll --server`, and returns the job as it is after.
func trackAndPoll(t *testing.T, url, provider string, kind tracker.Kind, id string) (tracker.Job, error) {
	t.Helper()
	client := tracker.NewClient(url)
	if _, _, err := client.Track(context.Background(), tracker.TrackRequest{Provider: provider, Kind: kind, ExternalID: id}); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := runCLI("poll", "--provider", provider, id, "--server", url); code != 0 {
		t.Fatalf("jobwatch poll %s: exit %d: %s", id, code, stderr)
	}
	return client.Job(context.Background(), provider, id)
}
