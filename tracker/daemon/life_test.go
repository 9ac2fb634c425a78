package daemon_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/storage"
	"github.com/jobwatch/jobwatch/storage/storagetest"
	"github.com/jobwatch/jobwatch/tracker"
	"github.com/jobwatch/jobwatch/tracker/config"
	"github.com/jobwatch/jobwatch/tracker/daemon"
	"github.com/jobwatch/jobwatch/tracker/internal/logtest"
)

// stopBound is how long Run may take to return once its context ends, in
// these tests: well under the 60 s that a hanging receiver or provider API
// is given by their config, so that only a stop that cuts them short
// passes.
const stopBound = 10 * time.Second

// services are the daemon's background services as its debug log names
// them, in the order they start.
var services = []string{"delivery log pruning", "job pruning", "delivery log summaries", "sweeps", "alert delivery"}

// lifeDaemon is a running daemon of the life tests.
type lifeDaemon struct {
	url string
	// admin is the URL of the admin listener, if any.
	admin  string
	daemon *daemon.Daemon
	// config parses a config over the daemon's database, as startDaemon
	// does: for a Reload.
	config func(t *testing.T, server, text string) config.Config
	logs   *logtest.Buffer
	store  storage.Config
	// stop ends Run's context and returns how long Run took to return.
	stop func(t *testing.T) time.Duration
}

// startDaemon starts a daemon of the config text (listening on a free port,
// with more [server] keys in server) over a fresh database of the driver,
// logging text at debug level.
func startDaemon(t *testing.T, driver, server, text string) *lifeDaemon {
	t.Helper()
	return startDaemonOn(t, storagetest.Config(t, driver), server, text)
}

// startDaemonOn is startDaemon over the database sc.
func startDaemonOn(t *testing.T, sc storage.Config, server, text string) *lifeDaemon {
	t.Helper()
	driver := sc.Driver
	parse := func(t *testing.T, server, text string) config.Config {
		t.Helper()
		cfg, err := config.Parse(fmt.Sprintf("[server]\nlisten = \"127.0.0.1:0\"\nshutdown_timeout = \"5s\"\n%s\n[storage]\ndriver = %q\ndsn = %q\n[log]\nformat = \"text\"\nlevel = \"debug\"\n%s", server, driver, sc.DSN, text))
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	cfg := parse(t, server, text)
	ld := &lifeDaemon{logs: &logtest.Buffer{}, store: sc, config: parse}
	ctx, cancel := context.WithCancel(context.Background())
	d, err := daemon.New(ctx, cfg, daemon.NewLogger(cfg.Log, ld.logs))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	ld.daemon = d
	ld.url = "http://" + d.Addr().String()
	if a := d.AdminAddr(); a != nil {
		ld.admin = "http://" + a.String()
	}
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	var once sync.Once
	ld.stop = func(t *testing.T) (took time.Duration) {
		once.Do(func() {
			start := time.Now()
			cancel()
			select {
			case err := <-done:
				took = time.Since(start)
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(3 * stopBound):
				t.Fatalf("Run has not returned %s after its context ended", 3*stopBound)
			}
		})
		return took
	}
	t.Cleanup(func() { ld.stop(t) })
	return ld
}

// stopWithin stops the daemon and fails when Run took longer than stopBound.
func (ld *lifeDaemon) stopWithin(t *testing.T) {
	t.Helper()
	if took := ld.stop(t); took > stopBound {
		t.Errorf("Run returned %s after its context ended, want at most %s", took, stopBound)
	}
	ld.checkLifeLog(t)
}

// checkLifeLog checks that the services started in order and stopped in
// the reverse order, each before the store was closed ("jobwatch
// stopped").
func (ld *lifeDaemon) checkLifeLog(t *testing.T) {
	t.Helper()
	out := ld.logs.String()
	var want []string
	for _, s := range services {
		want = append(want, `msg="service started" service=`+textValue(s))
	}
	for i := range services {
		want = append(want, `msg="service stopped" service=`+textValue(services[len(services)-1-i]))
	}
	want = append(want, `msg="jobwatch stopped"`)
	at := 0
	for _, w := range want {
		i := strings.Index(out[at:], w)
		if i < 0 {
			t.Errorf("log lacks %s after offset %d, or has it out of order:\n%s", w, at, out)
			return
		}
		at += i + len(w)
	}
}

// textValue is s as slog's text handler writes it: quoted when it holds a
// space.
func textValue(s string) string {
	if strings.Contains(s, " ") {
		return strconv.Quote(s)
	}
	return s
}

// openStore opens the daemon's database once it has stopped.
func (ld *lifeDaemon) openStore(t *testing.T) *storage.Store {
	t.Helper()
	s, err := storage.Open(context.Background(), ld.store)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// hangingServer is an HTTP server whose every request hangs until the test
// ends; got receives a value as each request arrives.
func hangingServer(t *testing.T) (url string, got <-chan struct{}) {
	t.Helper()
	release, arrived := make(chan struct{}), make(chan struct{}, 100)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case arrived <- struct{}{}:
		default:
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) }) // runs before srv.Close
	return srv.URL, arrived
}

// waitFor waits up to 15 s for a value on got.
func waitFor(t *testing.T, got <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-got:
	case <-time.After(15 * time.Second):
		t.Fatalf("waited 15s for %s", what)
	}
}

func post(t *testing.T, url, body string, header http.Header) int {
	t.Helper()
	req, err := http.NewRequest("POST", url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = header
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// forEachBackend runs the test on SQLite and on PostgreSQL.
func forEachBackend(t *testing.T, test func(t *testing.T, driver string)) {
	for _, driver := range []string{storage.DriverSQLite, storage.DriverPostgres} {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			test(t, driver)
		})
	}
}

// A started daemon serves, runs every service, and stops them in the
// reverse order before it closes the store.
func TestDaemonStartsAndStops(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, driver string) {
		d := startDaemon(t, driver, "", "")
		for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
			resp, err := http.Get(d.url + path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("GET %s: %d", path, resp.StatusCode)
			}
		}
		d.stopWithin(t)
	})
}

// tasksProvider is a generic provider whose unsigned events end jobs.
const tasksProvider = `
[[providers]]
name = "tasks"
type = "generic"
[providers.webhook]
insecure_skip_verify = true
[providers.generic]
event_id = "id"
event_type = "type"
job_id = "data.task_id"
status = "data.status"
kind = "batch"
[providers.generic.status_map]
completed = "succeeded"
`

// taskEvent is an event of tasksProvider ending a job.
func taskEvent(id string) string {
	return fmt.Sprintf(`{"id":"evt_%s","type":"task.completed","data":{"task_id":"task_%s","status":"completed"}}`, id, id)
}

// Stopped while webhooks and registrations pour in, the daemon loses
// nothing it acknowledged: every job it answered 2xx for is stored, and
// every forged webhook it answered 401 is in the delivery log, logged or
// counted in the summary that the delivery log's service writes as it
// stops, before the store is closed.
func TestDaemonStopsUnderLoad(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, driver string) {
		d := startDaemon(t, driver, "", tasksProvider+`
[[providers]]
name = "openai"
type = "openai"
[providers.webhook]
secrets = ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]
`)
		var (
			mu       sync.Mutex
			acked    []string // job ids registered or ended with a 2xx
			rejected atomic.Int64
			n        atomic.Int64
			wg       sync.WaitGroup
		)
		stopLoad := make(chan struct{})
		client := &http.Client{Timeout: 20 * time.Second}
		send := func(url, body string) (int, bool) {
			resp, err := client.Post(url, "application/json", strings.NewReader(body))
			if err != nil {
				return 0, false // refused once the daemon stopped listening
			}
			resp.Body.Close()
			return resp.StatusCode, true
		}
		for range 4 {
			wg.Go(func() {
				for {
					select {
					case <-stopLoad:
						return
					default:
					}
					i := strconv.FormatInt(n.Add(1), 10)
					if code, ok := send(d.url+"/v1/jobs", `{"provider":"tasks","kind":"batch","id":"reg_`+i+`"}`); ok && code/100 == 2 {
						mu.Lock()
						acked = append(acked, "reg_"+i)
						mu.Unlock()
					}
					if code, ok := send(d.url+"/webhooks/tasks", taskEvent(i)); ok && code/100 == 2 {
						mu.Lock()
						acked = append(acked, "task_"+i)
						mu.Unlock()
					}
					if code, ok := send(d.url+"/webhooks/openai", `{"id":"evt_forged"}`); ok && code == http.StatusUnauthorized {
						rejected.Add(1)
					}
				}
			})
		}
		for n.Load() < 200 {
			time.Sleep(10 * time.Millisecond)
		}
		took := d.stop(t)
		close(stopLoad)
		wg.Wait()
		if took > stopBound {
			t.Errorf("Run returned %s after its context ended, want at most %s", took, stopBound)
		}
		d.checkLifeLog(t)

		s := d.openStore(t)
		ctx := context.Background()
		for _, id := range acked {
			if _, err := s.GetJob(ctx, "tasks", id); err != nil {
				t.Errorf("job %s was acknowledged, then: %v", id, err)
			}
		}
		ds, err := s.ListDeliveries(ctx, tracker.DeliveryFilter{Provider: "openai", Outcome: tracker.OutcomeBadSignature, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		more := regexp.MustCompile(`^(\d+) more bad_signature deliveries`)
		var logged, summarized int64
		for _, dl := range ds {
			if m := more.FindStringSubmatch(dl.Reason); m != nil {
				k, _ := strconv.ParseInt(m[1], 10, 64)
				summarized += k
			} else {
				logged++
			}
		}
		if summarized == 0 || logged+summarized != rejected.Load() {
			t.Errorf("%d forged webhooks answered 401; the delivery log holds %d of them and summarises %d more", rejected.Load(), logged, summarized)
		}
	})
}

// A notifier whose receiver never answers does not hold the stop up: the
// delivery is cut short, and its alert stays pending, not counted as an
// attempt, for the next start to send.
func TestDaemonStopsWhileNotifierHangs(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, driver string) {
		receiver, got := hangingServer(t)
		d := startDaemon(t, driver, "", tasksProvider+fmt.Sprintf(`
[alerts]
timeout = "60s"
[[notifiers]]
name = "hang"
type = "slack"
webhook_url = %q
[[routes]]
events = ["job.*"]
notifiers = ["hang"]
`, receiver))
		if code := post(t, d.url+"/webhooks/tasks", taskEvent("1"), http.Header{}); code != http.StatusOK {
			t.Fatalf("webhook: %d", code)
		}
		waitFor(t, got, "the alert to reach the receiver")
		d.stopWithin(t)

		alerts, err := d.openStore(t).ListAlerts(context.Background(), "", 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(alerts) != 1 || alerts[0].Alert.Type != "job.succeeded" || alerts[0].State != tracker.AlertPending || alerts[0].Attempts != 0 {
			t.Errorf("outbox after the stop: %+v, want the job.succeeded alert pending, no attempt counted", alerts)
		}
	})
}

// A sweep whose provider API never answers does not hold the stop up: its
// poll is cut short, and the job it claimed stays tracked as it was.
func TestDaemonStopsWhileSweepPolls(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, driver string) {
		api, got := hangingServer(t)
		d := startDaemon(t, driver, "", fmt.Sprintf(`
[sweep]
schedule = "@every 1s"
[[providers]]
name = "openai"
type = "openai"
api_key = "sk-test"
base_url = %q
[providers.poll]
timeout = "60s"
stale_after = "1s"
`, api))
		if code := post(t, d.url+"/v1/jobs", `{"provider":"openai","kind":"batch","id":"batch_1"}`, http.Header{}); code != http.StatusCreated {
			t.Fatalf("register: %d", code)
		}
		waitFor(t, got, "a sweep to poll the job")
		d.stopWithin(t)

		job, err := d.openStore(t).GetJob(context.Background(), "openai", "batch_1")
		if err != nil {
			t.Fatal(err)
		}
		if job.Status != tracker.StatusPending {
			t.Errorf("job after the stop: %s, want pending", job.Status)
		}
	})
}

// An alert is delivered as soon as the change that raised it commits,
// however long [alerts] interval: the tracker wakes the dispatcher.
func TestDaemonDeliversAlertsOnCommit(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, driver string) {
		arrived := make(chan struct{}, 10)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			arrived <- struct{}{}
		}))
		t.Cleanup(srv.Close)
		d := startDaemon(t, driver, "", tasksProvider+fmt.Sprintf(`
[alerts]
interval = "1h"
[[notifiers]]
name = "hook"
type = "webhook"
url = %q
secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
[[routes]]
events = ["job.*"]
notifiers = ["hook"]
`, srv.URL))
		// The first alert may go at the dispatcher's first look, at its
		// start; the second only if the commit wakes it.
		for _, id := range []string{"1", "2"} {
			if code := post(t, d.url+"/webhooks/tasks", taskEvent(id), http.Header{}); code != http.StatusOK {
				t.Fatalf("webhook: %d", code)
			}
			waitFor(t, arrived, "alert "+id+" to reach the receiver, the interval an hour")
		}
		d.stopWithin(t)
	})
}
