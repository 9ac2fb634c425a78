package sweep_test

import (
	"context"
	"testing"

	"github.com/jobwatch/jobwatch/storage"
	"github.com/jobwatch/jobwatch/storage/storagetest"
)

// Start needs a schedule; Sweep and PollJob do not. Stop of a sweeper that
// never started does nothing.
func TestStartWithoutSchedule(t *testing.T) {
	t.Parallel()
	e := setup(t, storagetest.Open(t, storage.DriverSQLite), newFakeOpenAI(t), false)
	if err := e.sweeper.Start(context.Background()); err == nil {
		e.sweeper.Stop()
		t.Fatal("Start without a schedule: no error")
	}
	e.sweeper.Stop()
}
