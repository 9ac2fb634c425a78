package storage_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/jobwatch/jobwatch/storage"
	"github.com/jobwatch/jobwatch/storage/storagetest"
	"github.com/jobwatch/jobwatch/tracker"
)

// TestAdoptingWebhooksTakeUncachedJobsAsAbsent, on both backends: a store
// whose adopting webhooks have named new jobs takes the next uncached one
// as absent; when it exists (registered by another store), the write fails
// on the unique index and the webhook applies to the job as it is, never a
// second one; once such webhooks keep naming existing jobs, the store reads them
// again, and takes them as absent again once they are new.
func TestAdoptingWebhooksTakeUncachedJobsAsAbsent(t *testing.T) {
	t.Parallel()
	for _, driver := range storagetest.Backends {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			// Two stores on one database: two replicas, or the daemon
			// and a CLI command on one SQLite file.
			cfg := storagetest.Config(t, driver)
			testTakeAsAbsent(t, storagetest.OpenConfig(t, cfg), storagetest.OpenConfig(t, cfg))
		})
	}
}

func testTakeAsAbsent(t *testing.T, a, b *storage.Store) {
	ctx := context.Background()
	for i := range 4 {
		if res := webhook(t, a, fmt.Sprintf("new_%d", i), fmt.Sprintf("evt_new_%d", i), tracker.StatusRunning, nil, true); !res.Created {
			t.Fatalf("webhook about new_%d: not created", i)
		}
	}
	if !a.GuessesAbsent() {
		t.Fatal("after webhooks about new jobs only: not guessing absent")
	}

	// Registered elsewhere: each webhook finds the job, as it is.
	registered := 0
	for i := 0; a.GuessesAbsent(); i++ {
		if i == 10 {
			t.Fatal("still guessing absent after 10 webhooks about existing jobs")
		}
		id := fmt.Sprintf("reg_%d", i)
		job := register(t, b, id)
		registered++
		res := webhook(t, a, id, "evt_"+id, tracker.StatusRunning, nil, true)
		if res.Created || res.Job == nil || res.Job.ID != job.ID || res.Previous != tracker.StatusPending || res.Job.Status != tracker.StatusRunning {
			t.Fatalf("webhook about %s registered by b: created %v, previous %q, job %+v; want b's job, now running", id, res.Created, res.Previous, res.Job)
		}
	}
	var jobs int
	if err := a.DB().NewRaw("SELECT count(*) FROM jobs").Scan(ctx, &jobs); err != nil || jobs != 4+registered {
		t.Fatalf("%d jobs stored, %v; want %d", jobs, err, 4+registered)
	}
	var events int
	if err := a.DB().NewRaw("SELECT count(*) FROM events WHERE job_id IS NULL").Scan(ctx, &events); err != nil || events != 0 {
		t.Fatalf("%d events of no job, %v; want 0", events, err)
	}

	// New jobs again: read, found absent, until the guess is back.
	for i := 0; !a.GuessesAbsent(); i++ {
		if i == 100 {
			t.Fatal("not guessing absent after 100 webhooks about new jobs")
		}
		webhook(t, a, fmt.Sprintf("later_%d", i), fmt.Sprintf("evt_later_%d", i), tracker.StatusRunning, nil, true)
	}
	var dup int
	if err := a.DB().NewRaw("SELECT count(*) FROM (SELECT external_id FROM jobs GROUP BY provider, external_id HAVING count(*) > 1) d").Scan(ctx, &dup); err != nil || dup != 0 {
		t.Fatalf("%d jobs stored twice, %v", dup, err)
	}
}
