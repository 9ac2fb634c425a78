// Package startstop gives every background service of jobwatch (the
// sweeper, the alert dispatcher, the webhook delivery log's summaries and
// pruning) one life: Start(ctx) error, which returns once the service runs,
// and Stop(), which ends it and returns only when it has ended. It is part
// of the jobwatch daemon, not of the library's public API.
package startstop

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Service is a background service. Start begins it, under ctx or until Stop,
// whichever ends first; Stop ends it and waits until it has ended, so that
// its owner may then close what it uses (the store). Stop of a service not
// started does nothing.
type Service interface {
	Start(ctx context.Context) error
	Stop()
}

// ErrStarted is Start's error for a service that runs already.
var ErrStarted = errors.New("service already started")

// Runner runs one function in a goroutine of its own from Start to Stop: the
// life of a Service, to embed or call from its methods. The zero Runner is
// ready to use; after Stop it may start again.
type Runner struct {
	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

// Start runs run(ctx') in a goroutine, ctx' being ctx cancelled by Stop.
// run must return once ctx' is done.
func (r *Runner) Start(ctx context.Context, run func(ctx context.Context)) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.done != nil {
		return ErrStarted
	}
	ctx, r.cancel = context.WithCancel(ctx)
	done := make(chan struct{})
	r.done = done
	go func() {
		defer close(done)
		run(ctx)
	}()
	return nil
}

// Stop cancels the context run was given and waits for run to return.
func (r *Runner) Stop() {
	r.mu.Lock()
	cancel, done := r.cancel, r.done
	r.cancel, r.done = nil, nil
	r.mu.Unlock()
	if done == nil {
		return
	}
	cancel()
	<-done
}

// Every calls f at once and then every interval until ctx is done; a call
// still running at a tick delays the next call, never overlaps it.
func Every(ctx context.Context, interval time.Duration, f func(ctx context.Context)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		f(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// WakeGap is the least time between the starts of two woken runs of a
// background loop that commits wake (the sweeper's claim of due jobs, a
// notifier's look for due alerts). Wakes come at every commit, and each run
// costs the database a claim whatever it finds: with runs back to back,
// three replicas on one PostgreSQL answered 0.55–0.6 of the webhooks they
// answered without wakes; with this gap, 0.7–0.8 (bench ingest --workload
// registered --replicas 3; see the README). A wake within the gap waits
// for its end; later wakes coalesce with it.
const WakeGap = 100 * time.Millisecond

// Pace waits until gap has passed since last, or until ctx is done; it
// reports whether ctx is still live.
func Pace(ctx context.Context, last time.Time, gap time.Duration) bool {
	wait := time.Until(last.Add(gap))
	if wait <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
