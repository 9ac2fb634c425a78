package main

import (
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

// A gemini provider needs nothing but its config entry: the daemon polls
// its batches at the configured API with x-goog-api-key, and takes its
// project webhooks, Standard Webhooks signed by default.
func TestGeminiFromConfig(t *testing.T) {
	t.Setenv("JW_TEST_GEMINI_SECRET", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	gemini := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Goog-Api-Key") != "gemini-test-key" {
			http.Error(w, `{"error":{"code":401,"message":"API key not valid.","status":"UNAUTHENTICATED"}}`, http.StatusUnauthorized)
			return
		}
		if r.URL.Path != "/v1beta/batches/g1" {
			http.Error(w, `{"error":{"code":404,"message":"Requested entity was not found.","status":"NOT_FOUND"}}`, http.StatusNotFound)
			return
		}
		fmt.Fprint(w, `{"name":"batches/g1","done":true,"metadata":{"@type":"type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatch",
"name":"batches/g1","state":"BATCH_STATE_SUCCEEDED","output":{"responsesFile":"files/batch-g1"},
"batchStats":{"requestCount":"50","successfulRequestCount":"48","failedRequestCount":"2"}}}`)
	}))
	t.Cleanup(gemini.Close)
	path, url := writeConfig(t, storagetest.Config(t, storage.DriverSQLite), fmt.Sprintf(`
[[providers]]
name = "gemini"
type = "gemini"
base_url = "%s/v1beta"
api_key = "gemini-test-key"
[providers.webhook]
secrets = ["${JW_TEST_GEMINI_SECRET}"]
`, gemini.URL))
	startDaemon(t, path, url)
	client := tracker.NewClient(url)
	ctx := context.Background()
	job, err := trackAndPoll(t, url, "gemini", tracker.KindBatch, "g1")
	if err != nil || job.Status != tracker.StatusSucceeded || job.ResolvedBy != tracker.SourcePoll {
		t.Fatalf("polled g1 = %+v, %v; want succeeded by poll", job, err)
	}
	if job.Usage.RequestsTotal != 50 || job.Usage.RequestsFailed != 2 || job.Details["responses_file"] != "files/batch-g1" ||
		job.Details[tracker.DetailRequestFailure] != tracker.RequestFailurePartial {
		t.Errorf("g1 usage %+v, details %v", job.Usage, job.Details)
	}
	code, stdout, stderr := runCLI("send-test-event", "--config", path, "--provider", "gemini", "--type", "batch.succeeded", "--job", "g2")
	if code != 0 || !strings.Contains(stdout, "200 OK") {
		t.Fatalf("send-test-event: exit %d\n%s%s", code, stdout, stderr)
	}
	if job, err := client.Job(ctx, "gemini", "g2"); err != nil || job.Status != tracker.StatusSucceeded || job.Kind != tracker.KindBatch {
		t.Errorf("g2 after a test batch.succeeded = %+v, %v; want a succeeded batch", job, err)
	}
}
