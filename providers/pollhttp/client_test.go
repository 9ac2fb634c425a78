package pollhttp_test

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/providers"
	"github.com/jobwatch/jobwatch/providers/pollhttp"
)

// server is an httptest server standing in for a provider's API: respond
// answers the n-th request (from 0), and every arrival is recorded.
type server struct {
	*httptest.Server
	mu          sync.Mutex
	arrivals    []time.Time
	paths       []string
	inFlight    int
	maxInFlight int
}

func newServer(t *testing.T, respond func(n int, w http.ResponseWriter, r *http.Request)) *server {
	t.Helper()
	s := &server{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		n := len(s.arrivals)
		s.arrivals = append(s.arrivals, time.Now())
		s.paths = append(s.paths, r.URL.Path)
		s.inFlight++
		s.maxInFlight = max(s.maxInFlight, s.inFlight)
		s.mu.Unlock()
		defer func() {
			s.mu.Lock()
			s.inFlight--
			s.mu.Unlock()
		}()
		respond(n, w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

// times returns the arrival times so far.
func (s *server) times() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Time(nil), s.arrivals...)
}

func (s *server) requests() int { return len(s.times()) }

// ok answers with a small JSON object.
func ok(w http.ResponseWriter) { fmt.Fprint(w, `{"id":"batch_1","status":"in_progress"}`) }

// status answers with code and an error object like OpenAI's.
func status(w http.ResponseWriter, code int) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	fmt.Fprintf(w, `{"error":{"message":"HTTP %d","type":"test"}}`, code)
}

// pollErr returns err as a *providers.PollError or fails the test.
func pollErr(t *testing.T, err error) *providers.PollError {
	t.Helper()
	pe, ok := errors.AsType[*providers.PollError](err)
	if !ok {
		t.Fatalf("error %v (%T) is not a *providers.PollError", err, err)
	}
	return pe
}

// logSink captures a client's log records and signals when a message is
// first logged.
type logSink struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	seen map[string]chan struct{}
}

func newLogSink() *logSink { return &logSink{seen: map[string]chan struct{}{}} }

// Write implements io.Writer for the JSON handler.
func (s *logSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *logSink) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// logged returns a channel closed once msg has been logged.
func (s *logSink) logged(msg string) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, ok := s.seen[msg]
	if !ok {
		ch = make(chan struct{})
		s.seen[msg] = ch
	}
	return ch
}

func (s *logSink) notify(msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, ok := s.seen[msg]
	if !ok {
		ch = make(chan struct{})
		s.seen[msg] = ch
	}
	select {
	case <-ch:
	default:
		close(ch)
	}
}

// logger returns a logger writing JSON lines at Debug level to s.
func (s *logSink) logger() *slog.Logger {
	return slog.New(notifyHandler{slog.NewJSONHandler(s, &slog.HandlerOptions{Level: slog.LevelDebug}), s})
}

type notifyHandler struct {
	slog.Handler
	sink *logSink
}

func (h notifyHandler) Handle(ctx context.Context, r slog.Record) error {
	err := h.Handler.Handle(ctx, r)
	h.sink.notify(r.Message)
	return err
}

func (h notifyHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return notifyHandler{h.Handler.WithAttrs(as), h.sink}
}

func (h notifyHandler) WithGroup(name string) slog.Handler {
	return notifyHandler{h.Handler.WithGroup(name), h.sink}
}

func TestRetryAfterPausesEveryRequest(t *testing.T) {
	t.Parallel()
	srv := newServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 0 {
			w.Header().Set("Retry-After", "2")
			status(w, http.StatusTooManyRequests)
			return
		}
		ok(w)
	})
	sink := newLogSink()
	c := pollhttp.New(pollhttp.Config{Provider: "test", Logger: sink.logger()})

	errs := make(chan error, 2)
	go func() {
		_, err := c.Get(t.Context(), srv.URL+"/v1/batches/batch_1", nil)
		errs <- err
	}()
	// The retry is logged once the 429 is in: the pause is then in force,
	// and a poll of another job must wait it out too.
	select {
	case <-sink.logged("retrying request"):
	case <-time.After(10 * time.Second):
		t.Fatal("the 429 was not retried")
	}
	go func() {
		_, err := c.Get(t.Context(), srv.URL+"/v1/batches/batch_2", nil)
		errs <- err
	}()
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	at := srv.times()
	if len(at) != 3 {
		t.Fatalf("server saw %d requests, want 3", len(at))
	}
	for i, a := range at[1:] {
		if wait := a.Sub(at[0]); wait < 1900*time.Millisecond {
			t.Errorf("request %d came %v after the 429 with Retry-After: 2", i+2, wait)
		}
	}
}

func TestRetryAfterMs(t *testing.T) {
	t.Parallel()
	srv := newServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 0 {
			// Longer than the first exponential step (at most 500ms).
			w.Header().Set("retry-after-ms", "800")
			status(w, http.StatusTooManyRequests)
			return
		}
		ok(w)
	})
	c := pollhttp.New(pollhttp.Config{Provider: "test"})
	if _, err := c.Get(t.Context(), srv.URL, nil); err != nil {
		t.Fatal(err)
	}
	at := srv.times()
	if len(at) != 2 {
		t.Fatalf("server saw %d requests, want 2", len(at))
	}
	if wait := at[1].Sub(at[0]); wait < 750*time.Millisecond {
		t.Errorf("retried %v after retry-after-ms: 800", wait)
	}
}

func TestRetryAfterCappedByMaxRetryWait(t *testing.T) {
	t.Parallel()
	for _, code := range []int{http.StatusTooManyRequests, http.StatusServiceUnavailable} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			t.Parallel()
			srv := newServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
				if n == 0 {
					w.Header().Set("Retry-After", "30")
					status(w, code)
					return
				}
				ok(w)
			})
			c := pollhttp.New(pollhttp.Config{Provider: "test", MaxRetryWait: 300 * time.Millisecond})
			start := time.Now()
			if _, err := c.Get(t.Context(), srv.URL, nil); err != nil {
				t.Fatal(err)
			}
			if d := time.Since(start); d >= 5*time.Second {
				t.Errorf("Retry-After: 30 capped at 300ms, yet the Get took %v", d)
			}
			if n := srv.requests(); n != 2 {
				t.Errorf("server saw %d requests, want 2", n)
			}
		})
	}
}

func TestRetriesServerErrors(t *testing.T) {
	t.Parallel()
	srv := newServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n < 2 {
			status(w, http.StatusInternalServerError)
			return
		}
		ok(w)
	})
	c := pollhttp.New(pollhttp.Config{Provider: "test", MaxRetryWait: 50 * time.Millisecond})
	body, err := c.Get(t.Context(), srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(body) || !strings.Contains(string(body), "batch_1") {
		t.Errorf("body %q", body)
	}
	if n := srv.requests(); n != 3 {
		t.Errorf("server saw %d requests, want 3", n)
	}
}

func TestPersistentServerErrorIsTransient(t *testing.T) {
	t.Parallel()
	srv := newServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
		status(w, http.StatusServiceUnavailable)
	})
	const retries = 3
	c := pollhttp.New(pollhttp.Config{Provider: "test", Retries: retries, MaxRetryWait: 20 * time.Millisecond})
	_, err := c.Get(t.Context(), srv.URL, nil)
	pe := pollErr(t, err)
	if pe.Class != providers.PollTransient || pe.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("got %s, HTTP %d; want transient, 503", pe.Class, pe.StatusCode)
	}
	if n := srv.requests(); n != retries+1 {
		t.Errorf("server saw %d requests, want %d", n, retries+1)
	}
	if !strings.Contains(err.Error(), fmt.Sprintf("giving up after %d attempt(s)", retries+1)) {
		t.Errorf("error %q does not say how many attempts were made", err)
	}
}

func TestClientErrorsAreNotRetried(t *testing.T) {
	t.Parallel()
	tests := []struct {
		code int
		want providers.PollErrorClass
	}{
		{http.StatusBadRequest, providers.PollInvalid},
		{http.StatusUnauthorized, providers.PollAuth},
		{http.StatusForbidden, providers.PollAuth},
		{http.StatusNotFound, providers.PollNotFound},
		{http.StatusConflict, providers.PollInvalid},
		{http.StatusUnprocessableEntity, providers.PollInvalid},
		{http.StatusFound, providers.PollInvalid}, // redirects are not followed
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.code), func(t *testing.T) {
			t.Parallel()
			srv := newServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
				if tt.code == http.StatusFound {
					w.Header().Set("Location", "/elsewhere")
				}
				status(w, tt.code)
			})
			c := pollhttp.New(pollhttp.Config{Provider: "test", MaxRetryWait: 10 * time.Millisecond})
			_, err := c.Get(t.Context(), srv.URL+"/v1/batches/batch_1", nil)
			pe := pollErr(t, err)
			if pe.Class != tt.want || pe.StatusCode != tt.code {
				t.Errorf("got %s, HTTP %d; want %s, %d", pe.Class, pe.StatusCode, tt.want, tt.code)
			}
			if n := srv.requests(); n != 1 {
				t.Errorf("server saw %d requests, want 1", n)
			}
		})
	}
}

func TestTimeout(t *testing.T) {
	t.Parallel()
	srv := newServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
		ok(w)
	})
	c := pollhttp.New(pollhttp.Config{Provider: "test", Timeout: 200 * time.Millisecond})
	_, err := c.Get(t.Context(), srv.URL, nil)
	pe := pollErr(t, err)
	if pe.Class != providers.PollTransient {
		t.Errorf("class %s, want transient", pe.Class)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v does not wrap context.DeadlineExceeded", err)
	}
}

func TestPauseHonoursContext(t *testing.T) {
	t.Parallel()
	srv := newServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "30")
		status(w, http.StatusTooManyRequests)
	})
	c := pollhttp.New(pollhttp.Config{Provider: "test"})
	for range 2 {
		ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
		_, err := c.Get(ctx, srv.URL, nil)
		cancel()
		if pe := pollErr(t, err); pe.Class != providers.PollTransient || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("got %v; want transient, deadline exceeded", err)
		}
	}
	if n := srv.requests(); n != 1 {
		t.Errorf("server saw %d requests during a 30s pause, want 1", n)
	}
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	srv := newServer(t, func(n int, w http.ResponseWriter, r *http.Request) { ok(w) })
	c := pollhttp.New(pollhttp.Config{Provider: "test", RateLimit: 5, Burst: 1})
	start := time.Now()
	for range 6 {
		if _, err := c.Get(t.Context(), srv.URL, nil); err != nil {
			t.Fatal(err)
		}
	}
	// The first goes at once, the next five 200ms apart. The limiter
	// computes in floating point: allow for rounding.
	if d := time.Since(start); d < time.Second-10*time.Millisecond {
		t.Errorf("6 requests at 5/s with burst 1 took %v, want at least 1s", d)
	}
}

func TestConcurrencyLimit(t *testing.T) {
	t.Parallel()
	srv := newServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
		time.Sleep(50 * time.Millisecond)
		ok(w)
	})
	c := pollhttp.New(pollhttp.Config{Provider: "test", Concurrency: 2})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := c.Get(t.Context(), srv.URL, nil); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if srv.maxInFlight > 2 {
		t.Errorf("%d requests in flight at once, want at most 2", srv.maxInFlight)
	}
}

func TestNoSecretInErrorsOrLogs(t *testing.T) {
	t.Parallel()
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	tests := []struct {
		name    string
		respond func(n int, w http.ResponseWriter, r *http.Request)
		base    string // instead of the server's URL
		query   string
		timeout time.Duration
	}{
		{name: "server error", respond: func(n int, w http.ResponseWriter, r *http.Request) { status(w, 500) }},
		{name: "unauthorized", respond: func(n int, w http.ResponseWriter, r *http.Request) { status(w, 401) }},
		{name: "rate limited", respond: func(n int, w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "0")
			status(w, 429)
		}},
		{name: "connection refused", base: closed.URL},
		{name: "timeout", timeout: 100 * time.Millisecond, respond: func(n int, w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done()
		}},
		{name: "unescaped quote", query: `?api_key="SECRET"`},
		{name: "credentials before the host", base: "http://user:SECRET@127.0.0.1:1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			base := tt.base
			if base == "" {
				respond := tt.respond
				if respond == nil {
					respond = func(n int, w http.ResponseWriter, r *http.Request) { ok(w) }
				}
				base = newServer(t, respond).URL
			}
			query := cmp.Or(tt.query, "?api_key=SECRET&x=1")
			sink := newLogSink()
			c := pollhttp.New(pollhttp.Config{
				Provider: "test", Retries: 1, MaxRetryWait: 10 * time.Millisecond,
				Timeout: cmp.Or(tt.timeout, 5*time.Second), Logger: sink.logger(),
			})
			_, err := c.Get(t.Context(), base+"/v1/batches/batch_1"+query, http.Header{"Authorization": {"Bearer SECRET2"}})
			if err == nil {
				t.Fatal("Get succeeded")
			}
			pollErr(t, err)
			logs := sink.String()
			for _, s := range []string{"SECRET", "api_key"} {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error %q holds %q", err, s)
				}
				if strings.Contains(logs, s) {
					t.Errorf("logs hold %q:\n%s", s, logs)
				}
			}
			checkLogLines(t, logs)
		})
	}
}

var snakeCase = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// checkLogLines checks that every line is at Debug level with snake_case keys.
func checkLogLines(t *testing.T, logs string) {
	t.Helper()
	for line := range strings.Lines(logs) {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if rec["level"] != "DEBUG" {
			t.Errorf("log line at %v, want DEBUG: %s", rec["level"], line)
		}
		if rec["provider"] != "test" {
			t.Errorf("log line without provider: %s", line)
		}
		for k := range rec {
			if !snakeCase.MatchString(k) {
				t.Errorf("log key %q is not snake_case", k)
			}
		}
	}
}

func TestLogsRequests(t *testing.T) {
	t.Parallel()
	srv := newServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 0 {
			status(w, http.StatusBadGateway)
			return
		}
		ok(w)
	})
	sink := newLogSink()
	c := pollhttp.New(pollhttp.Config{Provider: "test", MaxRetryWait: 10 * time.Millisecond, Logger: sink.logger()})
	if _, err := c.Get(t.Context(), srv.URL+"/v1/batches/batch_1?limit=1", nil); err != nil {
		t.Fatal(err)
	}
	logs := sink.String()
	checkLogLines(t, logs)
	for _, want := range []string{`"msg":"performing request"`, `"msg":"retrying request"`, srv.URL + "/v1/batches/batch_1", "(status: 502)"} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %s:\n%s", want, logs)
		}
	}
	if strings.Contains(logs, "limit=1") {
		t.Errorf("logs hold the query:\n%s", logs)
	}
}

func TestSendsHeadersAndURLAsGiven(t *testing.T) {
	t.Parallel()
	type request struct {
		uri    string
		header http.Header
	}
	got := make(chan request, 1)
	srv := newServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
		got <- request{r.RequestURI, r.Header.Clone()}
		ok(w)
	})
	c := pollhttp.New(pollhttp.Config{Provider: "test"})
	h := http.Header{"X-Api-Key": {"k"}, "Anthropic-Version": {"2023-06-01"}}
	if _, err := c.Get(t.Context(), srv.URL+"/v1/messages/batches/msgbatch_1", h); err != nil {
		t.Fatal(err)
	}
	r := <-got
	if r.uri != "/v1/messages/batches/msgbatch_1" {
		t.Errorf("request URI %q", r.uri)
	}
	if r.header.Get("X-Api-Key") != "k" || r.header.Get("Anthropic-Version") != "2023-06-01" {
		t.Errorf("headers %v", r.header)
	}
	if len(h) != 2 {
		t.Errorf("Get changed the caller's headers: %v", h)
	}
}

func TestBodyTooLarge(t *testing.T) {
	t.Parallel()
	srv := newServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
		w.Write(bytes.Repeat([]byte(" "), pollhttp.MaxBodyBytes+1))
	})
	c := pollhttp.New(pollhttp.Config{Provider: "test"})
	_, err := c.Get(t.Context(), srv.URL, nil)
	if pe := pollErr(t, err); pe.Class != providers.PollInvalid {
		t.Errorf("class %s, want invalid", pe.Class)
	}
}
