// Package providertest holds the checks every provider package's tests make
// of its pollers, and the fake API they poll. It is for tests only, not part
// of the library's API.
package providertest

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/jobwatch/jobwatch/providers"
	"github.com/jobwatch/jobwatch/tracker"
)

// CheckPollError checks that err, from a poll of job by the provider named
// provider with the API key key, is a *providers.PollError of the given
// class and HTTP status (0: none came), that it names the action that
// failed, and that it does not hold the key.
func CheckPollError(t testing.TB, err error, provider string, job tracker.Job, key string, class providers.PollErrorClass, code int) {
	t.Helper()
	pe, ok := errors.AsType[*providers.PollError](err)
	if !ok {
		t.Fatalf("error %v (%T) is not a *providers.PollError", err, err)
	}
	if pe.Class != class || pe.StatusCode != code {
		t.Errorf("%v: got %s, HTTP %d; want %s, %d", err, pe.Class, pe.StatusCode, class, code)
	}
	if action := fmt.Sprintf("poll %s %s %s: ", provider, job.Kind, job.ExternalID); !strings.Contains(err.Error(), action) {
		t.Errorf("error %q does not name the action %q", err, action)
	}
	if strings.Contains(err.Error(), key) {
		t.Errorf("error %q holds the key", err)
	}
}

// Answer is one stage of a fake job: an HTTP status (0: 200), a
// Retry-After header ("": none) and a body.
type Answer struct {
	Code       int
	RetryAfter string
	Body       string
}

// FakeAPI starts a JSON API for the test's life that answers each GET of a
// path in jobs with the next stage of its sequence (the last one forever).
// A request refuse answers with a status (not 0) gets that status and body
// first, as the provider refuses credentials; any other path or method is
// answered 404 with notFound. It returns the server and the count of
// requests it has had.
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

// PollFailure is a poll that must fail: of job, with the API key key, as a
// *providers.PollError of class with HTTP status code (0: none came).
type PollFailure struct {
	Name  string
	Key   string
	Job   tracker.Job
	Class providers.PollErrorClass
	Code  int
}

// CheckPollFailures runs each failure as a parallel subtest: a poll of its
// job by the poller newPoller makes with its key, checked by
// CheckPollError.
func CheckPollFailures(t *testing.T, provider string, newPoller func(key string) providers.Poller, failures []PollFailure) {
	t.Helper()
	for _, f := range failures {
		t.Run(f.Name, func(t *testing.T) {
			t.Parallel()
			_, err := newPoller(f.Key).Poll(t.Context(), f.Job)
			CheckPollError(t, err, provider, f.Job, f.Key, f.Class, f.Code)
		})
	}
}

// CheckPolls checks that p polls exactly the kinds of job kinds says.
func CheckPolls(t testing.TB, p providers.Poller, kinds map[tracker.Kind]bool) {
	t.Helper()
	for kind, want := range kinds {
		if got := p.Polls(kind); got != want {
			t.Errorf("Polls(%s) = %v, want %v", kind, got, want)
		}
	}
}
