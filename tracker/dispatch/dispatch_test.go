package dispatch_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/storage"
	"github.com/jobwatch/jobwatch/storage/storagetest"
	"github.com/jobwatch/jobwatch/tracker"
	"github.com/jobwatch/jobwatch/tracker/dispatch"
	"github.com/jobwatch/jobwatch/tracker/internal/logtest"
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
	raiseStatus(t, s, id, tracker.StatusFailed, notifiers...)
}

// raiseStatus gives a job a status (job.<status> alerts) with alerting
// routed to the notifiers.
func raiseStatus(t *testing.T, s *storage.Store, id string, status tracker.Status, notifiers ...string) {
	t.Helper()
	tr := tracker.New(s, tracker.Options{Alerting: &tracker.Alerting{Routes: []tracker.Route{{Events: []string{"job.*"}, Notifiers: notifiers}}}})
	_, err := tr.Observe(context.Background(), tracker.ApplyItem{Adopt: true, Observation: &tracker.Observation{
		Provider: "openai", ExternalID: id, Kind: tracker.KindBatch, Status: status, Source: tracker.SourceWebhook,
		EventID: "evt_" + id + "_" + string(status), OccurredAt: time.Now()}})
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
	if err := d.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); d.Stop() }()
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

// slackRequest is one request a slackLike receiver got.
type slackRequest struct {
	at      time.Time
	alertID string
	code    int
}

// slackLike stands in for a Slack incoming webhook: it answers 200 "ok", or
// what answer says for a request, and records each request with the alert
// id of its text.
type slackLike struct {
	srv    *httptest.Server
	answer func(n int, w http.ResponseWriter) int

	mu   sync.Mutex
	reqs []slackRequest
}

var alertIDInText = regexp.MustCompile(`alert (alrt_[0-9]+)`)

func newSlackLike(t *testing.T, answer func(n int, w http.ResponseWriter) int) *slackLike {
	t.Helper()
	s := &slackLike{answer: answer}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		at := time.Now()
		var msg struct{ Text string }
		_ = json.NewDecoder(r.Body).Decode(&msg)
		s.mu.Lock()
		defer s.mu.Unlock()
		req := slackRequest{at: at, code: http.StatusOK}
		if m := alertIDInText.FindStringSubmatch(msg.Text); m != nil {
			req.alertID = m[1]
		}
		if answer != nil {
			req.code = answer(len(s.reqs)+1, w)
		}
		s.reqs = append(s.reqs, req)
		if req.code == http.StatusOK {
			_, _ = io.WriteString(w, "ok")
		}
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *slackLike) requests() []slackRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.reqs)
}

func (s *slackLike) notifier(t *testing.T) notify.Notifier {
	t.Helper()
	n, err := notify.NewSlack(notify.SlackConfig{WebhookURL: s.srv.URL + "/services/T0/B0/XYZ", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// raised returns the ids of the outbox's alerts, oldest first.
func raised(t *testing.T, s *storage.Store) []string {
	t.Helper()
	all, err := s.ListAlerts(context.Background(), "", 100)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, a := range slices.Backward(all) {
		ids = append(ids, a.Alert.ID)
	}
	return ids
}

// A 429 with Retry-After pauses the whole notifier, not the one alert's
// job: nothing is sent until it has passed, and then (one sender) the
// alerts come in the order raised.
func TestRetryAfterPausesTheNotifierInOrder(t *testing.T) {
	t.Parallel()
	storagetest.Each(t, func(t *testing.T, s *storage.Store) {
		t.Parallel()
		slack := newSlackLike(t, func(n int, w http.ResponseWriter) int {
			if n == 2 {
				w.Header().Set("Retry-After", "1")
				http.Error(w, "rate_limited", http.StatusTooManyRequests)
				return http.StatusTooManyRequests
			}
			return http.StatusOK
		})
		var logs logtest.Buffer
		d := dispatch.New(dispatch.Options{Store: s, Notifiers: map[string]notify.Notifier{"slack": slack.notifier(t)},
			Interval: 20 * time.Millisecond, Backoff: time.Millisecond, MaxBackoff: time.Millisecond,
			Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
		for _, id := range []string{"a", "b", "c", "d", "e"} {
			raise(t, s, id, "slack")
		}
		want := raised(t, s)
		ctx, cancel := context.WithCancel(context.Background())
		if err := d.Start(ctx); err != nil {
			t.Fatal(err)
		}
		defer func() { cancel(); d.Stop() }()
		deadline := time.Now().Add(10 * time.Second)
		for len(slack.requests()) < len(want)+1 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		reqs := slack.requests()
		var delivered []string
		for i, r := range reqs {
			if r.code == http.StatusOK {
				delivered = append(delivered, r.alertID)
			}
			if i > 0 && reqs[i-1].code == http.StatusTooManyRequests {
				if gap := r.at.Sub(reqs[i-1].at); gap < time.Second-time.Millisecond {
					t.Errorf("request %d came %v after the 429 asking for 1s", i+1, gap)
				}
			}
		}
		if !slices.Equal(delivered, want) {
			t.Errorf("delivered %v, want %v in the order raised", delivered, want)
		}
		if len(reqs) != len(want)+1 || reqs[1].code != http.StatusTooManyRequests || reqs[2].alertID != reqs[1].alertID {
			t.Errorf("requests = %+v, want the 429's alert retried next and nothing else sent meanwhile", reqs)
		}
		if !strings.Contains(logs.String(), `"attempts":1,`) {
			t.Errorf("the retry's log line does not give the alert's attempts:\n%s", logs.String())
		}
	})
}

// notifyFunc is a Notifier made of a function.
type notifyFunc func(ctx context.Context, a tracker.Alert) error

func (f notifyFunc) Notify(ctx context.Context, a tracker.Alert) error { return f(ctx, a) }

// recorder records when each alert was handed to it, in order.
type recorder struct {
	mu    sync.Mutex
	at    []time.Time
	alert []string
}

func (r *recorder) notifier() notify.Notifier {
	return notifyFunc(func(_ context.Context, a tracker.Alert) error {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.at, r.alert = append(r.at, time.Now()), append(r.alert, a.ID)
		return nil
	})
}

func (r *recorder) calls() ([]time.Time, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.at), slices.Clone(r.alert)
}

func TestRateLimitSpacesDeliveries(t *testing.T) {
	t.Parallel()
	s := storagetest.Open(t, storage.DriverSQLite)
	const perSecond = 20
	var rec recorder
	d := dispatch.New(dispatch.Options{Store: s, Notifiers: map[string]notify.Notifier{"slack": rec.notifier()},
		RateLimits: map[string]float64{"slack": perSecond}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	for _, id := range []string{"a", "b", "c", "d", "e", "f"} {
		raise(t, s, id, "slack")
	}
	if n, err := d.Dispatch(context.Background(), "slack"); err != nil || n != 6 {
		t.Fatalf("Dispatch = %d, %v; want 6 alerts", n, err)
	}
	at, ids := rec.calls()
	if want := raised(t, s); !slices.Equal(ids, want) {
		t.Errorf("delivered %v, want %v in the order raised", ids, want)
	}
	// A token every 50ms, the first at once: five intervals at least, less
	// half of one for the first call's own scheduling.
	if span, least := at[len(at)-1].Sub(at[0]), 5*time.Second/perSecond-time.Second/perSecond/2; span < least {
		t.Errorf("6 deliveries at %d/s took %v, want at least %v", perSecond, span, least)
	}
}

// A batch that its lease would not cover, at the notifier's rate or at the
// time its deliveries take, is cut short, and the alerts not tried are
// released, due at once, rather than left leased.
func TestBatchOutlastingItsLeaseIsReleased(t *testing.T) {
	t.Parallel()
	for name, tt := range map[string]struct {
		rate  float64
		delay time.Duration
	}{
		// Lease 1s plus a token's 250ms, less the 500ms timeout: deliveries
		// may start for 750ms, about four of them.
		"rate-limited": {rate: 4},
		// Lease 1s less the timeout: deliveries of 300ms may start for
		// 500ms, about two of them.
		"slow": {delay: 300 * time.Millisecond},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := storagetest.Open(t, storage.DriverSQLite)
			var rec recorder
			slow := notifyFunc(func(ctx context.Context, a tracker.Alert) error {
				time.Sleep(tt.delay)
				return rec.notifier().Notify(ctx, a)
			})
			d := dispatch.New(dispatch.Options{Store: s, Notifiers: map[string]notify.Notifier{"n": slow},
				RateLimits: map[string]float64{"n": tt.rate}, Lease: time.Second, Timeout: 500 * time.Millisecond,
				Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			for i := range 10 {
				raise(t, s, string(rune('a'+i)), "n")
			}
			ctx := context.Background()
			if n, err := d.Dispatch(ctx, "n"); err != nil || n != 10 {
				t.Fatalf("Dispatch = %d, %v; want 10 claimed", n, err)
			}
			_, sent := rec.calls()
			if len(sent) == 0 || len(sent) >= 10 {
				t.Fatalf("%d of 10 sent in the first batch, want some but not all", len(sent))
			}
			if n, err := d.Dispatch(ctx, "n"); err != nil || n != 10-len(sent) {
				t.Fatalf("next Dispatch claimed %d, %v; want the %d released", n, err, 10-len(sent))
			}
		})
	}
}

// SetNotifiers on a running dispatcher starts the loop of a notifier it
// adds, stops that of one it removes, and sends a kept name's alerts with
// its new notifier.
func TestSetNotifiersWhileRunning(t *testing.T) {
	t.Parallel()
	s := storagetest.Open(t, storage.DriverSQLite)
	var before, after, added, gone recorder
	d := dispatch.New(dispatch.Options{Store: s, Notifiers: map[string]notify.Notifier{"ops": before.notifier(), "gone": gone.notifier()},
		Interval: 20 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err := d.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer d.Stop()
	raise(t, s, "a", "ops")
	waitCalls := func(r *recorder, n int, what string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			if _, ids := r.calls(); len(ids) >= n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: no delivery within 5s", what)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitCalls(&before, 1, "the first notifier")

	d.SetNotifiers(map[string]notify.Notifier{"ops": after.notifier(), "new": added.notifier()}, nil, nil)
	raise(t, s, "b", "ops", "new", "gone")
	waitCalls(&after, 1, "the replaced notifier")
	waitCalls(&added, 1, "the added notifier")
	if _, ids := before.calls(); len(ids) != 1 {
		t.Errorf("the replaced notifier got %d alerts, want only the one before the replacement", len(ids))
	}
	// The removed notifier's alert waits in the outbox, unsent.
	time.Sleep(100 * time.Millisecond)
	if _, ids := gone.calls(); len(ids) != 0 || states(t, s)[tracker.AlertPending] != 1 {
		t.Errorf("the removed notifier got %d alerts, %d pending; want its alert pending, unsent", len(ids), states(t, s)[tracker.AlertPending])
	}
}
