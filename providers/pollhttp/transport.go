package pollhttp

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/jobwatch/jobwatch/providers/retryafter"
	"golang.org/x/time/rate"
)

// gate is the http.RoundTripper beneath the retries: every attempt, a retry
// or another job's poll alike, waits here for the provider-wide pause to end
// and for a rate-limit token before it is sent.
type gate struct {
	base http.RoundTripper
	// limiter is nil when the rate is unlimited.
	limiter *rate.Limiter
	// maxPause caps a pause a provider asks for (Config.MaxRetryWait).
	maxPause time.Duration

	mu sync.Mutex
	// until is when the provider's last 429 or 503 asked us to come back.
	until time.Time
}

// RoundTrip implements http.RoundTripper.
func (g *gate) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := g.wait(req.Context()); err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	resp, err := g.base.RoundTrip(req)
	if err == nil && (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable) {
		if d, ok := retryafter.Parse(resp.Header, time.Now(), maxRetryAfter); ok {
			g.pause(min(d, g.maxPause))
		}
	}
	return resp, err
}

// pause holds every request back for d from now, unless a longer pause is
// already in force.
func (g *gate) pause(d time.Duration) {
	until := time.Now().Add(d)
	g.mu.Lock()
	defer g.mu.Unlock()
	if until.After(g.until) {
		g.until = until
	}
}

func (g *gate) pausedUntil() time.Time {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.until
}

// wait returns once no pause is in force and a rate-limit token is ours, or
// with ctx's error when it ends first.
func (g *gate) wait(ctx context.Context) error {
	for {
		if err := sleep(ctx, time.Until(g.pausedUntil())); err != nil {
			return fmt.Errorf("wait out the provider's Retry-After: %w", err)
		}
		if g.limiter != nil {
			r := g.limiter.Reserve()
			if err := sleep(ctx, r.Delay()); err != nil {
				r.Cancel()
				return fmt.Errorf("wait for the rate limit: %w", err)
			}
		}
		// Another answer may have paused the provider while we waited for
		// the token.
		if !time.Now().Before(g.pausedUntil()) {
			return nil
		}
	}
}

// sleep waits d, or returns ctx's error when it ends first.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
