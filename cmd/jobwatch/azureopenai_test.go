package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/jobwatch/jobwatch/storage"
	"github.com/jobwatch/jobwatch/storage/storagetest"
	"github.com/jobwatch/jobwatch/tracker"
)

// An azure-openai provider needs nothing but its config entry: the daemon
// polls its batch and fine-tuning jobs at the resource endpoint's v1 API
// with the api-key header.
func TestPollAzureOpenAIJobs(t *testing.T) {
	t.Parallel()
	azure := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("api-key") != "azure-test-key" || r.Header.Get("Authorization") != "" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		switch r.URL.Path {
		case "/openai/v1/batches/batch_1":
			fmt.Fprint(w, `{"id":"batch_1","object":"batch","endpoint":"/chat/completions","status":"completed","input_file_id":"file-in",
"completion_window":"24h","output_file_id":"file-out","error_file_id":"file-err","request_counts":{"total":50,"completed":48,"failed":2},"completed_at":1733003600}`)
		case "/openai/v1/fine_tuning/jobs/ftjob-1":
			fmt.Fprint(w, `{"id":"ftjob-1","object":"fine_tuning.job","status":"failed","fine_tuned_model":null,
"error":{"code":"invalidTrainingFile","message":"The training file has too few examples."}}`)
		default:
			http.Error(w, `{"error":{"code":"404","message":"Resource not found"}}`, http.StatusNotFound)
		}
	}))
	t.Cleanup(azure.Close)
	path, url := writeConfig(t, storagetest.Config(t, storage.DriverSQLite), fmt.Sprintf(`
[[providers]]
name = "azure"
type = "azure-openai"
base_url = "%s"
api_key = "azure-test-key"
`, azure.URL))
	startDaemon(t, path, url)
	for _, tt := range []struct {
		kind    tracker.Kind
		id      string
		want    tracker.Status
		details map[string]string
	}{
		{tracker.KindBatch, "batch_1", tracker.StatusSucceeded, map[string]string{"output_file_id": "file-out", tracker.DetailRequestFailure: tracker.RequestFailurePartial}},
		{tracker.KindFineTuning, "ftjob-1", tracker.StatusFailed, map[string]string{"error_message": "The training file has too few examples."}},
	} {
		job, err := trackAndPoll(t, url, "azure", tt.kind, tt.id)
		if err != nil || job.Status != tt.want || job.ResolvedBy != tracker.SourcePoll {
			t.Fatalf("polled %s = %+v, %v; want %s by poll", tt.id, job, err, tt.want)
		}
		for k, v := range tt.details {
			if job.Details[k] != v {
				t.Errorf("%s: details %v, want %s = %q", tt.id, job.Details, k, v)
			}
		}
	}
}
