package httpapi

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Outage logs a run of requests that storage could not serve (answered 503)
// as two lines instead of one per request: an error when the first fails,
// and a warning when a request is next served, with how many failed and
// for how long. The per-request detail is in the metrics
// (jobwatch_http_requests_total's 503s, jobwatch_webhook_deliveries_total's
// "unavailable"). One Outage may serve several handlers; it is safe for
// concurrent use.
type Outage struct {
	log *slog.Logger
	// down is set during an outage; Served reads it without the lock.
	down atomic.Bool

	mu     sync.Mutex
	since  time.Time // when the outage's first failure happened
	failed int64     // requests failed during the outage
	last   error     // the outage's last failure
}

// NewOutage returns an Outage logging to log.
func NewOutage(log *slog.Logger) *Outage { return &Outage{log: log} }

// Failed records a request that storage could not serve: request names it
// (a route, a provider's webhook), err says why. Only the first failure of
// an outage is logged.
func (o *Outage) Failed(request string, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.failed++
	o.last = err
	if o.down.Load() {
		return
	}
	o.since = time.Now()
	o.down.Store(true)
	o.log.Error("storage unavailable: answering 503 until it recovers (logged once; the metrics count each request)",
		"request", request, "error", err)
}

// Served records a request that storage served; the first one after
// failures ends the outage and logs it.
func (o *Outage) Served() {
	if !o.down.Load() {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.down.Load() {
		return
	}
	o.down.Store(false)
	o.log.Warn("storage available again", "failed_requests", o.failed,
		"outage", time.Since(o.since).Round(time.Millisecond).String(), "last_error", o.last)
	o.failed, o.last = 0, nil
}
