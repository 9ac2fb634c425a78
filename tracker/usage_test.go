package tracker_test

import (
	"context"
	"encoding/json"
	"maps"
	"reflect"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/storage"
	"github.com/jobwatch/jobwatch/storage/storagetest"
	"github.com/jobwatch/jobwatch/tracker"
)

// Prism's negative total_tokens (and a fraction its parser dropped) are
// never stored or summed: the observation applies without them, a
// usage.dropped event after it in the job's history says which and why,
// it raises no alert, and a redelivery dedupes both rows.
func TestObserveDropsUsageThatIsNoCountWithANote(t *testing.T) {
	t.Parallel()
	storagetest.Each(t, func(t *testing.T, s *storage.Store) {
		t.Parallel()
		ctx := context.Background()
		now := time.Now().UTC().Truncate(time.Millisecond)
		jobs := tracker.New(s, tracker.Options{Now: func() time.Time { return now },
			Alerting: &tracker.Alerting{Routes: []tracker.Route{{Events: []string{"*"}, Notifiers: []string{"log"}}}}})
		caller := tracker.Usage{InputTokens: 1500, TotalTokens: -96087485}
		obs := tracker.Observation{Provider: "prism", ExternalID: "batch_1", Kind: tracker.KindBatch, Status: tracker.StatusSucceeded,
			ProviderStatus: "completed", Source: tracker.SourceWebhook, EventID: "evt_1", Type: "batch.completed", OccurredAt: now,
			Usage:        &caller,
			DroppedUsage: []tracker.DroppedFigure{{Field: "requests_failed", Path: "request_counts.failed", Value: "1.5", Reason: tracker.DropNotInteger}},
			Payload:      json.RawMessage(`{"id":"evt_1"}`)}
		clean := tracker.Observation{Provider: "prism", ExternalID: "batch_2", Kind: tracker.KindBatch, Status: tracker.StatusSucceeded,
			Source: tracker.SourceWebhook, EventID: "evt_2", Type: "batch.completed", OccurredAt: now, Usage: &tracker.Usage{TotalTokens: 100}}
		res, err := jobs.Observe(ctx, tracker.ApplyItem{Observation: &obs, Adopt: true}, tracker.ApplyItem{Observation: &clean, Adopt: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(res) != 2 || !res[0].Created || res[0].Job.Usage != (tracker.Usage{InputTokens: 1500}) || res[1].Job.ExternalID != "batch_2" {
			t.Fatalf("results = %+v, want one per item, the first job with input_tokens 1500 only", res)
		}
		if caller.TotalTokens != -96087485 {
			t.Errorf("Observe changed the caller's Usage: %+v", caller)
		}
		job, err := jobs.Job(ctx, "prism", "batch_1")
		if err != nil {
			t.Fatal(err)
		}
		if job.Usage != (tracker.Usage{InputTokens: 1500}) || job.Status != tracker.StatusSucceeded {
			t.Errorf("job = %s with usage %+v, want succeeded with input_tokens 1500 only", job.Status, job.Usage)
		}
		if len(job.History) != 2 || job.History[0].Type != "batch.completed" || job.History[0].Effect != tracker.EffectApplied ||
			job.History[1].Type != tracker.TypeUsageDropped || job.History[1].Effect != tracker.EffectRecorded {
			t.Fatalf("history = %+v, want the event applied, then its usage.dropped note", job.History)
		}
		var note struct{ Dropped []tracker.DroppedFigure }
		if err := json.Unmarshal(job.History[1].Payload, &note); err != nil {
			t.Fatal(err)
		}
		want := []tracker.DroppedFigure{
			{Field: "requests_failed", Path: "request_counts.failed", Value: "1.5", Reason: tracker.DropNotInteger},
			{Field: "total_tokens", Value: "-96087485", Reason: tracker.DropNegative},
		}
		if !reflect.DeepEqual(note.Dropped, want) {
			t.Errorf("note = %s, want %+v", job.History[1].Payload, want)
		}
		totals, err := s.UsageTotals(ctx, "day", tracker.WindowStart("day", now))
		if err != nil {
			t.Fatal(err)
		}
		wantTotals := map[string]int64{"input_tokens": 1500, "total_tokens": 100, "tokens": 100, "jobs": 2, "succeeded_jobs": 2}
		if len(totals) == 1 {
			maps.DeleteFunc(totals[0].Metrics, func(_ string, v int64) bool { return v == 0 })
		}
		if len(totals) != 1 || !maps.Equal(totals[0].Metrics, wantTotals) {
			t.Errorf("usage totals = %+v, want %v", totals, wantTotals)
		}
		alerts, err := s.ListAlerts(ctx, "", 10)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range alerts {
			if a.Alert.Type != tracker.AlertJobSucceeded {
				t.Errorf("alert %s raised, want job.succeeded only", a.Alert.Type)
			}
		}
		// The provider redelivers: both rows dedupe.
		res, err = jobs.Observe(ctx, tracker.ApplyItem{Observation: &obs, Adopt: true})
		if err != nil || len(res) != 1 || !res[0].Duplicate {
			t.Fatalf("redelivery = %+v, %v; want one duplicate", res, err)
		}
		if job, err := jobs.Job(ctx, "prism", "batch_1"); err != nil || len(job.History) != 2 {
			t.Errorf("history after a redelivery = %+v, %v; want the same two rows", job.History, err)
		}
	})
}
