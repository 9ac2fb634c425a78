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
