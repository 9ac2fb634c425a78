package dispatch_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/storage"
	"github.com/jobwatch/jobwatch/storage/storagetest"
	"github.com/jobwatch/jobwatch/tracker"
	"github.com/jobwatch/jobwatch/tracker/dispatch"
	"github.com/jobwatch/jobwatch/tracker/notify"
)

const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// endpoint answers with code (and stalls first when slow), counting calls.
type endpoint struct {
	code  atomic.Int64
	slow  atomic.Bool
	calls atomic.Int64
}

func (e *endpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	e.calls.Add(1)
	if e.slow.Load() {
		select {
		case <-r.Context().Done():
		case <-time.After(3 * time.Second):
		}
	}
	w.WriteHeader(int(e.code.Load()))
}

func webhook(t *testing.T, e *endpoint) notify.Notifier {
	t.Helper()
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	n, err := notify.NewWebhook(notify.WebhookConfig{URL: srv.URL, Secret: secret, Timeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// raise fails a job with alerting routed to the notifiers.
func raise(t *testing.T, s *storage.Store, id string, notifiers ...string) {
	t.Helper()
	tr := tracker.New(s, tracker.Options{Alerting: &tracker.Alerting{Routes: []tracker.Route{{Events: []string{"job.*"}, Notifiers: notifiers}}}})
	_, err := tr.Observe(context.Background(), tracker.ApplyItem{Adopt: true, Observation: &tracker.Observation{
		Provider: "openai", ExternalID: id, Kind: tracker.KindBatch, Status: tracker.StatusFailed, Source: tracker.SourceWebhook,
		EventID: "evt_" + id, OccurredAt: time.Now()}})
	if err != nil {
		t.Fatal(err)
	}
}

func states(t *testing.T, s *storage.Store) map[tracker.AlertState]int64 {
	t.Helper()
	c, err := s.CountAlerts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestDeadLettersAndRetryByHand(t *testing.T) {
	t.Parallel()
	s := storagetest.Open(t, storage.DriverSQLite)
	gone, flaky := &endpoint{}, &endpoint{}
	gone.code.Store(http.StatusGone)
	flaky.code.Store(http.StatusInternalServerError)
	d := dispatch.New(dispatch.Options{Store: s, Notifiers: map[string]notify.Notifier{"gone": webhook(t, gone), "flaky": webhook(t, flaky)},
		MaxAttempts: 2, Backoff: time.Millisecond, MaxBackoff: time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	raise(t, s, "b1", "gone", "flaky")
	ctx := context.Background()
	for range 3 {
		for _, n := range []string{"gone", "flaky"} {
			if _, err := d.Dispatch(ctx, n); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if c := states(t, s); c[tracker.AlertDead] != 2 {
		t.Fatalf("states = %v, want both dead: a 410 at once, the 500s after max_attempts", c)
	}
	if gone.calls.Load() != 1 {
		t.Errorf("a permanent failure was tried %d times, want once", gone.calls.Load())
	}
	dead, _ := s.ListAlerts(ctx, tracker.AlertDead, 10)
	for _, a := range dead {
		if a.LastError == "" || (a.Notifier == "flaky" && a.Attempts != 2) {
			t.Errorf("dead alert = %+v", a)
		}
		if a.Notifier == "gone" {
			gone.code.Store(http.StatusOK)
			if err := s.RetryAlert(ctx, a.ID, time.Now()); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := d.Dispatch(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	if c := states(t, s); c[tracker.AlertSent] != 1 || c[tracker.AlertDead] != 1 {
		t.Fatalf("after a retry by hand: %v, want one sent, one still dead", c)
	}
}

func TestSlowNotifierDelaysNoOther(t *testing.T) {
	t.Parallel()
	s := storagetest.Open(t, storage.DriverSQLite)
	slow, fast := &endpoint{}, &endpoint{}
	slow.slow.Store(true)
	slow.code.Store(http.StatusOK)
	fast.code.Store(http.StatusOK)
	d := dispatch.New(dispatch.Options{Store: s, Notifiers: map[string]notify.Notifier{"slow": webhook(t, slow), "fast": webhook(t, fast)},
		Interval: 20 * time.Millisecond, Timeout: 5 * time.Second, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ctx, cancel := context.WithCancel(context.Background())
	d.Start(ctx)
	defer func() { cancel(); d.Wait() }()
	start := time.Now()
	for _, id := range []string{"a", "b", "c"} {
		raise(t, s, id, "slow", "fast")
	}
	for fast.calls.Load() < 3 {
		if time.Since(start) > 2*time.Second {
			t.Fatalf("the fast notifier got %d of 3 alerts in 2s while the slow one stalls", fast.calls.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
