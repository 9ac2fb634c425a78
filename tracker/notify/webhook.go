package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/jobwatch/jobwatch/providers/signature"
	"github.com/jobwatch/jobwatch/tracker"
)

// DefaultWebhookTimeout is WebhookConfig.Timeout's default.
const DefaultWebhookTimeout = 10 * time.Second

// webhookSecretPrefix starts every Standard Webhooks secret.
const webhookSecretPrefix = "whsec_"

// WebhookConfig configures an outbound webhook notifier.
type WebhookConfig struct {
	// URL receives the alerts. Its path and query may hold a token: errors
	// show only "https://host/<redacted>".
	URL string
	// Secret signs each delivery (Standard Webhooks): "whsec_" and the
	// standard base64 of at least 24 random bytes, the form every Standard
	// Webhooks library verifies with.
	Secret string
	// Timeout bounds each HTTP attempt (a call makes up to three). 0 means
	// DefaultWebhookTimeout.
	Timeout time.Duration
}

// String formats the config with the URL and the secret redacted.
func (c WebhookConfig) String() string {
	secret := `""`
	if c.Secret != "" {
		secret = redacted
	}
	return fmt.Sprintf("{URL:%s Secret:%s Timeout:%s}", redactRaw(c.URL), secret, c.Timeout)
}

// GoString is String for the %#v verb.
func (c WebhookConfig) GoString() string { return "notify.WebhookConfig" + c.String() }

// LogValue is String for log/slog.
func (c WebhookConfig) LogValue() slog.Value { return slog.StringValue(c.String()) }

// Webhook POSTs each alert, as the JSON of tracker.Alert, to a URL, signed
// the Standard Webhooks way: webhook-id is the alert's ID (the same on every
// retry, so the receiver can dedupe), webhook-timestamp the time of sending,
// webhook-signature "v1,<base64 HMAC-SHA256>".
type Webhook struct {
	target *httpTarget
	signer signature.Signer
}

var _ Notifier = (*Webhook)(nil)

// NewWebhook validates cfg and returns its notifier. Errors name the field
// (url, secret, timeout) and never quote the URL or the secret.
func NewWebhook(cfg WebhookConfig) (*Webhook, error) {
	t, err := newHTTPTarget("url", cfg.URL, cfg.Timeout, DefaultWebhookTimeout)
	if err != nil {
		return nil, err
	}
	switch {
	case cfg.Secret == "":
		return nil, errors.New("secret: required")
	case !strings.HasPrefix(cfg.Secret, webhookSecretPrefix):
		return nil, errors.New(`secret: must start with "whsec_" (a Standard Webhooks secret: "whsec_" and the base64 of at least 24 random bytes)`)
	}
	signer, err := signature.NewSigner(signature.Config{Scheme: signature.SchemeStandardWebhooks, Secrets: []string{cfg.Secret}})
	if err != nil {
		// "secrets[0]: ..." in signature's terms; the message holds no secret.
		return nil, fmt.Errorf("secret: %s", strings.TrimPrefix(err.Error(), "secrets[0]: "))
	}
	// The secret signs; it is not in the URL, but keep it out of any
	// message all the same.
	t.redact = t.redact.with(redacted, cfg.Secret, strings.TrimPrefix(cfg.Secret, webhookSecretPrefix))
	return &Webhook{target: t, signer: signer}, nil
}

// String names the notifier with its URL redacted.
func (w *Webhook) String() string { return "webhook " + w.target.shown }

// Notify POSTs a as JSON, signed. A 2xx is delivered; a 429 is a retryable
// *Error with the answer's Retry-After; 408, 5xx, connection errors and
// timeouts (after two quick retries within the call) are retryable; any
// other answer, and an alert without an ID, is permanent.
func (w *Webhook) Notify(ctx context.Context, a tracker.Alert) error {
	fail := func(err error) error {
		return &Error{Permanent: true, Err: fmt.Errorf("send webhook alert %s: %w", a.ID, err)}
	}
	if a.ID == "" {
		return fail(errors.New("alert has no id (the webhook-id)"))
	}
	body, err := json.Marshal(a)
	if err != nil {
		return fail(fmt.Errorf("encode alert: %w", err))
	}
	header := http.Header{"Content-Type": {"application/json"}, "User-Agent": {userAgent}}
	if err := w.signer.Sign(header, a.ID, body, time.Now()); err != nil {
		return fail(fmt.Errorf("sign: %w", err))
	}
	if e := w.target.post(ctx, body, header); e != nil {
		e.Err = fmt.Errorf("send webhook alert %s: %w", a.ID, e.Err)
		return e
	}
	return nil
}
