package sweep_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/robfig/cron/v3"

	"github.com/jobwatch/jobwatch/providers/openai"
	"github.com/jobwatch/jobwatch/providers/pollhttp"
	"github.com/jobwatch/jobwatch/storage"
	"github.com/jobwatch/jobwatch/storage/storagetest"
	"github.com/jobwatch/jobwatch/tracker"
	"github.com/jobwatch/jobwatch/tracker/sweep"
)

// startHourly replaces e's sweeper with one started on an hourly schedule
// (so that no scheduled sweep comes within a test), polling OpenAI at
// apiURL, and returns the registry of its metrics.
func (e *env) startHourly(t *testing.T, apiURL string) *prometheus.Registry {
	t.Helper()
	opts := e.sweepOptions
	opts.Schedule = cron.Every(time.Hour)
	reg := prometheus.NewRegistry()
	opts.Registry = reg
	client := pollhttp.New(pollhttp.Config{Provider: "openai", Concurrency: 16, Timeout: 20 * time.Second, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	opts.Providers = map[string]sweep.Provider{"openai": {Poller: openai.NewPoller(apiURL, "sk-test", client), Concurrency: 8}}
	e.sweeper = sweep.New(opts)
	if err := e.sweeper.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.sweeper.Stop)
	return reg
}

// waitFor fails the test unless cond holds within a generous time: the
// time is a bound on failure, not the measure of anything.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// wokenRuns is the sweeper's count of runs made after a Wake.
func wokenRuns(t *testing.T, reg *prometheus.Registry) int {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "jobwatch_sweep_woken_runs_total" {
			return int(mf.GetMetric()[0].GetCounter().GetValue())
		}
	}
	t.Fatal("no jobwatch_sweep_woken_runs_total")
	return 0
}

// A thin end, whose alert waits for the enrichment poll, is polled and its
// alert released at once through the tracker's PollDue and Sweeper.Wake,
// not at the next sweep an hour later.
func TestThinEndIsPolledWhenTheSweeperIsWoken(t *testing.T) {
	t.Parallel()
	storagetest.Each(t, func(t *testing.T, s *storage.Store) {
		t.Parallel()
		api := newFakeOpenAI(t)
		api.script("batch_thin", batch("batch_thin", "completed", 100, 90, 10))
		e := setup(t, s, api, true)
		reg := e.startHourly(t, api.URL)
		e.track(t, tracker.KindBatch, "batch_thin")
		e.webhook(t, "batch_thin", tracker.StatusSucceeded, true)
		waitFor(t, "the held alert", func() bool { return len(e.alerts(t)) > 0 })
		alerts := e.alerts(t)
		if len(alerts) != 1 || alerts[0].Type != tracker.AlertJobPartialFailure || alerts[0].Job.Usage.RequestsFailed != 10 {
			t.Fatalf("alerts %v, want one job.partial_failure with the poll's figures", types(alerts))
		}
		if n := api.callCount("batch_thin"); n != 1 {
			t.Errorf("polled %d times, want once", n)
		}
		if n := wokenRuns(t, reg); n != 1 {
			t.Errorf("%d woken runs, want 1", n)
		}
	})
}

// Wakes during a run whose poll is slow make one more run after it, not one
// each, and no job is polled twice.
func TestWakesDuringARunMakeOneMore(t *testing.T) {
	t.Parallel()
	api := newFakeOpenAI(t)
	started, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	gate := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/batch_slow") {
			once.Do(func() { close(started) })
			<-release
		}
		api.Config.Handler.ServeHTTP(w, r)
	}))
	t.Cleanup(gate.Close)
	e := setup(t, storagetest.Open(t, storage.DriverSQLite), api, true)
	reg := e.startHourly(t, gate.URL)
	ids := []string{"batch_slow", "batch_last"}
	for i := range 5 {
		ids = append(ids, fmt.Sprintf("batch_%d", i))
	}
	for _, id := range ids {
		api.script(id, batch(id, "completed", 10, 10, 0))
		e.track(t, tracker.KindBatch, id)
	}

	e.webhook(t, "batch_slow", tracker.StatusSucceeded, true)
	select {
	case <-started:
	case <-time.After(30 * time.Second):
		t.Fatal("the woken run never polled batch_slow")
	}
	for _, id := range ids[2:] {
		e.webhook(t, id, tracker.StatusSucceeded, true)
	}
	close(release)
	waitFor(t, "the alerts of the first six ends", func() bool { return len(e.alerts(t)) == 6 })
	// A last end after the others were polled: were each wake its own run,
	// those queued for the five ends during the slow poll would come first.
	e.webhook(t, "batch_last", tracker.StatusSucceeded, true)
	waitFor(t, "the last end's alert", func() bool { return len(e.alerts(t)) == 7 })
	if n := wokenRuns(t, reg); n != 3 {
		t.Errorf("%d woken runs, want 3: the slow one, one for the five wakes during it, one for the last end", n)
	}
	for _, id := range ids {
		if n := api.callCount(id); n != 1 {
			t.Errorf("%s polled %d times, want once", id, n)
		}
	}
}
