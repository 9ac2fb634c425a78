// Package httpapi is jobwatch's HTTP API: every route of the daemon but the
// webhooks (tracker/ingest, mounted here): the jobs, deliveries, alerts,
// usage and poll-now API under /v1/, health endpoints and Prometheus
// metrics. JSON in and out; errors are {"error": "..."} with a status that
// fits. It is part of the jobwatch daemon, not of the library's public API
// (tracker.Client is the API's client).
package httpapi

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/jobwatch/jobwatch/tracker"
	"github.com/jobwatch/jobwatch/tracker/httpapi/console"
	"github.com/jobwatch/jobwatch/tracker/sweep"
)

// Options configure the API.
type Options struct {
	Tracker *tracker.Tracker
	// APIToken, when not empty, is the bearer token every /v1/ request must
	// carry (every route added with Handle's authenticated).
	APIToken string
	// MetricsToken, when not empty, is the bearer token a /metrics request
	// must carry.
	MetricsToken string
	// MaxBodyBytes caps request bodies, in bytes.
	MaxBodyBytes int64
	Logger       *slog.Logger
	// Registry receives the API's metrics and is served on /metrics; nil:
	// they are not registered, and there is no /metrics.
	Registry *prometheus.Registry
	// Poller, when set, serves POST /v1/jobs/{provider}/{id}/poll (the
	// daemon's sweeper); nil: there is no such route.
	Poller JobPoller
	// Outage logs storage outages once, not per request; nil: one of the
	// API's own. Share it with the webhook ingest.
	Outage *Outage
	// RequestTimeout bounds the handling of one request: past it, what the
	// request waits for (storage, a provider's API) is abandoned and it is
	// answered 503, so that an answer goes out even while the database
	// hangs. Zero: no bound.
	RequestTimeout time.Duration
	// LastSweep, when set, tells the console's overview the newest sweep
	// (the daemon's sweeper's Last).
	LastSweep func() sweep.LastSweep
}

// Server is the API's http.Handler: every route, on one listener. Face
// serves a part of them, for a daemon with two listeners.
type Server struct {
	opts      Options
	tokenHash [32]byte
	// metricsToken is the SHA-256 digest of the metrics token; nil: none
	// is asked. SetMetricsToken swaps it while requests are served.
	metricsToken atomic.Pointer[[32]byte]
	mux          *http.ServeMux
	// patterns are the routes' patterns, in the order they were added.
	patterns []string
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

// New builds the API.
func New(opts Options) *Server {
	if opts.Outage == nil {
		opts.Outage = NewOutage(opts.Logger)
	}
	s := &Server{opts: opts, mux: http.NewServeMux()}
	if opts.APIToken != "" {
		s.tokenHash = sha256.Sum256([]byte(opts.APIToken))
	}
	s.SetMetricsToken(opts.MetricsToken)
	s.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "jobwatch_http_requests_total",
		Help: "HTTP requests answered, by route pattern and status code.",
	}, []string{"route", "code"})
	s.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "jobwatch_http_request_duration_seconds",
		Help:    "Time to answer an HTTP request, by route pattern.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
	}, []string{"route"})
	s.Handle("GET /healthz", s.healthz, false)
	s.Handle("GET /readyz", s.readyz, false)
	s.Handle("GET /openapi.yaml", s.openAPI, false)
	if opts.Registry != nil {
		opts.Registry.MustRegister(s.requests, s.latency)
		s.Handle("GET /metrics", s.metricsAuth(promhttp.HandlerFor(opts.Registry, promhttp.HandlerOpts{Registry: opts.Registry}).ServeHTTP), false)
	}
	s.Handle("POST /v1/jobs", s.trackJob, true)
	s.Handle("GET /v1/jobs", s.listJobs, true)
	s.Handle("GET /v1/jobs/{provider}/{id}", s.getJob, true)
	s.Handle("DELETE /v1/jobs/{provider}/{id}", s.untrackJob, true)
	s.Handle("POST /v1/jobs/{provider}/{id}/resolve", s.resolveJob, true)
	if opts.Poller != nil {
		s.Handle("POST /v1/jobs/{provider}/{id}/poll", s.pollJob, true)
	}
	s.Handle("GET /v1/deliveries", s.listDeliveries, true)
	s.Handle("GET /v1/alerts", s.listAlerts, true)
	s.Handle("POST /v1/alerts/{id}/retry", s.retryAlert, true)
	s.Handle("GET /v1/usage", s.usage, true)
	copts := console.Options{Tracker: opts.Tracker, Poller: opts.Poller, LastSweep: opts.LastSweep, Logger: opts.Logger}
	if opts.APIToken != "" {
		copts.TokenOK = s.tokenOK
		// Sessions are signed with a key of the token's, so that every
		// replica takes them and a new token ends them.
		m := hmac.New(sha256.New, []byte(opts.APIToken))
		m.Write([]byte("jobwatch console sessions"))
		copts.SessionKey = m.Sum(nil)
	}
	// The console's pages are HTML for people, not routes of the API's
	// document (openapi.yaml), so they are mounted outside Routes.
	console.New(copts).Register(func(pattern string, h http.HandlerFunc) { s.mount(pattern, h) })
	return s
}

// Handle adds a route: the daemon mounts the webhooks here. When
// authenticated, the route requires the API token like the jobs API. Every
// route refuses a path or query that is not clean text (checkURL). Which
// face serves it follows from its path (Face).
func (s *Server) Handle(pattern string, h http.HandlerFunc, authenticated bool) {
	s.patterns = append(s.patterns, pattern)
	if authenticated {
		h = s.auth(h)
	}
	s.mount(pattern, h)
}

// mount serves h at pattern, refusing a path or query that is not clean
// text (checkURL).
func (s *Server) mount(pattern string, h http.HandlerFunc) {
	s.mux.HandleFunc(pattern, checkURL(h))
}

// SetMetricsToken replaces the metrics token (empty: none is asked) for
// the requests that follow: a rotation without a restart.
func (s *Server) SetMetricsToken(token string) {
	if token == "" {
		s.metricsToken.Store(nil)
		return
	}
	d := sha256.Sum256([]byte(token))
	s.metricsToken.Store(&d)
}

// Routes are the patterns of the routes served, in the order they were
// added: "GET /v1/jobs", or a path alone for a route of any method. The
// web console's pages (/ui/) are not among them.
func (s *Server) Routes() []string { return slices.Clone(s.patterns) }

// Face is a part of the routes, served by one listener of a daemon with
// two: the public face is what providers and probes must reach, the admin
// face what only operators should.
type Face int

const (
	// AllRoutes is every route: one listener serves everything.
	AllRoutes Face = iota
	// PublicRoutes are the webhooks (/webhooks/...) and the health
	// endpoints (/healthz, /readyz).
	PublicRoutes
	// AdminRoutes are every route but the webhooks: /v1/, /metrics and any
	// route added later, with the health endpoints, so that either
	// listener can be probed.
	AdminRoutes
)

// serves reports whether the face serves the route of pattern, a mux
// pattern ("GET /v1/jobs", "/webhooks/{name}").
func (f Face) serves(pattern string) bool {
	path := pattern[strings.Index(pattern, "/"):]
	health := path == "/healthz" || path == "/readyz"
	webhook := strings.HasPrefix(path, "/webhooks/")
	switch f {
	case PublicRoutes:
		return health || webhook
	case AdminRoutes:
		return !webhook
	}
	return true
}

// Face is the handler of the routes of face f. A request for a route of
// the other face is answered as a request for no route (404), so that the
// public listener says nothing of the admin routes.
func (s *Server) Face(f Face) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.serve(w, r, f) })
}

// ServeHTTP serves every route (AllRoutes).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.serve(w, r, AllRoutes) }

// serve serves the request if its route belongs to face, and counts it by
// route (routeLabel) and code. The mux's own answers, 404 for no route and
// 405 for a method no route of the path takes, are JSON errors like every
// other.
func (s *Server) serve(w http.ResponseWriter, r *http.Request, face Face) {
	start := time.Now()
	if s.opts.RequestTimeout > 0 {
		ctx, cancel := context.WithTimeout(r.Context(), s.opts.RequestTimeout)
		defer cancel()
		r = r.WithContext(ctx)
	}
	rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK, req: r}
	// The route the mux would serve decides, not the raw path: no spelling
	// of a path reaches a route of the other face. No route (""): the mux
	// answers 404 itself.
	if _, pattern := s.mux.Handler(r); pattern == "" || face.serves(pattern) {
		s.mux.ServeHTTP(rec, r)
	} else {
		// Unmatched (r.Pattern is empty): answered as the mux answers
		// no route.
		rec.WriteHeader(http.StatusNotFound)
	}
	route := routeLabel(r)
	s.requests.WithLabelValues(route, strconv.Itoa(rec.code)).Inc()
	s.latency.WithLabelValues(route).Observe(time.Since(start).Seconds())
	if rec.code < 300 && strings.HasPrefix(r.URL.Path, "/v1/") {
		s.opts.Outage.Served() // every /v1/ success was served by storage
	}
}

// routeLabel is the metric label of a served request: its route's pattern
// with the method first ("GET /v1/jobs/{provider}/{id}"). A route taking
// any method ("/webhooks/{name}") is labelled with the request's method
// when it is a standard one and OTHER when not, so the label set stays
// bounded; a request no route matched is "unmatched".
func routeLabel(r *http.Request) string {
	switch {
	case r.Pattern == "":
		return "unmatched"
	case strings.HasPrefix(r.Pattern, "/"):
		return standardMethod(r.Method) + " " + r.Pattern
	}
	return r.Pattern
}

func standardMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace:
		return m
	}
	return "OTHER"
}

// checkURL answers 400 to a request whose query string is malformed, or
// whose path or query holds a NUL byte or bytes that are not UTF-8 (which
// PostgreSQL refuses), before h sees it.
func checkURL(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !cleanText(r.URL.Path) {
			WriteError(w, http.StatusBadRequest, "path: must be UTF-8 without NUL bytes")
			return
		}
		q, err := url.ParseQuery(r.URL.RawQuery)
		if err != nil {
			WriteError(w, http.StatusBadRequest, "malformed query string: "+strings.TrimPrefix(err.Error(), "invalid URL escape "))
			return
		}
		for k, vs := range q {
			if !cleanText(k) || slices.ContainsFunc(vs, func(v string) bool { return !cleanText(v) }) {
				WriteError(w, http.StatusBadRequest, fmt.Sprintf("query parameter %q: must be UTF-8 without NUL bytes", k))
				return
			}
		}
		h(w, r)
	}
}

func cleanText(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) }

// PageLimit reads a list route's limit query parameter: DefaultPageSize
// when absent, else 1 to MaxPageSize. On a bad value it answers 400 itself
// and returns false.
func PageLimit(w http.ResponseWriter, r *http.Request) (int, bool) {
	l := r.URL.Query().Get("limit")
	if l == "" {
		return tracker.DefaultPageSize, true
	}
	n, err := strconv.Atoi(l)
	if err != nil || n < 1 || n > tracker.MaxPageSize {
		WriteError(w, http.StatusBadRequest, fmt.Sprintf("limit: must be 1 to %d", tracker.MaxPageSize))
		return 0, false
	}
	return n, true
}

// statusRecorder records the answer's status code, and turns the mux's own
// plain-text errors (404, 405: written while req has no pattern) into JSON.
type statusRecorder struct {
	http.ResponseWriter
	code int
	req  *http.Request
	// muxError is set while the mux's plain-text body is being discarded.
	muxError bool
}

func (r *statusRecorder) WriteHeader(code int) {
	r.code = code
	if r.req.Pattern == "" && code >= 400 {
		r.muxError = true
		msg := http.StatusText(code)
		switch code {
		case http.StatusNotFound:
			msg = "no such route"
		case http.StatusMethodNotAllowed:
			msg = "method not allowed; allowed: " + r.Header().Get("Allow")
		}
		WriteError(r.ResponseWriter, code, msg)
		return
	}
	r.ResponseWriter.WriteHeader(code)
}

// Write drops the body of the mux's plain-text errors, answered as JSON.
func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.muxError {
		return len(b), nil
	}
	return r.ResponseWriter.Write(b)
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// auth requires the API token when one is configured.
func (s *Server) auth(h http.HandlerFunc) http.HandlerFunc {
	if s.opts.APIToken == "" {
		return h
	}
	return requireBearer(s.tokenOK, h)
}

// metricsAuth requires the metrics token while one is set.
func (s *Server) metricsAuth(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		want := s.metricsToken.Load()
		if want == nil {
			h(w, r)
			return
		}
		requireBearer(func(tok string) bool { return digestOK(tok, want) }, h)(w, r)
	}
}

// requireBearer answers 401 to a request whose bearer token ok refuses,
// and hands the others to h.
func requireBearer(ok func(tok string) bool, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok, found := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !found || !ok(tok) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="jobwatch"`)
			WriteError(w, http.StatusUnauthorized, "missing or wrong bearer token")
			return
		}
		h(w, r)
	}
}

// tokenOK reports whether tok is the API token.
func (s *Server) tokenOK(tok string) bool { return digestOK(tok, &s.tokenHash) }

// digestOK reports whether tok's SHA-256 digest is want, comparing in
// constant time.
func digestOK(tok string, want *[32]byte) bool {
	got := sha256.Sum256([]byte(tok))
	return subtle.ConstantTimeCompare(got[:], want[:]) == 1
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.opts.Tracker.Store().Ping(ctx); err != nil {
		s.opts.Logger.Warn("readiness check failed", "error", err)
		WriteError(w, http.StatusServiceUnavailable, "storage unavailable")
		return
	}
	WriteJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

func (s *Server) trackJob(w http.ResponseWriter, r *http.Request) {
	var req tracker.TrackRequest
	if !s.decode(w, r, &req) {
		return
	}
	job, created, err := s.opts.Tracker.Track(r.Context(), req)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	code := http.StatusOK
	if created {
		code = http.StatusCreated
	}
	WriteJSON(w, code, job)
}

func (s *Server) getJob(w http.ResponseWriter, r *http.Request) {
	job, err := s.opts.Tracker.Job(r.Context(), r.PathValue("provider"), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, job)
}

func (s *Server) listJobs(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, ok := PageLimit(w, r)
	if !ok {
		return
	}
	f := tracker.Filter{
		Provider: q.Get("provider"),
		Kind:     tracker.Kind(q.Get("kind")),
		Status:   tracker.Status(q.Get("status")),
		Query:    q.Get("q"),
		Cursor:   q.Get("cursor"),
		Limit:    limit,
	}
	for _, l := range q["label"] {
		k, v, ok := strings.Cut(l, "=")
		if !ok || k == "" {
			WriteError(w, http.StatusBadRequest, fmt.Sprintf("label: %q is not key=value", l))
			return
		}
		if f.Labels == nil {
			f.Labels = map[string]string{}
		}
		f.Labels[k] = v
	}
	page, err := s.opts.Tracker.List(r.Context(), f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if page.Jobs == nil {
		page.Jobs = []tracker.Job{}
	}
	WriteJSON(w, http.StatusOK, page)
}

func (s *Server) listDeliveries(w http.ResponseWriter, r *http.Request) {
	limit, ok := PageLimit(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	f := tracker.DeliveryFilter{Provider: q.Get("provider"), Outcome: tracker.Outcome(q.Get("outcome")), Limit: limit}
	ds, err := s.opts.Tracker.Store().ListDeliveries(r.Context(), f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if ds == nil {
		ds = []tracker.Delivery{}
	}
	WriteJSON(w, http.StatusOK, map[string]any{"deliveries": ds})
}

// decode reads a JSON body into v, answering 413 or 400 itself on failure.
func (s *Server) decode(w http.ResponseWriter, r *http.Request, v any) bool {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			WriteError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", tooBig.Limit))
			return false
		}
		WriteError(w, http.StatusBadRequest, "could not read body")
		return false
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		WriteError(w, http.StatusBadRequest, describeJSONError(err))
		return false
	}
	if dec.More() {
		WriteError(w, http.StatusBadRequest, "malformed JSON: more than one value")
		return false
	}
	return true
}

func describeJSONError(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("malformed JSON at byte %d", syn.Offset)
	case errors.As(err, &typ):
		return fmt.Sprintf("%s: must be %s", typ.Field, typ.Type)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "malformed JSON: body is empty or cut short"
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "unknown field " + strings.TrimPrefix(err.Error(), "json: unknown field ")
	}
	return "malformed JSON"
}

// fail answers err: 400 for bad input, 404 for an unknown job, 503 for
// anything else (the store did not answer; the client should retry).
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	var verr *tracker.ValidationError
	switch {
	case errors.As(err, &verr):
		WriteError(w, http.StatusBadRequest, verr.Error())
	case errors.Is(err, tracker.ErrNotFound):
		WriteError(w, http.StatusNotFound, "job not found")
	case errors.Is(err, context.Canceled):
		// The client went away; nothing to answer.
	default:
		s.opts.Outage.Failed(r.Pattern, err)
		WriteError(w, http.StatusServiceUnavailable, "storage unavailable, retry later")
	}
}

// WriteJSON answers v as JSON with the given status.
func WriteJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

// WriteError answers {"error": msg} with the given status.
func WriteError(w http.ResponseWriter, code int, msg string) {
	WriteJSON(w, code, map[string]string{"error": msg})
}
