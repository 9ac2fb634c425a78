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

// polledJob is a job a bearer-key provider's API answers about: its kind,
// id, the path it is served at and the answer, and the status it resolves
// to.
type polledJob struct {
	kind   tracker.Kind
	id     string
	path   string
	answer string
	want   tracker.Status
}

// checkPolledByConfig starts a daemon whose only provider is the [[providers]]
// entry entry (with %s for the fake API's URL), whose API answers each of
// jobs when asked with the bearer key key, and checks that `jobwatch poll`
// resolves each job to its status.
func checkPolledByConfig(t *testing.T, provider, key, entry string, jobs []polledJob) {
	t.Helper()
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+key {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		for _, j := range jobs {
			if r.URL.Path == j.path {
				fmt.Fprint(w, j.answer)
				return
			}
		}
		http.Error(w, `{"error":"not found"}`, http.StatusNotFound)
	}))
	t.Cleanup(api.Close)
	path, url := writeConfig(t, storagetest.Config(t, storage.DriverSQLite), fmt.Sprintf(entry, api.URL))
	startDaemon(t, path, url)
	for _, j := range jobs {
		job, err := trackAndPoll(t, url, provider, j.kind, j.id)
		if err != nil || job.Status != j.want || job.ResolvedBy != tracker.SourcePoll {
			t.Errorf("polled %s = %+v, %v; want %s by poll", j.id, job, err, j.want)
		}
	}
}

// A groq provider needs nothing but its config entry.
func TestPollGroqJobs(t *testing.T) {
	t.Parallel()
	checkPolledByConfig(t, "groq", "gsk_test", `
[[providers]]
name = "groq"
type = "groq"
base_url = "%s/openai/v1"
api_key = "gsk_test"
`, []polledJob{{tracker.KindBatch, "batch_01", "/openai/v1/batches/batch_01",
		`{"id":"batch_01","object":"batch","status":"completed","request_counts":{"total":2,"completed":2,"failed":0}}`, tracker.StatusSucceeded}})
}

// A together provider needs nothing but its config entry.
func TestPollTogetherJobs(t *testing.T) {
	t.Parallel()
	checkPolledByConfig(t, "together", "together-key", `
[[providers]]
name = "together"
type = "together"
base_url = "%s/v1"
api_key = "together-key"
`, []polledJob{
		{tracker.KindBatch, "b-1", "/v1/batches/b-1", `{"id":"b-1","status":"EXPIRED","progress":50,"output_file_id":"file-partial"}`, tracker.StatusExpired},
		{tracker.KindFineTuning, "ft-1", "/v1/fine-tunes/ft-1", `{"id":"ft-1","status":"completed","token_count":1000}`, tracker.StatusSucceeded},
	})
}

// A fireworks provider needs nothing but its config entry, its account
// included.
func TestPollFireworksJobs(t *testing.T) {
	t.Parallel()
	checkPolledByConfig(t, "fireworks", "fw-key", `
[[providers]]
name = "fireworks"
type = "fireworks"
base_url = "%s"
account = "acme-ml"
api_key = "fw-key"
`, []polledJob{{tracker.KindBatch, "nightly-1", "/v1/accounts/acme-ml/batchInferenceJobs/nightly-1",
		`{"name":"accounts/acme-ml/batchInferenceJobs/nightly-1","state":"JOB_STATE_FAILED","status":{"code":"INTERNAL","message":"boom"}}`, tracker.StatusFailed}})
}
