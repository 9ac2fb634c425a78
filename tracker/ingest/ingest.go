// Package ingest serves POST /webhooks/{name}: it verifies each delivery's
// signature on the raw body, parses it with its provider's parser, and
// applies it through the tracker, answering 2xx only once the delivery and
// its effect are committed. Every request is logged, but rejected ones at a
// bounded rate, so that a flood of forged requests costs no write each.
//
// It is part of the jobwatch daemon, not of the library's public API.
package ingest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/jobwatch/jobwatch/providers"
	"github.com/jobwatch/jobwatch/providers/signature"
	"github.com/jobwatch/jobwatch/tracker"
	"github.com/jobwatch/jobwatch/tracker/httpapi"
	"github.com/jobwatch/jobwatch/tracker/startstop"
)

// Provider is one configured webhook endpoint.
type Provider struct {
	// Name is the URL segment and the jobs' provider name.
	Name string
	// Verifier checks signatures; nil accepts unsigned deliveries
	// (insecure_skip_verify).
	Verifier signature.Verifier
	Parser   providers.Parser
	// Adopt creates jobs from events about untracked ones.
	Adopt bool
	// Limiter caps the request rate; nil: no cap.
	Limiter *rate.Limiter
}

// Options configure a Handler.
type Options struct {
	Tracker   *tracker.Tracker
	Providers []Provider
	// MaxBodyBytes caps a delivery's body, in bytes.
	MaxBodyBytes int64
	Logger       *slog.Logger
	// Registry receives the handler's metrics; nil: they are not registered.
	Registry prometheus.Registerer
	// Outage logs storage outages once, not per request; nil: one of the
	// handler's own. Share it with the HTTP API.
	Outage *httpapi.Outage
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// The delivery log keeps at most RejectedLogRate rejected deliveries a
// second of each provider (all unknown names counting as one) and
// outcome, and RejectedLogRate at once. The others are only counted, in
// jobwatch_webhook_deliveries_unlogged_total, and summed up in one row
// per provider and outcome every SummaryInterval (see Start).
const (
	RejectedLogRate = 10
	SummaryInterval = time.Minute
)

// Handler serves /webhooks/{name}.
type Handler struct {
	opts Options
	// providers are the endpoints by name, replaced as a whole by
	// SetProviders.
	providers  atomic.Pointer[map[string]*Provider]
	deliveries *prometheus.CounterVec
	unlogged   *prometheus.CounterVec
	processing *prometheus.HistogramVec

	mu      sync.Mutex
	budgets map[logKey]*logBudget

	// summaries is the life of the loop that writes the summaries.
	summaries startstop.Runner
}

// logKey is what the rate of logged rejections is kept per: a provider's
// metric label and an outcome. Both come from small fixed sets, whatever
// the requests name.
type logKey struct {
	provider string
	outcome  tracker.Outcome
}

// logBudget is the rate of one logKey's logged rejections, and what was not
// logged since the last summary.
type logBudget struct {
	limiter *rate.Limiter
	// unlogged counts the rejections not logged since the last summary;
	// code is their HTTP status, from and to the receipt times of the
	// first and the last.
	unlogged int64
	code     int
	from, to time.Time
}

// New returns the handler; mount it on "/webhooks/{name}".
func New(opts Options) *Handler {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Outage == nil {
		opts.Outage = httpapi.NewOutage(opts.Logger)
	}
	h := &Handler{opts: opts, budgets: map[logKey]*logBudget{}}
	h.SetProviders(opts.Providers)
	h.deliveries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "jobwatch_webhook_deliveries_total",
		Help: "Webhook deliveries by provider and outcome (accepted, duplicate, recorded, bad_signature, malformed, too_large, rate_limited, unknown_provider, bad_method, unavailable).",
	}, []string{"provider", "outcome"})
	h.unlogged = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "jobwatch_webhook_deliveries_unlogged_total",
		Help: fmt.Sprintf("Rejected webhook deliveries left out of the delivery log, over its %d a second per provider and outcome, by provider and outcome (also counted in jobwatch_webhook_deliveries_total).", RejectedLogRate),
	}, []string{"provider", "outcome"})
	h.processing = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "jobwatch_webhook_processing_seconds",
		Help:    "Time from receiving a webhook delivery to answering it, by provider.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
	}, []string{"provider"})
	if opts.Registry != nil {
		opts.Registry.MustRegister(h.deliveries, h.unlogged, h.processing)
	}
	return h
}

// SetProviders replaces the endpoints (their secrets, parsers and rate
// limits) for the deliveries that follow; one in flight finishes with
// those it started with.
func (h *Handler) SetProviders(ps []Provider) {
	byName := make(map[string]*Provider, len(ps))
	for i := range ps {
		byName[ps[i].Name] = &ps[i]
	}
	h.providers.Store(&byName)
}

// outcomeUnavailable is the metric outcome of a delivery that could not be
// committed (503): it cannot be logged, storage being down.
const outcomeUnavailable = "unavailable"

// answer is what a delivery gets back, and what the log keeps of it.
type answer struct {
	code    int
	outcome tracker.Outcome
	msg     string
}

// ServeHTTP handles one delivery.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	received := h.opts.Now()
	name := r.PathValue("name")
	p := (*h.providers.Load())[name]
	label := name
	if p == nil {
		label = "unknown"
	}
	defer func() { h.processing.WithLabelValues(label).Observe(time.Since(received).Seconds()) }()

	d := &tracker.Delivery{Provider: tracker.ClipText(name, 64), ReceivedAt: received}
	reject := func(a answer, body []byte) {
		d.Outcome, d.StatusCode, d.Reason = a.outcome, a.code, tracker.ClipText(a.msg, maxReasonBytes)
		d.Excerpt = excerpt(body)
		if h.admit(label, d) {
			h.log(r.Context(), d)
		} else {
			h.unlogged.WithLabelValues(label, string(a.outcome)).Inc()
		}
		h.deliveries.WithLabelValues(label, string(a.outcome)).Inc()
		if a.code == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", http.MethodPost)
		}
		if a.code == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "1")
		}
		httpapi.WriteJSON(w, a.code, map[string]string{"error": a.msg})
	}
	switch {
	case p == nil:
		reject(answer{http.StatusNotFound, tracker.OutcomeUnknownProvider, fmt.Sprintf("no provider named %q is configured", tracker.ClipText(name, 64))}, nil)
		return
	case r.Method != http.MethodPost:
		reject(answer{http.StatusMethodNotAllowed, tracker.OutcomeBadMethod, "webhooks are delivered with POST"}, nil)
		return
	case p.Limiter != nil && !p.Limiter.Allow():
		reject(answer{http.StatusTooManyRequests, tracker.OutcomeRateLimited, "over this provider's ingest rate; retry later"}, nil)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.opts.MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			reject(answer{http.StatusRequestEntityTooLarge, tracker.OutcomeTooLarge, fmt.Sprintf("body larger than %d bytes", tooBig.Limit)}, body)
			return
		}
		reject(answer{http.StatusBadRequest, tracker.OutcomeMalformed, "could not read body"}, body)
		return
	}
	if p.Verifier != nil {
		if err := p.Verifier.Verify(r.Header, body, received); err != nil {
			reject(answer{http.StatusUnauthorized, tracker.OutcomeBadSignature, signatureMessage(err)}, body)
			return
		}
	}
	if !utf8.Valid(body) {
		// JSON is UTF-8 (RFC 8259); the history could not store it anyway.
		reject(answer{http.StatusBadRequest, tracker.OutcomeMalformed, "payload: not valid UTF-8"}, body)
		return
	}
	obs, err := p.Parser.ParseEvent(body)
	if err != nil {
		reject(answer{http.StatusBadRequest, tracker.OutcomeMalformed, "payload: " + err.Error()}, body)
		return
	}
	obs.Provider, obs.Source, obs.Payload = p.Name, tracker.SourceWebhook, body
	if obs.OccurredAt.IsZero() {
		obs.OccurredAt = received
	}
	d.Outcome, d.StatusCode = tracker.OutcomeAccepted, http.StatusOK
	d.EventID, d.EventType, d.JobID = tracker.ClipText(obs.EventID, 256), tracker.ClipText(obs.Type, 128), tracker.ClipText(obs.ExternalID, 256)
	res, err := h.opts.Tracker.Observe(r.Context(), tracker.ApplyItem{Observation: &obs, Adopt: p.Adopt, Delivery: d})
	var verr *tracker.ValidationError
	switch {
	case errors.As(err, &verr):
		reject(answer{http.StatusBadRequest, tracker.OutcomeMalformed, "payload: " + verr.Error()}, body)
		return
	case errors.Is(err, context.Canceled):
		// The sender hung up; whatever committed is deduped on redelivery.
		return
	case err != nil:
		h.opts.Outage.Failed("webhook delivery to "+p.Name, err)
		h.deliveries.WithLabelValues(label, outcomeUnavailable).Inc()
		w.Header().Set("Retry-After", "5")
		httpapi.WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "storage unavailable; retry later"})
		return
	}
	h.opts.Outage.Served()
	outcome := res[0].DeliveryOutcome()
	h.deliveries.WithLabelValues(label, string(outcome)).Inc()
	httpapi.WriteJSON(w, http.StatusOK, map[string]string{"status": string(outcome)})
}

// maxReasonBytes bounds the reason a delivery log row keeps, in bytes.
const maxReasonBytes = 1024

// admit reports whether a rejected delivery may be logged, within its
// provider's and outcome's rate; if not, it is counted for the next summary.
func (h *Handler) admit(label string, d *tracker.Delivery) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	k := logKey{label, d.Outcome}
	b := h.budgets[k]
	if b == nil {
		b = &logBudget{limiter: rate.NewLimiter(RejectedLogRate, RejectedLogRate)}
		h.budgets[k] = b
	}
	if b.limiter.AllowN(d.ReceivedAt, 1) {
		return true
	}
	if b.unlogged == 0 {
		b.from = d.ReceivedAt
	}
	b.unlogged++
	b.code, b.to = d.StatusCode, d.ReceivedAt
	return false
}

// log records a rejected delivery. It is best effort: storage that cannot
// take it is already answering 503 elsewhere.
func (h *Handler) log(ctx context.Context, d *tracker.Delivery) {
	if _, err := h.opts.Tracker.Observe(context.WithoutCancel(ctx), tracker.ApplyItem{Delivery: d}); err != nil {
		h.opts.Outage.Failed("delivery log of a rejected webhook to "+d.Provider, err)
		return
	}
	h.opts.Outage.Served()
}

// Start writes the summaries of unlogged rejections (see LogSummaries)
// every SummaryInterval until Stop or the end of ctx, and once more then.
func (h *Handler) Start(ctx context.Context) error {
	return h.summaries.Start(ctx, func(ctx context.Context) {
		startstop.Every(ctx, SummaryInterval, h.logSummaries)
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		h.logSummaries(fctx)
	})
}

// Stop ends the summaries' loop and waits for its last summary. Stop it
// after the HTTP server, so that the last summary counts every rejection.
func (h *Handler) Stop() { h.summaries.Stop() }

func (h *Handler) logSummaries(ctx context.Context) {
	if err := h.LogSummaries(ctx); err != nil {
		h.opts.Logger.Warn("summarize unlogged webhook deliveries", "error", err)
	}
}

// LogSummaries writes, for each provider and outcome with rejections left
// out of the delivery log since its last summary, one row that says how
// many and over what time, with that outcome and status code. When the
// write fails the counts are kept for the next summary.
func (h *Handler) LogSummaries(ctx context.Context) error {
	h.mu.Lock()
	var (
		keys  []logKey
		taken []logBudget
		items []tracker.ApplyItem
	)
	for _, k := range slices.SortedFunc(maps.Keys(h.budgets), compareLogKeys) {
		b := h.budgets[k]
		if b.unlogged == 0 {
			continue
		}
		keys, taken = append(keys, k), append(taken, *b)
		items = append(items, tracker.ApplyItem{Delivery: &tracker.Delivery{
			Provider: k.provider, ReceivedAt: b.to, Outcome: k.outcome, StatusCode: b.code,
			Reason: fmt.Sprintf("%d more %s deliveries, received from %s to %s, were not logged: the log keeps %d a second of each provider and outcome",
				b.unlogged, k.outcome, b.from.UTC().Format(time.RFC3339), b.to.UTC().Format(time.RFC3339), RejectedLogRate),
		}})
		b.unlogged = 0
	}
	h.mu.Unlock()
	if len(items) == 0 {
		return nil
	}
	if _, err := h.opts.Tracker.Observe(ctx, items...); err != nil {
		h.mu.Lock()
		defer h.mu.Unlock()
		for i, k := range keys {
			b, t := h.budgets[k], taken[i]
			if b.unlogged > 0 {
				t.unlogged += b.unlogged
				t.code, t.to = b.code, b.to
			}
			b.unlogged, b.code, b.from, b.to = t.unlogged, t.code, t.from, t.to
		}
		return fmt.Errorf("log %d summaries of unlogged webhook deliveries: %w", len(items), err)
	}
	return nil
}

func compareLogKeys(a, b logKey) int {
	return cmp.Or(cmp.Compare(a.provider, b.provider), cmp.Compare(a.outcome, b.outcome))
}

// signatureMessage says which check failed, never a secret or an expected
// signature (package signature guarantees its messages hold neither).
func signatureMessage(err error) string {
	var se *signature.Error
	if errors.As(err, &se) {
		return "signature: " + se.Reason + ": " + se.Error()
	}
	return "signature: " + err.Error()
}

// excerpt keeps at most the first MaxExcerptBytes of an untrusted body, as
// text a text column takes (see tracker.ClipText).
func excerpt(body []byte) string {
	return tracker.ClipText(string(body[:min(len(body), tracker.MaxExcerptBytes)]), tracker.MaxExcerptBytes)
}
