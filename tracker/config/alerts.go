package config

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/jobwatch/jobwatch/tracker"
	"github.com/jobwatch/jobwatch/tracker/notify"
)

// Alerts configures the delivery of the alert outbox.
type Alerts struct {
	// Interval is how often each notifier looks for due alerts. Default 1s.
	Interval Duration `toml:"interval"`
	// MaxAttempts failed deliveries dead-letter an alert. Default 20.
	MaxAttempts int `toml:"max_attempts"`
	// MaxAge: an alert older than this is dead-lettered at its next failure.
	// Default 24h.
	MaxAge Duration `toml:"max_age"`
	// Timeout bounds one delivery. Default 30s.
	Timeout Duration `toml:"timeout"`
	// Backoff is the first retry's wait, doubling up to MaxBackoff.
	// Defaults 5s and 10m.
	Backoff    Duration `toml:"backoff"`
	MaxBackoff Duration `toml:"max_backoff"`
	// EnrichWait is how long the alert of an end that a thin webhook
	// announced waits for the enrichment poll's figures before it goes out
	// with what is known. Default 2m.
	EnrichWait Duration `toml:"enrich_wait"`
}

// Notifier is one [[notifiers]] entry.
type Notifier struct {
	Name string `toml:"name"`
	// Type is slack, email, webhook or log.
	Type string `toml:"type"`
	// WebhookURL is a Slack incoming webhook (a secret).
	WebhookURL Secret `toml:"webhook_url"`
	// SMTPHost, SMTPPort (default 587), StartTLS (required, opportunistic or
	// none; default required), Username and Password (AUTH when set), From
	// and To configure email.
	SMTPHost string   `toml:"smtp_host"`
	SMTPPort int      `toml:"smtp_port"`
	StartTLS string   `toml:"starttls"`
	Username string   `toml:"username"`
	Password Secret   `toml:"password"`
	From     string   `toml:"from"`
	To       []string `toml:"to"`
	// TLSCAFile is a PEM file of the CA certificates that the SMTP server's
	// certificate must chain to, instead of the system's (a private CA of
	// an internal relay); TLSServerName the name that certificate must
	// carry, by default SMTPHost.
	TLSCAFile     string `toml:"tls_ca_file"`
	TLSServerName string `toml:"tls_server_name"`
	// URL and Secret (whsec_…) configure a signed outbound webhook.
	URL    Secret `toml:"url"`
	Secret Secret `toml:"secret"`
	// RateLimit caps the notifier's deliveries, in alerts per second,
	// evenly spaced, in each replica; 0: no limit. Default 1 for slack
	// (what Slack's incoming webhooks allow), 0 for the others.
	RateLimit *float64 `toml:"rate_limit"`
	// Concurrency is how many alerts the notifier sends at once, in each
	// replica (one job's alerts are still sent one after the other).
	// Default DefaultConcurrency of its type.
	Concurrency int `toml:"concurrency"`
}

// Route is one [[routes]] entry.
type Route struct {
	// Events are alert types or patterns ending in "*".
	Events    []string          `toml:"events"`
	Providers []string          `toml:"providers"`
	Kinds     []string          `toml:"kinds"`
	Labels    map[string]string `toml:"labels"`
	Notifiers []string          `toml:"notifiers"`
	// RepeatInterval sends the same alert at most once per interval.
	RepeatInterval Duration `toml:"repeat_interval"`
}

// Threshold is one [[thresholds]] entry.
type Threshold struct {
	Name     string            `toml:"name"`
	Metric   string            `toml:"metric"`
	Provider string            `toml:"provider"`
	Labels   map[string]string `toml:"labels"`
	Window   string            `toml:"window"`
	// Limit is in the metric's unit: a count, or for "cost" an amount of
	// costs.currency (which may have decimals).
	Limit float64 `toml:"limit"`
	// Levels are fractions of Limit. Default [0.8, 1.0].
	Levels []float64 `toml:"levels"`
	// Projected makes the levels apply to the projected total: the window's
	// cost plus what the running jobs of known size will cost. Only for
	// metric "cost".
	Projected bool `toml:"projected"`
}

// limit is t's Limit in the unit the usage totals count: nanos for cost.
func (t Threshold) limit() int64 {
	if t.Metric == tracker.MetricCost {
		return int64(math.Round(t.Limit * tracker.NanosPerUnit))
	}
	return int64(t.Limit)
}

// DefaultSlackRateLimit is a slack notifier's default rate_limit, in alerts
// per second: Slack's incoming webhooks allow about one message a second.
const DefaultSlackRateLimit = 1.0

// DefaultConcurrency is each notifier type's default concurrency: a
// webhook receiver is a service that takes requests in parallel; Slack
// allows about one message a second per incoming webhook, which one sender
// keeps up with, and keeps a channel's messages in the order they come;
// an SMTP relay limits the connections of one client, and each email is a
// session of its own; the log writes in process.
var DefaultConcurrency = map[string]int{NotifierWebhook: 8, NotifierSlack: 1, NotifierEmail: 2, NotifierLog: 1}

// Notifier types.
const (
	NotifierSlack   = "slack"
	NotifierEmail   = "email"
	NotifierWebhook = "webhook"
	NotifierLog     = "log"
)

func (a *Alerts) applyDefaults() {
	setDefault(&a.Interval, Duration(time.Second))
	setDefault(&a.MaxAttempts, 20)
	setDefault(&a.MaxAge, Duration(24*time.Hour))
	setDefault(&a.Timeout, Duration(30*time.Second))
	setDefault(&a.Backoff, Duration(5*time.Second))
	setDefault(&a.MaxBackoff, Duration(10*time.Minute))
	setDefault(&a.EnrichWait, Duration(2*time.Minute))
}

func (c *Config) applyAlertDefaults() {
	c.Alerts.applyDefaults()
	for i := range c.Notifiers {
		n := &c.Notifiers[i]
		if n.Type == NotifierEmail {
			setDefault(&n.SMTPPort, 587)
			setDefault(&n.StartTLS, "required")
		}
		setDefault(&n.Concurrency, DefaultConcurrency[n.Type])
		if n.RateLimit == nil {
			r := 0.0
			if n.Type == NotifierSlack {
				r = DefaultSlackRateLimit
			}
			n.RateLimit = &r
		}
	}
	for i := range c.Thresholds {
		if c.Thresholds[i].Levels == nil {
			c.Thresholds[i].Levels = []float64{0.8, 1.0}
		}
	}
}

func (c *Config) validateAlerts(bad func(key, format string, args ...any)) {
	for key, d := range map[string]Duration{"alerts.interval": c.Alerts.Interval, "alerts.max_age": c.Alerts.MaxAge,
		"alerts.timeout": c.Alerts.Timeout, "alerts.backoff": c.Alerts.Backoff, "alerts.max_backoff": c.Alerts.MaxBackoff,
		"alerts.enrich_wait": c.Alerts.EnrichWait} {
		if d <= 0 {
			bad(key, "must be positive")
		}
	}
	if c.Alerts.MaxAttempts < 1 {
		bad("alerts.max_attempts", "must be at least 1")
	}
	names := map[string]bool{}
	for i, n := range c.Notifiers {
		key := fmt.Sprintf("notifiers[%d]", i)
		if tracker.ValidateProvider(n.Name) != nil {
			bad(key+".name", "%q is not a name (lower-case letters, digits, '_', '-', '.')", n.Name)
		}
		if names[n.Name] {
			bad(key+".name", "%q is used by an earlier notifier", n.Name)
		}
		names[n.Name] = true
		n.validate(key, bad)
	}
	for i, r := range c.Routes {
		key := fmt.Sprintf("routes[%d]", i)
		if len(r.Events) == 0 {
			bad(key+".events", "at least one event type or pattern (\"job.*\", \"*\")")
		}
		for j, e := range r.Events {
			switch {
			case e == "" || strings.Contains(strings.TrimSuffix(e, "*"), "*"):
				bad(fmt.Sprintf("%s.events[%d]", key, j), "%q is not an event type or a pattern ending in *", e)
			case !strings.HasSuffix(e, "*") && !c.routeEventKnown(e):
				bad(fmt.Sprintf("%s.events[%d]", key, j), "%q is no alert type (%s)", e, alertTypesHelp())
			}
		}
		if len(r.Notifiers) == 0 {
			bad(key+".notifiers", "at least one notifier")
		}
		for j, n := range r.Notifiers {
			if !names[n] {
				bad(fmt.Sprintf("%s.notifiers[%d]", key, j), "no notifier named %q", n)
			}
		}
		if r.RepeatInterval < 0 {
			bad(key+".repeat_interval", "must not be negative")
		}
	}
	tnames := map[string]bool{}
	for i, t := range c.Thresholds {
		key := fmt.Sprintf("thresholds[%d]", i)
		if t.Name == "" || tnames[t.Name] {
			bad(key+".name", "required and unique (%q)", t.Name)
		}
		tnames[t.Name] = true
		if !slices.Contains(tracker.UsageMetrics, t.Metric) {
			bad(key+".metric", "%q is not a metric (want one of %s)", t.Metric, strings.Join(tracker.UsageMetrics, ", "))
		}
		if !slices.Contains(tracker.Windows, t.Window) {
			bad(key+".window", "%q is not a window (want hour, day or month)", t.Window)
		}
		switch {
		case !(t.Limit > 0) || t.Limit > math.MaxInt64/tracker.NanosPerUnit:
			bad(key+".limit", "%g is not a positive limit", t.Limit)
		case t.Metric != tracker.MetricCost && t.Limit != math.Trunc(t.Limit):
			bad(key+".limit", "%g is not a whole number of %s", t.Limit, t.Metric)
		}
		if t.Projected && t.Metric != tracker.MetricCost {
			bad(key+".projected", "only a cost threshold can be projected")
		}
		for j, l := range t.Levels {
			if l <= 0 || l > 100 {
				bad(fmt.Sprintf("%s.levels[%d]", key, j), "%g is not a fraction of the limit (e.g. 0.8, 1.0)", l)
			}
		}
	}
}

func (n Notifier) validate(key string, bad func(key, format string, args ...any)) {
	if r := n.RateLimit; r != nil && !(*r >= 0 && !math.IsInf(*r, 1)) {
		bad(key+".rate_limit", "%g is not a rate (alerts per second, 0 for no limit)", *r)
	}
	if n.Concurrency < 0 || n.Concurrency > 256 {
		bad(key+".concurrency", "%d is not a number of alerts sent at once (1 to 256)", n.Concurrency)
	}
	var err error
	switch n.Type {
	case NotifierSlack:
		_, err = notify.NewSlack(n.SlackConfig())
	case NotifierEmail:
		_, err = notify.NewEmail(n.EmailConfig())
	case NotifierWebhook:
		_, err = notify.NewWebhook(n.WebhookConfig())
	case NotifierLog:
	default:
		bad(key+".type", "%q is not a notifier type (want slack, email, webhook or log)", n.Type)
	}
	if err != nil {
		reportPrefixed(key, err, bad)
	}
}

// SlackConfig is a slack notifier's settings as package notify takes them.
func (n Notifier) SlackConfig() notify.SlackConfig {
	return notify.SlackConfig{WebhookURL: n.WebhookURL.Reveal()}
}

// EmailConfig is an email notifier's settings as package notify takes them.
func (n Notifier) EmailConfig() notify.EmailConfig {
	return notify.EmailConfig{Host: n.SMTPHost, Port: n.SMTPPort, StartTLS: n.StartTLS, Username: n.Username,
		Password: n.Password.Reveal(), From: n.From, To: n.To, TLSCAFile: n.TLSCAFile, TLSServerName: n.TLSServerName}
}

// RateLimits are the notifiers' rate limits by name, in alerts per second,
// as package dispatch takes them; 0: none.
func (c *Config) RateLimits() map[string]float64 {
	out := map[string]float64{}
	for _, n := range c.Notifiers {
		if n.RateLimit != nil {
			out[n.Name] = *n.RateLimit
		}
	}
	return out
}

// Concurrency is how many alerts each notifier sends at once, by name, as
// package dispatch takes it.
func (c *Config) Concurrency() map[string]int {
	out := map[string]int{}
	for _, n := range c.Notifiers {
		out[n.Name] = n.Concurrency
	}
	return out
}

// WebhookConfig is a webhook notifier's settings as package notify takes them.
func (n Notifier) WebhookConfig() notify.WebhookConfig {
	return notify.WebhookConfig{URL: n.URL.Reveal(), Secret: n.Secret.Reveal()}
}

// Alerting is the routes and thresholds as the tracker applies them.
func (c *Config) Alerting() *tracker.Alerting {
	if len(c.Routes) == 0 && len(c.Thresholds) == 0 && len(c.Prices) == 0 {
		return nil
	}
	a := &tracker.Alerting{Prices: c.PriceTable()}
	for _, r := range c.Routes {
		kinds := make([]tracker.Kind, len(r.Kinds))
		for i, k := range r.Kinds {
			kinds[i] = tracker.Kind(k)
		}
		a.Routes = append(a.Routes, tracker.Route{Events: r.Events, Providers: r.Providers, Kinds: kinds, Labels: r.Labels,
			Notifiers: r.Notifiers, RepeatInterval: r.RepeatInterval.D()})
	}
	for _, t := range c.Thresholds {
		a.Thresholds = append(a.Thresholds, tracker.Threshold{Name: t.Name, Metric: t.Metric, Provider: t.Provider, Labels: t.Labels,
			Window: t.Window, Limit: t.limit(), Levels: t.Levels, Projected: t.Projected})
		if t.Metric == tracker.MetricCost {
			a.Thresholds[len(a.Thresholds)-1].Currency = c.Costs.Currency
		}
	}
	for _, p := range c.Providers {
		if p.Webhook != nil {
			if a.SilentAfter == nil {
				a.SilentAfter = map[string]int{}
			}
			a.SilentAfter[p.Name] = p.Webhook.SilentAfter
		}
	}
	return a
}
