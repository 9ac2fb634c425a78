package sweep

import "github.com/prometheus/client_golang/prometheus"

type sweepMetrics struct {
	polls         *prometheus.CounterVec
	pollDuration  *prometheus.HistogramVec
	sweepDuration prometheus.Histogram
	sweepFailures prometheus.Counter
	claimed       prometheus.Gauge
	wokenRuns     prometheus.Counter
}

func newSweepMetrics(reg prometheus.Registerer) *sweepMetrics {
	m := &sweepMetrics{
		polls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "jobwatch_polls_total",
			Help: "Jobs handled by sweeps, by provider, kind and outcome (changed, unchanged, not_found, auth_failed, error, not_polled).",
		}, []string{"provider", "kind", "outcome"}),
		pollDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "jobwatch_poll_duration_seconds",
			Help:    "Time of one poll of a provider's API, retries and rate-limit waits included.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2.5, 10),
		}, []string{"provider"}),
		sweepDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "jobwatch_sweep_duration_seconds",
			Help:    "Time of one sweep, from the first claim to the last poll.",
			Buckets: prometheus.ExponentialBuckets(0.01, 3, 10),
		}),
		sweepFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "jobwatch_sweep_failures_total",
			Help: "Sweeps that ended in an error (a claim of due jobs that storage refused) rather than with nothing left due.",
		}),
		claimed: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "jobwatch_sweep_claimed_jobs",
			Help: "Due jobs the last sweep claimed.",
		}),
		wokenRuns: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "jobwatch_sweep_woken_runs_total",
			Help: "Claims and polls of due jobs made between sweeps because a job became due at once (a thin webhook's enrichment poll).",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.polls, m.pollDuration, m.sweepDuration, m.sweepFailures, m.claimed, m.wokenRuns)
	}
	return m
}
