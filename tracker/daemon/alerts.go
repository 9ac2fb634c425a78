package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/jobwatch/jobwatch/tracker"
	"github.com/jobwatch/jobwatch/tracker/config"
	"github.com/jobwatch/jobwatch/tracker/dispatch"
	"github.com/jobwatch/jobwatch/tracker/notify"
)

// Notifiers builds the configured notifiers by name.
func Notifiers(cfg config.Config, log *slog.Logger) (map[string]notify.Notifier, error) {
	out := map[string]notify.Notifier{}
	timeout := cfg.Alerts.Timeout.D()
	for _, n := range cfg.Notifiers {
		var (
			nt  notify.Notifier
			err error
		)
		switch n.Type {
		case config.NotifierSlack:
			c := n.SlackConfig()
			c.Timeout = timeout
			nt, err = notify.NewSlack(c)
		case config.NotifierEmail:
			c := n.EmailConfig()
			c.Timeout = timeout
			nt, err = notify.NewEmail(c)
		case config.NotifierWebhook:
			c := n.WebhookConfig()
			c.Timeout = timeout
			nt, err = notify.NewWebhook(c)
		case config.NotifierLog:
			nt = notify.NewLog(log)
		default:
			err = fmt.Errorf("unknown type %q", n.Type)
		}
		if err != nil {
			return nil, fmt.Errorf("notifier %s: %w", n.Name, err)
		}
		out[n.Name] = nt
	}
	return out, nil
}

// NewDispatcher builds the outbox dispatcher of the configured notifiers.
func NewDispatcher(cfg config.Config, store tracker.Store, log *slog.Logger, reg prometheus.Registerer) (*dispatch.Dispatcher, error) {
	ns, err := Notifiers(cfg, log)
	if err != nil {
		return nil, err
	}
	a := cfg.Alerts
	return dispatch.New(dispatch.Options{
		Store: store, Notifiers: ns, MaxAttempts: a.MaxAttempts, MaxAge: a.MaxAge.D(), Interval: a.Interval.D(), Timeout: a.Timeout.D(),
		Backoff: a.Backoff.D(), MaxBackoff: a.MaxBackoff.D(), RateLimits: cfg.RateLimits(), Concurrency: cfg.Concurrency(),
		Logger: log, Registry: reg,
	}), nil
}

// alertCollector exports the outbox and usage gauges from the database,
// cached so that frequent scrapes do not each query it.
type alertCollector struct {
	store tracker.Store
	log   *slog.Logger
	// alerting is the alerting policy in force, whose thresholds' ratios
	// are exported.
	alerting func() *tracker.Alerting

	pending, dead, usage, ratio *prometheus.Desc

	mu      sync.Mutex
	at      time.Time
	metrics []prometheus.Metric
}

func newAlertCollector(store tracker.Store, alerting func() *tracker.Alerting, log *slog.Logger) *alertCollector {
	return &alertCollector{
		store: store, log: log, alerting: alerting,
		pending: prometheus.NewDesc("jobwatch_alerts_pending", "Alerts waiting in the outbox.", nil, nil),
		dead:    prometheus.NewDesc("jobwatch_alerts_dead", "Alerts dead-lettered: kept, retryable by hand.", nil, nil),
		usage:   prometheus.NewDesc("jobwatch_usage", "Usage of the current UTC window, by provider, metric and window; cost in units of the prices' currency.", []string{"provider", "metric", "window"}, nil),
		ratio:   prometheus.NewDesc("jobwatch_usage_threshold_ratio", "Usage of a threshold's current window over its limit.", []string{"threshold"}, nil),
	}
}

func (c *alertCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.pending
	ch <- c.dead
	ch <- c.usage
	ch <- c.ratio
}

func (c *alertCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if time.Since(c.at) > 10*time.Second {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if m, err := c.gather(ctx); err != nil {
			c.log.Warn("gather alert metrics", "error", err)
		} else {
			c.metrics, c.at = m, time.Now()
		}
	}
	for _, m := range c.metrics {
		ch <- m
	}
}

func (c *alertCollector) gather(ctx context.Context) ([]prometheus.Metric, error) {
	counts, err := c.store.CountAlerts(ctx)
	if err != nil {
		return nil, err
	}
	out := []prometheus.Metric{
		prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, float64(counts[tracker.AlertPending])),
		prometheus.MustNewConstMetric(c.dead, prometheus.GaugeValue, float64(counts[tracker.AlertDead])),
	}
	now := time.Now()
	byWindow := map[string][]tracker.UsageTotal{}
	for _, w := range tracker.Windows {
		totals, err := c.store.UsageTotals(ctx, w, tracker.WindowStart(w, now))
		if err != nil {
			return nil, err
		}
		byWindow[w] = totals
		// The totals are per model: the gauge sums a provider's.
		sums := map[[2]string]float64{}
		for _, t := range totals {
			if t.Scope != "" {
				continue
			}
			for m, v := range t.Metrics {
				f := float64(v)
				if m == tracker.MetricCost {
					f /= tracker.NanosPerUnit
				}
				sums[[2]string{t.Provider, m}] += f
			}
		}
		for k, v := range sums {
			out = append(out, prometheus.MustNewConstMetric(c.usage, prometheus.GaugeValue, v, k[0], k[1], w))
		}
	}
	var thresholds []tracker.Threshold
	if a := c.alerting(); a != nil {
		thresholds = a.Thresholds
	}
	for _, th := range thresholds {
		v := th.Used(byWindow[th.Window])
		out = append(out, prometheus.MustNewConstMetric(c.ratio, prometheus.GaugeValue, float64(v)/float64(th.Limit), th.Name))
	}
	return out, nil
}
