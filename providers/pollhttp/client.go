// Package pollhttp is the HTTP client every poller asks its provider's API
// with: retries with capped backoff (Retry-After and retry-after-ms honoured),
// a provider-wide pause after a 429 or 503 that names a time, a request rate
// limit, a concurrency limit, a deadline per call, and failures classified as
// *providers.PollError whose messages never hold a URL's query or a header
// value.
package pollhttp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/go-retryablehttp"
	"golang.org/x/time/rate"

	"github.com/jobwatch/jobwatch/providers"
)

// Defaults of Config's zero fields.
const (
	// DefaultConcurrency is the default number of requests in flight at once.
	DefaultConcurrency = 4
	// DefaultMaxRetryWait is the default cap on a wait between attempts.
	DefaultMaxRetryWait = 60 * time.Second
	// DefaultRetries is the default number of retries after the first attempt.
	DefaultRetries = 4
	// DefaultTimeout is the default deadline of one Get, retries included.
	DefaultTimeout = 30 * time.Second
)

// MaxBodyBytes is the largest answer body Get accepts, in bytes. A job object
// is a few kilobytes; anything this large is not one.
const MaxBodyBytes = 8 << 20

// minRetryWait is the first backoff step between attempts, before jitter.
const minRetryWait = 500 * time.Millisecond

// Config configures one provider's client. Zero values get the defaults noted.
type Config struct {
	// Provider is the provider's name, for logs and errors.
	Provider string
	// RateLimit is the most requests per second, as a token bucket: every
	// attempt, retries included, takes a token. 0: unlimited.
	RateLimit float64
	// Burst is how many requests may go at once above RateLimit. Default:
	// RateLimit rounded up, at least 1.
	Burst int
	// Concurrency is the most Get calls in flight at once. Default 4.
	Concurrency int
	// MaxRetryWait caps any wait between attempts, a provider's Retry-After
	// and the provider-wide pause included. Default 60s.
	MaxRetryWait time.Duration
	// Retries is how many times a failed attempt (connection error, 429,
	// 5xx) is retried after the first one, while Timeout allows. Default 4;
	// negative: none.
	Retries int
	// Timeout is the deadline of one Get, its retries and waits included
	// (the wait for a free slot under Concurrency excluded). Default 30s.
	Timeout time.Duration
	// Logger receives the retry machinery's own logging, all at Debug level,
	// with URLs stripped of their query. Default: none.
	Logger *slog.Logger
}

// Client GETs one provider's API. It is safe for concurrent use; all its
// calls share one rate limit, one concurrency limit and one pause.
type Client struct {
	provider string
	timeout  time.Duration
	sem      chan struct{}
	rc       *retryablehttp.Client
}

// New returns the client cfg describes.
func New(cfg Config) *Client {
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.MaxRetryWait <= 0 {
		cfg.MaxRetryWait = DefaultMaxRetryWait
	}
	switch {
	case cfg.Retries == 0:
		cfg.Retries = DefaultRetries
	case cfg.Retries < 0:
		cfg.Retries = 0
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With("provider", cfg.Provider)

	g := &gate{maxPause: cfg.MaxRetryWait}
	if cfg.RateLimit > 0 {
		burst := cfg.Burst
		if burst <= 0 {
			burst = max(1, int(math.Ceil(cfg.RateLimit)))
		}
		g.limiter = rate.NewLimiter(rate.Limit(cfg.RateLimit), burst)
	}
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.MaxIdleConnsPerHost = cfg.Concurrency
	g.base = base

	return &Client{
		provider: cfg.Provider,
		timeout:  cfg.Timeout,
		sem:      make(chan struct{}, cfg.Concurrency),
		rc: &retryablehttp.Client{
			HTTPClient: &http.Client{
				Transport: g,
				// A poll is never redirected; following one would hand
				// custom auth headers (x-api-key) to another host.
				CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
			},
			Logger:       leveledLogger{logger},
			RetryWaitMin: minRetryWait,
			RetryWaitMax: cfg.MaxRetryWait,
			RetryMax:     cfg.Retries,
			CheckRetry:   checkRetry,
			Backoff:      backoff,
			ErrorHandler: errorHandler,
		},
	}
}

// Get GETs rawURL with headers and returns the body of a 2xx answer, at most
// MaxBodyBytes. It never adds anything to the URL: credentials go in
// headers. A failure is a *providers.PollError:
//
//   - 404: PollNotFound;
//   - 401, 403: PollAuth;
//   - 429, 5xx, connection errors and timeouts that outlast the retries, and
//     ctx ending: PollTransient (ctx's error is in the chain);
//   - any other answer, a URL Get cannot send, an oversized body: PollInvalid.
//
// Its message names the request as "GET scheme://host/path" at most: never
// the query, never a header value.
func (c *Client) Get(ctx context.Context, rawURL string, headers http.Header) ([]byte, error) {
	u, err := checkURL(rawURL)
	if err != nil {
		return nil, &providers.PollError{Class: providers.PollInvalid, Err: err}
	}
	desc := "GET " + redactedURL(u)
	fail := func(class providers.PollErrorClass, code int, err error) error {
		return &providers.PollError{Class: class, StatusCode: code, Err: fmt.Errorf("%s: %w", desc, err)}
	}

	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, fail(providers.PollTransient, 0, fmt.Errorf("wait for a free connection: %w", ctx.Err()))
	}
	defer func() { <-c.sem }()

	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := retryablehttp.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		// The error quotes the URL: keep only that the request was bad.
		return nil, fail(providers.PollInvalid, 0, errors.New("cannot build the request"))
	}
	maps.Copy(req.Header, headers.Clone())
	if req.Header.Get("Accept") == "" {
		req.Header.Set("Accept", "application/json")
	}

	resp, err := c.rc.Do(req)
	if resp == nil {
		if err == nil {
			err = errors.New("no answer")
		}
		err = stripURLError(err)
		if errors.Is(err, context.DeadlineExceeded) && parent.Err() == nil {
			err = fmt.Errorf("no answer within %v: %w", c.timeout, err)
		}
		return nil, fail(providers.PollTransient, 0, err)
	}
	defer resp.Body.Close()

	code := resp.StatusCode
	if err == nil && code >= 200 && code < 300 {
		body, err := io.ReadAll(io.LimitReader(resp.Body, MaxBodyBytes+1))
		switch {
		case err != nil:
			return nil, fail(providers.PollTransient, code, fmt.Errorf("read answer: %w", stripURLError(err)))
		case len(body) > MaxBodyBytes:
			return nil, fail(providers.PollInvalid, code, fmt.Errorf("answer larger than %d bytes", MaxBodyBytes))
		}
		return body, nil
	}
	// Let the connection be reused; the body itself is not reported, as
	// providers echo parts of keys in their error messages.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if err == nil {
		err = errors.New(resp.Status)
	}
	return nil, fail(classify(code), code, err)
}

// classify says what an answer that is not a 2xx means.
func classify(code int) providers.PollErrorClass {
	switch {
	case code == http.StatusNotFound:
		return providers.PollNotFound
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		return providers.PollAuth
	case retryableStatus(code):
		return providers.PollTransient
	}
	return providers.PollInvalid
}

// checkURL parses rawURL and refuses what Get must not send or could not
// keep out of its messages: a scheme other than http(s), no host,
// credentials before the host (they go in headers), and characters that a
// URL must escape (a raw space or quote would let a query's end escape
// redaction).
func checkURL(rawURL string) (*url.URL, error) {
	for i := 0; i < len(rawURL); i++ {
		if b := rawURL[i]; b <= ' ' || b >= 0x7f || strings.IndexByte("\"<>\\^`{|}", b) >= 0 {
			return nil, errors.New("GET: the URL has a character that must be escaped")
		}
	}
	u, err := url.Parse(rawURL)
	switch {
	case err != nil:
		return nil, errors.New("GET: malformed URL")
	case !slices.Contains([]string{"http", "https"}, u.Scheme) || u.Host == "":
		return nil, errors.New("GET: not an http or https URL")
	case u.User != nil:
		return nil, fmt.Errorf("GET %s: credentials in the URL (send them in headers)", redactedURL(u))
	}
	return u, nil
}
