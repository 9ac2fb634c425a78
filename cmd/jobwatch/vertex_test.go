package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/jobwatch/jobwatch/providers/providertest"
	"github.com/jobwatch/jobwatch/storage"
	"github.com/jobwatch/jobwatch/storage/storagetest"
	"github.com/jobwatch/jobwatch/tracker"
)

// A vertex provider needs nothing but its config entry and a
// service-account key: the daemon gets an access token from the key's
// token_uri and polls the job at the configured project and location.
func TestPollVertexJob(t *testing.T) {
	t.Parallel()
	tokens := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"access_token":"ya29.vertex-test-token","token_type":"Bearer","expires_in":3600}`)
	}))
	t.Cleanup(tokens.Close)
	vertex := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer ya29.vertex-test-token" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if r.URL.Path != "/v1/projects/my-project/locations/us-central1/batchPredictionJobs/4242" {
			http.Error(w, `{"error":{"code":404,"status":"NOT_FOUND"}}`, http.StatusNotFound)
			return
		}
		fmt.Fprint(w, `{"name":"projects/123456789012/locations/us-central1/batchPredictionJobs/4242","state":"JOB_STATE_PARTIALLY_SUCCEEDED",
"outputInfo":{"gcsOutputDirectory":"gs://b/out/prediction-1"},"completionStats":{"successfulCount":"98","failedCount":"2","incompleteCount":"0"}}`)
	}))
	t.Cleanup(vertex.Close)
	key, _ := providertest.ServiceAccountKey(t, "my-project", tokens.URL+"/token")
	path, url := writeConfig(t, storagetest.Config(t, storage.DriverSQLite), fmt.Sprintf(`
[[providers]]
name = "vertex"
type = "vertex"
base_url = "%s/v1"
project = "my-project"
location = "us-central1"
credentials_file = %q
`, vertex.URL, key))
	startDaemon(t, path, url)
	job, err := trackAndPoll(t, url, "vertex", tracker.KindBatch, "4242")
	if err != nil || job.Status != tracker.StatusSucceeded || job.ResolvedBy != tracker.SourcePoll {
		t.Fatalf("polled job = %+v, %v; want succeeded by poll", job, err)
	}
	if job.Usage.RequestsCompleted != 98 || job.Usage.RequestsFailed != 2 || job.Details[tracker.DetailRequestFailure] != tracker.RequestFailurePartial ||
		job.Details["output_directory"] != "gs://b/out/prediction-1" {
		t.Errorf("usage %+v, details %v", job.Usage, job.Details)
	}
}
