package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/jobwatch/jobwatch/storage"
	"github.com/jobwatch/jobwatch/storage/storagetest"
	"github.com/jobwatch/jobwatch/tracker"
	"github.com/jobwatch/jobwatch/tracker/notify/notifytest"
)

const (
	mythicSecret     = "mythic-alert-test"
	downstreamSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
)

// receiver is a downstream system: it verifies each alert with the Standard
// Webhooks reference library and keeps those that pass.
type receiver struct {
	mu       sync.Mutex
	alerts   []tracker.Alert
	rejected int
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	wh, _ := standardwebhooks.NewWebhook(downstreamSecret)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if err := wh.Verify(body, r.Header); err != nil {
		rc.rejected++
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var a tracker.Alert
	if json.Unmarshal(body, &a) != nil || a.ID != r.Header.Get("webhook-id") {
		rc.rejected++
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	rc.alerts = append(rc.alerts, a)
}

func (rc *receiver) got() []tracker.Alert {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]tracker.Alert(nil), rc.alerts...)
}

// slackStandIn answers 503 while down, then keeps the messages.
type slackStandIn struct {
	down     atomic.Bool
	attempts atomic.Int64
	mu       sync.Mutex
	texts    []string
}

func (s *slackStandIn) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.attempts.Add(1)
	if s.down.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	var m struct{ Text string }
	json.NewDecoder(r.Body).Decode(&m)
	s.mu.Lock()
	s.texts = append(s.texts, m.Text)
	s.mu.Unlock()
	io.WriteString(w, "ok")
}

func (s *slackStandIn) got() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.texts...)
}

func postMythic(t *testing.T, url string, body []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url+"/webhooks/mythicdot", bytes.NewReader(body))
	req.Header.Set("X-MythicDot-Signature", hexHMAC(mythicSecret, body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("webhook answered %d", resp.StatusCode)
	}
}

func eventually(t *testing.T, within time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", within, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func alertConfig(extra string) string {
	return fmt.Sprintf(`
[alerts]
interval = "100ms"
backoff = "300ms"
max_backoff = "1s"

[[providers]]
name = "mythicdot"
type = "mythicdot"
[providers.webhook]
secrets = [%q]
%s`, mythicSecret, extra)
}

// A failed batch reaches a Slack stand-in and an SMTP inbox within seconds;
// a Slack that is down still gets it once it is back; a receiver verifies
// the outbound webhook.
func TestFailedBatchIsAlerted(t *testing.T) {
	t.Parallel()
	smtpSrv := notifytest.NewSMTPServer(t, notifytest.SMTPOptions{})
	slack := &slackStandIn{}
	slack.down.Store(true)
	slackSrv := httptest.NewServer(slack)
	t.Cleanup(slackSrv.Close)
	rc := &receiver{}
	rcSrv := httptest.NewServer(rc)
	t.Cleanup(rcSrv.Close)
	mc := smtpSrv.Config("none")
	path, url := writeConfig(t, storagetest.Config(t, storage.DriverSQLite), alertConfig(fmt.Sprintf(`
[[notifiers]]
name = "ops-slack"
type = "slack"
webhook_url = %q

[[notifiers]]
name = "oncall-email"
type = "email"
smtp_host = %q
smtp_port = %d
starttls = "none"
from = "jobwatch@example.com"
to = ["oncall@example.com"]

[[notifiers]]
name = "downstream"
type = "webhook"
url = %q
secret = %q

[[routes]]
events = ["job.failed", "job.lost"]
notifiers = ["ops-slack", "oncall-email", "downstream"]
`, slackSrv.URL+"/services/T0/B0/XYZ", mc.Host, mc.Port, rcSrv.URL+"/hooks", downstreamSecret)))
	startDaemon(t, path, url)

	postMythic(t, url, []byte(`{"id":"evt_f1","type":"batch.failed","created":1706140800,"data":{"object":{"id":"batch_bad","status":"failed",
"request_counts":{"total":100,"completed":0,"failed":100},"errors":{"data":[{"code":"invalid_request","message":"bad input file"}]}}}}`))
	// A success routes nowhere.
	postMythic(t, url, []byte(`{"id":"evt_s1","type":"batch.completed","created":1706140800,"data":{"object":{"id":"batch_ok","status":"completed"}}}`))

	eventually(t, 5*time.Second, "the email arrives", func() bool { return len(smtpSrv.Received()) == 1 })
	msg, err := mail.ReadMessage(bytes.NewReader(smtpSrv.Received()[0].Data))
	if err != nil {
		t.Fatal(err)
	}
	if subj := msg.Header.Get("Subject"); !strings.Contains(subj, "batch_bad") || !strings.Contains(subj, "failed") {
		t.Errorf("subject %q does not say what failed", subj)
	}
	eventually(t, 5*time.Second, "the downstream receiver verifies the alert", func() bool { return len(rc.got()) == 1 })
	if a := rc.got()[0]; a.Type != tracker.AlertJobFailed || a.Job == nil || a.Job.ExternalID != "batch_bad" {
		t.Errorf("downstream alert = %+v", a)
	}
	eventually(t, 5*time.Second, "slack is tried while down", func() bool { return slack.attempts.Load() >= 2 })
	if len(slack.got()) != 0 {
		t.Fatal("slack got a message while down")
	}
	slack.down.Store(false)
	eventually(t, 5*time.Second, "slack gets the alert once back", func() bool { return len(slack.got()) == 1 })
	if text := slack.got()[0]; !strings.Contains(text, "batch_bad") || !strings.Contains(text, "mythicdot") {
		t.Errorf("slack text = %q", text)
	}
	time.Sleep(500 * time.Millisecond)
	if len(slack.got()) != 1 || len(rc.got()) != 1 || len(smtpSrv.Received()) != 1 || rc.rejected != 0 {
		t.Errorf("deliveries: slack %d, webhook %d (rejected %d), email %d; want one each", len(slack.got()), len(rc.got()), rc.rejected, len(smtpSrv.Received()))
	}
}

// Killed between enqueue and send: the alert is sent after the restart.
func TestAlertSurvivesKill9BeforeSending(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t) // nothing listens there yet: deliveries fail
	path, url := writeConfig(t, storagetest.Config(t, storage.DriverSQLite), alertConfig(fmt.Sprintf(`
[[notifiers]]
name = "downstream"
type = "webhook"
url = "http://%s/hooks"
secret = %q

[[routes]]
events = ["job.*"]
notifiers = ["downstream"]
`, addr, downstreamSecret)))
	d := startDaemon(t, path, url)
	postMythic(t, url, []byte(`{"id":"evt_k1","type":"batch.failed","created":1706140800,"data":{"object":{"id":"batch_k","status":"failed"}}}`))
	d.kill9(t)

	rc := &receiver{}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: rc}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	startDaemon(t, path, url)
	// The commit wakes the dispatcher, so the killed daemon may have
	// claimed the alert and been killed before recording the failed
	// attempt: the claim's lease (1m) then keeps the alert until it runs
	// out. Otherwise the alert goes out within a second or two.
	eventually(t, 75*time.Second, "the alert is sent after the restart", func() bool { return len(rc.got()) == 1 })
	if a := rc.got()[0]; a.Job == nil || a.Job.ExternalID != "batch_k" {
		t.Errorf("alert = %+v", a)
	}
}

// Daily token usage crossing 80% and then 100% of a threshold alerts
// exactly twice.
func TestUsageThresholdAlertsTwice(t *testing.T) {
	t.Parallel()
	rc := &receiver{}
	rcSrv := httptest.NewServer(rc)
	t.Cleanup(rcSrv.Close)
	path, url := writeConfig(t, storagetest.Config(t, storage.DriverSQLite), alertConfig(fmt.Sprintf(`
[[notifiers]]
name = "downstream"
type = "webhook"
url = %q
secret = %q

[[routes]]
events = ["usage.threshold"]
notifiers = ["downstream"]

[[thresholds]]
name = "daily-tokens"
metric = "tokens"
provider = "mythicdot"
window = "day"
limit = 1000
levels = [0.8, 1.0]
`, rcSrv.URL, downstreamSecret)))
	startDaemon(t, path, url)
	for i := range 6 { // 300 trained tokens each: 80% crossed at 900, 100% at 1200
		postMythic(t, url, fmt.Appendf(nil, `{"id":"evt_t%d","type":"fine_tuning.job.succeeded","created":1706140800,"data":{"object":{"id":"ftjob-%d",
"object":"fine_tuning.job","status":"succeeded","fine_tuned_model":"ft:x","trained_tokens":300}}}`, i, i))
	}
	eventually(t, 5*time.Second, "two threshold alerts", func() bool { return len(rc.got()) >= 2 })
	time.Sleep(500 * time.Millisecond)
	got := rc.got()
	if len(got) != 2 || got[0].Threshold == nil || got[1].Threshold == nil {
		t.Fatalf("threshold alerts = %+v, want exactly 2", got)
	}
	levels := map[float64]int64{got[0].Threshold.Level: got[0].Threshold.Value, got[1].Threshold.Level: got[1].Threshold.Value}
	if levels[0.8] != 900 || levels[1.0] != 1200 {
		t.Errorf("crossings = %v, want 80%% at 900 and 100%% at 1200 tokens", levels)
	}

	// The same, as the API and the CLI show it.
	ctx := context.Background()
	client := tracker.NewClient(url)
	totals, err := client.Usage(ctx, "day", "mythicdot")
	if err != nil || len(totals) != 1 || totals[0].Metrics["tokens"] != 1800 || totals[0].Metrics["succeeded_jobs"] != 6 {
		t.Errorf("usage = %+v, %v; want 1800 tokens over 6 jobs", totals, err)
	}
	sent, err := client.Alerts(ctx, tracker.AlertSent, 10)
	if err != nil || len(sent) != 2 {
		t.Errorf("sent alerts = %d, %v; want 2", len(sent), err)
	}
	var stdout, stderr bytes.Buffer
	if code := run(ctx, []string{"usage", "--server", url}, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "1800") {
		t.Errorf("jobwatch usage: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	stdout.Reset()
	if code := run(ctx, []string{"alerts", "list", "--state", "sent", "--server", url}, &stdout, &stderr); code != 0 || strings.Count(stdout.String(), "usage threshold daily-tokens") != 2 {
		t.Errorf("jobwatch alerts list: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	if err := client.RetryAlert(ctx, sent[0].Alert.ID); !errors.Is(err, tracker.ErrNotFound) {
		t.Errorf("retrying a sent alert = %v, want not found", err)
	}
	if _, err := client.Alerts(ctx, "bogus", 10); err == nil || !strings.Contains(err.Error(), "400") {
		t.Errorf("alerts?state=bogus = %v, want 400", err)
	}
}
