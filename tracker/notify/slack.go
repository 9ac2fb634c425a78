package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/jobwatch/jobwatch/tracker"
)

// DefaultSlackTimeout is SlackConfig.Timeout's default.
const DefaultSlackTimeout = 10 * time.Second

// SlackConfig configures a Slack incoming-webhook notifier.
type SlackConfig struct {
	// WebhookURL is the incoming webhook's URL
	// (https://hooks.slack.com/services/…). It is a secret: it appears in no
	// error or log line, only as "https://hooks.slack.com/<redacted>".
	WebhookURL string
	// Timeout bounds each HTTP attempt (a call makes up to three). 0 means
	// DefaultSlackTimeout.
	Timeout time.Duration
}

// String formats the config with the URL redacted.
func (c SlackConfig) String() string {
	return fmt.Sprintf("{WebhookURL:%s Timeout:%s}", redactRaw(c.WebhookURL), c.Timeout)
}

// GoString is String for the %#v verb.
func (c SlackConfig) GoString() string { return "notify.SlackConfig" + c.String() }

// LogValue is String for log/slog.
func (c SlackConfig) LogValue() slog.Value { return slog.StringValue(c.String()) }

// Slack posts alerts to a Slack incoming webhook as mrkdwn text: Text with
// its headline in bold.
type Slack struct {
	target *httpTarget
}

var _ Notifier = (*Slack)(nil)

// NewSlack validates cfg and returns its notifier. Errors name the field
// (webhook_url, timeout) and never quote the URL.
func NewSlack(cfg SlackConfig) (*Slack, error) {
	t, err := newHTTPTarget("webhook_url", cfg.WebhookURL, cfg.Timeout, DefaultSlackTimeout)
	if err != nil {
		return nil, err
	}
	return &Slack{target: t}, nil
}

// String names the notifier with its URL redacted.
func (s *Slack) String() string { return "slack " + s.target.shown }

// slackMessage is the body of an incoming-webhook call.
type slackMessage struct {
	Text string `json:"text"`
}

// Notify posts a's Text to the webhook. A 2xx is delivered; a 429 is a
// retryable *Error with the answer's Retry-After; 408, 5xx, connection
// errors and timeouts (after two quick retries within the call) are
// retryable; any other answer is permanent.
func (s *Slack) Notify(ctx context.Context, a tracker.Alert) error {
	body, err := json.Marshal(slackMessage{Text: slackText(a)})
	if err != nil {
		return &Error{Permanent: true, Err: fmt.Errorf("send slack alert %s: encode message: %w", a.ID, err)}
	}
	header := http.Header{"Content-Type": {"application/json"}, "User-Agent": {userAgent}}
	if e := s.target.post(ctx, body, header); e != nil {
		e.Err = fmt.Errorf("send slack alert %s: %w", a.ID, e.Err)
		return e
	}
	return nil
}

// userAgent identifies jobwatch to HTTP receivers.
const userAgent = "jobwatch"

// slackText is Text in Slack's mrkdwn: escaped, its headline in bold.
func slackText(a tracker.Alert) string {
	head, rest, more := strings.Cut(slackEscape(Text(a)), "\n")
	head = "*" + head + "*"
	if !more {
		return head
	}
	return head + "\n" + rest
}

// slackEscape escapes the three characters Slack's mrkdwn gives meaning to
// as control sequences (&, <, >), so that text from a provider cannot
// @-mention a channel or forge a link.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// redactRaw redacts a configured URL for printing: scheme and host only, or
// "<redacted>" when it does not parse, "" when empty.
func redactRaw(raw string) string {
	if raw == "" {
		return `""`
	}
	u, err := parseSecretURL("", raw)
	if err != nil {
		return redacted
	}
	return redactURL(u)
}
