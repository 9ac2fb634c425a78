package tracker

import "github.com/prometheus/client_golang/prometheus"

// metrics are what Observe counts, whatever the source.
type metrics struct {
	resolutions *prometheus.CounterVec
	ttr         *prometheus.HistogramVec
	missed      *prometheus.CounterVec
	cost        *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		resolutions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "jobwatch_job_resolutions_total",
			Help: "Jobs that reached a terminal status, by provider, kind, status and the source that told us (webhook or poll): the share resolved by poll shows whether webhooks are working.",
		}, []string{"provider", "kind", "status", "source"}),
		ttr: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "jobwatch_job_time_to_resolution_seconds",
			Help:    "Time from a job's registration to jobwatch learning its end, by provider, kind and source.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 12), // 1 s .. ~48 days
		}, []string{"provider", "kind", "source"}),
		missed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "jobwatch_webhooks_missed_total",
			Help: "Job ends learned by poll whose webhook did not arrive within the provider's grace (job.webhook_missed), by provider.",
		}, []string{"provider"}),
		cost: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "jobwatch_cost_total",
			Help: "Known cost of ended jobs, in units of the currency of the configured prices, by provider and model, counted once per job as its usage becomes known.",
		}, []string{"provider", "model", "currency"}),
	}
	if reg != nil {
		reg.MustRegister(m.resolutions, m.ttr, m.missed, m.cost)
	}
	return m
}

// observe counts the results that resolved a job, the missed webhooks and
// the cost the results added.
func (m *metrics) observe(items []ApplyItem, results []Result) {
	for i, r := range results {
		if o := items[i].Observation; o != nil && o.Type == TypeJobWebhookMissed && r.Effect == EffectApplied {
			m.missed.WithLabelValues(o.Provider).Inc()
		}
		j := r.Job
		if j != nil && r.CostAdded > 0 && j.Cost != nil {
			m.cost.WithLabelValues(j.Provider, j.Details[DetailModel], j.Cost.Currency).Add(float64(r.CostAdded) / NanosPerUnit)
		}
		if j == nil || r.Effect != EffectApplied || !j.Status.Terminal() || r.Previous.Terminal() || j.ResolvedAt == nil {
			continue
		}
		m.resolutions.WithLabelValues(j.Provider, string(j.Kind), string(j.Status), string(j.ResolvedBy)).Inc()
		m.ttr.WithLabelValues(j.Provider, string(j.Kind), string(j.ResolvedBy)).Observe(j.ResolvedAt.Sub(j.CreatedAt).Seconds())
	}
}
