package pollhttp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/jobwatch/jobwatch/providers/retryafter"
)

// retryableStatus reports whether an answer with this status is worth
// another attempt: 429 and every 5xx.
func retryableStatus(code int) bool {
	return code == http.StatusTooManyRequests || code >= 500 && code <= 599
}

// checkRetry is the retryablehttp.CheckRetry of every Client: it retries
// connection errors, 429 and 5xx, never another answer, never once ctx has
// ended, and always returns the reason.
func checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if err == nil && !retryableStatus(resp.StatusCode) {
		// A final answer, even if ctx ended as it came: it says more.
		return false, nil
	}
	if ctx.Err() != nil {
		if err != nil {
			return false, err
		}
		return false, ctx.Err()
	}
	if err != nil {
		// A certificate the system does not trust will not be trusted on
		// the next attempt either.
		var cv *tls.CertificateVerificationError
		return !errors.As(err, &cv), err
	}
	return true, fmt.Errorf("HTTP %s", resp.Status)
}

// backoff is the retryablehttp.Backoff of every Client: the wait a 429 or
// 5xx answer asks for (retry-after-ms, else Retry-After), else exponential
// from minWait (the first retry waits about 500ms, then 1s, 2s...) less up
// to a quarter of jitter; always at most maxWait.
func backoff(minWait, maxWait time.Duration, attempt int, resp *http.Response) time.Duration {
	if resp != nil && retryableStatus(resp.StatusCode) {
		if d, ok := retryafter.Parse(resp.Header, time.Now(), maxRetryAfter); ok {
			return min(d, maxWait)
		}
	}
	d := maxWait
	if attempt < 32 {
		if step := minWait << attempt; step > 0 && step < maxWait {
			d = step
		}
	}
	return d - rand.N(d/4+1)
}

// maxRetryAfter bounds a parsed wait before any cap so that absurd values
// cannot overflow a time.Duration.
const maxRetryAfter = 24 * time.Hour

// errorHandler is the retryablehttp.ErrorHandler of every Client: it hands
// back the last answer, so that Get can classify it, and an error that says
// how many attempts were made and holds no URL.
func errorHandler(resp *http.Response, err error, attempts int) (*http.Response, error) {
	if err == nil {
		return resp, fmt.Errorf("giving up after %d attempt(s)", attempts)
	}
	return resp, fmt.Errorf("giving up after %d attempt(s): %w", attempts, stripURLError(err))
}
