// Package retryafter reads how long an HTTP answer asks its client to wait
// before trying again: the retry-after-ms header (milliseconds, as OpenAI's
// API sends it), then Retry-After (seconds, or an HTTP date). Pollers and
// notifiers both use it.
package retryafter

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Parse returns the wait h asks for at time now, at most limit, and whether
// it asks for one. A date in the past is no wait.
func Parse(h http.Header, now time.Time, limit time.Duration) (time.Duration, bool) {
	if d, ok := parseWait(h.Get("retry-after-ms"), time.Millisecond, limit); ok {
		return d, true
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if d, ok := parseWait(v, time.Second, limit); ok {
		return d, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return min(max(t.Sub(now), 0), limit), true
	}
	return 0, false
}

// parseWait parses a non-negative number of units, at most limit.
func parseWait(v string, unit, limit time.Duration) (time.Duration, bool) {
	n, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || n < 0 || math.IsNaN(n) || math.IsInf(n, 0) {
		return 0, false
	}
	if n*float64(unit) > float64(limit) {
		return limit, true
	}
	return time.Duration(n * float64(unit)), true
}
