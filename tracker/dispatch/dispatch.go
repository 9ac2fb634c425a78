// Package dispatch delivers the alerts of the outbox. Each notifier has its
// own loop that claims its due alerts (leased, so that replicas share the
// work) and sends them, so a slow or failing notifier never delays another,
// nor ingest or sweeps. A notifier sends one alert at a time, oldest first,
// within its rate limit. A failed delivery is retried with exponential
// backoff (or when the receiver's Retry-After says), and the notifier's
// newer alerts wait behind it: a Retry-After pauses the whole notifier, and
// a retried alert never arrives after newer ones. Permanent failures, and
// alerts past max_attempts or max_age, are dead-lettered: kept, listed,
// retryable by hand, and no longer holding the others back.
//
// It is part of the jobwatch daemon, not of the library's public API.
package dispatch

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/jobwatch/jobwatch/tracker"
	"github.com/jobwatch/jobwatch/tracker/notify"
	"github.com/jobwatch/jobwatch/tracker/startstop"
)

// Options configure a Dispatcher. Zero values get the defaults noted.
type Options struct {
	Store     tracker.Store
	Notifiers map[string]notify.Notifier
	// MaxAttempts is how many failed deliveries dead-letter an alert. Default 20.
	MaxAttempts int
	// MaxAge is how old an alert may get before a failure dead-letters it.
	// Default 24h.
	MaxAge time.Duration
	// Interval is how often each notifier looks for due alerts. Default 1s.
	Interval time.Duration
	// Lease keeps other replicas off claimed alerts while they are sent.
	// Default 1m, and at least twice Timeout. A rate-limited notifier's
	// claims add the wait for one token.
	Lease time.Duration
	// Timeout bounds one delivery. Default 30s.
	Timeout time.Duration
	// BatchSize is how many alerts one claim takes. Default 20.
	BatchSize int
	// RateLimits caps each notifier's deliveries, by notifier name, in
	// alerts per second, evenly spaced (a token bucket of burst 1), in each
	// replica. Absent or 0: no limit.
	RateLimits map[string]float64
	// Backoff is the first retry's wait, doubling per attempt up to
	// MaxBackoff. Defaults 5s and 10m.
	Backoff, MaxBackoff time.Duration
	Logger              *slog.Logger
	// Registry receives the dispatcher's metrics; nil: they are not
	// registered.
	Registry prometheus.Registerer
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Dispatcher sends outbox alerts.
type Dispatcher struct {
	opts Options
	// set is the notifiers in force, replaced by SetNotifiers; changed
	// tells the running loops of a replacement.
	set      atomic.Pointer[notifierSet]
	changed  chan struct{}
	total    *prometheus.CounterVec
	delivery *prometheus.HistogramVec
	life     startstop.Runner
}

// notifierSet is the notifiers and their rate limits.
type notifierSet struct {
	notifiers map[string]notify.Notifier
	// rates and limiters are the rate limits by notifier name; none for a
	// notifier without one.
	rates    map[string]float64
	limiters map[string]*rate.Limiter
}

// New returns a Dispatcher.
func New(opts Options) *Dispatcher {
	opts.MaxAttempts = cmp.Or(opts.MaxAttempts, 20)
	opts.MaxAge = cmp.Or(opts.MaxAge, 24*time.Hour)
	opts.Interval = cmp.Or(opts.Interval, time.Second)
	opts.Timeout = cmp.Or(opts.Timeout, 30*time.Second)
	opts.Lease = max(cmp.Or(opts.Lease, time.Minute), 2*opts.Timeout)
	opts.BatchSize = cmp.Or(opts.BatchSize, 20)
	opts.Backoff = cmp.Or(opts.Backoff, 5*time.Second)
	opts.MaxBackoff = cmp.Or(opts.MaxBackoff, 10*time.Minute)
	if opts.Now == nil {
		opts.Now = time.Now
	}
	d := &Dispatcher{
		opts:    opts,
		changed: make(chan struct{}, 1),
		total: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "jobwatch_alerts_total",
			Help: "Alert delivery attempts by notifier and outcome (sent, retry, dead).",
		}, []string{"notifier", "outcome"}),
		delivery: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "jobwatch_alert_delivery_seconds",
			Help:    "Time from an alert being raised to its delivery, by notifier.",
			Buckets: prometheus.ExponentialBuckets(0.05, 3, 12),
		}, []string{"notifier"}),
	}
	if opts.Registry != nil {
		opts.Registry.MustRegister(d.total, d.delivery)
	}
	d.SetNotifiers(opts.Notifiers, opts.RateLimits)
	return d
}

// SetNotifiers replaces the notifiers and their rate limits
// (Options.Notifiers, Options.RateLimits). A running dispatcher starts the
// loops of the new names and stops those of the names gone; the others
// send with the new notifier from their next claim. A rate limit that did
// not change keeps its state.
func (d *Dispatcher) SetNotifiers(ns map[string]notify.Notifier, rateLimits map[string]float64) {
	prev := d.set.Load()
	set := &notifierSet{notifiers: ns, rates: rateLimits, limiters: map[string]*rate.Limiter{}}
	for name, r := range rateLimits {
		switch {
		case r <= 0:
		case prev != nil && prev.rates[name] == r && prev.limiters[name] != nil:
			set.limiters[name] = prev.limiters[name]
		default:
			set.limiters[name] = rate.NewLimiter(rate.Limit(r), 1)
		}
	}
	d.set.Store(set)
	select {
	case d.changed <- struct{}{}:
	default: // a change is already pending; the loops read the newest set
	}
}

// Start runs one delivery loop per notifier, each claiming its due alerts
// every Interval, until Stop or the end of ctx.
func (d *Dispatcher) Start(ctx context.Context) error {
	return d.life.Start(ctx, func(ctx context.Context) {
		var wg sync.WaitGroup
		// loops cancel the loop of each notifier.
		loops := map[string]context.CancelFunc{}
		follow := func() {
			set := d.set.Load()
			for name, cancel := range loops {
				if _, ok := set.notifiers[name]; !ok {
					cancel()
					delete(loops, name)
				}
			}
			for name := range set.notifiers {
				if _, ok := loops[name]; ok {
					continue
				}
				lctx, cancel := context.WithCancel(ctx)
				loops[name] = cancel
				wg.Go(func() { startstop.Every(lctx, d.opts.Interval, func(ctx context.Context) { d.drain(ctx, name) }) })
			}
		}
		follow()
		for {
			select {
			case <-d.changed:
				follow()
			case <-ctx.Done():
				wg.Wait()
				for _, cancel := range loops {
					cancel()
				}
				return
			}
		}
	})
}

// Stop ends the delivery loops and waits for them. A delivery cut short
// is not counted as an attempt: its alert stays pending, sent by the next
// start or another replica when its claim's lease runs out.
func (d *Dispatcher) Stop() { d.life.Stop() }

// drain dispatches a notifier's due alerts, batch after batch, until a
// batch is not full or a claim fails.
func (d *Dispatcher) drain(ctx context.Context, name string) {
	for {
		n, err := d.Dispatch(ctx, name)
		if err != nil && ctx.Err() == nil {
			d.opts.Logger.Warn("claim alerts", "notifier", name, "error", err)
		}
		if n < d.opts.BatchSize || err != nil {
			return
		}
	}
}

// Dispatch claims one batch of a notifier's due alerts and sends them one
// at a time, oldest first, within the notifier's rate limit. A failed
// delivery that is to be retried ends the batch: the alerts after it are
// released to wait behind it. So are those that the lease would not cover
// any more. It returns how many alerts it claimed.
func (d *Dispatcher) Dispatch(ctx context.Context, name string) (int, error) {
	set := d.set.Load()
	n, ok := set.notifiers[name]
	if !ok {
		return 0, nil // no longer configured
	}
	lim := set.limiters[name]
	lease := d.opts.Lease
	if lim != nil {
		// The first delivery may wait for a token.
		lease += time.Duration(float64(time.Second) / float64(lim.Limit()))
	}
	claimed := d.opts.Now()
	alerts, err := d.opts.Store.ClaimAlerts(ctx, tracker.ClaimAlertsParams{Notifier: name, Now: claimed, Lease: lease, Limit: d.opts.BatchSize})
	if err != nil {
		return 0, err
	}
	// The last moment a delivery may start and still end within the lease.
	lastStart := claimed.Add(lease - d.opts.Timeout)
	for i, a := range alerts {
		if !waitTurn(ctx, lim, d.opts.Now(), lastStart) {
			d.release(ctx, name, alerts[i:])
			break
		}
		if !d.send(ctx, name, n, a) {
			d.release(ctx, name, alerts[i+1:])
			break
		}
	}
	return len(alerts), nil
}

// waitTurn waits until lim allows one more delivery (at once when lim is
// nil). It reports false, having waited for nothing, when that delivery
// would start after lastStart, or when ctx ends.
func waitTurn(ctx context.Context, lim *rate.Limiter, now, lastStart time.Time) bool {
	var (
		r     *rate.Reservation
		delay time.Duration
	)
	if lim != nil {
		r = lim.Reserve()
		delay = r.Delay()
	}
	if now.Add(delay).After(lastStart) || ctx.Err() != nil {
		if r != nil {
			r.Cancel()
		}
		return false
	}
	if delay == 0 {
		return true
	}
	t := time.NewTimer(delay)
	defer t.Stop()
	select {
	case <-ctx.Done():
		r.Cancel()
		return false
	case <-t.C:
		return true
	}
}

// release hands claimed alerts that were not tried back to the outbox, due
// at once, behind any older alert of the notifier that waits for a retry.
func (d *Dispatcher) release(ctx context.Context, name string, alerts []tracker.OutboxAlert) {
	now := d.opts.Now()
	for _, a := range alerts {
		out := tracker.AlertOutcome{ID: a.ID, State: tracker.AlertPending, Attempts: a.Attempts, NextAttemptAt: now, LastError: a.LastError, At: now}
		if err := d.opts.Store.FinishAlert(context.WithoutCancel(ctx), out); err != nil {
			d.opts.Logger.Warn("release alert", "notifier", name, "alert_id", a.Alert.ID, "error", err)
			return
		}
	}
}

// send delivers one alert and records the outcome. It reports whether the
// notifier may go on to its next alert: the alert was sent or
// dead-lettered, rather than left for a retry or cut short by shutdown.
func (d *Dispatcher) send(ctx context.Context, name string, n notify.Notifier, a tracker.OutboxAlert) bool {
	sctx, cancel := context.WithTimeout(ctx, d.opts.Timeout)
	err := n.Notify(sctx, a.Alert)
	cancel()
	now := d.opts.Now()
	out := tracker.AlertOutcome{ID: a.ID, Attempts: a.Attempts + 1, At: now}
	log := d.opts.Logger.With("notifier", name, "alert_id", a.Alert.ID, "type", a.Alert.Type)
	var ne *notify.Error
	switch {
	case err == nil:
		out.State = tracker.AlertSent
		d.delivery.WithLabelValues(name).Observe(now.Sub(a.CreatedAt).Seconds())
	case ctx.Err() != nil:
		// Shutting down: the claim's lease runs out and the alert is sent
		// by the next start or another replica. No attempt is counted.
		return false
	case errors.As(err, &ne) && ne.Permanent, out.Attempts >= d.opts.MaxAttempts, now.Sub(a.CreatedAt) >= d.opts.MaxAge:
		out.State, out.LastError = tracker.AlertDead, err.Error()
		log.Error("alert dead-lettered", "attempts", out.Attempts, "error", err)
	default:
		out.State, out.LastError = tracker.AlertPending, err.Error()
		wait := d.backoff(out.Attempts)
		if ne != nil && ne.RetryAfter > wait {
			wait = ne.RetryAfter
		}
		out.NextAttemptAt = now.Add(wait)
		log.Warn("alert delivery failed; will retry, holding back the notifier's newer alerts", "attempts", out.Attempts, "max_attempts", d.opts.MaxAttempts, "retry_in", wait, "error", err)
	}
	d.total.WithLabelValues(name, outcomeLabel(out.State)).Inc()
	if err := d.opts.Store.FinishAlert(context.WithoutCancel(ctx), out); err != nil {
		log.Error("record alert delivery", "error", err)
		return false
	}
	return out.State != tracker.AlertPending
}

func outcomeLabel(s tracker.AlertState) string {
	if s == tracker.AlertPending {
		return "retry"
	}
	return string(s)
}

// backoff is the wait before the retry after a number of attempts: Backoff
// doubling per attempt, at most MaxBackoff, less up to 20% jitter.
func (d *Dispatcher) backoff(attempts int) time.Duration {
	w := d.opts.Backoff
	for i := 1; i < attempts && w < d.opts.MaxBackoff; i++ {
		w *= 2
	}
	w = min(w, d.opts.MaxBackoff)
	return w - time.Duration(rand.Float64()*0.2*float64(w))
}
