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
