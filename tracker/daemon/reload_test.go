package daemon_test

import (
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/storage"
)

// receiver is a Slack stand-in that signals each message it gets.
func receiver(t *testing.T) (url string, got <-chan struct{}) {
	t.Helper()
	ch := make(chan struct{}, 100)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ch <- struct{}{}
		w.Write([]byte("ok"))
	}))
	t.Cleanup(srv.Close)
	return srv.URL, ch
}

// slackTo is a slack notifier of that name sending every job alert to url.
func slackTo(name, url string) string {
	return fmt.Sprintf(`
[[notifiers]]
name = %q
type = "slack"
webhook_url = %q
rate_limit = 0.0
[[routes]]
events = ["job.*"]
notifiers = [%q]
`, name, url, name)
}

// A reload replaces the metrics token, the providers and the notifiers and
// routes of the running daemon, and names the changed keys that need a
// restart, keeping their running values; a config it cannot build changes
// nothing.
func TestReload(t *testing.T) {
	t.Parallel()
	oldURL, oldGot := receiver(t)
	newURL, newGot := receiver(t)
	d := startDaemon(t, storage.DriverSQLite, `api_token = "token-one"`, tasksProvider+slackTo("old", oldURL))
	if code := post(t, d.url+"/webhooks/tasks", taskEvent("1"), http.Header{}); code != http.StatusOK {
		t.Fatalf("webhook: %d", code)
	}
	waitFor(t, oldGot, "the first alert at the old notifier")

	second := strings.Replace(tasksProvider, `name = "tasks"`, `name = "second"`, 1)
	next := d.config(t, "api_token = \"token-two\"\nmetrics_token = \"token-scrape\"\nmax_body_bytes = 2048\n", tasksProvider+second+slackTo("new", newURL))
	next.Storage.MaxOpenConns = 3
	if err := d.daemon.Reload(next); err != nil {
		t.Fatalf("Reload: %v", err)
	}

	if code := post(t, d.url+"/webhooks/tasks", taskEvent("2"), http.Header{}); code != http.StatusOK {
		t.Fatalf("webhook after the reload: %d", code)
	}
	waitFor(t, newGot, "the alert at the notifier added by the reload")
	if code := post(t, d.url+"/webhooks/second", taskEvent("3"), http.Header{}); code != http.StatusOK {
		t.Errorf("webhook of the provider added by the reload: %d, want 200", code)
	}
	track := `{"provider":"second","kind":"batch","id":"b1"}`
	// The API token signs the console's sessions: it changes at a restart.
	if code := post(t, d.url+"/v1/jobs", track, http.Header{"Authorization": {"Bearer token-two"}}); code != http.StatusUnauthorized {
		t.Errorf("the API token of the reloaded file: %d, want 401 until a restart", code)
	}
	if code := post(t, d.url+"/v1/jobs", track, http.Header{"Authorization": {"Bearer token-one"}}); code != http.StatusCreated {
		t.Errorf("tracking a job of the added provider with the running token: %d, want 201", code)
	}
	for token, want := range map[string]int{"": http.StatusUnauthorized, "token-scrape": http.StatusOK} {
		req, _ := http.NewRequest("GET", d.url+"/metrics", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("/metrics with token %q after the reload set metrics_token: %d, want %d", token, resp.StatusCode, want)
		}
	}

	// An email notifier whose CA file is gone by the time of the reload
	// cannot be built: the reload is refused as a whole.
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	writeFile(t, caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: newTestCA(t).cert.Raw}))
	broken := d.config(t, `metrics_token = "token-other"`, tasksProvider+fmt.Sprintf(`
[[notifiers]]
name = "mail"
type = "email"
smtp_host = "127.0.0.1"
from = "jobwatch@example.com"
to = ["ops@example.com"]
tls_ca_file = %q
`, caFile))
	if err := os.Remove(caFile); err != nil {
		t.Fatal(err)
	}
	if err := d.daemon.Reload(broken); err == nil || !strings.Contains(err.Error(), "notifier mail") {
		t.Fatalf("Reload of a config that cannot be built: %v, want the notifier's error", err)
	}
	if code := post(t, d.url+"/v1/jobs", `{"provider":"second","kind":"batch","id":"b2"}`, http.Header{"Authorization": {"Bearer token-one"}}); code != http.StatusCreated {
		t.Errorf("after a refused reload, the running token and providers: %d, want 201", code)
	}

	if code := post(t, d.url+"/webhooks/tasks", taskEvent("4"), http.Header{}); code != http.StatusOK {
		t.Fatalf("webhook: %d", code)
	}
	waitFor(t, newGot, "the alert at the running notifier")
	waitFor(t, newGot, "the alert at the running notifier")
	d.stopWithin(t)
	select {
	case <-oldGot:
		t.Error("the notifier removed by the reload still got an alert")
	case <-time.After(10 * time.Millisecond):
	}
	out := d.logs.String()
	for _, want := range []string{`msg="config reloaded"`, "need a restart were not applied: server.api_token, server.max_body_bytes, storage.max_open_conns"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "token-") {
		t.Errorf("the log holds a token:\n%s", out)
	}
}
