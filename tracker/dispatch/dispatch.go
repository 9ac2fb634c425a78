// Package dispatch delivers the alerts of the outbox. Each notifier has its
// own loop that claims its due alerts (leased, so that replicas share the
// work) and sends them, so a slow or failing notifier never delays another,
// nor ingest or sweeps. A loop looks for due alerts every interval, and at
// once when woken (Dispatcher.Wake: the daemon wakes it when a batch that
// raised alerts has committed).
//
// A notifier sends up to its concurrency's alerts at once, within its rate
// limit (shared by its senders). The order kept is each subject's: the
// alerts of one job (or, for alerts about no job, of one provider, and of
// thresholds over every provider) are sent one after the other, oldest
// first, by one sender, and across claims and replicas none is sent
// before an older one of its subject has been sent or dead-lettered. The
// alerts of different subjects may arrive in any order. A failed delivery
// is retried with exponential backoff (or when the receiver's Retry-After
// says), and its subject's newer alerts wait behind it, while the other
// subjects' go on; a Retry-After also pauses the whole notifier in the
// replica that received it until then. Permanent failures, and alerts past
// max_attempts or max_age, are dead-lettered: kept, listed, retryable by
// hand, and no longer holding the others back. The outcomes of a claim's
// deliveries are recorded together, once all have been tried.
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
	// BatchSize is how many alerts one claim takes for each of a
	// notifier's senders (Concurrency). Default 20.
	BatchSize int
	// RateLimits caps each notifier's deliveries, by notifier name, in
	// alerts per second, evenly spaced (a token bucket of burst 1), in each
	// replica, across its senders. Absent or 0: no limit.
	RateLimits map[string]float64
	// Concurrency is how many alerts each notifier sends at once, by
	// notifier name, in each replica. Absent or 0: 1.
	Concurrency map[string]int
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

	// woken is closed, and replaced, by Wake.
	wakeMu sync.Mutex
	woken  chan struct{}

	// paused is, by notifier name, until when a Retry-After pauses it.
	pauseMu sync.Mutex
	paused  map[string]time.Time
}

// notifierSet is the notifiers, their rate limits and their concurrency.
type notifierSet struct {
	notifiers map[string]notify.Notifier
	// rates and limiters are the rate limits by notifier name; none for a
	// notifier without one.
	rates    map[string]float64
	limiters map[string]*rate.Limiter
	// concurrency is how many alerts each notifier sends at once; absent: 1.
	concurrency map[string]int
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
		woken:   make(chan struct{}),
		paused:  map[string]time.Time{},
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
	d.SetNotifiers(opts.Notifiers, opts.RateLimits, opts.Concurrency)
	return d
}

// SetNotifiers replaces the notifiers, their rate limits and their
// concurrency (Options.Notifiers, Options.RateLimits, Options.Concurrency).
// A running dispatcher starts the loops of the new names and stops those of
// the names gone; the others send with the new notifier and concurrency
// from their next claim. A rate limit that did not change keeps its state.
func (d *Dispatcher) SetNotifiers(ns map[string]notify.Notifier, rateLimits map[string]float64, concurrency map[string]int) {
	prev := d.set.Load()
	set := &notifierSet{notifiers: ns, rates: rateLimits, limiters: map[string]*rate.Limiter{}, concurrency: concurrency}
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
// at once, then every Interval and at every Wake, until Stop or the end of
// ctx.
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
				wg.Go(func() { d.loop(lctx, name) })
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

// Wake makes every notifier's loop look for due alerts at once rather than
// at its next Interval. It never blocks; wakes that come while a loop is
// busy make it look once more when it is done.
func (d *Dispatcher) Wake() {
	d.wakeMu.Lock()
	defer d.wakeMu.Unlock()
	close(d.woken)
	d.woken = make(chan struct{})
}

// wakeup is the channel the next Wake closes.
func (d *Dispatcher) wakeup() <-chan struct{} {
	d.wakeMu.Lock()
	defer d.wakeMu.Unlock()
	return d.woken
}

// loop drains a notifier's due alerts at once, then every Interval and at
// every Wake (startstop.WakeGap at least after the drain before), until
// ctx ends.
func (d *Dispatcher) loop(ctx context.Context, name string) {
	t := time.NewTicker(d.opts.Interval)
	defer t.Stop()
	for {
		woken := d.wakeup()
		start := time.Now()
		d.drain(ctx, name)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-woken:
			if !startstop.Pace(ctx, start, startstop.WakeGap) {
				return
			}
		}
	}
}

// drain dispatches a notifier's due alerts, batch after batch, until a
// batch is not full or a claim fails.
func (d *Dispatcher) drain(ctx context.Context, name string) {
	for {
		_, full, err := d.dispatch(ctx, name)
		if err != nil && ctx.Err() == nil {
			d.opts.Logger.Warn("claim alerts", "notifier", name, "error", err)
		}
		if !full || err != nil {
			return
		}
	}
}

// Dispatch claims one batch of a notifier's due alerts and sends them,
// each subject's in order, up to the notifier's concurrency at once and
// within its rate limit; then it records their outcomes at once. A failed
// delivery that is to be retried ends its subject's part of the batch: the
// subject's alerts after it are released to wait behind it. So are those
// that the lease would not cover any more, and, while a Retry-After pauses
// the notifier, those not yet tried (due when the pause ends); a paused
// notifier claims nothing. It returns how many alerts it claimed.
func (d *Dispatcher) Dispatch(ctx context.Context, name string) (int, error) {
	n, _, err := d.dispatch(ctx, name)
	return n, err
}

// dispatch is Dispatch, also reporting whether the claim took all it could.
func (d *Dispatcher) dispatch(ctx context.Context, name string) (claimed int, full bool, err error) {
	b, err := d.claim(ctx, name)
	if b == nil {
		return 0, false, err
	}
	b.send(ctx)
	return len(b.alerts), len(b.alerts) == b.limit, nil
}

// batch is the alerts of one claim, and how they are to be sent.
type batch struct {
	d        *Dispatcher
	name     string
	notifier notify.Notifier
	lim      *rate.Limiter
	senders  int
	// limit is how many alerts the claim could take.
	limit  int
	alerts []tracker.OutboxAlert
	// lastStart is the last moment a delivery may start and still end
	// within the claim's lease.
	lastStart time.Time

	mu       sync.Mutex
	outcomes []tracker.AlertOutcome
}

// claim claims a batch of a notifier's due alerts; nil when there are none,
// the notifier is paused or is no longer configured, or the claim failed.
func (d *Dispatcher) claim(ctx context.Context, name string) (*batch, error) {
	set := d.set.Load()
	n, ok := set.notifiers[name]
	if !ok {
		return nil, nil // no longer configured
	}
	claimed := d.opts.Now()
	if claimed.Before(d.pausedUntil(name)) {
		return nil, nil
	}
	b := &batch{d: d, name: name, notifier: n, lim: set.limiters[name], senders: max(set.concurrency[name], 1)}
	b.limit = d.opts.BatchSize * b.senders
	lease := d.opts.Lease
	if b.lim != nil {
		// The first delivery may wait for a token.
		lease += time.Duration(float64(time.Second) / float64(b.lim.Limit()))
	}
	alerts, err := d.opts.Store.ClaimAlerts(ctx, tracker.ClaimAlertsParams{Notifier: name, Now: claimed, Lease: lease, Limit: b.limit})
	if err != nil || len(alerts) == 0 {
		return nil, err
	}
	b.alerts, b.lastStart = alerts, claimed.Add(lease-d.opts.Timeout)
	return b, nil
}

// send sends the batch's alerts, each subject's by one sender in order, up
// to b.senders subjects at once, and then records every outcome.
func (b *batch) send(ctx context.Context) {
	chains := bySubject(b.alerts)
	next := make(chan []tracker.OutboxAlert)
	var wg sync.WaitGroup
	for range min(b.senders, len(chains)) {
		wg.Go(func() {
			for chain := range next {
				b.sendChain(ctx, chain)
			}
		})
	}
	for _, chain := range chains {
		next <- chain
	}
	close(next)
	wg.Wait()
	if err := b.d.opts.Store.FinishAlerts(context.WithoutCancel(ctx), b.outcomes); err != nil {
		b.d.opts.Logger.Error("record alert deliveries", "notifier", b.name, "alerts", len(b.outcomes), "error", err)
	}
}

// bySubject splits alerts, oldest first, into the alerts of each subject,
// oldest first, in the order of each subject's oldest alert.
func bySubject(alerts []tracker.OutboxAlert) [][]tracker.OutboxAlert {
	index := map[tracker.AlertSubject]int{}
	var chains [][]tracker.OutboxAlert
	for _, a := range alerts {
		s := a.Alert.Subject()
		i, ok := index[s]
		if !ok {
			i = len(chains)
			index[s] = i
			chains = append(chains, nil)
		}
		chains[i] = append(chains[i], a)
	}
	return chains
}

// sendChain sends one subject's alerts in order, until one is left for a
// retry (the rest are released behind it), the notifier is paused or the
// lease would not cover the next delivery (the rest are released), or ctx
// ends (the rest stay leased).
func (b *batch) sendChain(ctx context.Context, chain []tracker.OutboxAlert) {
	for i, a := range chain {
		now := b.d.opts.Now()
		if until := b.d.pausedUntil(b.name); now.Before(until) {
			b.release(chain[i:], until)
			return
		}
		if !waitTurn(ctx, b.lim, now, b.lastStart) {
			if ctx.Err() == nil {
				b.release(chain[i:], b.d.opts.Now())
			}
			return
		}
		out, ok := b.d.send(ctx, b.name, b.notifier, a)
		if !ok {
			return
		}
		b.record(out)
		if out.State == tracker.AlertPending {
			b.release(chain[i+1:], out.At)
			return
		}
	}
}

func (b *batch) record(outs ...tracker.AlertOutcome) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.outcomes = append(b.outcomes, outs...)
}

// release hands claimed alerts that were not tried back to the outbox,
// due at due, behind any older alert of their subject that waits for a
// retry.
func (b *batch) release(alerts []tracker.OutboxAlert, due time.Time) {
	now := b.d.opts.Now()
	for _, a := range alerts {
		b.record(tracker.AlertOutcome{ID: a.ID, State: tracker.AlertPending, Attempts: a.Attempts, NextAttemptAt: due, LastError: a.LastError, At: now})
	}
}

// pausedUntil is until when a Retry-After pauses the notifier; zero if it
// never did.
func (d *Dispatcher) pausedUntil(name string) time.Time {
	d.pauseMu.Lock()
	defer d.pauseMu.Unlock()
	return d.paused[name]
}

// pause pauses a notifier until a time, unless it is paused longer already.
func (d *Dispatcher) pause(name string, until time.Time) {
	d.pauseMu.Lock()
	defer d.pauseMu.Unlock()
	if until.After(d.paused[name]) {
		d.paused[name] = until
	}
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

// send delivers one alert and returns its outcome, to be recorded; false
// when shutdown cut it short (no attempt is counted). A Retry-After pauses
// the notifier.
func (d *Dispatcher) send(ctx context.Context, name string, n notify.Notifier, a tracker.OutboxAlert) (tracker.AlertOutcome, bool) {
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
		return out, false
	case errors.As(err, &ne) && ne.Permanent, out.Attempts >= d.opts.MaxAttempts, now.Sub(a.CreatedAt) >= d.opts.MaxAge:
		out.State, out.LastError = tracker.AlertDead, err.Error()
		log.Error("alert dead-lettered", "attempts", out.Attempts, "error", err)
	default:
		out.State, out.LastError = tracker.AlertPending, err.Error()
		wait := d.backoff(out.Attempts)
		if ne != nil && ne.RetryAfter > 0 {
			d.pause(name, now.Add(ne.RetryAfter))
			wait = max(wait, ne.RetryAfter)
		}
		out.NextAttemptAt = now.Add(wait)
		log.Warn("alert delivery failed; will retry, holding back the newer alerts of its subject", "attempts", out.Attempts, "max_attempts", d.opts.MaxAttempts, "retry_in", wait, "error", err)
	}
	d.total.WithLabelValues(name, outcomeLabel(out.State)).Inc()
	return out, true
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
