package daemon

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/jobwatch/jobwatch/tracker"
	"github.com/jobwatch/jobwatch/tracker/startstop"
)

// jobPruneEvery is how often the jobs past retention.jobs are pruned: a
// job a few minutes past its retention harms nobody.
const jobPruneEvery = 5 * time.Minute

// jobPruneChunk is how many jobs one prune transaction considers (and at
// most deletes, with their history and sent alerts): a short write, so
// that webhooks and polls, which share the database (SQLite's single
// writer above all), wait little for it between chunks.
const jobPruneChunk = 500

// jobPruner deletes the jobs that ended longer than retention ago, with
// their history and sent alerts, at start and every jobPruneEvery, chunk
// by chunk (Store.PruneJobs). A retention of 0 keeps every job: it prunes
// nothing.
type jobPruner struct {
	store     tracker.Store
	log       *slog.Logger
	retention time.Duration
	// pruned counts the jobs deleted: jobwatch_pruned_jobs_total.
	pruned prometheus.Counter
	life   startstop.Runner
}

func newJobPruner(store tracker.Store, log *slog.Logger, retention time.Duration, reg prometheus.Registerer) *jobPruner {
	p := &jobPruner{store: store, log: log, retention: retention, pruned: prometheus.NewCounter(prometheus.CounterOpts{
		Name: "jobwatch_pruned_jobs_total",
		Help: "Ended jobs deleted, with their history and sent alerts, once older than retention.jobs.",
	})}
	if reg != nil {
		reg.MustRegister(p.pruned)
	}
	return p
}

// Start prunes at once and every jobPruneEvery until Stop or the end of
// ctx; with a retention of 0 it does nothing until Stop.
func (p *jobPruner) Start(ctx context.Context) error {
	if p.retention == 0 {
		return p.life.Start(ctx, func(ctx context.Context) { <-ctx.Done() })
	}
	return p.life.Start(ctx, func(ctx context.Context) { startstop.Every(ctx, jobPruneEvery, p.prune) })
}

// Stop ends the pruning and waits for a running chunk.
func (p *jobPruner) Stop() { p.life.Stop() }

// prune deletes the jobs past the retention.
func (p *jobPruner) prune(ctx context.Context) {
	before := time.Now().Add(-p.retention)
	n, err := p.store.PruneJobs(ctx, before, jobPruneChunk)
	p.pruned.Add(float64(n))
	if err != nil && ctx.Err() == nil {
		p.log.Warn("prune jobs past retention.jobs", "error", err)
	}
	if n > 0 {
		p.log.Info("pruned jobs past retention.jobs", "deleted", n, "ended_before", before.UTC())
	}
}
