package daemon

import (
	"reflect"
	"slices"
	"strings"

	"github.com/jobwatch/jobwatch/tracker"
	"github.com/jobwatch/jobwatch/tracker/config"
)

// reloadable are the config keys and tables that Reload applies to a
// running daemon. A change to any other key needs a restart.
var reloadable = []string{
	"server.metrics_token",
	// The tracker's transition rules.
	"sweep.stale_after", "sweep.max_poll_interval", "sweep.lost_poll_interval", "sweep.not_found_limit", "alerts.enrich_wait",
	"providers", "notifiers", "routes", "thresholds", "costs", "prices",
}

// Reload applies cfg, the config file read again (jobwatch serve does on
// SIGHUP), to the running daemon: the providers (their webhook secrets,
// API keys and every other setting, added and removed ones included), the
// notifiers, routes, thresholds, costs and prices, the transition rules
// and the metrics token, each replaced at once for the requests,
// polls and deliveries that follow. Everything is built before anything
// is replaced: on an error nothing changes and the running config stays
// in force. The keys that changed but cannot change while running
// (listeners, storage, log, the sweep's schedule, alert delivery) are
// logged as needing a restart, and keep their running values.
func (d *Daemon) Reload(cfg config.Config) error {
	d.reloadMu.Lock()
	defer d.reloadMu.Unlock()
	hooks, err := webhookProviders(cfg, d.log)
	if err != nil {
		return err
	}
	polled, err := sweepProviders(cfg, d.log)
	if err != nil {
		return err
	}
	// The notifiers time out at alert delivery's alerts.timeout, which
	// waits for a restart like the rest of [alerts].
	withRunningAlerts := cfg
	withRunningAlerts.Alerts = d.cfg.Alerts
	notifiers, err := Notifiers(withRunningAlerts, d.log)
	if err != nil {
		return err
	}
	d.api.SetMetricsToken(cfg.Server.MetricsToken.Reveal())
	rules := TrackerOptions(cfg).Rules
	d.rules.Store(&rules)
	d.tracker.SetProviders(providerNames(cfg))
	d.tracker.SetAlerting(cfg.Alerting())
	d.hooks.SetProviders(hooks)
	d.sweeper.SetProviders(polled, changedProviders(*d.applied.Load(), cfg))
	d.alerts.SetNotifiers(notifiers, cfg.RateLimits(), cfg.Concurrency())
	d.applied.Store(&cfg)

	logProviders(d.log, cfg)
	d.log.Info("config reloaded", "providers", len(cfg.Providers), "notifiers", len(cfg.Notifiers), "routes", len(cfg.Routes), "thresholds", len(cfg.Thresholds))
	if keys := restartKeys(d.cfg, cfg); len(keys) > 0 {
		d.log.Warn("config changes that need a restart were not applied: "+strings.Join(keys, ", "), "keys", keys)
	}
	return nil
}

// providerNames are the names of the configured providers, the only ones
// the tracker's Track accepts.
func providerNames(cfg config.Config) []string {
	names := make([]string, 0, len(cfg.Providers))
	for _, p := range cfg.Providers {
		names = append(names, p.Name)
	}
	return names
}

// changedProviders names the providers of next that are new or whose
// entry differs from prev's.
func changedProviders(prev, next config.Config) []string {
	var out []string
	for _, p := range next.Providers {
		i := slices.IndexFunc(prev.Providers, func(q config.Provider) bool { return q.Name == p.Name })
		if i < 0 || !reflect.DeepEqual(prev.Providers[i], p) {
			out = append(out, p.Name)
		}
	}
	return out
}

// restartKeys are the keys whose value differs between the running config
// and next and that Reload cannot apply, sorted.
func restartKeys(running, next config.Config) []string {
	var out []string
	for _, key := range changedKeys(reflect.ValueOf(running), reflect.ValueOf(next), "") {
		if !slices.ContainsFunc(reloadable, func(r string) bool { return key == r || strings.HasPrefix(key, r+".") }) {
			out = append(out, key)
		}
	}
	slices.Sort(out)
	return out
}

// changedKeys are the keys, as the config file writes them, of the values
// that differ between a and b, two values of one config type: the keys of
// a struct's fields one by one, any other value (a table of arrays, a map)
// as one key.
func changedKeys(a, b reflect.Value, key string) []string {
	if a.Kind() != reflect.Struct {
		if reflect.DeepEqual(a.Interface(), b.Interface()) {
			return nil
		}
		return []string{key}
	}
	var out []string
	t := a.Type()
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("toml"), ",")
		if name == "" || name == "-" {
			continue
		}
		if key != "" {
			name = key + "." + name
		}
		out = append(out, changedKeys(a.Field(i), b.Field(i), name)...)
	}
	return out
}

// rulesOf is the indirection the tracker's rules go through, so that Reload
// can replace them.
func (d *Daemon) rulesOf(provider string, kind tracker.Kind) tracker.Rules {
	return (*d.rules.Load())(provider, kind)
}
