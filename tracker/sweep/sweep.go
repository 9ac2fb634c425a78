// Package sweep is jobwatch's safety net: on a cron schedule it claims the
// jobs that are due for a poll (gone quiet past their stale threshold, or
// made due by a thin webhook), asks each provider's API about them, and
// applies what it learns through the tracker. It also gives up on jobs
// unresolved past their lost threshold, records the webhooks that never came
// for ends a poll learned, sends the end alerts held too long for an
// enrichment poll, and ends the silence of providers whose webhooks arrive
// again. Claims are leased, so several replicas on one PostgreSQL never poll
// one job at once.
//
// It is part of the jobwatch daemon, not of the library's public API.
package sweep

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/robfig/cron/v3"

	"github.com/jobwatch/jobwatch/providers"
	"github.com/jobwatch/jobwatch/tracker"
	"github.com/jobwatch/jobwatch/tracker/startstop"
)

// Provider is what the sweep knows of one configured provider.
type Provider struct {
	// Poller asks its API about a job; nil when it is not polled.
	Poller providers.Poller
	// Concurrency is how many of its jobs are polled at once. Default 4.
	Concurrency int
}

// Options configure a Sweeper.
type Options struct {
	Tracker *tracker.Tracker
	// Providers by name. Jobs of other providers are only checked for the
	// lost threshold.
	Providers map[string]Provider
	// LostAfter is how long after registration an unresolved job of a kind
	// is lost.
	LostAfter func(tracker.Kind) time.Duration
	// BatchSize is how many due jobs one claim takes. Default
	// DefaultBatchSize.
	BatchSize int
	// Lease is how long a claim keeps other sweeps off its jobs. Default 2m.
	Lease time.Duration
	// AuthBackoff is how long a provider that refused our credentials is
	// left alone. Default 5m.
	AuthBackoff time.Duration
	// Schedule is when Start runs sweeps (UTC); Start refuses nil. Sweep
	// and PollJob do not need it.
	Schedule cron.Schedule
	Logger   *slog.Logger
	// Registry receives the sweep's metrics; nil: they are not registered.
	Registry prometheus.Registerer
}

// DefaultBatchSize is how many due jobs a claim takes unless configured
// ([sweep] batch_size): small enough that a claim, which holds its jobs'
// row locks until it returns, takes under 10 ms on PostgreSQL while the
// sweep's polls keep both cores busy, and large enough that claims are a
// small share of a sweep (README, The sweep: 250 and 500 swept 100,000 due
// jobs in the same time; 500's claims took 11.4–16.3 ms at p99).
const DefaultBatchSize = 250

// Sweeper runs sweeps. It is safe for concurrent use.
type Sweeper struct {
	opts    Options
	tracker *tracker.Tracker
	store   tracker.Store
	log     *slog.Logger
	m       *sweepMetrics
	life    startstop.Runner
	// providers is Options.Providers, replaced by SetProviders.
	providers atomic.Pointer[map[string]Provider]
	// wake holds the one pending Wake, coalescing those made before the
	// woken run takes it.
	wake chan struct{}

	mu         sync.Mutex
	authPaused map[string]time.Time // provider -> until
	last       LastSweep
}

// LastSweep is what the newest finished sweep of this Sweeper did, for the
// console's overview.
type LastSweep struct {
	// Started is when it began; zero when no sweep has finished yet.
	Started time.Time
	// Duration is how long it ran.
	Duration time.Duration
	Result   Result
	// Err is why it stopped early; "" when it ended well.
	Err string
}

// Last returns the newest finished sweep; its Started is zero when none has
// finished since the Sweeper was made.
func (s *Sweeper) Last() LastSweep {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

// Result is what one sweep did.
type Result struct {
	// Claimed is how many due jobs the sweep took.
	Claimed int
	// Polled is how many provider API calls it made.
	Polled int
	// Failed is how many polls failed.
	Failed int
	// ClaimDurations are how long each claim query took.
	ClaimDurations []time.Duration
	// NotConfigured counts, by provider, the claimed jobs of providers not
	// in Options.Providers (removed from the config since they were
	// registered): never polled, only checked for the lost threshold.
	NotConfigured map[string]int
}

// New returns a Sweeper.
func New(opts Options) *Sweeper {
	opts.BatchSize = cmp.Or(opts.BatchSize, DefaultBatchSize)
	opts.Lease = cmp.Or(opts.Lease, 2*time.Minute)
	opts.AuthBackoff = cmp.Or(opts.AuthBackoff, 5*time.Minute)
	s := &Sweeper{
		opts:       opts,
		tracker:    opts.Tracker,
		store:      opts.Tracker.Store(),
		log:        opts.Logger,
		m:          newSweepMetrics(opts.Registry),
		authPaused: map[string]time.Time{},
		wake:       make(chan struct{}, 1),
	}
	s.providers.Store(&opts.Providers)
	return s
}

// SetProviders replaces the providers (Options.Providers) for the polls
// that start after it. The providers named in changed, whose credentials
// or API may have changed, are no longer paused after a refusal of their
// credentials: a rotated key is tried at the next sweep.
func (s *Sweeper) SetProviders(ps map[string]Provider, changed []string) {
	s.providers.Store(&ps)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, name := range changed {
		delete(s.authPaused, name)
	}
}

// provider is a configured provider, and whether it is configured.
func (s *Sweeper) provider(name string) (Provider, bool) {
	p, ok := (*s.providers.Load())[name]
	return p, ok
}

// Wake makes the started Sweeper claim and poll the jobs due now at once,
// rather than at the next tick of its schedule: for a thin webhook's
// enrichment poll, whose end alert is held until it applies
// (tracker.Options.PollDue). It never blocks. Wakes coalesce: those made
// before the woken run starts make one run, and those made during it one
// more run after it. The run is the claims and polls of a sweep alone
// (pollDue), without its checks of webhook silences and projected
// thresholds, which read every live job and stay on the schedule; its
// claims are leased like a sweep's, so a job is never polled by it and a
// sweep, here or on another replica, at once. A Sweeper not started keeps
// the wake for when it is.
func (s *Sweeper) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Start runs a sweep on every tick of Options.Schedule until Stop or the
// end of ctx, and a claim and poll of due jobs after each Wake. A sweep
// still running when the next tick comes makes that tick skip; a panicking
// sweep is logged and recovered.
func (s *Sweeper) Start(ctx context.Context) error {
	if s.opts.Schedule == nil {
		return errors.New("start sweeps: no schedule")
	}
	return s.life.Start(ctx, func(ctx context.Context) {
		var woken sync.WaitGroup
		defer woken.Wait()
		woken.Go(func() { s.runWoken(ctx) })
		l := cronLogger{s.log}
		// SkipIfStillRunning must wrap Recover: the other order leaves the job
		// skipped forever after a panic (robfig/cron v3.0.1).
		c := cron.New(cron.WithLocation(time.UTC), cron.WithLogger(l), cron.WithChain(cron.SkipIfStillRunning(l), cron.Recover(l)))
		c.Schedule(s.opts.Schedule, cron.FuncJob(func() {
			if _, err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
				s.log.Error("sweep failed", "error", err)
			}
		}))
		c.Start()
		<-ctx.Done()
		<-c.Stop().Done()
	})
}

// runWoken claims and polls the due jobs after each Wake until the end of
// ctx, one run at a time, each starting startstop.WakeGap at least after
// the one before.
func (s *Sweeper) runWoken(ctx context.Context) {
	var last time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		}
		if !startstop.Pace(ctx, last, startstop.WakeGap) {
			return
		}
		last = time.Now()
		s.m.wokenRuns.Inc()
		if _, err := s.pollDue(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("poll of due jobs after a wake failed", "error", err)
		}
	}
}

// Stop stops scheduling sweeps, ends a running one early (its polls are
// cancelled; their jobs' leases run out) and waits for it.
func (s *Sweeper) Stop() { s.life.Stop() }

// Sweep claims and handles due jobs, batch after batch, until none is due,
// then ends the silences of providers whose webhooks arrive again and
// checks the projected cost thresholds.
func (s *Sweeper) Sweep(ctx context.Context) (res Result, err error) {
	start := time.Now()
	defer func() {
		took := time.Since(start)
		s.m.sweepDuration.Observe(took.Seconds())
		if err != nil && ctx.Err() == nil {
			s.m.sweepFailures.Inc()
		}
		s.m.claimed.Set(float64(res.Claimed))
		s.warnNotConfigured(res.NotConfigured)
		last := LastSweep{Started: start, Duration: took, Result: res}
		if err != nil {
			last.Err = err.Error()
		}
		s.mu.Lock()
		s.last = last
		s.mu.Unlock()
	}()
	if res, err = s.pollDue(ctx); err != nil {
		return res, err
	}
	ended, err := s.tracker.EndWebhookSilences(ctx)
	for _, provider := range ended {
		s.log.Info("webhooks are arriving again; their silence has ended", "provider", provider)
	}
	if err != nil {
		return res, err
	}
	return res, s.tracker.CheckProjectedThresholds(ctx)
}

// pollDue claims and handles due jobs, batch after batch, until none is due.
func (s *Sweeper) pollDue(ctx context.Context) (res Result, err error) {
	for ctx.Err() == nil {
		t := time.Now()
		jobs, err := s.store.ClaimDue(ctx, tracker.ClaimParams{Now: s.tracker.Now(), Lease: s.opts.Lease, Limit: s.opts.BatchSize})
		if err != nil {
			return res, err
		}
		res.ClaimDurations = append(res.ClaimDurations, time.Since(t))
		res.Claimed += len(jobs)
		if len(jobs) == 0 {
			break
		}
		for _, j := range jobs {
			if _, ok := s.provider(j.Provider); !ok {
				if res.NotConfigured == nil {
					res.NotConfigured = map[string]int{}
				}
				res.NotConfigured[j.Provider]++
			}
		}
		polled, failed := s.handleBatch(ctx, jobs)
		res.Polled += polled
		res.Failed += failed
		if len(jobs) < s.opts.BatchSize {
			break
		}
	}
	return res, nil
}

// warnNotConfigured logs, once per sweep, how many due jobs of each
// provider missing from the config it could not poll: one line however
// many jobs, so that a provider removed with thousands of live jobs does not
// flood the log, and none when there are none.
func (s *Sweeper) warnNotConfigured(counts map[string]int) {
	if len(counts) == 0 {
		return
	}
	attrs := make([]any, 0, len(counts))
	for _, name := range slices.Sorted(maps.Keys(counts)) {
		attrs = append(attrs, slog.Int(name, counts[name]))
	}
	s.log.Warn("due jobs of providers that are not configured were not polled: configure the provider again, or they go lost at their deadline",
		slog.Group("jobs_by_provider", attrs...))
}

// handleBatch handles claimed jobs, each provider's with its own concurrency,
// so that a slow provider never holds up another's polls.
func (s *Sweeper) handleBatch(ctx context.Context, jobs []tracker.Job) (polled, failed int) {
	byProvider := map[string][]tracker.Job{}
	for _, j := range jobs {
		byProvider[j.Provider] = append(byProvider[j.Provider], j)
	}
	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	for name, pj := range byProvider {
		// Each provider's jobs are fed from a goroutine of their own.
		wg.Go(func() {
			p, _ := s.provider(name)
			sem := make(chan struct{}, cmp.Or(p.Concurrency, 4))
			var pw sync.WaitGroup
			for _, j := range pj {
				sem <- struct{}{}
				pw.Go(func() {
					defer func() { <-sem }()
					did, err := s.poll(ctx, j, false)
					mu.Lock()
					defer mu.Unlock()
					if did {
						polled++
					}
					if err != nil {
						failed++
						if ctx.Err() == nil {
							s.log.Warn("poll failed", "provider", j.Provider, "kind", j.Kind, "job_id", j.ExternalID, "error", err)
						}
					}
				})
			}
			pw.Wait()
		})
	}
	wg.Wait()
	return polled, failed
}

// poll does what a due job needs: the lost verdict; for an ended job, the
// missed-webhook verdict, or the enrichment poll and the release of its held
// alert; the stuck verdict; then a poll when its provider can be polled and is not paused (or
// force). It reports whether it asked the provider.
func (s *Sweeper) poll(ctx context.Context, job tracker.Job, force bool) (bool, error) {
	now := s.tracker.Now()
	rules := s.tracker.Rules(job.Provider, job.Kind)
	p, _ := s.provider(job.Provider)
	verdict := func(typ string, details map[string]string) tracker.ApplyItem {
		return tracker.ApplyItem{Observation: &tracker.Observation{
			Provider: job.Provider, ExternalID: job.ExternalID, Source: tracker.SourceSweep, Type: typ, OccurredAt: now, Details: details,
		}}
	}
	// items apply before the poll's answer, after those after it.
	var items, after []tracker.ApplyItem
	lostAfter := s.opts.LostAfter(job.Kind)
	if !job.Status.Terminal() && job.Status != tracker.StatusLost && now.Sub(job.CreatedAt) >= lostAfter {
		items = append(items, verdict(tracker.TypeJobLost, map[string]string{"lost_reason": fmt.Sprintf("unresolved %s after registration", lostAfter)}))
	}
	if due := job.WebhookDueBy; due != nil && !force {
		// A poll learned the end already: only its webhook is awaited.
		if due.After(now) {
			return false, s.store.Reschedule(ctx, job.ID, *due, job.QuietPolls)
		}
		return false, s.apply(ctx, []tracker.ApplyItem{verdict(tracker.TypeJobWebhookMissed, nil)})
	}

	if _, stuck := tracker.Stuck(job, now, rules); stuck {
		// Checked against the claimed job, applied after the poll's
		// answer: an answer that moves the job on makes it stale.
		v := verdict(tracker.TypeJobStuck, nil)
		v.Observation.ProviderStatus = job.ProviderStatus
		after = append(after, v)
	}
	polls := p.Poller != nil && p.Poller.Polls(job.Kind)
	held := job.AlertHeldUntil
	if held != nil && (!held.After(now) || !polls) {
		// The end's alert waited long enough for the enrichment poll, or
		// waits for one that can never be made.
		after = append(after, verdict(tracker.TypeEnrichTimeout, nil))
		held = nil
	}
	// rescheduled is when a job whose poll failed or was not made is next
	// due: at next, or when its held alert is, if that is sooner.
	rescheduled := func(next time.Time) time.Time {
		if held != nil && (next.IsZero() || held.Before(next)) {
			return *held
		}
		return next
	}
	pausedUntil, paused := s.paused(job.Provider, now)
	if !polls || (paused && !force) {
		if err := s.apply(ctx, append(items, after...)); err != nil {
			return false, err
		}
		next := pausedUntil
		if !polls {
			// Nothing can ask the provider: wake up for the lost deadline,
			// or never once the job is lost (only a webhook can resolve it).
			next = job.CreatedAt.Add(lostAfter)
			if !next.After(now) {
				next = time.Time{}
			}
			s.m.polls.WithLabelValues(job.Provider, string(job.Kind), "not_polled").Inc()
		}
		return false, s.store.Reschedule(ctx, job.ID, rescheduled(next), job.QuietPolls)
	}

	start := time.Now()
	obs, err := p.Poller.Poll(ctx, job)
	s.m.pollDuration.WithLabelValues(job.Provider).Observe(time.Since(start).Seconds())
	var pe *providers.PollError
	switch {
	case err == nil:
		obs.Provider, obs.ExternalID, obs.Source, obs.OccurredAt = job.Provider, job.ExternalID, tracker.SourcePoll, s.tracker.Now()
		items = append(items, tracker.ApplyItem{Observation: &obs})
	case errors.As(err, &pe) && pe.Class == providers.PollNotFound:
		items = append(items, tracker.ApplyItem{Observation: &tracker.Observation{
			Provider: job.Provider, ExternalID: job.ExternalID, Source: tracker.SourcePoll, Type: tracker.TypePollNotFound, OccurredAt: now,
		}})
		s.m.polls.WithLabelValues(job.Provider, string(job.Kind), "not_found").Inc()
	case errors.As(err, &pe) && pe.Class == providers.PollAuth:
		s.m.polls.WithLabelValues(job.Provider, string(job.Kind), "auth_failed").Inc()
		until := s.pause(ctx, job.Provider, pe, now)
		return true, errors.Join(err, s.apply(ctx, append(items, after...)), s.store.Reschedule(ctx, job.ID, rescheduled(until), job.QuietPolls))
	default:
		s.m.polls.WithLabelValues(job.Provider, string(job.Kind), "error").Inc()
		next := now.Add(rules.PollInterval(job.QuietPolls + 1))
		return true, errors.Join(err, s.apply(ctx, append(items, after...)), s.store.Reschedule(ctx, job.ID, rescheduled(next), job.QuietPolls+1))
	}
	answer := len(items) - 1
	res, aerr := s.tracker.Observe(context.WithoutCancel(ctx), append(items, after...)...)
	if aerr != nil || err != nil {
		// A 404 is recorded (it counts toward lost), but the poll failed.
		return true, errors.Join(err, aerr)
	}
	outcome := "unchanged"
	if r := res[answer]; r.Job != nil && r.Job.QuietPolls == 0 {
		outcome = "changed"
	}
	s.m.polls.WithLabelValues(job.Provider, string(job.Kind), outcome).Inc()
	if j := res[answer].Job; j != nil && j.WebhookDueBy != nil && !j.WebhookDueBy.After(now) {
		// The poll learned of an end older than the grace: its webhook
		// is missed already.
		return true, s.apply(ctx, []tracker.ApplyItem{verdict(tracker.TypeJobWebhookMissed, nil)})
	}
	return true, nil
}

func (s *Sweeper) apply(ctx context.Context, items []tracker.ApplyItem) error {
	if len(items) == 0 {
		return nil
	}
	_, err := s.tracker.Observe(context.WithoutCancel(ctx), items...)
	return err
}

// ErrNotPolled is returned by PollJob for a job no configured API can be
// asked about.
var ErrNotPolled = errors.New("no poller is configured for this provider and kind")

// PollJob polls one job now, whatever its schedule and any pause of its
// provider, applies the answer like a sweep would, and returns the job as
// it is after. A failed poll is a *providers.PollError; an untracked job
// is not polled (tracker.ErrJobUntracked).
func (s *Sweeper) PollJob(ctx context.Context, provider, externalID string) (tracker.Job, error) {
	job, err := s.store.GetJob(ctx, provider, externalID)
	if err != nil {
		return tracker.Job{}, err
	}
	if job.UntrackedAt != nil {
		return tracker.Job{}, tracker.ErrJobUntracked
	}
	p, _ := s.provider(provider)
	if p.Poller == nil || !p.Poller.Polls(job.Kind) {
		return tracker.Job{}, ErrNotPolled
	}
	if _, err := s.poll(ctx, job, true); err != nil {
		return tracker.Job{}, err
	}
	return s.tracker.Job(ctx, provider, externalID)
}

// paused reports whether a provider's polls are paused after it refused our
// credentials, and until when.
func (s *Sweeper) paused(provider string, now time.Time) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	until, ok := s.authPaused[provider]
	return until, ok && now.Before(until)
}

// pause stops polling a provider for AuthBackoff and records a
// provider.auth_failed event, once per pause.
func (s *Sweeper) pause(ctx context.Context, provider string, pe *providers.PollError, now time.Time) time.Time {
	s.mu.Lock()
	until, ok := s.authPaused[provider]
	first := !ok || !now.Before(until)
	if first {
		until = now.Add(s.opts.AuthBackoff)
		s.authPaused[provider] = until
	}
	s.mu.Unlock()
	if first {
		s.log.Error("provider refused our credentials; its polls are paused", "provider", provider, "status_code", pe.StatusCode, "until", until)
		err := s.apply(ctx, []tracker.ApplyItem{{Observation: &tracker.Observation{
			Provider: provider, Source: tracker.SourcePoll, Type: tracker.TypeProviderAuthFailed, OccurredAt: now,
			Details: map[string]string{"status_code": fmt.Sprint(pe.StatusCode)},
		}}})
		if err != nil {
			s.log.Warn("record provider.auth_failed", "provider", provider, "error", err)
		}
	}
	return until
}

// cronLogger adapts slog to cron's logger: its chatter at debug, errors as errors.
type cronLogger struct{ log *slog.Logger }

func (l cronLogger) Info(msg string, kv ...any) { l.log.Debug("cron: "+msg, kv...) }

func (l cronLogger) Error(err error, msg string, kv ...any) {
	l.log.Error("cron: "+msg, append(kv, "error", err)...)
}
