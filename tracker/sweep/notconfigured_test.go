package sweep_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/jobwatch/jobwatch/providers/openai"
	"github.com/jobwatch/jobwatch/providers/pollhttp"
	"github.com/jobwatch/jobwatch/storage"
	"github.com/jobwatch/jobwatch/storage/storagetest"
	"github.com/jobwatch/jobwatch/tracker"
	"github.com/jobwatch/jobwatch/tracker/sweep"
)

// Due jobs of providers removed from the config are counted as not_polled
// and reported in one warning per sweep, with the count per provider, not
// one line per job; the configured provider's jobs are polled as usual.
func TestJobsOfProvidersNotConfiguredAreCountedAndWarnedOncePerSweep(t *testing.T) {
	t.Parallel()
	api := newFakeOpenAI(t)
	api.script("batch_ok", batch("batch_ok", "in_progress", 10, 1, 0))
	e := setup(t, storagetest.Open(t, storage.DriverSQLite), api, false)
	var logs bytes.Buffer
	client := pollhttp.New(pollhttp.Config{Provider: "openai", Concurrency: 2, Timeout: 20 * time.Second, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	reg := prometheus.NewRegistry()
	e.sweeper = sweep.New(sweep.Options{
		Tracker:   e.tracker,
		Providers: map[string]sweep.Provider{"openai": {Poller: openai.NewPoller(api.URL, "sk-test", client), Concurrency: 2}},
		LostAfter: func(tracker.Kind) time.Duration { return 26 * time.Hour },
		BatchSize: 2, // several claims, still one warning
		Logger:    slog.New(slog.NewTextHandler(&logs, nil)),
		Registry:  reg,
	})
	e.track(t, tracker.KindBatch, "batch_ok")
	for p, n := range map[string]int{"opneai": 3, "legacy": 2} {
		for i := range n {
			req := tracker.TrackRequest{Provider: p, Kind: tracker.KindBatch, ExternalID: fmt.Sprintf("batch_%d", i)}
			if _, _, err := e.tracker.Track(context.Background(), req); err != nil {
				t.Fatal(err)
			}
		}
	}
	e.clock.Advance(rules.StaleAfter)
	res := e.sweep(t)
	if want := map[string]int{"opneai": 3, "legacy": 2}; !maps.Equal(res.NotConfigured, want) {
		t.Errorf("NotConfigured = %v, want %v", res.NotConfigured, want)
	}
	if api.callCount("batch_ok") != 1 {
		t.Errorf("the configured provider's job was polled %d times, want 1", api.callCount("batch_ok"))
	}
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], "level=WARN") || !strings.Contains(lines[0], "jobs_by_provider.legacy=2 jobs_by_provider.opneai=3") {
		t.Errorf("log = %q, want one warning with the count per provider", logs.String())
	}
	for p, want := range map[string]float64{"opneai": 3, "legacy": 2} {
		if n := counterValue(t, reg, p); n != want {
			t.Errorf(`jobwatch_polls_total{provider=%q,outcome="not_polled"} = %g, want %g`, p, n, want)
		}
	}
	// They are rescheduled to their lost deadline: the next sweep has
	// nothing to say about them.
	logs.Reset()
	if res := e.sweep(t); res.NotConfigured != nil || logs.Len() != 0 {
		t.Errorf("second sweep: NotConfigured %v, log %q; want neither", res.NotConfigured, logs.String())
	}
}

// counterValue is jobwatch_polls_total{provider, kind="batch", outcome="not_polled"}.
func counterValue(t *testing.T, reg *prometheus.Registry, provider string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "jobwatch_polls_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["provider"] == provider && labels["kind"] == "batch" && labels["outcome"] == "not_polled" {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}
