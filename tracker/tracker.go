package tracker

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// API is what applications call to register and look up jobs. Tracker does it
// in-process over the database; Client does it over a running daemon's HTTP API.
type API interface {
	Track(ctx context.Context, req TrackRequest) (job Job, created bool, err error)
	Job(ctx context.Context, provider, externalID string) (Job, error)
	List(ctx context.Context, f Filter) (Page, error)
}

// TrackRequest registers a job an application has just submitted.
type TrackRequest struct {
	Provider   string `json:"provider"`
	Kind       Kind   `json:"kind"`
	ExternalID string `json:"id"`
	// ParentID is the id of the object the provider files the job under,
	// when its API needs it to find the job: an OpenAI eval run's eval id.
	// Empty for most jobs.
	ParentID string `json:"parent_id,omitempty"`
	// Model is the model the job runs on, for pricing, when the provider's
	// job object does not say (its own word wins): Details[DetailModel].
	Model  string            `json:"model,omitempty"`
	Labels map[string]string `json:"labels,omitempty"`
	// Metadata is any JSON value the application wants kept with the job.
	Metadata json.RawMessage `json:"metadata,omitempty"`
}

// Filter selects jobs for List. Zero fields match everything.
type Filter struct {
	Provider string
	Kind     Kind
	Status   Status
	Labels   map[string]string
	// Query, when not empty, matches the jobs whose provider id holds it,
	// ignoring the case of ASCII letters (a text search on ids).
	Query string
	// Limit is the page size: default 100, at most MaxPageSize.
	Limit int
	// Cursor continues from a previous Page's NextCursor.
	Cursor string
}

// Page is one page of List results, newest job first.
type Page struct {
	Jobs []Job `json:"jobs"`
	// NextCursor fetches the next page; empty on the last one.
	NextCursor string `json:"next_cursor,omitempty"`
}

// Page sizes for List.
const (
	DefaultPageSize = 100
	MaxPageSize     = 1000
	// MaxHistory is how many of a job's newest events Job returns.
	MaxHistory = 1000
	// MaxLabels is how many labels a job may carry.
	MaxLabels = 64
)

// Options configure a Tracker.
type Options struct {
	// StaleAfter is how long a non-terminal job may go unheard before it is
	// due for a poll. Default 10 minutes.
	StaleAfter time.Duration
	// Rules, when set, overrides StaleAfter per provider and kind.
	Rules func(provider string, kind Kind) Rules
	// Now is the clock; default time.Now.
	Now func() time.Time
	// MaxBatchItems caps how many observations one group-commit
	// transaction carries. Default 256.
	MaxBatchItems int
	// MaxConcurrentCommits is how many group-commit transactions may run at
	// once. Default 1: one at a time gathers the fullest batches, which
	// measured best on both backends (see jobwatch bench ingest).
	MaxConcurrentCommits int
	// Registry, when set, receives the resolution metrics.
	Registry prometheus.Registerer
	// Alerting, when set, raises alerts and accounts usage as observations
	// apply (see Alerting).
	Alerting *Alerting
	// AlertsRaised, when set, is called after a batch whose observations
	// raised alerts has committed them to the outbox, so that the alerts'
	// delivery can start at once rather than at its next interval (see
	// dispatch.Dispatcher.Wake). It must not block.
	AlertsRaised func()
	// PollDue, when set, is called after a batch has committed that made a
	// job due for a poll at once (a thin webhook's enrichment poll), so
	// that the poll can start at once rather than at the next sweep (see
	// sweep.Sweeper.Wake). It must not block.
	PollDue func()
	// Providers, when not nil, are the only provider names Track accepts:
	// the configured ones, so that a misspelt name is refused instead of
	// stored and never heard of again. Nil accepts any valid name (a
	// library user without a config); empty accepts none.
	Providers []string
}

// Tracker applies registrations and observations to a Store. It is safe for
// concurrent use.
type Tracker struct {
	store     Store
	rules     func(provider string, kind Kind) Rules
	now       func() time.Time
	committer *committer
	metrics   *metrics
	// providers is Options.Providers, sorted, replaced by SetProviders;
	// nil accepts any name.
	providers atomic.Pointer[[]string]
}

var _ API = (*Tracker)(nil)

// New returns a Tracker over store.
func New(store Store, opts Options) *Tracker {
	stale := cmp.Or(opts.StaleAfter, 10*time.Minute)
	rules := opts.Rules
	if rules == nil {
		rules = func(string, Kind) Rules { return Rules{StaleAfter: stale} }
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	t := &Tracker{store: store, rules: rules, now: now, metrics: newMetrics(opts.Registry), committer: &committer{
		store:      store,
		rules:      rules,
		now:        now,
		maxItems:   cmp.Or(opts.MaxBatchItems, 256),
		maxLeaders: cmp.Or(opts.MaxConcurrentCommits, 1),
		raised:     opts.AlertsRaised,
		pollDue:    opts.PollDue,
	}}
	t.SetAlerting(opts.Alerting)
	t.SetProviders(opts.Providers)
	return t
}

// SetAlerting replaces the alerting policy (Options.Alerting) for the
// batches committed after it: a batch in flight applies the one it
// started with.
func (t *Tracker) SetAlerting(a *Alerting) { t.committer.alerting.Store(a) }

// Alerting is the alerting policy in force; nil: none.
func (t *Tracker) Alerting() *Alerting { return t.committer.alerting.Load() }

// SetProviders replaces the provider names Track accepts
// (Options.Providers; nil accepts any).
func (t *Tracker) SetProviders(names []string) {
	if names == nil {
		t.providers.Store(nil)
		return
	}
	// Clone keeps an empty list empty rather than nil.
	known := slices.Clone(names)
	slices.Sort(known)
	t.providers.Store(&known)
}

// Rules returns the transition rules for a provider's kind of job.
func (t *Tracker) Rules(provider string, kind Kind) Rules { return t.rules(provider, kind) }

// Now is the tracker's clock.
func (t *Tracker) Now() time.Time { return t.now() }

// Providers returns the configured providers' names, sorted (a copy of
// Options.Providers); nil when any name is taken.
func (t *Tracker) Providers() []string {
	known := t.providers.Load()
	if known == nil {
		return nil
	}
	return slices.Clone(*known)
}

// Currency is the currency of the configured prices (Alerting.Prices),
// the unit of MetricCost; "" when no prices are configured.
func (t *Tracker) Currency() string {
	if a := t.Alerting(); a != nil && a.Prices != nil {
		return a.Prices.Currency
	}
	return ""
}

// Store returns the store the tracker writes to.
func (t *Tracker) Store() Store { return t.store }

// Track registers a submitted job. It is idempotent on provider and external
// id: a second call returns the existing job with created false.
func (t *Tracker) Track(ctx context.Context, req TrackRequest) (Job, bool, error) {
	if err := validateTrack(req); err != nil {
		return Job{}, false, err
	}
	if err := t.checkConfigured(req.Provider); err != nil {
		return Job{}, false, err
	}
	now := t.now().UTC()
	next := now.Add(t.rules(req.Provider, req.Kind).StaleAfter)
	job := Job{
		Provider:    req.Provider,
		Kind:        req.Kind,
		ExternalID:  req.ExternalID,
		ParentID:    req.ParentID,
		Status:      StatusPending,
		Labels:      req.Labels,
		Metadata:    req.Metadata,
		CreatedAt:   now,
		UpdatedAt:   now,
		LastHeardAt: now,
		NextPollAt:  &next,
	}
	if req.Model != "" {
		job.Details = map[string]string{DetailModel: req.Model}
	}
	job, created, err := t.store.CreateJob(ctx, job)
	if err != nil {
		return Job{}, false, fmt.Errorf("track %s job %s: %w", req.Provider, req.ExternalID, err)
	}
	return job, created, nil
}

func validateTrack(req TrackRequest) error {
	if err := ValidateProvider(req.Provider); err != nil {
		return err
	}
	if err := ValidateKind(req.Kind); err != nil {
		return err
	}
	if err := ValidateExternalID(req.ExternalID); err != nil {
		return err
	}
	if req.ParentID != "" {
		if err := validateID("parent_id", req.ParentID); err != nil {
			return err
		}
	}
	if req.Model != "" {
		if err := validateID("model", req.Model); err != nil {
			return err
		}
	}
	if len(req.Labels) > MaxLabels {
		return &ValidationError{"labels", fmt.Sprintf("at most %d labels", MaxLabels)}
	}
	for k, v := range req.Labels {
		if k == "" || len(k) > 128 || len(v) > 1024 {
			return &ValidationError{"labels", fmt.Sprintf("label %q: keys must be 1 to 128 bytes, values at most 1024", k)}
		}
		if !validLabel(k) || !validLabel(v) {
			return &ValidationError{"labels", fmt.Sprintf("label %q: keys and values must be UTF-8 without NUL bytes", k)}
		}
	}
	if len(req.Metadata) > 0 && !json.Valid(req.Metadata) {
		return &ValidationError{"metadata", "not valid JSON"}
	}
	if err := checkStorableJSON(req.Metadata); err != nil {
		return &ValidationError{"metadata", err.Error()}
	}
	return nil
}

// checkConfigured refuses a provider the tracker was not told of: nothing
// would ever poll its jobs or receive their webhooks.
func (t *Tracker) checkConfigured(provider string) error {
	known := t.providers.Load()
	switch {
	case known == nil || slices.Contains(*known, provider):
		return nil
	case len(*known) == 0:
		return &ValidationError{"provider", fmt.Sprintf("%q is not configured: no providers are (add a [[providers]] entry)", provider)}
	}
	return &ValidationError{"provider", fmt.Sprintf("%q is not configured (configured: %s)", provider, strings.Join(*known, ", "))}
}

// Job returns a job with its history, or ErrNotFound.
func (t *Tracker) Job(ctx context.Context, provider, externalID string) (Job, error) {
	job, err := t.store.GetJob(ctx, provider, externalID)
	if err != nil {
		return Job{}, fmt.Errorf("get %s job %s: %w", provider, externalID, err)
	}
	job.History, err = t.store.History(ctx, job.ID, MaxHistory)
	if err != nil {
		return Job{}, fmt.Errorf("get history of %s job %s: %w", provider, externalID, err)
	}
	return job, nil
}

// List returns one page of jobs matching f, newest first.
func (t *Tracker) List(ctx context.Context, f Filter) (Page, error) {
	if err := f.Validate(); err != nil {
		return Page{}, err
	}
	p := ListParams{Provider: f.Provider, Kind: f.Kind, Status: f.Status, Labels: f.Labels, Query: f.Query, Limit: cmp.Or(f.Limit, DefaultPageSize)}
	if f.Cursor != "" {
		p.BeforeID, _ = decodeCursor(f.Cursor)
	}
	// One extra row tells whether there is a next page.
	p.Limit++
	jobs, err := t.store.ListJobs(ctx, p)
	if err != nil {
		return Page{}, fmt.Errorf("list jobs: %w", err)
	}
	page := Page{Jobs: jobs}
	if len(jobs) == p.Limit {
		page.Jobs = jobs[:len(jobs)-1]
		page.NextCursor = encodeCursor(page.Jobs[len(page.Jobs)-1].ID)
	}
	return page, nil
}

// Validate checks a filter as List does, so that a client can refuse bad
// input before it sends a request; the field of a ValidationError is the
// HTTP API's query parameter.
func (f Filter) Validate() error {
	if f.Limit < 0 || f.Limit > MaxPageSize {
		return &ValidationError{"limit", fmt.Sprintf("must be 1 to %d", MaxPageSize)}
	}
	if f.Status != "" && !f.Status.Valid() {
		return &ValidationError{"status", fmt.Sprintf("unknown status %q", f.Status)}
	}
	if len(f.Query) > MaxExternalIDLen || !validLabel(f.Query) {
		return &ValidationError{"q", fmt.Sprintf("must be UTF-8 without NUL bytes, at most %d bytes", MaxExternalIDLen)}
	}
	if f.Cursor != "" {
		if _, err := decodeCursor(f.Cursor); err != nil {
			return &ValidationError{"cursor", "not a cursor this API returned"}
		}
	}
	return nil
}

func encodeCursor(id int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte("j" + strconv.FormatInt(id, 10)))
}

func decodeCursor(s string) (int64, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) < 2 || b[0] != 'j' {
		return 0, fmt.Errorf("bad cursor")
	}
	return strconv.ParseInt(string(b[1:]), 10, 64)
}

// EndWebhookSilences ends the silence of every provider whose webhooks
// arrive again, raising provider.webhooks_resumed; see
// Store.EndWebhookSilences. It returns those providers.
func (t *Tracker) EndWebhookSilences(ctx context.Context) ([]string, error) {
	ended, err := t.store.EndWebhookSilences(ctx, t.now().UTC(), t.Alerting())
	if err != nil {
		return ended, fmt.Errorf("end webhook silences: %w", err)
	}
	return ended, nil
}

// Observe applies observations (and logs deliveries), each observation
// through Transition. The items are committed together, in one transaction
// that concurrent calls share (a group commit); Observe returns once that
// transaction has committed, with results in the order of items.
//
// Usage figures that cannot be counts (negative ones here, and those a
// parser put in DroppedUsage) are left out of the observation, which
// applies without them, and noted in a TypeUsageDropped event after it,
// committed with it.
func (t *Tracker) Observe(ctx context.Context, items ...ApplyItem) ([]Result, error) {
	own := make([]ApplyItem, 0, len(items))
	var notes []int // indexes in own of the TypeUsageDropped notes
	for _, it := range items {
		if it.Observation != nil {
			o := *it.Observation
			it.Observation = &o
		}
		if it.Delivery != nil {
			d := *it.Delivery
			it.Delivery = &d
		}
		if err := validateItem(&it); err != nil {
			return nil, err
		}
		own = append(own, it)
		if it.Observation != nil {
			if note := usageDroppedNote(it.Observation); note != nil {
				notes = append(notes, len(own))
				own = append(own, ApplyItem{Observation: note})
			}
		}
	}
	res, err := t.committer.apply(ctx, own)
	if err != nil {
		return nil, fmt.Errorf("apply %d observations: %w", len(items), err)
	}
	t.metrics.observe(own, res)
	for i := len(notes) - 1; i >= 0; i-- {
		res = slices.Delete(res, notes[i], notes[i]+1)
	}
	return res, nil
}

func validateItem(it *ApplyItem) error {
	if it.Delivery != nil {
		it.Delivery.ReceivedAt = it.Delivery.ReceivedAt.UTC()
	}
	o := it.Observation
	if o == nil {
		if it.Delivery == nil {
			return &ValidationError{"observation", "an item needs an observation or a delivery"}
		}
		return nil
	}
	if err := ValidateProvider(o.Provider); err != nil {
		return err
	}
	if err := validateObservationText(o); err != nil {
		return err
	}
	if o.ExternalID != "" {
		if err := ValidateExternalID(o.ExternalID); err != nil {
			return err
		}
	}
	if o.Kind != "" {
		if err := ValidateKind(o.Kind); err != nil {
			return err
		}
	}
	if o.Status != "" && !o.Status.Valid() {
		return &ValidationError{"status", fmt.Sprintf("unknown status %q", o.Status)}
	}
	dropNegativeUsage(o)
	o.OccurredAt = o.OccurredAt.UTC()
	return nil
}
