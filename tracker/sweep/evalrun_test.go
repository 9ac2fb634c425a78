package sweep_test

import (
	"context"
	"testing"

	"github.com/jobwatch/jobwatch/storage"
	"github.com/jobwatch/jobwatch/storage/storagetest"
	"github.com/jobwatch/jobwatch/tracker"
)

// An eval run registered without its eval id cannot be polled: the poll
// fails as an invalid answer (the poller's tests check its message), sends
// no request, and the job backs off like any failed poll (its interval
// doubling), never due again at once.
func TestEvalRunWithoutEvalIDBacksOff(t *testing.T) {
	t.Parallel()
	api := newFakeOpenAI(t)
	e := setup(t, storagetest.Open(t, storage.DriverSQLite), api, false)
	e.track(t, tracker.KindEvalRun, "evalrun_1")
	for quiet := 1; quiet <= 3; quiet++ {
		e.clock.Advance(e.job(t, "evalrun_1").NextPollAt.Sub(e.clock.Now()))
		res, err := e.sweeper.Sweep(context.Background())
		if err != nil || res.Claimed != 1 || res.Failed != 1 {
			t.Fatalf("sweep %d: %+v, %v; want one failed poll", quiet, res, err)
		}
		j := e.job(t, "evalrun_1")
		if want := rules.PollInterval(quiet); j.NextPollAt == nil || j.NextPollAt.Sub(e.clock.Now()) != want || j.QuietPolls != quiet || j.Status != tracker.StatusPending {
			t.Fatalf("sweep %d: job %s next %v, quiet %d; want pending, due in %v", quiet, j.Status, j.NextPollAt, j.QuietPolls, want)
		}
		if res, err := e.sweeper.Sweep(context.Background()); err != nil || res.Claimed != 0 {
			t.Fatalf("sweep right after %d: %+v, %v; want nothing due", quiet, res, err)
		}
	}
	if n := api.callCount("evalrun_1"); n != 0 {
		t.Errorf("%d requests about the run, want none", n)
	}
}
