// Package notify delivers jobwatch alerts: to a Slack incoming webhook, by
// email over SMTP, to a signed outbound webhook (Standard Webhooks), or to
// the log.
//
// Every notifier classifies its own failures where they happen, as
// alertmanager's notifiers do: Notify returns an *Error that says whether
// retrying can help and, when the receiver said so, when to come back. The
// durable outbox that calls Notify owns retries across calls; the HTTP
// notifiers retry only briefly within one call.
//
// Secrets (a Slack webhook URL, a webhook URL's path and query, a webhook
// signing secret, an SMTP password) never appear in an error, a log line or
// a printed config.
//
// It is part of the jobwatch daemon, not of the library's public API.
package notify

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/jobwatch/jobwatch/tracker"
)

// Notifier delivers an alert somewhere. Notify returns nil once delivered,
// or an error; an *Error says whether to retry and when. Implementations are
// safe for concurrent use.
type Notifier interface {
	Notify(ctx context.Context, a tracker.Alert) error
}

// Error is a failed delivery, classified where it failed.
type Error struct {
	// Permanent is true when retrying cannot help: an HTTP 4xx other than
	// 408 and 429, an SMTP 5xx (a rejected recipient or sender, refused
	// credentials), or configuration the receiver does not accept.
	Permanent bool
	// RetryAfter is how long the receiver asked us to wait before the next
	// attempt (a 429's or 503's Retry-After), capped at MaxRetryAfter; 0
	// when it did not say.
	RetryAfter time.Duration
	// Err is what failed, prefixed with the action ("send slack alert
	// alrt_12: ..."). It never holds a secret.
	Err error
}

// Error returns Err's message.
func (e *Error) Error() string {
	if e.Err == nil {
		return "notify: delivery failed"
	}
	return e.Err.Error()
}

// Unwrap returns Err.
func (e *Error) Unwrap() error { return e.Err }

// MaxRetryAfter caps the wait a receiver's Retry-After can ask for, so that
// a bogus header cannot park an alert for days.
const MaxRetryAfter = time.Hour

// redacted replaces a secret in messages.
const redacted = "<redacted>"

// redactor cuts secrets out of text: each is replaced by what it is shown
// as, "<redacted>" or, for a whole secret URL, "https://host/<redacted>".
// Secrets are replaced longest first, so a secret containing another is
// replaced whole.
type redactor []redaction

// redaction is one secret and what replaces it.
type redaction struct{ secret, shownAs string }

// newRedactor returns a redactor for the non-empty secrets.
func newRedactor(secrets ...string) redactor { return redactor(nil).with(redacted, secrets...) }

// with returns r and the non-empty secrets it does not hold yet, shown as
// shownAs.
func (r redactor) with(shownAs string, secrets ...string) redactor {
	out := slices.Clone(r)
	for _, s := range secrets {
		if s != "" && !slices.ContainsFunc(out, func(x redaction) bool { return x.secret == s }) {
			out = append(out, redaction{secret: s, shownAs: shownAs})
		}
	}
	slices.SortStableFunc(out, func(a, b redaction) int { return len(b.secret) - len(a.secret) })
	return out
}

// text returns s with every secret replaced.
func (r redactor) text(s string) string {
	for _, x := range r {
		s = strings.ReplaceAll(s, x.secret, x.shownAs)
	}
	return s
}

// error returns err unchanged when its message holds no secret; otherwise an
// error with the secrets cut out, which does not unwrap (the chain below
// would still print them).
func (r redactor) error(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if clean := r.text(msg); clean != msg {
		return &scrubbedError{msg: clean}
	}
	return err
}

// scrubbedError is an error whose message had a secret cut out.
type scrubbedError struct{ msg string }

func (e *scrubbedError) Error() string { return e.msg }
