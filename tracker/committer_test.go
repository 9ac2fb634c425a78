package tracker_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/storage"
	"github.com/jobwatch/jobwatch/storage/storagetest"
	"github.com/jobwatch/jobwatch/tracker"
)

// hungStore is a real store whose writes hang, whatever their context
// says, until released: a database that stopped answering.
type hungStore struct {
	*storage.Store
	release chan struct{}
}

func (s hungStore) Apply(ctx context.Context, p tracker.ApplyParams) ([]tracker.Result, error) {
	<-s.release
	return s.Store.Apply(ctx, p)
}

// Every caller of a shared commit, the one leading it too, stops waiting
// when its own context ends, however long the store hangs; the commit
// itself goes on and lands once the store answers.
func TestObserveReturnsAtItsDeadlineWhileTheStoreHangs(t *testing.T) {
	t.Parallel()
	store := hungStore{storagetest.Open(t, storage.DriverSQLite), make(chan struct{})}
	jobs := tracker.New(store, tracker.Options{})
	observe := func(id string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		_, err := jobs.Observe(ctx, tracker.ApplyItem{Adopt: true, Observation: &tracker.Observation{Provider: "openai", ExternalID: id,
			Kind: tracker.KindBatch, Status: tracker.StatusRunning, Source: tracker.SourceWebhook, EventID: "evt_" + id, OccurredAt: time.Now()}})
		return err
	}
	errs := make(chan error, 2)
	for _, id := range []string{"batch_1", "batch_2"} {
		go func() { errs <- observe(id) }()
	}
	for range 2 {
		select {
		case err := <-errs:
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Observe with the store hung: %v, want its deadline exceeded", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Observe still waiting on a hung store long after its deadline")
		}
	}
	close(store.release)
	if err := observe("batch_3"); err != nil {
		t.Fatalf("after the store answers again: %v", err)
	}
}

// A committed batch calls AlertsRaised when its observations raised
// alerts and PollDue when it left a job due for a poll at once (a thin
// end awaiting its enrichment poll), and neither otherwise.
func TestCommitSignalsAlertsAndPollsDue(t *testing.T) {
	t.Parallel()
	store := storagetest.Open(t, storage.DriverSQLite)
	var raised, due int
	jobs := tracker.New(store, tracker.Options{
		Rules: func(string, tracker.Kind) tracker.Rules {
			return tracker.Rules{StaleAfter: time.Hour, EnrichWait: time.Minute}
		},
		Alerting:     &tracker.Alerting{Routes: []tracker.Route{{Events: []string{"job.*"}, Notifiers: []string{"ops"}}}},
		AlertsRaised: func() { raised++ },
		PollDue:      func() { due++ },
	})
	ctx := context.Background()
	observe := func(event string, status tracker.Status, pollNow bool) {
		t.Helper()
		_, err := jobs.Observe(ctx, tracker.ApplyItem{Adopt: true, Observation: &tracker.Observation{Provider: "openai", ExternalID: "batch_1",
			Kind: tracker.KindBatch, Status: status, Source: tracker.SourceWebhook, EventID: event, OccurredAt: time.Now(), PollNow: pollNow}})
		if err != nil {
			t.Fatalf("observe %s: %v", event, err)
		}
	}
	observe("evt_1", tracker.StatusRunning, false)
	if raised != 0 || due != 0 {
		t.Fatalf("after a running job: AlertsRaised %d, PollDue %d calls, want none", raised, due)
	}
	observe("evt_2", tracker.StatusSucceeded, true)
	if raised != 0 || due != 1 {
		t.Fatalf("after a thin end: AlertsRaised %d, PollDue %d calls, want 0 and 1 (its alert waits for the poll)", raised, due)
	}
	_, err := jobs.Observe(ctx, tracker.ApplyItem{Observation: &tracker.Observation{Provider: "openai", ExternalID: "batch_1",
		Kind: tracker.KindBatch, Status: tracker.StatusSucceeded, Source: tracker.SourcePoll, OccurredAt: time.Now()}})
	if err != nil {
		t.Fatalf("observe the enrichment poll: %v", err)
	}
	if raised != 1 || due != 1 {
		t.Fatalf("after the enrichment poll: AlertsRaised %d, PollDue %d calls, want 1 and 1", raised, due)
	}
}
