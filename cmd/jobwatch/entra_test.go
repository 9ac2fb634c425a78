package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/jobwatch/jobwatch/storage"
	"github.com/jobwatch/jobwatch/storage/storagetest"
	"github.com/jobwatch/jobwatch/tracker"
)

// An azure-openai provider with Microsoft Entra ID keys instead of api_key
// needs nothing but its config entry: the daemon gets a token from the
// configured token endpoint with the client credentials, once for its polls,
// and polls with it as a bearer token; the secret never reaches its logs.
func TestPollAzureOpenAIJobsWithEntraID(t *testing.T) {
	t.Parallel()
	const secret = "entra-daemon-secret-0123456789"
	var issued atomic.Int64
	login := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/tenant-1/oauth2/v2.0/token" || r.PostFormValue("client_id") != "client-1" || r.PostFormValue("client_secret") != secret ||
			r.PostFormValue("scope") != "https://cognitiveservices.azure.com/.default" {
			http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
			return
		}
		issued.Add(1)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"token_type":"Bearer","expires_in":3600,"access_token":"entra-access-token"}`)
	}))
	t.Cleanup(login.Close)
	azure := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer entra-access-token" || r.Header.Get("api-key") != "" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		switch r.URL.Path {
		case "/openai/v1/batches/batch_1":
			fmt.Fprint(w, `{"id":"batch_1","object":"batch","status":"completed","request_counts":{"total":5,"completed":5,"failed":0}}`)
		case "/openai/v1/fine_tuning/jobs/ftjob-1":
			fmt.Fprint(w, `{"id":"ftjob-1","object":"fine_tuning.job","status":"cancelled"}`)
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
tenant_id = "tenant-1"
client_id = "client-1"
client_secret = "%s"
token_url = "%s/tenant-1/oauth2/v2.0/token"
`, azure.URL, secret, login.URL))
	d := startDaemon(t, path, url)
	for _, tt := range []struct {
		kind tracker.Kind
		id   string
		want tracker.Status
	}{
		{tracker.KindBatch, "batch_1", tracker.StatusSucceeded},
		{tracker.KindFineTuning, "ftjob-1", tracker.StatusCancelled},
	} {
		job, err := trackAndPoll(t, url, "azure", tt.kind, tt.id)
		if err != nil || job.Status != tt.want || job.ResolvedBy != tracker.SourcePoll {
			t.Fatalf("polled %s = %+v, %v; want %s by poll", tt.id, job, err, tt.want)
		}
	}
	if n := issued.Load(); n != 1 {
		t.Errorf("%d tokens fetched for two polls, want 1", n)
	}
	d.cmd.Process.Kill() // its logs are read whole, once it has stopped
	d.cmd.Wait()
	if strings.Contains(d.logs.String(), secret) {
		t.Errorf("the daemon logged the client secret:\n%s", d.logs)
	}
}
