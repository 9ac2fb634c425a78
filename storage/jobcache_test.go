package storage_test

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/storage"
	"github.com/jobwatch/jobwatch/storage/storagetest"
	"github.com/jobwatch/jobwatch/tracker"
)

// replicas opens two PostgreSQL stores on one database, as two replicas,
// the first with a job cache of cacheSize jobs (0: the default).
func replicas(t *testing.T, cacheSize int) (a, b *storage.Store) {
	t.Helper()
	cfg := storagetest.Config(t, storage.DriverPostgres)
	b = storagetest.OpenConfig(t, cfg)
	cfg.JobCacheSize = cacheSize
	return storagetest.OpenConfig(t, cfg), b
}

var cacheRules = func(string, tracker.Kind) tracker.Rules { return tracker.Rules{StaleAfter: 10 * time.Minute} }

// register creates a pending job as tracker.Track does.
func register(t *testing.T, s *storage.Store, id string) tracker.Job {
	t.Helper()
	now := time.Now().UTC()
	next := now.Add(10 * time.Minute)
	job, created, err := s.CreateJob(context.Background(), tracker.Job{Provider: "openai", ExternalID: id, Kind: tracker.KindBatch,
		Status: tracker.StatusPending, CreatedAt: now, UpdatedAt: now, LastHeardAt: now, NextPollAt: &next})
	if err != nil || !created {
		t.Fatalf("register %s: created %v, %v", id, created, err)
	}
	return job
}

// webhook applies one webhook observation of job id, adopting it when
// adopt, and returns its result.
func webhook(t *testing.T, s *storage.Store, id, eventID string, status tracker.Status, usage *tracker.Usage, adopt bool) tracker.Result {
	t.Helper()
	now := time.Now().UTC()
	res, err := s.Apply(context.Background(), tracker.ApplyParams{Now: now, Rules: cacheRules, Items: []tracker.ApplyItem{{Adopt: adopt,
		Observation: &tracker.Observation{Provider: "openai", ExternalID: id, Kind: tracker.KindBatch, Status: status, ProviderStatus: string(status),
			Source: tracker.SourceWebhook, EventID: eventID, Type: "batch." + string(status), OccurredAt: now, Payload: []byte(`{}`), Usage: usage},
		Delivery: &tracker.Delivery{Provider: "openai", ReceivedAt: now, Outcome: tracker.OutcomeAccepted, StatusCode: 200, EventID: eventID}}}})
	if err != nil {
		t.Fatalf("apply %s to %s: %v", eventID, id, err)
	}
	return res[0]
}

// storedVersion is the job's row version in the database.
func storedVersion(t *testing.T, s *storage.Store, id string) string {
	t.Helper()
	var v string
	if err := s.DB().NewRaw("SELECT xmin::text FROM jobs WHERE provider = 'openai' AND external_id = ?", id).Scan(context.Background(), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestJobCacheHoldsWhatWasRegisteredAndWritten checks that registration and
// Apply's write leave the job cached as stored, at the version stored, so
// that the next webhook about it need not read it.
func TestJobCacheHoldsWhatWasRegisteredAndWritten(t *testing.T) {
	t.Parallel()
	a, b := replicas(t, 0)
	check := func(when, id string) {
		t.Helper()
		cached, v, ok := a.CachedJob("openai", id)
		if want := storedVersion(t, a, id); !ok || v != want {
			t.Fatalf("%s: cached %v at %q, stored at %q", when, ok, v, want)
		}
		stored, err := b.GetJob(context.Background(), "openai", id)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(cached, stored) {
			t.Fatalf("%s: cached\n%+v\nstored\n%+v", when, cached, stored)
		}
	}
	register(t, a, "batch_1")
	check("after registration", "batch_1")
	webhook(t, a, "batch_1", "evt_1", tracker.StatusRunning, &tracker.Usage{RequestsTotal: 10, InputTokens: 7}, false)
	check("after a webhook", "batch_1")
	webhook(t, a, "batch_2", "evt_2", tracker.StatusRunning, nil, true)
	check("after adoption", "batch_2")
}

// TestJobCacheLosesNoUpdateOfAnotherReplica: replica b changes a job a
// holds cached; a's next webhook about it applies on b's state.
func TestJobCacheLosesNoUpdateOfAnotherReplica(t *testing.T) {
	t.Parallel()
	a, b := replicas(t, 0)
	ctx := context.Background()
	register(t, a, "batch_1")
	res := webhook(t, b, "batch_1", "evt_1", tracker.StatusRunning, &tracker.Usage{RequestsTotal: 10, RequestsCompleted: 4}, false)
	if res.Previous != tracker.StatusPending {
		t.Fatalf("b's webhook: previous %q, want pending", res.Previous)
	}
	res = webhook(t, a, "batch_1", "evt_2", tracker.StatusSucceeded, nil, false)
	if res.Previous != tracker.StatusRunning {
		t.Fatalf("a's webhook applied on %q, want b's running", res.Previous)
	}
	job, err := b.GetJob(ctx, "openai", "batch_1")
	if err != nil {
		t.Fatal(err)
	}
	if job.Status != tracker.StatusSucceeded || job.Usage.RequestsTotal != 10 {
		t.Fatalf("stored job: status %q, usage %+v; want succeeded with b's usage", job.Status, job.Usage)
	}
	history, err := b.History(ctx, job.ID, 10)
	if err != nil || len(history) != 2 {
		t.Fatalf("history: %d events, %v; want 2", len(history), err)
	}
	if _, v, ok := a.CachedJob("openai", "batch_1"); !ok || v != storedVersion(t, a, "batch_1") {
		t.Fatalf("after the retry: cached %v at %q, stored at %q", ok, v, storedVersion(t, a, "batch_1"))
	}
}

// TestJobCacheOfAJobDeletedByAnotherReplica: a job a holds cached is
// purged, or pruned, by b; a's next webhook about it finds no job (and
// adopts a new one when it may), never writing to the one deleted.
func TestJobCacheOfAJobDeletedByAnotherReplica(t *testing.T) {
	t.Parallel()
	a, b := replicas(t, 0)
	ctx := context.Background()
	old := register(t, a, "batch_1")
	if err := b.DeleteJob(ctx, "openai", "batch_1"); err != nil {
		t.Fatal(err)
	}
	if res := webhook(t, a, "batch_1", "evt_1", tracker.StatusSucceeded, nil, false); res.Job != nil || res.Effect != tracker.EffectRecorded {
		t.Fatalf("webhook about a deleted job: job %v, effect %q; want none, recorded", res.Job, res.Effect)
	}
	res := webhook(t, a, "batch_1", "evt_2", tracker.StatusRunning, nil, true)
	if !res.Created || res.Job == nil || res.Job.ID == old.ID {
		t.Fatalf("adopting webhook about a deleted job: created %v, job %+v; want a new job", res.Created, res.Job)
	}

	// Pruned: the job ends, a caches it, b prunes it.
	webhook(t, a, "batch_1", "evt_3", tracker.StatusSucceeded, nil, false)
	if _, _, ok := a.CachedJob("openai", "batch_1"); !ok {
		t.Fatal("ended job not cached")
	}
	if n, err := b.PruneJobs(ctx, time.Now().Add(time.Hour), 100); err != nil || n != 1 {
		t.Fatalf("prune: %d jobs, %v; want 1", n, err)
	}
	if res := webhook(t, a, "batch_1", "evt_4", tracker.StatusSucceeded, nil, false); res.Job != nil {
		t.Fatalf("webhook about a pruned job: job %+v, want none", res.Job)
	}
	var events int
	if err := a.DB().NewRaw("SELECT count(*) FROM events WHERE job_id IS NOT NULL").Scan(ctx, &events); err != nil || events != 0 {
		t.Fatalf("%d events name a job, %v; want 0 (all pruned or of no job)", events, err)
	}
}

// TestJobCacheTakesWhatThisStoreClaimsAndForgetsWhatItDeletes: a claim
// caches the jobs it leases at the version it wrote; a reschedule, a purge
// and a prune of the Store's own drop the jobs they write.
func TestJobCacheTakesWhatThisStoreClaimsAndForgetsWhatItDeletes(t *testing.T) {
	t.Parallel()
	a, _ := replicas(t, 0)
	ctx := context.Background()
	for i := range 4 {
		register(t, a, fmt.Sprintf("batch_%d", i))
	}
	now := time.Now().UTC()
	claimed, err := a.ClaimDue(ctx, tracker.ClaimParams{Now: now.Add(time.Hour), Lease: time.Minute, Limit: 1})
	if err != nil || len(claimed) != 1 {
		t.Fatalf("claim: %d jobs, %v", len(claimed), err)
	}
	if _, v, ok := a.CachedJob("openai", claimed[0].ExternalID); !ok || v != storedVersion(t, a, claimed[0].ExternalID) {
		t.Fatalf("claimed job: cached %v at %q, stored at %q", ok, v, storedVersion(t, a, claimed[0].ExternalID))
	}
	job, err := a.GetJob(ctx, "openai", "batch_1")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Reschedule(ctx, job.ID, now.Add(time.Hour), 1); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := a.CachedJob("openai", "batch_1"); ok {
		t.Fatal("rescheduled job still cached")
	}
	if err := a.DeleteJob(ctx, "openai", "batch_2"); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := a.CachedJob("openai", "batch_2"); ok {
		t.Fatal("deleted job still cached")
	}
	webhook(t, a, "batch_3", "evt_3", tracker.StatusSucceeded, nil, false)
	if n, err := a.PruneJobs(ctx, now.Add(time.Hour), 100); err != nil || n != 1 {
		t.Fatalf("prune: %d jobs, %v; want 1", n, err)
	}
	if _, _, ok := a.CachedJob("openai", "batch_3"); ok {
		t.Fatal("pruned job still cached")
	}
}

// TestJobCacheOfAClaimedJobChangedByAnotherReplica: a claims a job (and
// caches it), b's webhook ends it meanwhile, then a's poll of it applies
// on b's end, not on the claimed row: the claim's cached version fails the
// write's guard and the poll is applied again on the job as read.
func TestJobCacheOfAClaimedJobChangedByAnotherReplica(t *testing.T) {
	t.Parallel()
	a, b := replicas(t, 0)
	ctx := context.Background()
	register(t, a, "batch_1")
	now := time.Now().UTC()
	claimed, err := a.ClaimDue(ctx, tracker.ClaimParams{Now: now.Add(time.Hour), Lease: time.Minute, Limit: 10})
	if err != nil || len(claimed) != 1 {
		t.Fatalf("claim: %d jobs, %v", len(claimed), err)
	}
	if _, _, ok := a.CachedJob("openai", "batch_1"); !ok {
		t.Fatal("claimed job not cached")
	}
	webhook(t, b, "batch_1", "evt_1", tracker.StatusSucceeded, &tracker.Usage{RequestsTotal: 10, RequestsCompleted: 10}, false)
	res, err := a.Apply(ctx, tracker.ApplyParams{Now: time.Now().UTC(), Rules: cacheRules, Items: []tracker.ApplyItem{{Observation: &tracker.Observation{
		Provider: "openai", ExternalID: "batch_1", Kind: tracker.KindBatch, Status: tracker.StatusRunning, ProviderStatus: "in_progress",
		Source: tracker.SourcePoll, Type: "poll", OccurredAt: now, Payload: []byte(`{}`)}}}})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Previous != tracker.StatusSucceeded || res[0].Job == nil || res[0].Job.Status != tracker.StatusSucceeded {
		t.Fatalf("poll applied on %q, job %+v; want on b's succeeded, which it leaves ended", res[0].Previous, res[0].Job)
	}
	job, err := b.GetJob(ctx, "openai", "batch_1")
	if err != nil {
		t.Fatal(err)
	}
	if job.Status != tracker.StatusSucceeded || job.Usage.RequestsCompleted != 10 {
		t.Fatalf("stored job: status %q, usage %+v; want b's end", job.Status, job.Usage)
	}
}

// TestJobCacheBound: the cache holds at most its size, the jobs used last;
// a job evicted is read again.
func TestJobCacheBound(t *testing.T) {
	t.Parallel()
	a, _ := replicas(t, 3)
	for i := range 5 {
		register(t, a, fmt.Sprintf("batch_%d", i))
	}
	if n := a.CachedJobs(); n != 3 {
		t.Fatalf("cache holds %d jobs, want 3", n)
	}
	for i, want := range []bool{false, false, true, true, true} {
		if _, _, ok := a.CachedJob("openai", fmt.Sprintf("batch_%d", i)); ok != want {
			t.Errorf("batch_%d cached %v, want %v", i, ok, want)
		}
	}
	if res := webhook(t, a, "batch_0", "evt_0", tracker.StatusRunning, nil, false); res.Previous != tracker.StatusPending {
		t.Fatalf("evicted job: previous %q, want pending", res.Previous)
	}
	if n := a.CachedJobs(); n != 3 {
		t.Fatalf("cache holds %d jobs, want 3", n)
	}
}

// TestNoJobCache: a negative size keeps none, and SQLite none.
func TestNoJobCache(t *testing.T) {
	t.Parallel()
	a, _ := replicas(t, -1)
	register(t, a, "batch_1")
	webhook(t, a, "batch_1", "evt_1", tracker.StatusRunning, nil, false)
	if n := a.CachedJobs(); n != 0 {
		t.Fatalf("cache of size -1 holds %d jobs", n)
	}
	s := storagetest.Open(t, storage.DriverSQLite)
	register(t, s, "batch_1")
	webhook(t, s, "batch_1", "evt_1", tracker.StatusRunning, nil, false)
	if n := s.CachedJobs(); n != 0 {
		t.Fatalf("SQLite cache holds %d jobs", n)
	}
}

// TestRedeliveryInABatchOfCachedJobs: a batch of webhooks about cached
// jobs, one a redelivery, fails its first write on the event's unique
// index; it is written again with the seen ids looked up: the redelivery
// a duplicate changing nothing, the other webhook applied, each stored
// once, the jobs still cached at their stored versions.
func TestRedeliveryInABatchOfCachedJobs(t *testing.T) {
	t.Parallel()
	a, _ := replicas(t, 0)
	ctx := context.Background()
	register(t, a, "batch_1")
	register(t, a, "batch_2")
	webhook(t, a, "batch_1", "evt_1", tracker.StatusRunning, nil, false)
	now := time.Now().UTC()
	item := func(id, eventID string, status tracker.Status) tracker.ApplyItem {
		return tracker.ApplyItem{Observation: &tracker.Observation{Provider: "openai", ExternalID: id, Kind: tracker.KindBatch, Status: status,
			ProviderStatus: string(status), Source: tracker.SourceWebhook, EventID: eventID, Type: "batch." + string(status), OccurredAt: now, Payload: []byte(`{}`)}}
	}
	res, err := a.Apply(ctx, tracker.ApplyParams{Now: now, Rules: cacheRules, Items: []tracker.ApplyItem{
		item("batch_1", "evt_1", tracker.StatusRunning), item("batch_2", "evt_2", tracker.StatusSucceeded)}})
	if err != nil {
		t.Fatal(err)
	}
	if !res[0].Duplicate || res[1].Duplicate || res[1].Job == nil || res[1].Job.Status != tracker.StatusSucceeded {
		t.Fatalf("results %+v; want a duplicate, then batch_2 succeeded", res)
	}
	var events int
	if err := a.DB().NewRaw("SELECT count(*) FROM events").Scan(ctx, &events); err != nil || events != 2 {
		t.Fatalf("%d events stored, %v; want 2", events, err)
	}
	for _, id := range []string{"batch_1", "batch_2"} {
		if _, v, ok := a.CachedJob("openai", id); !ok || v != storedVersion(t, a, id) {
			t.Fatalf("%s: cached %v at %q, stored at %q", id, ok, v, storedVersion(t, a, id))
		}
	}
}
