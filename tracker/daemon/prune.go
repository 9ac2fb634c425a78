package daemon

import (
	"context"
	"log/slog"
	"time"

	"github.com/jobwatch/jobwatch/storage"
	"github.com/jobwatch/jobwatch/tracker/startstop"
)

// pruneEvery is how often the delivery log is pruned to its retention and
// its size bound: often enough that a flood cannot grow it far past the
// bound, and cheap, as each check walks one chunk or the bound's rows of an
// index.
const pruneEvery = time.Minute

// deliveryPruner deletes webhook delivery log rows older than the retention
// or beyond the size bound, at start and every pruneEvery.
type deliveryPruner struct {
	store *storage.Store
	log   *slog.Logger
	// retention is how long a row is kept (server.delivery_retention);
	// maxRows how many rows are kept at most (server.delivery_max_rows).
	retention time.Duration
	maxRows   int
	life      startstop.Runner
}

// Start prunes at once and every pruneEvery until Stop or the end of ctx.
func (p *deliveryPruner) Start(ctx context.Context) error {
	return p.life.Start(ctx, func(ctx context.Context) { startstop.Every(ctx, pruneEvery, p.prune) })
}

// Stop ends the pruning and waits for a running prune.
func (p *deliveryPruner) Stop() { p.life.Stop() }

// prune deletes the rows past the retention, then those beyond the size
// bound.
func (p *deliveryPruner) prune(ctx context.Context) {
	n, err := p.store.PruneDeliveries(ctx, time.Now().Add(-p.retention))
	switch {
	case err != nil && ctx.Err() == nil:
		p.log.Warn("prune webhook delivery log", "error", err)
	case n > 0:
		p.log.Info("pruned webhook delivery log", "deleted", n)
	}
	n, err = p.store.TrimDeliveries(ctx, p.maxRows)
	switch {
	case err != nil && ctx.Err() == nil:
		p.log.Warn("trim webhook delivery log to server.delivery_max_rows", "error", err)
	case n > 0:
		p.log.Info("trimmed webhook delivery log to server.delivery_max_rows", "deleted", n, "kept", p.maxRows)
	}
}
