package sweep_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/jobwatch/jobwatch/storage"
	"github.com/jobwatch/jobwatch/storage/storagetest"
	"github.com/jobwatch/jobwatch/tracker"
	"github.com/jobwatch/jobwatch/tracker/sweep"
)

// A sweep whose claim storage refuses counts in jobwatch_sweep_failures_total
// (the rule JobwatchSweepsFailing reads it); a sweep that ends with nothing
// due, or one cut short by its context, does not.
func TestFailedSweepIsCounted(t *testing.T) {
	t.Parallel()
	store := storagetest.Open(t, storage.DriverSQLite)
	reg := prometheus.NewRegistry()
	sw := sweep.New(sweep.Options{
		Tracker:   tracker.New(store, tracker.Options{}),
		LostAfter: func(tracker.Kind) time.Duration { return 26 * time.Hour },
		BatchSize: 10,
		Lease:     time.Minute,
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
		Registry:  reg,
	})
	if _, err := sw.Sweep(context.Background()); err != nil {
		t.Fatalf("sweep of an empty store: %v", err)
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	sw.Sweep(cancelled)
	if got := counter(t, reg, "jobwatch_sweep_failures_total"); got != 0 {
		t.Fatalf("jobwatch_sweep_failures_total = %v after a sweep with nothing due and a cancelled one, want 0", got)
	}
	store.Close()
	if _, err := sw.Sweep(context.Background()); err == nil {
		t.Fatal("sweep over a closed store succeeded")
	}
	if got := counter(t, reg, "jobwatch_sweep_failures_total"); got != 1 {
		t.Errorf("jobwatch_sweep_failures_total = %v after a failed sweep, want 1", got)
	}
}
