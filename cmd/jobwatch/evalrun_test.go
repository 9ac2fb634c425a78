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

// An OpenAI eval run registered with `jobwatch track --parent-id` (its eval
// id) is polled at /v1/evals/{eval_id}/runs/{run_id}; one registered
// without it cannot be, and the poll says why.
func TestPollOpenAIEvalRun(t *testing.T) {
	t.Parallel()
	const eval = "eval_67abd54d9b0081909a86353f6fb9317a"
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer sk-test" || r.URL.Path != "/v1/evals/"+eval+"/runs/evalrun_1" {
			http.Error(w, `{"error":{"message":"not found","type":"invalid_request_error"}}`, http.StatusNotFound)
			return
		}
		fmt.Fprintf(w, `{"object":"eval.run","id":"evalrun_1","eval_id":%q,"status":"completed","result_counts":{"total":10,"errored":0,"failed":3,"passed":7},`+
			`"per_model_usage":[{"model_name":"o3-mini","invocation_count":10,"prompt_tokens":1500,"completion_tokens":500,"total_tokens":2000,"cached_tokens":0}],"error":null}`, eval)
	}))
	t.Cleanup(api.Close)
	path, url := writeConfig(t, storagetest.Config(t, storage.DriverSQLite), fmt.Sprintf(`
[[providers]]
name = "openai"
type = "openai"
base_url = "%s/v1"
api_key = "sk-test"
`, api.URL))
	startDaemon(t, path, url)
	ctx := context.Background()
	if code, stdout, stderr := runCLI("track", "--provider", "openai", "--kind", "eval_run", "--parent-id", eval, "evalrun_1", "--server", url); code != 0 {
		t.Fatalf("jobwatch track --parent-id: exit %d\n%s%s", code, stdout, stderr)
	}
	if code, stdout, stderr := runCLI("poll", "--provider", "openai", "evalrun_1", "--server", url); code != 0 {
		t.Fatalf("jobwatch poll evalrun_1: exit %d\n%s%s", code, stdout, stderr)
	}
	job, err := tracker.NewClient(url).Job(ctx, "openai", "evalrun_1")
	want := tracker.Usage{InputTokens: 1500, OutputTokens: 500, TotalTokens: 2000, RequestsTotal: 10, RequestsCompleted: 7, RequestsFailed: 3}
	if err != nil || job.ParentID != eval || job.Status != tracker.StatusSucceeded || job.Usage != want {
		t.Errorf("polled eval run = %+v, %v; want succeeded with parent %s and usage %+v", job, err, eval, want)
	}
	if code, stdout, stderr := runCLI("track", "--provider", "openai", "--kind", "eval_run", "evalrun_2", "--server", url); code != 0 {
		t.Fatalf("jobwatch track: exit %d\n%s%s", code, stdout, stderr)
	}
	code, stdout, stderr := runCLI("poll", "--provider", "openai", "evalrun_2", "--server", url)
	if code == 0 || !strings.Contains(stdout+stderr, "registered without its eval id (parent_id)") {
		t.Errorf("jobwatch poll of an eval run without its eval id: exit %d\n%s%s", code, stdout, stderr)
	}
}
