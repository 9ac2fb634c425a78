package providertest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// Answer is one stage of a fake job: an HTTP status (0: 200), a
// Retry-After header ("" : none) and a body.
type Answer struct {
	Code       int
	RetryAfter string
	Body       string
}

// FakeAPI is a fake provider API: each GET of a job's path in jobs answers
// the next Answer of its sequence (the last one forever). A request that
// refuse refuses (a non-zero status) gets that status and body first, as the
// provider refuses credentials; a path not in jobs, or another method, gets
// 404 with notFound. Every answer is JSON. It returns the server, closed at
// the test's end, and a count of the requests it has had.
func FakeAPI(t testing.TB, refuse func(r *http.Request) (code int, body string), notFound string, jobs map[string][]Answer) (*httptest.Server, func() int) {
	t.Helper()
	var mu sync.Mutex
	var requests int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		requests++
		w.Header().Set("Content-Type", "application/json")
		if code, body := refuse(r); code != 0 {
			w.WriteHeader(code)
			fmt.Fprint(w, body)
			return
		}
		seq := jobs[r.URL.Path]
		if r.Method != http.MethodGet || len(seq) == 0 {
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, notFound)
			return
		}
		a := seq[0]
		if len(seq) > 1 {
			jobs[r.URL.Path] = seq[1:]
		}
		if a.RetryAfter != "" {
			w.Header().Set("Retry-After", a.RetryAfter)
		}
		if a.Code != 0 {
			w.WriteHeader(a.Code)
		}
		fmt.Fprint(w, a.Body)
	}))
	t.Cleanup(srv.Close)
	return srv, func() int {
		mu.Lock()
		defer mu.Unlock()
		return requests
	}
}

// Server is a FakeAPI's server with the count of the requests it has had.
type Server struct {
	*httptest.Server
	requests func() int
}

// Requests is how many requests the server has had.
func (s *Server) Requests() int { return s.requests() }

// NewFakeAPI is FakeAPI for an API that answers refused to every request
// that authorized says lacks the right credentials.
func NewFakeAPI(t testing.TB, jobs map[string][]Answer, authorized func(*http.Request) bool, refused Answer, notFound string) *Server {
	t.Helper()
	srv, requests := FakeAPI(t, func(r *http.Request) (int, string) {
		if authorized(r) {
			return 0, ""
		}
		return refused.Code, refused.Body
	}, notFound, jobs)
	return &Server{Server: srv, requests: requests}
}
