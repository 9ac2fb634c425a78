package notify

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/hashicorp/go-retryablehttp"
	"github.com/jobwatch/jobwatch/providers/retryafter"
)

// In-call retries of the HTTP notifiers: brief, for a blip. Longer outages
// are the outbox's to wait out.
const (
	// httpRetries is how many times a connection error, 408 or 5xx without
	// Retry-After is retried within one Notify call.
	httpRetries = 2
	// httpRetryWaitMin is the first wait between attempts, before jitter;
	// each later wait doubles.
	httpRetryWaitMin = 250 * time.Millisecond
	// httpRetryWaitMax caps any wait between attempts.
	httpRetryWaitMax = 2 * time.Second
	// maxExcerptBytes is how much of an error answer's body is read, and
	// maxExcerptRunes how much of it an error message quotes.
	maxExcerptBytes = 1 << 10
	maxExcerptRunes = 200
)

// httpTarget is one secret URL that alerts are POSTed to; Slack and Webhook
// share it, and with it one way of sending and classifying.
type httpTarget struct {
	// url is the full target URL: a secret.
	url string
	// shown is the URL as errors and String show it:
	// "https://host/<redacted>".
	shown string
	// desc names the request in errors: "POST https://host/<redacted>".
	desc   string
	redact redactor
	client *retryablehttp.Client
}

// newHTTPTarget validates rawURL (an http or https URL with a host) and
// timeout (per attempt; 0 means def). field names the URL's config key in
// errors, which never quote the URL.
func newHTTPTarget(field, rawURL string, timeout, def time.Duration) (*httpTarget, error) {
	u, err := parseSecretURL(field, rawURL)
	if err != nil {
		return nil, err
	}
	if timeout < 0 {
		return nil, fmt.Errorf("timeout: must not be negative, got %s", timeout)
	}
	if timeout == 0 {
		timeout = def
	}
	secrets := []string{u.RawQuery, u.RawFragment, u.Fragment}
	if u.User != nil {
		secrets = append(secrets, u.User.String())
	}
	for _, s := range []string{u.RequestURI(), u.EscapedPath(), u.Path} {
		if len(s) > 1 { // never "/" alone
			secrets = append(secrets, s)
		}
	}
	shown := redactURL(u)
	return &httpTarget{
		url:   rawURL,
		shown: shown,
		desc:  "POST " + shown,
		// The whole URL, quoted in an answer, keeps its scheme and host.
		redact: newRedactor(secrets...).with(shown, rawURL, u.String()),
		client: &retryablehttp.Client{
			HTTPClient: &http.Client{
				Transport: http.DefaultTransport.(*http.Transport).Clone(),
				Timeout:   timeout,
				// A redirect would send the alert, and for a webhook its
				// signature, somewhere not configured.
				CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
			},
			// No logger: retryablehttp's own log lines carry the URL.
			Logger:       nil,
			RetryWaitMin: httpRetryWaitMin,
			RetryWaitMax: httpRetryWaitMax,
			RetryMax:     httpRetries,
			CheckRetry:   checkRetry,
			Backoff:      backoff,
			ErrorHandler: errorHandler,
		},
	}, nil
}

// parseSecretURL checks that rawURL is an http or https URL with a host.
// Its errors name field and never quote the URL.
func parseSecretURL(field, rawURL string) (*url.URL, error) {
	if rawURL == "" {
		return nil, fmt.Errorf("%s: required", field)
	}
	for _, r := range rawURL {
		if r <= ' ' || r == 0x7f || !unicode.IsPrint(r) {
			return nil, fmt.Errorf("%s: not a valid URL: it has a space or control character", field)
		}
	}
	u, err := url.Parse(rawURL)
	switch {
	case err != nil:
		// url.Parse's error quotes the URL.
		return nil, fmt.Errorf("%s: not a valid URL", field)
	case u.Scheme != "https" && u.Scheme != "http":
		return nil, fmt.Errorf("%s: must be an https or http URL", field)
	case u.Host == "":
		return nil, fmt.Errorf("%s: no host in the URL", field)
	}
	return u, nil
}

// redactURL keeps only what of u is not secret, as alertmanager's RedactURL
// does: "https://hooks.slack.com/<redacted>".
func redactURL(u *url.URL) string {
	return u.Scheme + "://" + u.Host + "/" + redacted
}

// post POSTs body with header to the target, with brief in-call retries, and
// classifies the outcome: nil on a 2xx; else an *Error, retryable on
// connection errors, timeouts, 408, 429 and 5xx (with RetryAfter when the
// answer had a Retry-After), permanent otherwise. The error names the
// request as t.desc and never holds the URL.
func (t *httpTarget) post(ctx context.Context, body []byte, header http.Header) *Error {
	req, err := retryablehttp.NewRequestWithContext(ctx, http.MethodPost, t.url, body)
	if err != nil {
		return &Error{Permanent: true, Err: fmt.Errorf("%s: build request: %w", t.desc, t.redact.error(stripURLError(err)))}
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := t.client.Do(req)
	if resp == nil {
		if err == nil {
			err = errors.New("no answer")
		}
		err = t.redact.error(stripURLError(err))
		return &Error{Permanent: certError(err), Err: fmt.Errorf("%s: %w", t.desc, err)}
	}
	// An answer says more than an error that came with it (ctx ending as it
	// arrived).
	defer resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil
	}
	msg := resp.Status
	if resp.StatusCode >= 300 && resp.StatusCode <= 399 {
		msg += " (redirects are not followed)"
	}
	msg = t.redact.text(msg)
	if excerpt := readExcerpt(resp.Body, t.redact); excerpt != "" {
		msg += ": " + excerpt
	}
	permanent, after := classifyStatus(resp)
	return &Error{Permanent: permanent, RetryAfter: after, Err: fmt.Errorf("%s: %s", t.desc, msg)}
}

// classifyStatus says what a non-2xx answer means: 408, 429 and 5xx are
// worth another attempt, after the answer's Retry-After when it has one;
// anything else is permanent.
func classifyStatus(resp *http.Response) (permanent bool, after time.Duration) {
	code := resp.StatusCode
	if code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500 && code <= 599 {
		after, _ = retryafter.Parse(resp.Header, time.Now(), MaxRetryAfter)
		return false, after
	}
	return true, 0
}

// checkRetry is the retryablehttp.CheckRetry of the HTTP notifiers: retry
// within the call only connection errors (not an untrusted certificate),
// timeouts, 408 and 5xx that name no time to come back. A 429, or any
// answer with Retry-After, goes back to the outbox to be scheduled. It never
// returns an error, so that the last attempt's answer or error reaches post
// as it was.
func checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctx.Err() != nil {
		return false, nil
	}
	if err != nil {
		return !certError(err), nil
	}
	if resp.StatusCode == http.StatusTooManyRequests {
		return false, nil
	}
	permanent, _ := classifyStatus(resp)
	_, named := retryafter.Parse(resp.Header, time.Now(), MaxRetryAfter)
	return !permanent && !named, nil
}

// backoff is the retryablehttp.Backoff of the HTTP notifiers: exponential
// from minWait (250ms, 500ms, 1s, ...) less up to a quarter of jitter,
// at most maxWait. It ignores Retry-After: checkRetry does not retry an
// answer that has one.
func backoff(minWait, maxWait time.Duration, attempt int, _ *http.Response) time.Duration {
	d := maxWait
	if attempt < 32 {
		if step := minWait << attempt; step > 0 && step < maxWait {
			d = step
		}
	}
	return d - rand.N(d/4+1)
}

// errorHandler is the retryablehttp.ErrorHandler of the HTTP notifiers,
// called when the last attempt failed: it hands back the last answer as it
// was, for post to classify, and the last attempt's error without the URL
// (retryablehttp's own error quotes it). How many attempts the call made is
// not told: the outbox's log lines count the alert's attempts, and a count
// of requests beside it would read as another.
func errorHandler(resp *http.Response, err error, _ int) (*http.Response, error) {
	return resp, stripURLError(err)
}

// stripURLError removes the *url.Error with which net/http and retryablehttp
// wrap failures: its message quotes the whole URL. Only the cause survives.
func stripURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// certError reports whether err is a TLS certificate the client does not
// trust: a configuration matter that retrying does not change.
func certError(err error) bool {
	var (
		cv  *tls.CertificateVerificationError
		ua  x509.UnknownAuthorityError
		he  x509.HostnameError
		inv x509.CertificateInvalidError
	)
	return errors.As(err, &cv) || errors.As(err, &ua) || errors.As(err, &he) || errors.As(err, &inv)
}

// readExcerpt reads a short error answer's body as one printable line with
// the secrets cut out, for the error message (Slack answers
// "invalid_payload", "no_service", ...). A body longer than maxExcerptBytes
// is not quoted at all: cut anywhere, a secret it echoes could be cut too
// and escape redaction.
func readExcerpt(r io.Reader, redact redactor) string {
	b, _ := io.ReadAll(io.LimitReader(r, maxExcerptBytes+1))
	_, _ = io.Copy(io.Discard, io.LimitReader(r, 64<<10))
	if len(b) > maxExcerptBytes {
		return ""
	}
	return oneLine(redact.text(strings.ToValidUTF8(string(b), "\uFFFD")), maxExcerptRunes)
}

// oneLine collapses s to one line of printable text with single spaces, cut
// to at most n runes (with "…" when cut).
func oneLine(s string, n int) string {
	var b strings.Builder
	space := false
	for _, r := range s {
		if unicode.IsSpace(r) || !unicode.IsPrint(r) {
			space = b.Len() > 0
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
	}
	out := b.String()
	if utf8.RuneCountInString(out) > n {
		out = string([]rune(out)[:n-1]) + "…"
	}
	return out
}
