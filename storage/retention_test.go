package storage_test

import (
	"context"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/storage"
	"github.com/jobwatch/jobwatch/storage/storagetest"
	"github.com/jobwatch/jobwatch/tracker"
)

// Alerts raised before alerts.job_external_id existed take their job's id
// from their payload when migration 20261203000014 runs, so that purging
// their job deletes them too.
func TestAlertsBeforeTheJobColumnAreBackfilled(t *testing.T) {
	t.Parallel()
	storagetest.Each(t, func(t *testing.T, s *storage.Store) {
		t.Parallel()
		ctx := context.Background()
		tr := tracker.New(s, tracker.Options{Alerting: &tracker.Alerting{Routes: []tracker.Route{{Events: []string{"*"}, Notifiers: []string{"ops"}}}}})
		if _, err := tr.Observe(ctx, tracker.ApplyItem{Adopt: true, Observation: &tracker.Observation{Provider: "openai", ExternalID: "batch_old",
			Kind: tracker.KindBatch, Status: tracker.StatusFailed, Source: tracker.SourceWebhook, EventID: "evt_1", OccurredAt: time.Now()}}); err != nil {
			t.Fatal(err)
		}
		// As written before the column: no job id; then the migration
		// runs again, as it would for the first time.
		if _, err := s.DB().ExecContext(ctx, "UPDATE alerts SET job_external_id = ''"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.DB().ExecContext(ctx, "DELETE FROM jobwatch_migrations WHERE name = '20261203000014'"); err != nil {
			t.Fatal(err)
		}
		if names, err := s.Migrate(ctx); err != nil || len(names) != 1 {
			t.Fatalf("Migrate = %v, %v; want 20261203000014 run again", names, err)
		}
		if err := tr.Untrack(ctx, "openai", "batch_old", true); err != nil {
			t.Fatal(err)
		}
		if alerts, err := s.ListAlerts(ctx, "", 10); err != nil || len(alerts) != 0 {
			t.Errorf("after purging the job, %d alerts, %v; want its alert gone", len(alerts), err)
		}
	})
}

// A PostgreSQL claim's leases (job_leases) are deleted with their jobs,
// by a purge and by a prune, so that the table holds no lease of a job
// that is gone.
func TestLeasesGoWithTheirJobs(t *testing.T) {
	t.Parallel()
	s := storagetest.Open(t, storage.DriverPostgres)
	ctx := context.Background()
	now := time.Now().UTC()
	tr := tracker.New(s, tracker.Options{StaleAfter: time.Minute, Now: func() time.Time { return now.Add(-time.Hour) }})
	for _, id := range []string{"batch_purged", "batch_pruned", "batch_kept"} {
		if _, _, err := tr.Track(ctx, tracker.TrackRequest{Provider: "openai", Kind: tracker.KindBatch, ExternalID: id}); err != nil {
			t.Fatal(err)
		}
	}
	if claimed, err := s.ClaimDue(ctx, tracker.ClaimParams{Now: now, Lease: time.Minute, Limit: 10}); err != nil || len(claimed) != 3 {
		t.Fatalf("ClaimDue = %d jobs, %v; want 3", len(claimed), err)
	}
	if err := tr.Untrack(ctx, "openai", "batch_purged", true); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Observe(ctx, tracker.ApplyItem{Observation: &tracker.Observation{Provider: "openai", ExternalID: "batch_pruned",
		Kind: tracker.KindBatch, Status: tracker.StatusSucceeded, Source: tracker.SourcePoll, OccurredAt: now.Add(-time.Hour)}}); err != nil {
		t.Fatal(err)
	}
	if n, err := s.PruneJobs(ctx, now, 100); err != nil || n != 1 {
		t.Fatalf("PruneJobs = %d, %v; want 1", n, err)
	}
	var leased []string
	if err := s.DB().NewRaw("SELECT j.external_id FROM job_leases AS l LEFT JOIN jobs AS j ON j.id = l.job_id ORDER BY 1").Scan(ctx, &leased); err != nil {
		t.Fatal(err)
	}
	if len(leased) != 1 || leased[0] != "batch_kept" {
		t.Errorf("leases of %q, want only batch_kept's", leased)
	}
}
