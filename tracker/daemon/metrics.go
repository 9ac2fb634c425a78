package daemon

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/jobwatch/jobwatch/tracker"
)

// jobsCollector exports jobwatch_jobs from a count query, cached so that
// frequent scrapes do not each scan the jobs table.
type jobsCollector struct {
	store  tracker.Store
	log    *slog.Logger
	desc   *prometheus.Desc
	maxAge time.Duration

	mu     sync.Mutex
	at     time.Time
	counts []tracker.JobCount
}

func newJobsCollector(store tracker.Store, log *slog.Logger) *jobsCollector {
	return &jobsCollector{
		store:  store,
		log:    log,
		maxAge: 10 * time.Second,
		desc:   prometheus.NewDesc("jobwatch_jobs", "Tracked jobs by provider, kind and status (refreshed at most every 10s).", []string{"provider", "kind", "status"}, nil),
	}
}

func (c *jobsCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *jobsCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if time.Since(c.at) > c.maxAge {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		counts, err := c.store.CountJobs(ctx)
		cancel()
		if err != nil {
			c.log.Warn("count jobs for metrics", "error", err)
		} else {
			c.counts, c.at = counts, time.Now()
		}
	}
	for _, jc := range c.counts {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(jc.Count), jc.Provider, string(jc.Kind), string(jc.Status))
	}
}
