// Package daemon assembles jobwatch from its configuration: the store, the
// tracker, the HTTP API and the metrics registry, and runs them until told to
// stop.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/jobwatch/jobwatch/providers"
	"github.com/jobwatch/jobwatch/storage"
	"github.com/jobwatch/jobwatch/tracker"
	"github.com/jobwatch/jobwatch/tracker/config"
	"github.com/jobwatch/jobwatch/tracker/dispatch"
	"github.com/jobwatch/jobwatch/tracker/httpapi"
	"github.com/jobwatch/jobwatch/tracker/ingest"
	"github.com/jobwatch/jobwatch/tracker/sweep"
)

// Daemon is a configured, listening jobwatch.
type Daemon struct {
	cfg      config.Config
	log      *slog.Logger
	store    *storage.Store
	tracker  *tracker.Tracker
	registry *prometheus.Registry
	api      *httpapi.Server
	sweeper  *sweep.Sweeper
	alerts   *dispatch.Dispatcher
	hooks    *ingest.Handler
	ln       net.Listener
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
	topts := TrackerOptions(cfg)
	topts.Registry = d.registry
	d.tracker = tracker.New(store, topts)
	var thresholds []tracker.Threshold
	if a := cfg.Alerting(); a != nil {
		thresholds = a.Thresholds
	}
	d.registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		newJobsCollector(store, log),
		newAlertCollector(store, thresholds, log),
	)
	outage := httpapi.NewOutage(log)
	d.api = httpapi.New(httpapi.Options{
		Tracker:      d.tracker,
		APIToken:     cfg.Server.APIToken.Reveal(),
		MaxBodyBytes: cfg.Server.MaxBodyBytes,
		Logger:       log,
		Registry:     d.registry,
		Outage:       outage,
		// A request still waiting a second before the server's write
		// timeout would cut it is answered 503 instead.
		RequestTimeout: requestTimeout(cfg.Server.WriteTimeout.D()),
	})
	hooks, err := webhookProviders(cfg, log)
	if err != nil {
		store.Close()
		return nil, err
	}
	if d.sweeper, err = NewSweeper(cfg, d.tracker, log, d.registry); err != nil {
		store.Close()
		return nil, err
	}
	if d.alerts, err = NewDispatcher(cfg, store, log, d.registry); err != nil {
		store.Close()
		return nil, err
	}
	d.api.Handle("POST /v1/jobs/{provider}/{id}/poll", d.pollJob, true)
	d.api.Handle("GET /v1/alerts", d.listAlerts, true)
	d.api.Handle("POST /v1/alerts/{id}/retry", d.retryAlert, true)
	d.api.Handle("GET /v1/usage", d.usage, true)
	d.hooks = ingest.New(ingest.Options{
		Tracker:      d.tracker,
		Providers:    hooks,
		MaxBodyBytes: cfg.Server.MaxBodyBytes,
		Logger:       log,
		Registry:     d.registry,
		Outage:       outage,
	})
	d.api.Handle("/webhooks/{name}", d.hooks.ServeHTTP, false)
	d.ln, err = net.Listen("tcp", cfg.Server.Listen)
	if err != nil {
		store.Close()
		return nil, fmt.Errorf("listen on %s: %w", cfg.Server.Listen, err)
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

// Addr is the address the daemon listens on.
func (d *Daemon) Addr() net.Addr { return d.ln.Addr() }

// Tracker is the daemon's tracker.
func (d *Daemon) Tracker() *tracker.Tracker { return d.tracker }

// Run serves until ctx is done, then stops accepting, lets in-flight requests
// finish (up to server.shutdown_timeout) and closes the store.
func (d *Daemon) Run(ctx context.Context) error {
	srv := &http.Server{
		Handler:           d.api,
		ReadHeaderTimeout: d.cfg.Server.ReadTimeout.D(),
		ReadTimeout:       d.cfg.Server.ReadTimeout.D(),
		WriteTimeout:      d.cfg.Server.WriteTimeout.D(),
		MaxHeaderBytes:    d.cfg.Server.MaxHeaderBytes,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(d.log.Handler(), slog.LevelWarn),
	}
	d.log.Info("jobwatch started", "listen", d.ln.Addr().String(), "storage", d.cfg.Storage.Driver)
	logProviders(d.log, d.cfg)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(d.ln) }()
	bg, stopBG := context.WithCancel(ctx)
	defer stopBG()
	go d.pruneDeliveries(bg)
	summarized := make(chan struct{})
	go func() {
		defer close(summarized)
		d.hooks.Run(bg)
	}()
	schedule, _ := config.ParseSchedule(d.cfg.Sweep.Schedule) // validated with the config
	d.sweeper.Start(bg, schedule)
	d.alerts.Start(bg)
	var err error
	select {
	case err = <-errc:
	case <-ctx.Done():
		d.log.Info("shutting down")
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.cfg.Server.ShutdownTimeout.D())
		err = srv.Shutdown(sctx)
		cancel()
	}
	stopBG()
	d.sweeper.Stop()
	d.alerts.Wait()
	<-summarized
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	if cerr := d.store.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("close store: %w", cerr)
	}
	d.log.Info("jobwatch stopped")
	return err
}

// NewSweeper builds the sweep of the configured providers.
func NewSweeper(cfg config.Config, t *tracker.Tracker, log *slog.Logger, reg prometheus.Registerer) (*sweep.Sweeper, error) {
	provs, err := sweepProviders(cfg, log)
	if err != nil {
		return nil, err
	}
	return sweep.New(sweep.Options{
		Tracker:     t,
		Providers:   provs,
		LostAfter:   cfg.Sweep.LostAfterFor,
		BatchSize:   cfg.Sweep.BatchSize,
		Lease:       cfg.Sweep.Lease.D(),
		AuthBackoff: cfg.Sweep.AuthBackoff.D(),
		Logger:      log,
		Registry:    reg,
	}), nil
}

// pollJob serves POST /v1/jobs/{provider}/{id}/poll: poll one job now.
func (d *Daemon) pollJob(w http.ResponseWriter, r *http.Request) {
	job, err := d.sweeper.PollJob(r.Context(), r.PathValue("provider"), r.PathValue("id"))
	var pe *providers.PollError
	switch {
	case err == nil:
		httpapi.WriteJSON(w, http.StatusOK, job)
	case errors.Is(err, tracker.ErrNotFound):
		httpapi.WriteError(w, http.StatusNotFound, "job not found")
	case errors.Is(err, sweep.ErrNotPolled):
		httpapi.WriteError(w, http.StatusConflict, fmt.Sprintf("provider %s: %v", r.PathValue("provider"), err))
	case errors.As(err, &pe):
		httpapi.WriteError(w, http.StatusBadGateway, "poll failed: "+pe.Error())
	default:
		d.log.Error("poll job", "provider", r.PathValue("provider"), "job_id", r.PathValue("id"), "error", err)
		httpapi.WriteError(w, http.StatusServiceUnavailable, "storage unavailable, retry later")
	}
}

// pruneEvery is how often the delivery log is pruned to its retention and
// its size bound: often enough that a flood cannot grow it far past the
// bound, and cheap, as each check walks one chunk or the bound's rows of an
// index.
const pruneEvery = time.Minute

// pruneDeliveries deletes delivery log rows older than the retention or
// beyond server.delivery_max_rows, at start and every pruneEvery.
func (d *Daemon) pruneDeliveries(ctx context.Context) {
	t := time.NewTicker(pruneEvery)
	defer t.Stop()
	for {
		n, err := d.store.PruneDeliveries(ctx, time.Now().Add(-d.cfg.Server.DeliveryRetention.D()))
		switch {
		case err != nil && ctx.Err() == nil:
			d.log.Warn("prune webhook delivery log", "error", err)
		case n > 0:
			d.log.Info("pruned webhook delivery log", "deleted", n)
		}
		n, err = d.store.TrimDeliveries(ctx, d.cfg.Server.DeliveryMaxRows)
		switch {
		case err != nil && ctx.Err() == nil:
			d.log.Warn("trim webhook delivery log to server.delivery_max_rows", "error", err)
		case n > 0:
			d.log.Info("trimmed webhook delivery log to server.delivery_max_rows", "deleted", n, "kept", d.cfg.Server.DeliveryMaxRows)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Close releases the listener and store of a daemon that was not Run.
func (d *Daemon) Close() error {
	d.ln.Close()
	return d.store.Close()
}
