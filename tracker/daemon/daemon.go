// Package daemon assembles jobwatch from its configuration: the store, the
// tracker, the HTTP API and the metrics registry, and the background
// services (delivery log pruning and summaries, job pruning, sweeps, alert
// delivery), and runs them until told to stop. It is the body of `jobwatch
// serve`, not part of the library's public API.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/jobwatch/jobwatch/storage"
	"github.com/jobwatch/jobwatch/tracker"
	"github.com/jobwatch/jobwatch/tracker/config"
	"github.com/jobwatch/jobwatch/tracker/dispatch"
	"github.com/jobwatch/jobwatch/tracker/httpapi"
	"github.com/jobwatch/jobwatch/tracker/ingest"
	"github.com/jobwatch/jobwatch/tracker/startstop"
	"github.com/jobwatch/jobwatch/tracker/sweep"
)

// Daemon is a configured, listening jobwatch.
type Daemon struct {
	// cfg is the config the daemon started with; applied the one last
	// applied (Reload).
	cfg      config.Config
	applied  atomic.Pointer[config.Config]
	reloadMu sync.Mutex
	// rules are the tracker's transition rules, replaced by Reload.
	rules    atomic.Pointer[func(string, tracker.Kind) tracker.Rules]
	log      *slog.Logger
	store    *storage.Store
	tracker  *tracker.Tracker
	registry *prometheus.Registry
	api      *httpapi.Server
	sweeper  *sweep.Sweeper
	alerts   *dispatch.Dispatcher
	hooks    *ingest.Handler
	// listeners are the public listener (server.listen) and, when
	// configured, the admin one.
	listeners []*listener
	// services are the background services, in the order they start; they
	// stop in the reverse order.
	services []service
}

// service is a background service and its name in the log.
type service struct {
	name string
	startstop.Service
}

// NewLogger returns the JSON (or text) logger the config asks for, writing to w.
func NewLogger(c config.Log, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.SlogLevel()}
	if c.Format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// OpenStore opens and migrates the configured store.
func OpenStore(ctx context.Context, c config.Storage) (*storage.Store, error) {
	s, err := storage.Open(ctx, c.StorageConfig())
	if err != nil {
		return nil, err
	}
	if _, err := s.Migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// New opens the store, applies migrations and binds the listener. Close
// releases everything if Run is never called.
func New(ctx context.Context, cfg config.Config, log *slog.Logger) (*Daemon, error) {
	store, err := OpenStore(ctx, cfg.Storage)
	if err != nil {
		return nil, err
	}
	d := &Daemon{cfg: cfg, log: log, store: store, registry: prometheus.NewRegistry()}
	d.applied.Store(&cfg)
	if d.alerts, err = NewDispatcher(cfg, store, log, d.registry); err != nil {
		store.Close()
		return nil, err
	}
	topts := TrackerOptions(cfg)
	rules := topts.Rules
	d.rules.Store(&rules)
	topts.Rules = d.rulesOf
	topts.Registry = d.registry
	// Committed alerts are delivered at once; other replicas find them at
	// their interval.
	topts.AlertsRaised = d.alerts.Wake
	// A thin webhook's enrichment poll starts at once, not at the next
	// sweep; d.sweeper is set below, before anything is observed.
	topts.PollDue = func() { d.sweeper.Wake() }
	d.tracker = tracker.New(store, topts)
	d.registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		newJobsCollector(store, log),
		newAlertCollector(store, d.tracker.Alerting, log),
		newBuildInfo(),
	)
	hooks, err := webhookProviders(cfg, log)
	if err != nil {
		store.Close()
		return nil, err
	}
	if d.sweeper, err = NewSweeper(cfg, d.tracker, log, d.registry); err != nil {
		store.Close()
		return nil, err
	}
	outage := httpapi.NewOutage(log)
	d.api = httpapi.New(httpapi.Options{
		Tracker:      d.tracker,
		APIToken:     cfg.Server.APIToken.Reveal(),
		MetricsToken: cfg.Server.MetricsToken.Reveal(),
		MaxBodyBytes: cfg.Server.MaxBodyBytes,
		Logger:       log,
		Registry:     d.registry,
		Outage:       outage,
		Poller:       d.sweeper,
		LastSweep:    d.sweeper.Last,
		// A request still waiting a second before the server's write
		// timeout would cut it is answered 503 instead.
		RequestTimeout: requestTimeout(cfg.Server.WriteTimeout.D()),
	})
	d.hooks = ingest.New(ingest.Options{
		Tracker:      d.tracker,
		Providers:    hooks,
		MaxBodyBytes: cfg.Server.MaxBodyBytes,
		Logger:       log,
		Registry:     d.registry,
		Outage:       outage,
	})
	d.api.Handle("/webhooks/{name}", d.hooks.ServeHTTP, false)
	pruner := &deliveryPruner{store: store, log: log, retention: cfg.Server.DeliveryRetention.D(), maxRows: cfg.Server.DeliveryMaxRows}
	d.services = []service{
		{"delivery log pruning", pruner},
		{"job pruning", newJobPruner(store, log, cfg.Retention.JobsFor(), d.registry)},
		{"delivery log summaries", d.hooks},
		{"sweeps", d.sweeper},
		{"alert delivery", d.alerts},
	}
	if d.listeners, err = listen(cfg.Server, d.api, log); err != nil {
		store.Close()
		return nil, err
	}
	return d, nil
}

// requestTimeout is how long a request may wait for storage or a provider
// when the server cuts a request at writeTimeout (0: never): long enough to
// use it all but the last second (or half, when that is shorter), in which
// the 503 goes out.
func requestTimeout(writeTimeout time.Duration) time.Duration {
	return writeTimeout - min(writeTimeout/2, time.Second)
}

// Addr is the address of the public listener (server.listen).
func (d *Daemon) Addr() net.Addr { return d.listeners[0].ln.Addr() }

// AdminAddr is the address of the admin listener (server.admin_listen);
// nil when there is none.
func (d *Daemon) AdminAddr() net.Addr {
	if len(d.listeners) < 2 {
		return nil
	}
	return d.listeners[1].ln.Addr()
}

// Tracker is the daemon's tracker.
func (d *Daemon) Tracker() *tracker.Tracker { return d.tracker }

// Run starts the background services and serves until ctx is done; then it
// stops accepting, lets in-flight requests finish (up to
// server.shutdown_timeout), stops the services one by one in the reverse
// order, waiting for each, and only then closes the store.
func (d *Daemon) Run(ctx context.Context) error {
	attrs := []any{"storage", d.cfg.Storage.Driver}
	for _, l := range d.listeners {
		attrs = append(attrs, l.key, l.scheme()+"://"+l.ln.Addr().String())
	}
	d.log.Info("jobwatch started", attrs...)
	logProviders(d.log, d.cfg)
	// The services live until their Stop, not until ctx, so that they
	// outlast the server's drain: the last summary of the delivery log
	// counts every request it answered.
	started, err := d.startServices(context.WithoutCancel(ctx))
	if err == nil {
		servers := make([]*http.Server, len(d.listeners))
		errc := make(chan error, len(d.listeners))
		for i, l := range d.listeners {
			servers[i] = l.server(d.cfg.Server, d.log)
			go func() { errc <- l.serve(servers[i]) }()
		}
		select {
		case err = <-errc:
			// A listener failed: the other stops too.
		case <-ctx.Done():
			d.log.Info("shutting down")
		}
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.cfg.Server.ShutdownTimeout.D())
		for _, srv := range servers {
			if serr := srv.Shutdown(sctx); err == nil {
				err = serr
			}
		}
		cancel()
	} else {
		d.closeListeners()
	}
	d.stopServices(started)
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	if cerr := d.store.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("close store: %w", cerr)
	}
	d.log.Info("jobwatch stopped")
	return err
}

// closeListeners closes the listeners of a daemon that does not serve.
func (d *Daemon) closeListeners() {
	for _, l := range d.listeners {
		l.ln.Close()
	}
}

// startServices starts the background services in order under ctx, and
// returns those it started: all of them, or those before the one that
// failed to start, with its error.
func (d *Daemon) startServices(ctx context.Context) ([]service, error) {
	for i, s := range d.services {
		if err := s.Start(ctx); err != nil {
			return d.services[:i], fmt.Errorf("start %s: %w", s.name, err)
		}
		d.log.Debug("service started", "service", s.name)
	}
	return d.services, nil
}

// stopServices stops the services in the reverse order of their start,
// waiting for each.
func (d *Daemon) stopServices(services []service) {
	for _, s := range slices.Backward(services) {
		s.Stop()
		d.log.Debug("service stopped", "service", s.name)
	}
}

// NewSweeper builds the sweep of the configured providers.
func NewSweeper(cfg config.Config, t *tracker.Tracker, log *slog.Logger, reg prometheus.Registerer) (*sweep.Sweeper, error) {
	provs, err := sweepProviders(cfg, log)
	if err != nil {
		return nil, err
	}
	schedule, err := config.ParseSchedule(cfg.Sweep.Schedule)
	if err != nil {
		return nil, fmt.Errorf("sweep.schedule: %w", err)
	}
	return sweep.New(sweep.Options{
		Tracker:     t,
		Providers:   provs,
		LostAfter:   cfg.Sweep.LostAfterFor,
		BatchSize:   cfg.Sweep.BatchSize,
		Lease:       cfg.Sweep.Lease.D(),
		AuthBackoff: cfg.Sweep.AuthBackoff.D(),
		Schedule:    schedule,
		Logger:      log,
		Registry:    reg,
	}), nil
}

// Close releases the listeners and store of a daemon that was not Run.
func (d *Daemon) Close() error {
	d.closeListeners()
	return d.store.Close()
}
