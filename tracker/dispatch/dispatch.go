// Package dispatch delivers the alerts of the outbox. Each notifier has its
// own loop that claims its due alerts (leased, SKIP LOCKED on PostgreSQL, so
// replicas share the work) and sends them, so a slow or failing notifier
// never delays another, nor ingest or sweeps. A failed delivery is retried
// with exponential backoff (or when the receiver's Retry-After says);
// permanent failures, and alerts past max_attempts or max_age, are
// dead-lettered: kept, listed, retryable by hand.
package dispatch

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/jobwatch/jobwatch/tracker"
	"github.com/jobwatch/jobwatch/tracker/notify"
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
	// Default 1m; it must outlast Timeout.
	Lease time.Duration
	// Timeout bounds one delivery. Default 30s.
	Timeout time.Duration
	// BatchSize is how many alerts one claim takes. Default 20.
	BatchSize int
	// Concurrency is how many alerts of one notifier are sent at once. Default 4.
	Concurrency int
	// Backoff is the first retry's wait, doubling per attempt up to
	// MaxBackoff. Defaults 5s and 10m.
	Backoff, MaxBackoff time.Duration
	Logger              *slog.Logger
	Registry            prometheus.Registerer
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Dispatcher sends outbox alerts.
type Dispatcher struct {
	opts     Options
	total    *prometheus.CounterVec
	delivery *prometheus.HistogramVec
	wg       sync.WaitGroup
}

// New returns a Dispatcher.
func New(opts Options) *Dispatcher {
	opts.MaxAttempts = cmp.Or(opts.MaxAttempts, 20)
	opts.MaxAge = cmp.Or(opts.MaxAge, 24*time.Hour)
	opts.Interval = cmp.Or(opts.Interval, time.Second)
	opts.Timeout = cmp.Or(opts.Timeout, 30*time.Second)
	opts.Lease = cmp.Or(opts.Lease, max(time.Minute, 2*opts.Timeout))
	opts.BatchSize = cmp.Or(opts.BatchSize, 20)
	opts.Concurrency = cmp.Or(opts.Concurrency, 4)
	opts.Backoff = cmp.Or(opts.Backoff, 5*time.Second)
	opts.MaxBackoff = cmp.Or(opts.MaxBackoff, 10*time.Minute)
	if opts.Now == nil {
		opts.Now = time.Now
	}
	d := &Dispatcher{
		opts: opts,
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
	return d
}

// Start runs one delivery loop per notifier until ctx is done; Wait waits for
// them.
func (d *Dispatcher) Start(ctx context.Context) {
	for name := range d.opts.Notifiers {
		d.wg.Go(func() {
			t := time.NewTicker(d.opts.Interval)
			defer t.Stop()
			for {
				for {
					n, err := d.Dispatch(ctx, name)
					if err != nil && ctx.Err() == nil {
						d.opts.Logger.Warn("claim alerts", "notifier", name, "error", err)
					}
					if n < d.opts.BatchSize || err != nil {
						break
					}
				}
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
			}
		})
	}
}

// Wait waits for the loops Start began to end.
func (d *Dispatcher) Wait() { d.wg.Wait() }

// Dispatch claims one batch of a notifier's due alerts and sends them. It
// returns how many it claimed.
func (d *Dispatcher) Dispatch(ctx context.Context, name string) (int, error) {
	n := d.opts.Notifiers[name]
	alerts, err := d.opts.Store.ClaimAlerts(ctx, tracker.ClaimAlertsParams{Notifier: name, Now: d.opts.Now(), Lease: d.opts.Lease, Limit: d.opts.BatchSize})
	if err != nil {
		return 0, err
	}
	sem := make(chan struct{}, d.opts.Concurrency)
	var wg sync.WaitGroup
	for _, a := range alerts {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			d.send(ctx, name, n, a)
		})
	}
	wg.Wait()
	return len(alerts), nil
}

// send delivers one alert and records the outcome.
func (d *Dispatcher) send(ctx context.Context, name string, n notify.Notifier, a tracker.OutboxAlert) {
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
		return
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
		log.Warn("alert delivery failed; will retry", "attempts", out.Attempts, "retry_in", wait, "error", err)
	}
	d.total.WithLabelValues(name, outcomeLabel(out.State)).Inc()
	if err := d.opts.Store.FinishAlert(context.WithoutCancel(ctx), out); err != nil {
		log.Error("record alert delivery", "error", err)
	}
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
