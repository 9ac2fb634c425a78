package daemon_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/storage"
	"github.com/jobwatch/jobwatch/storage/storagetest"
	"github.com/jobwatch/jobwatch/tracker"
)

// endedJobs fills the database sc with n jobs that end now, done_0 to
// done_n-1, and one that runs, live.
func endedJobs(t *testing.T, sc storage.Config, n int) {
	t.Helper()
	ctx := context.Background()
	s, err := storage.Open(ctx, sc)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	tr := tracker.New(s, tracker.Options{})
	items := []tracker.ApplyItem{{Adopt: true, Observation: &tracker.Observation{Provider: "tasks", ExternalID: "live", Kind: tracker.KindBatch,
		Status: tracker.StatusRunning, Source: tracker.SourceWebhook, OccurredAt: time.Now()}}}
	for i := range n {
		items = append(items, tracker.ApplyItem{Adopt: true, Observation: &tracker.Observation{Provider: "tasks", ExternalID: fmt.Sprintf("done_%d", i),
			Kind: tracker.KindBatch, Status: tracker.StatusSucceeded, Source: tracker.SourceWebhook, EventID: fmt.Sprintf("evt_%d", i), OccurredAt: time.Now()}})
	}
	if _, err := tr.Observe(ctx, items...); err != nil {
		t.Fatal(err)
	}
}

// prunedTotal reads jobwatch_pruned_jobs_total from the daemon's metrics.
func prunedTotal(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`(?m)^jobwatch_pruned_jobs_total (\d+)$`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("metrics lack jobwatch_pruned_jobs_total:\n%s", b)
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

// The daemon prunes the jobs that ended longer than retention.jobs ago,
// more than a chunk of them, with their history, counting them in
// jobwatch_pruned_jobs_total; a live job stays. retention.jobs = "0" keeps
// every job.
func TestJobRetentionPrunesEndedJobs(t *testing.T) {
	t.Parallel()
	const ended = 600 // more than one chunk
	forEachBackend(t, func(t *testing.T, driver string) {
		sc := storagetest.Config(t, driver)
		endedJobs(t, sc, ended)
		time.Sleep(10 * time.Millisecond)
		d := startDaemonOn(t, sc, "", "[retention]\njobs = \"5ms\"\n")
		deadline := time.Now().Add(10 * time.Second)
		for prunedTotal(t, d.url) < ended && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if n := prunedTotal(t, d.url); n != ended {
			t.Errorf("jobwatch_pruned_jobs_total = %d, want %d", n, ended)
		}
		d.stopWithin(t)
		s := d.openStore(t)
		ctx := context.Background()
		if _, err := s.GetJob(ctx, "tasks", "done_0"); !errors.Is(err, tracker.ErrNotFound) {
			t.Errorf("an ended job after pruning: %v, want ErrNotFound", err)
		}
		job, err := s.GetJob(ctx, "tasks", "live")
		if err != nil {
			t.Fatalf("the live job after pruning: %v", err)
		}
		if h, err := s.History(ctx, job.ID, 10); err != nil || len(h) != 1 {
			t.Errorf("the live job's history = %d events, %v; want its one", len(h), err)
		}

		// "0" keeps everything.
		sc = storagetest.Config(t, driver)
		endedJobs(t, sc, 3)
		d = startDaemonOn(t, sc, "", "[retention]\njobs = \"0\"\n")
		time.Sleep(200 * time.Millisecond)
		if n := prunedTotal(t, d.url); n != 0 {
			t.Errorf("with retention.jobs = 0, jobwatch_pruned_jobs_total = %d, want 0", n)
		}
		d.stopWithin(t)
		if _, err := d.openStore(t).GetJob(ctx, "tasks", "done_0"); err != nil {
			t.Errorf("with retention.jobs = 0, an ended job: %v, want it kept", err)
		}
	})
}
