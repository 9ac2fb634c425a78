// Package ingest serves POST /webhooks/{name}: it verifies each delivery's
// signature on the raw body, parses it with its provider's parser, and
// applies it through the tracker, answering 2xx only once the delivery and
// its effect are committed. Every request, accepted or not, is logged.
package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/jobwatch/jobwatch/providers"
	"github.com/jobwatch/jobwatch/providers/signature"
	"github.com/jobwatch/jobwatch/tracker"
	"github.com/jobwatch/jobwatch/tracker/httpapi"
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
	Registry     prometheus.Registerer
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Handler serves /webhooks/{name}.
type Handler struct {
	opts       Options
	providers  map[string]*Provider
	deliveries *prometheus.CounterVec
	processing *prometheus.HistogramVec
}

// New returns the handler; mount it on "/webhooks/{name}".
func New(opts Options) *Handler {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	h := &Handler{opts: opts, providers: map[string]*Provider{}}
	for i := range opts.Providers {
		h.providers[opts.Providers[i].Name] = &opts.Providers[i]
	}
	h.deliveries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "jobwatch_webhook_deliveries_total",
		Help: "Webhook deliveries by provider and outcome (accepted, duplicate, recorded, bad_signature, malformed, too_large, rate_limited, unknown_provider, bad_method, unavailable).",
	}, []string{"provider", "outcome"})
	h.processing = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "jobwatch_webhook_processing_seconds",
		Help:    "Time from receiving a webhook delivery to answering it, by provider.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
	}, []string{"provider"})
	opts.Registry.MustRegister(h.deliveries, h.processing)
	return h
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
	p := h.providers[name]
	label := name
	if p == nil {
		label = "unknown"
	}
	defer func() { h.processing.WithLabelValues(label).Observe(time.Since(received).Seconds()) }()

	d := &tracker.Delivery{Provider: clip(name, 64), ReceivedAt: received}
	reject := func(a answer, body []byte) {
		d.Outcome, d.StatusCode, d.Reason = a.outcome, a.code, a.msg
		d.Excerpt = excerpt(body)
		h.log(r.Context(), d)
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
		reject(answer{http.StatusNotFound, tracker.OutcomeUnknownProvider, fmt.Sprintf("no provider named %q is configured", clip(name, 64))}, nil)
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
	d.EventID, d.EventType, d.JobID = clip(obs.EventID, 256), clip(obs.Type, 128), clip(obs.ExternalID, 256)
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
		h.opts.Logger.Error("webhook delivery not committed", "provider", p.Name, "event_id", obs.EventID, "error", err)
		h.deliveries.WithLabelValues(label, outcomeUnavailable).Inc()
		w.Header().Set("Retry-After", "5")
		httpapi.WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "storage unavailable; retry later"})
		return
	}
	outcome := tracker.OutcomeAccepted
	switch {
	case res[0].Duplicate:
		outcome = tracker.OutcomeDuplicate
	case res[0].Job == nil:
		outcome = tracker.OutcomeRecorded
	}
	h.deliveries.WithLabelValues(label, string(outcome)).Inc()
	httpapi.WriteJSON(w, http.StatusOK, map[string]string{"status": string(outcome)})
}

// log records a rejected delivery. It is best effort: storage that cannot
// take it is already answering 503 elsewhere.
func (h *Handler) log(ctx context.Context, d *tracker.Delivery) {
	if _, err := h.opts.Tracker.Observe(context.WithoutCancel(ctx), tracker.ApplyItem{Delivery: d}); err != nil {
		h.opts.Logger.Warn("log rejected webhook delivery", "provider", d.Provider, "outcome", d.Outcome, "error", err)
	}
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

// excerpt keeps the first MaxExcerptBytes of an untrusted body, as valid UTF-8.
func excerpt(body []byte) string {
	if len(body) > tracker.MaxExcerptBytes {
		body = body[:tracker.MaxExcerptBytes]
	}
	return strings.ToValidUTF8(string(body), "\uFFFD")
}

// clip shortens s to at most n bytes on a rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
