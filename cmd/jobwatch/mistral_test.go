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

// A mistral provider needs nothing but its config entry: the daemon polls
// its batch and fine-tuning jobs at the configured API with the bearer key.
func TestPollMistralJobs(t *testing.T) {
	t.Parallel()
	mistral := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer mistral-test-key" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		switch r.URL.Path {
		case "/v1/batch/jobs/batch-1":
			fmt.Fprint(w, `{"id":"batch-1","object":"batch","status":"SUCCESS","total_requests":50,"completed_requests":50,
"succeeded_requests":50,"failed_requests":0,"output_file":"out-1","error_file":null,"created_at":1733000000,"completed_at":1733003600}`)
		case "/v1/fine_tuning/jobs/ft-1":
			fmt.Fprint(w, `{"id":"ft-1","object":"job","status":"FAILED_VALIDATION","fine_tuned_model":null,"created_at":1733000000}`)
		default:
			http.Error(w, `{"message":"Not found"}`, http.StatusNotFound)
		}
	}))
	t.Cleanup(mistral.Close)
	path, url := writeConfig(t, storagetest.Config(t, storage.DriverSQLite), fmt.Sprintf(`
[[providers]]
name = "mistral"
type = "mistral"
base_url = "%s/v1"
api_key = "mistral-test-key"
`, mistral.URL))
	startDaemon(t, path, url)
	for _, tt := range []struct {
		kind tracker.Kind
		id   string
		want tracker.Status
	}{
		{tracker.KindBatch, "batch-1", tracker.StatusSucceeded},
		{tracker.KindFineTuning, "ft-1", tracker.StatusFailed},
	} {
		job, err := trackAndPoll(t, url, "mistral", tt.kind, tt.id)
		if err != nil || job.Status != tt.want || job.ResolvedBy != tracker.SourcePoll {
			t.Errorf("polled %s = %+v, %v; want %s by poll", tt.id, job, err, tt.want)
		}
		if tt.id == "batch-1" && (job.Usage.RequestsCompleted != 50 || job.Details["output_file_id"] != "out-1") {
			t.Errorf("batch usage %+v, details %v", job.Usage, job.Details)
		}
	}
	resp, err := http.Post(url+"/v1/jobs/mistral/nope/poll", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("poll of an unknown job = %d, want 404", resp.StatusCode)
	}
}
