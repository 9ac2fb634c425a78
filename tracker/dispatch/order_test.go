package dispatch_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/storage"
	"github.com/jobwatch/jobwatch/storage/storagetest"
	"github.com/jobwatch/jobwatch/tracker"
	"github.com/jobwatch/jobwatch/tracker/dispatch"
	"github.com/jobwatch/jobwatch/tracker/notify"
)

// delivery is one alert a receiver got: its id, job and type, and the
// status code it was answered.
type delivery struct {
	id, job, typ string
	code         int
}

// receiver is a webhook receiver that records, in order, each alert's
// arrival (code 0) and its answer; answer, when set, gives the code of an
// alert (200 otherwise) and may block.
type receiver struct {
	answer func(d delivery) int

	mu  sync.Mutex
	log []delivery
}

func (rc *receiver) notifier(t *testing.T) notify.Notifier {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var a tracker.Alert
		if err := json.NewDecoder(r.Body).Decode(&a); err != nil || a.Job == nil {
			t.Errorf("alert received: %v", err)
			return
		}
		d := delivery{id: a.ID, job: a.Job.ExternalID, typ: a.Type}
		rc.add(d)
		d.code = http.StatusOK
		if rc.answer != nil {
			d.code = rc.answer(d)
		}
		rc.add(d)
		w.WriteHeader(d.code)
	}))
	t.Cleanup(srv.Close)
	n, err := notify.NewWebhook(notify.WebhookConfig{URL: srv.URL, Secret: secret, Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func (rc *receiver) add(d delivery) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.log = append(rc.log, d)
}

// events returns the arrivals and answers so far, in order.
func (rc *receiver) events() []delivery {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.log)
}

// delivered returns the alerts answered 200, in order.
func (rc *receiver) delivered() []delivery {
	var out []delivery
	for _, d := range rc.events() {
		if d.code == http.StatusOK {
			out = append(out, d)
		}
	}
	return out
}

// waitDelivered waits up to 20 s for n alerts answered 200.
func (rc *receiver) waitDelivered(t *testing.T, n int, what string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for len(rc.delivered()) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d of %d alerts delivered after 20s: %+v", what, len(rc.delivered()), n, rc.events())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// checkJobOrder fails unless each job's job.lost was answered 200 before
// its job.failed arrived, and each alert was delivered once.
func (rc *receiver) checkJobOrder(t *testing.T) {
	t.Helper()
	lostAt := map[string]int{}
	seen := map[string]bool{}
	for i, d := range rc.events() {
		switch {
		case d.code == http.StatusOK && seen[d.id]:
			t.Errorf("alert %s delivered twice", d.id)
		case d.code == http.StatusOK:
			seen[d.id] = true
			if d.typ == "job.lost" {
				lostAt[d.job] = i
			}
		case d.code == 0 && d.typ == "job.failed":
			if _, ok := lostAt[d.job]; !ok {
				t.Errorf("job %s: job.failed arrived before job.lost was delivered: %+v", d.job, rc.events())
			}
		}
	}
}

// raiseLostThenFailed makes each job lost, and then each failed.
func raiseLostThenFailed(t *testing.T, s *storage.Store, jobs []string, notifiers ...string) {
	t.Helper()
	for _, status := range []tracker.Status{tracker.StatusLost, tracker.StatusFailed} {
		for _, id := range jobs {
			raiseStatus(t, s, id, status, notifiers...)
		}
	}
}

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

// With a concurrency above 1, the alerts of different jobs are sent side by
// side: while the receiver holds one job's first alert, the other jobs'
// alerts all arrive; each job's alerts still arrive in order.
func TestConcurrentDeliveryKeepsEachJobsOrder(t *testing.T) {
	t.Parallel()
	storagetest.Each(t, func(t *testing.T, s *storage.Store) {
		t.Parallel()
		unblock := make(chan struct{})
		rc := &receiver{answer: func(d delivery) int {
			if d.job == "j0" {
				<-unblock
			}
			return http.StatusOK
		}}
		n := rc.notifier(t)
		release := sync.OnceFunc(func() { close(unblock) })
		t.Cleanup(release) // before the receiver closes, should the test fail
		d := dispatch.New(dispatch.Options{Store: s, Notifiers: map[string]notify.Notifier{"hook": n},
			Concurrency: map[string]int{"hook": 4}, Logger: discard})
		raiseLostThenFailed(t, s, []string{"j0", "j1", "j2", "j3", "j4"}, "hook")
		done := make(chan error, 1)
		go func() {
			_, err := d.Dispatch(context.Background(), "hook")
			done <- err
		}()
		rc.waitDelivered(t, 8, "while j0's first alert is held")
		release()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		rc.checkJobOrder(t)
		if got := rc.delivered(); len(got) != 10 || got[8].typ != "job.lost" || got[9].typ != "job.failed" {
			t.Errorf("delivered %+v, want the 8 alerts of j1-j4, then j0's lost and failed", got)
		}
		if c := states(t, s); c[tracker.AlertSent] != 10 {
			t.Errorf("states = %v, want all 10 recorded sent", c)
		}
	})
}

// A failed delivery holds back the newer alerts of its job until its retry
// is delivered, and no other job's.
func TestRetryHoldsBackOnlyItsJob(t *testing.T) {
	t.Parallel()
	storagetest.Each(t, func(t *testing.T, s *storage.Store) {
		t.Parallel()
		var failed sync.Once
		rc := &receiver{answer: func(d delivery) int {
			code := http.StatusOK
			if d.job == "x" && d.typ == "job.lost" {
				// A 429 without Retry-After: the notifier leaves it to the
				// outbox's backoff, and nothing is paused.
				failed.Do(func() { code = http.StatusTooManyRequests })
			}
			return code
		}}
		d := dispatch.New(dispatch.Options{Store: s, Notifiers: map[string]notify.Notifier{"hook": rc.notifier(t)},
			Concurrency: map[string]int{"hook": 2}, Interval: 20 * time.Millisecond, Backoff: 300 * time.Millisecond, MaxBackoff: 300 * time.Millisecond,
			Logger: discard})
		// x.lost, y.lost, x.failed, y.failed
		raiseLostThenFailed(t, s, []string{"x", "y"}, "hook")
		ctx, cancel := context.WithCancel(context.Background())
		if err := d.Start(ctx); err != nil {
			t.Fatal(err)
		}
		defer func() { cancel(); d.Stop() }()
		rc.waitDelivered(t, 4, "x's retry and the others")
		rc.checkJobOrder(t)
		var order []string
		for _, d := range rc.delivered() {
			order = append(order, d.job+"."+d.typ)
		}
		if want := []string{"y.job.lost", "y.job.failed", "x.job.lost", "x.job.failed"}; !slices.Equal(order, want) {
			t.Errorf("delivered %v, want %v: y's alerts not held back by x's retry, x's in order", order, want)
		}
	})
}

// Wake delivers an alert at once, however long the interval.
func TestWakeDeliversAtOnce(t *testing.T) {
	t.Parallel()
	s := storagetest.Open(t, storage.DriverSQLite)
	rc := &receiver{}
	d := dispatch.New(dispatch.Options{Store: s, Notifiers: map[string]notify.Notifier{"hook": rc.notifier(t)},
		Interval: time.Hour, Logger: discard})
	raiseStatus(t, s, "first", tracker.StatusFailed, "hook")
	ctx, cancel := context.WithCancel(context.Background())
	if err := d.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); d.Stop() }()
	rc.waitDelivered(t, 1, "the alert raised before the start") // its first look, at the start
	for i := range 3 {
		raiseStatus(t, s, fmt.Sprint("woken", i), tracker.StatusFailed, "hook")
		d.Wake()
		rc.waitDelivered(t, 2+i, "an alert after Wake, the interval an hour")
	}
}

// Two dispatchers on one PostgreSQL database, as two replicas, deliver
// each alert once, each job's in order: claims of one alert each, so that
// a job's second alert is due while the other replica sends its first.
func TestTwoReplicasDeliverEachAlertOnce(t *testing.T) {
	t.Parallel()
	cfg := storagetest.Config(t, storage.DriverPostgres)
	stores := []*storage.Store{storagetest.OpenConfig(t, cfg), storagetest.OpenConfig(t, cfg)}
	rc := &receiver{answer: func(delivery) int {
		time.Sleep(5 * time.Millisecond)
		return http.StatusOK
	}}
	n := rc.notifier(t)
	const jobs = 30
	for i := range jobs {
		raiseStatus(t, stores[0], fmt.Sprint("job", i), tracker.StatusLost, "hook")
		raiseStatus(t, stores[0], fmt.Sprint("job", i), tracker.StatusFailed, "hook")
	}
	for _, s := range stores {
		d := dispatch.New(dispatch.Options{Store: s, Notifiers: map[string]notify.Notifier{"hook": n},
			BatchSize: 1, Interval: 5 * time.Millisecond, Logger: discard})
		ctx, cancel := context.WithCancel(context.Background())
		if err := d.Start(ctx); err != nil {
			t.Fatal(err)
		}
		defer func() { cancel(); d.Stop() }()
	}
	rc.waitDelivered(t, 2*jobs, "every alert")
	time.Sleep(200 * time.Millisecond) // time for a second delivery to show
	rc.checkJobOrder(t)
	if got := len(rc.delivered()); got != 2*jobs {
		t.Errorf("%d deliveries of %d alerts", got, 2*jobs)
	}
}

// With several senders, a Retry-After pauses them all: once the 429 has
// been answered, no request starts until it has passed (but for one a
// sender had already begun), and then every alert arrives.
func TestRetryAfterPausesEverySender(t *testing.T) {
	t.Parallel()
	slack := newSlackLike(t, func(n int, w http.ResponseWriter) int {
		if n == 4 {
			w.Header().Set("Retry-After", "1")
			http.Error(w, "rate_limited", http.StatusTooManyRequests)
			return http.StatusTooManyRequests
		}
		time.Sleep(10 * time.Millisecond)
		return http.StatusOK
	})
	s := storagetest.Open(t, storage.DriverSQLite)
	d := dispatch.New(dispatch.Options{Store: s, Notifiers: map[string]notify.Notifier{"slack": slack.notifier(t)},
		Concurrency: map[string]int{"slack": 3}, Interval: 20 * time.Millisecond, Backoff: time.Millisecond, MaxBackoff: time.Millisecond,
		Logger: discard})
	const alerts = 12
	for i := range alerts {
		raise(t, s, fmt.Sprint("job", i), "slack")
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := d.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); d.Stop() }()
	deadline := time.Now().Add(20 * time.Second)
	for len(slack.requests()) < alerts+1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	reqs := slack.requests()
	if len(reqs) != alerts+1 {
		t.Fatalf("%d requests, want %d: every alert once, and the one answered 429 again", len(reqs), alerts+1)
	}
	limited := reqs[3].at
	var during int
	for i, r := range reqs {
		if i != 3 && r.at.After(limited) && r.at.Before(limited.Add(time.Second)) {
			during++
		}
	}
	// The other two senders may each have begun one request as the 429
	// came.
	if during > 2 {
		t.Errorf("%d requests within the second the 429's Retry-After asked for, want at most the 2 begun before it: %+v", during, reqs)
	}
}
