package config

import (
	"cmp"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/jobwatch/jobwatch/providers"
	"github.com/jobwatch/jobwatch/tracker"
	"github.com/jobwatch/jobwatch/tracker/sweep"
)

// Sweep configures the polling sweeps: the safety net for jobs that went
// quiet.
type Sweep struct {
	// Schedule is a cron spec or descriptor, in UTC. Default "@every 30s".
	Schedule string `toml:"schedule"`
	// StaleAfter is how long a live job may go unheard before it is polled,
	// and the first poll interval. Default 10m.
	StaleAfter Duration `toml:"stale_after"`
	// MaxPollInterval caps the poll interval as it doubles while polls find
	// nothing new. Default 1h.
	MaxPollInterval Duration `toml:"max_poll_interval"`
	// BatchSize is how many due jobs one claim takes. Default
	// sweep.DefaultBatchSize (250).
	BatchSize int `toml:"batch_size"`
	// Lease is how long a claim keeps other sweeps off its jobs. Default 2m.
	Lease Duration `toml:"lease"`
	// LostAfter is how long after registration an unresolved job is lost,
	// per kind, with "default" for kinds not listed. Defaults: batch 26h,
	// fine_tuning 168h, response 26h, eval_run 26h, default 72h.
	LostAfter map[string]Duration `toml:"lost_after"`
	// LostPollInterval is how often a lost job is still polled. Default 6h.
	LostPollInterval Duration `toml:"lost_poll_interval"`
	// NotFoundLimit is how many 404s in a row make a job lost. Default 3.
	NotFoundLimit int `toml:"not_found_limit"`
	// AuthBackoff is how long a provider that refused our credentials is
	// left alone. Default 5m.
	AuthBackoff Duration `toml:"auth_backoff"`
}

// Poll configures how a provider's API is polled.
type Poll struct {
	// RateLimit caps requests per second to the provider; 0: none. Default 5.
	RateLimit float64 `toml:"rate_limit"`
	// Burst is how many requests may go at once above the rate. Default:
	// rate_limit rounded up.
	Burst int `toml:"burst"`
	// Concurrency is the most polls in flight at once. Default 4.
	Concurrency int `toml:"concurrency"`
	// MaxRetryWait caps any wait between attempts, Retry-After included.
	// Default 60s.
	MaxRetryWait Duration `toml:"max_retry_wait"`
	// Retries after a failed attempt (connection error, 429, 5xx). Default 4.
	Retries int `toml:"retries"`
	// Timeout bounds one poll, retries included. Default 30s.
	Timeout Duration `toml:"timeout"`
	// StaleAfter overrides [sweep] stale_after for this provider.
	StaleAfter Duration `toml:"stale_after"`
	// StaleAfterByKind overrides it per kind of job.
	StaleAfterByKind map[string]Duration `toml:"stale_after_by_kind"`
	// URL is the generic provider's job URL, with {id} for the job id.
	URL string `toml:"url"`
	// Headers are sent with every generic poll (they may hold credentials).
	Headers map[string]Secret `toml:"headers"`
	// JobID, Status, Model and Usage are the generic provider's field paths
	// in a poll's answer, when they differ from its events'
	// ([providers.generic]).
	JobID  string            `toml:"job_id"`
	Status string            `toml:"status"`
	Model  string            `toml:"model"`
	Usage  map[string]string `toml:"usage"`
}

// PollGenericConfig is the generic provider's mapping of a poll's answer:
// [providers.generic] with the paths [providers.poll] overrides.
func (p *Provider) PollGenericConfig() providers.Mapping {
	c := p.Generic.GenericConfig()
	c.EventID, c.EventType, c.OccurredAt = "", "", ""
	c.JobID = cmp.Or(p.Poll.JobID, c.JobID)
	c.Status = cmp.Or(p.Poll.Status, c.Status)
	c.Model = cmp.Or(p.Poll.Model, c.Model)
	if p.Poll.Usage != nil {
		c.Usage = p.Poll.Usage
	}
	return c
}

var defaultLostAfter = map[string]Duration{
	string(tracker.KindBatch):      Duration(26 * time.Hour),
	string(tracker.KindFineTuning): Duration(7 * 24 * time.Hour),
	string(tracker.KindResponse):   Duration(26 * time.Hour),
	string(tracker.KindEvalRun):    Duration(26 * time.Hour),
	"default":                      Duration(72 * time.Hour),
}

func (s *Sweep) applyDefaults() {
	setDefault(&s.Schedule, "@every 30s")
	setDefault(&s.StaleAfter, Duration(10*time.Minute))
	setDefault(&s.MaxPollInterval, Duration(time.Hour))
	setDefault(&s.BatchSize, sweep.DefaultBatchSize)
	setDefault(&s.Lease, Duration(2*time.Minute))
	setDefault(&s.LostPollInterval, Duration(6*time.Hour))
	setDefault(&s.NotFoundLimit, 3)
	setDefault(&s.AuthBackoff, Duration(5*time.Minute))
	if s.LostAfter == nil {
		s.LostAfter = map[string]Duration{}
	}
	for k, v := range defaultLostAfter {
		if _, ok := s.LostAfter[k]; !ok {
			s.LostAfter[k] = v
		}
	}
}

// LostAfterFor is the lost threshold of a kind of job.
func (s *Sweep) LostAfterFor(kind tracker.Kind) time.Duration {
	if d, ok := s.LostAfter[string(kind)]; ok {
		return d.D()
	}
	return s.LostAfter["default"].D()
}

func (s *Sweep) validate(bad func(key, format string, args ...any)) {
	if _, err := ParseSchedule(s.Schedule); err != nil {
		bad("sweep.schedule", "%v", err)
	}
	for key, d := range map[string]Duration{"sweep.stale_after": s.StaleAfter, "sweep.max_poll_interval": s.MaxPollInterval,
		"sweep.lease": s.Lease, "sweep.lost_poll_interval": s.LostPollInterval, "sweep.auth_backoff": s.AuthBackoff} {
		if d <= 0 {
			bad(key, "must be positive")
		}
	}
	if s.MaxPollInterval < s.StaleAfter {
		bad("sweep.max_poll_interval", "must be at least stale_after (%s)", s.StaleAfter.D())
	}
	if s.BatchSize < 1 || s.BatchSize > 10000 {
		bad("sweep.batch_size", "%d is out of range (1 to 10000)", s.BatchSize)
	}
	if s.NotFoundLimit < 0 {
		bad("sweep.not_found_limit", "must not be negative")
	}
	for k, d := range s.LostAfter {
		if d <= 0 {
			bad("sweep.lost_after."+k, "must be positive")
		}
		if k != "default" && tracker.ValidateKind(tracker.Kind(k)) != nil {
			bad("sweep.lost_after."+k, "%q is not a kind (or \"default\")", k)
		}
	}
}

// checkBaseURL reports a provider's base_url that is not an http(s) URL
// without a query, or that holds credentials (they go in api_key, sent in
// headers). The URL is quoted only once it is known to hold none: a URL that
// does not parse is not quoted at all.
func checkBaseURL(key, raw string, bad func(key, format string, args ...any)) {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		bad(key, "does not parse as an http(s) URL")
	case u.User != nil:
		bad(key, "must not hold credentials (%s): the API key goes in api_key", hostAndPath(u))
	case (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "":
		bad(key, "%q is not an http(s) URL without a query", raw)
	}
}

// hostAndPath is u without its user info (user names included), query and
// fragment: what a message may quote of a URL that held credentials.
func hostAndPath(u *url.URL) string {
	return u.Scheme + "://" + u.Host + u.EscapedPath()
}

// ParseSchedule parses a sweep schedule: a five-field cron spec or a
// descriptor (@every 30s, @hourly), always in UTC. It never panics.
func ParseSchedule(spec string) (sched cron.Schedule, err error) {
	if strings.HasPrefix(spec, "CRON_TZ=") || strings.HasPrefix(spec, "TZ=") {
		return nil, fmt.Errorf("%q: time zones are not supported, sweeps run in UTC", spec)
	}
	defer func() {
		if r := recover(); r != nil {
			sched, err = nil, fmt.Errorf("%q is not a cron spec: %v", spec, r)
		}
	}()
	sched, err = cron.ParseStandard(spec)
	if err != nil {
		return nil, fmt.Errorf("%q is not a cron spec or descriptor (e.g. \"@every 30s\", \"*/5 * * * *\"): %v", spec, err)
	}
	return sched, nil
}

func (p *Poll) applyDefaults() {
	setDefault(&p.RateLimit, 5)
	if p.Burst == 0 {
		p.Burst = max(1, int(p.RateLimit+0.999))
	}
	setDefault(&p.Concurrency, 4)
	setDefault(&p.MaxRetryWait, Duration(60*time.Second))
	setDefault(&p.Retries, 4)
	setDefault(&p.Timeout, Duration(30*time.Second))
}

// Polls reports whether the provider is polled: it has an API key (or, for a
// type configured by field paths, a poll URL; for a type with credentials of
// its own, always).
func (p *Provider) Polls() bool {
	t, _ := p.ProviderType()
	if t.Mapped {
		return p.Poll != nil && p.Poll.URL != ""
	}
	return p.hasPollKey() || t.OwnCredentials
}

// StaleAfterFor is the stale threshold of the provider's jobs of a kind:
// the provider's own, else the sweep's, never below its type's
// MinStaleAfter.
func (p *Provider) StaleAfterFor(kind tracker.Kind, sweep Sweep) time.Duration {
	t, _ := p.ProviderType()
	return max(p.staleAfter(kind, sweep), t.MinStaleAfter)
}

// staleAfter is the stale threshold configured for the provider's jobs of a
// kind.
func (p *Provider) staleAfter(kind tracker.Kind, sweep Sweep) time.Duration {
	if p.Poll != nil {
		if d, ok := p.Poll.StaleAfterByKind[string(kind)]; ok {
			return d.D()
		}
		if p.Poll.StaleAfter > 0 {
			return p.Poll.StaleAfter.D()
		}
	}
	return sweep.StaleAfter.D()
}

// validateEntra checks the provider's Microsoft Entra ID keys against its
// type t: only for a type that takes them, all three or none, never with
// api_key; token_url only with them.
func (p *Provider) validateEntra(t providers.Type, key string, bad func(key, format string, args ...any)) {
	if !p.entraKeys() {
		if p.TokenURL != "" {
			bad(key+".token_url", "not used without tenant_id, client_id and client_secret (Microsoft Entra ID)")
		}
		return
	}
	if t.Name != "" && !t.EntraID {
		bad(key+".client_id", "not used: %s does not authenticate with Microsoft Entra ID (tenant_id, client_id, client_secret)", t.Name)
		return
	}
	if p.APIKey != "" {
		bad(key+".api_key", "api_key and tenant_id/client_id/client_secret (Microsoft Entra ID) are mutually exclusive: set one")
	}
	for _, k := range []struct{ name, value string }{{"tenant_id", p.TenantID}, {"client_id", p.ClientID}, {"client_secret", p.ClientSecret.Reveal()}} {
		if k.value == "" {
			bad(key+"."+k.name, "required with the other Microsoft Entra ID keys (tenant_id, client_id, client_secret)")
		}
	}
	if p.TokenURL != "" {
		checkBaseURL(key+".token_url", p.TokenURL, bad)
	}
}

// validatePolling checks the provider's polling settings against what its
// type t polls; t is the zero Type for an unknown type (reported apart).
func (p *Provider) validatePolling(t providers.Type, key string, bad func(key, format string, args ...any)) {
	known := t.Name != ""
	if known && t.NewParser == nil && p.Webhook != nil {
		bad(key+".webhook", "%s sends no webhooks: it is polled", t.Name)
	}
	if known && t.NewPoller == nil && (p.hasPollKey() || p.Poll != nil) {
		bad(key+".poll", "%s has no polling API in jobwatch: its jobs are resolved by webhook", t.Name)
	}
	if known && t.NewParser == nil && !p.hasPollKey() && !t.OwnCredentials {
		bad(key+".api_key", "required: %s jobs are only ever polled", t.Name)
	}
	if t.OwnCredentials && p.APIKey != "" {
		bad(key+".api_key", "not used: %s authenticates with credentials of its own", t.Name)
	}
	if p.BaseURL != "" {
		checkBaseURL(key+".base_url", p.BaseURL, bad)
	}
	p.validateEntra(t, key, bad)
	if known && !t.Mapped && t.NewPoller != nil && p.hasPollKey() && p.BaseURL == "" {
		bad(key+".base_url", "required to poll %s (its API's base URL: the type has no default)", t.Name)
	}
	poll := p.Poll
	if poll == nil {
		return
	}
	pkey := key + ".poll"
	if t.Mapped {
		if poll.URL == "" {
			bad(pkey+".url", "required for a generic provider (the job's URL, with {id})")
		} else if u, err := url.Parse(strings.ReplaceAll(poll.URL, "{id}", "x")); err != nil || !strings.Contains(poll.URL, "{id}") || (u.Scheme != "http" && u.Scheme != "https") {
			bad(pkey+".url", "must be an http(s) URL containing {id}")
		} else if u.User != nil {
			bad(pkey+".url", "must not hold credentials (%s): send them in headers", hostAndPath(u))
		}
	} else {
		if poll.URL != "" {
			bad(pkey+".url", "only for generic providers")
		}
		if len(poll.Headers) > 0 {
			bad(pkey+".headers", "only for generic providers")
		}
		if !p.hasPollKey() && !t.OwnCredentials {
			bad(key+".api_key", "required to poll (a [providers.poll] table is set)")
		}
		if poll.JobID != "" || poll.Status != "" || poll.Usage != nil {
			bad(pkey, "job_id, status and usage are only for generic providers")
		}
	}
	if poll.RateLimit < 0 {
		bad(pkey+".rate_limit", "must not be negative")
	}
	if poll.Concurrency < 1 || poll.Concurrency > 256 {
		bad(pkey+".concurrency", "%d is out of range (1 to 256)", poll.Concurrency)
	}
	if poll.Retries < 0 || poll.Retries > 20 {
		bad(pkey+".retries", "%d is out of range (0 to 20)", poll.Retries)
	}
	for k, d := range map[string]Duration{"max_retry_wait": poll.MaxRetryWait, "timeout": poll.Timeout} {
		if d <= 0 {
			bad(pkey+"."+k, "must be positive")
		}
	}
	if poll.StaleAfter < 0 {
		bad(pkey+".stale_after", "must not be negative")
	}
	// tooShort reports a stale threshold below what the type tolerates.
	tooShort := func(key string, d Duration) {
		if d > 0 && d.D() < t.MinStaleAfter {
			bad(key, "must be at least %s for %s (the least time it tolerates between polls of one job)", t.MinStaleAfter, t.Name)
		}
	}
	tooShort(pkey+".stale_after", poll.StaleAfter)
	kinds := make([]string, 0, len(poll.StaleAfterByKind))
	for k := range poll.StaleAfterByKind {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	for _, k := range kinds {
		if poll.StaleAfterByKind[k] <= 0 || tracker.ValidateKind(tracker.Kind(k)) != nil {
			bad(pkey+".stale_after_by_kind."+k, "must be a kind with a positive duration")
		} else {
			tooShort(pkey+".stale_after_by_kind."+k, poll.StaleAfterByKind[k])
		}
	}
}
