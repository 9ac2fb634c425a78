// Package providertest holds the checks every provider package's tests make
// of its pollers. It is for tests only, not part of the library's API.
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

// Answer is one stage of a job on a FakeAPI: an HTTP status (0: 200), a
// Retry-After header ("" for none) and a body.
type Answer struct {
	Code       int
	RetryAfter string
	Body       string
}

// FakeAPI is a provider API on an httptest server: each GET of a path in
// jobs answers the next stage of its sequence (the last one forever); a
// request authorized refuses is answered by refuse (its status and body),
// and an unknown path 404 with notFound. Requests counts the requests it
// was sent. It is closed when the test ends.
type FakeAPI struct {
	*httptest.Server
	mu       sync.Mutex
	requests int
}

// Requests is how many requests the API was sent.
func (f *FakeAPI) Requests() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests
}

// NewFakeAPI starts a FakeAPI; authorized says whether a request carries
// the right credentials, refused is the answer to one that does not (401 or
// 403 with the provider's body), notFound the body of a 404.
func NewFakeAPI(t testing.TB, jobs map[string][]Answer, authorized func(*http.Request) bool, refused Answer, notFound string) *FakeAPI {
	t.Helper()
	f := &FakeAPI{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.requests++
		w.Header().Set("Content-Type", "application/json")
		a := refused
		if authorized(r) {
			seq := jobs[r.URL.Path]
			switch {
			case r.Method != http.MethodGet || len(seq) == 0:
				a = Answer{Code: http.StatusNotFound, Body: notFound}
			default:
				a = seq[0]
				if len(seq) > 1 {
					jobs[r.URL.Path] = seq[1:]
				}
			}
		}
		if a.RetryAfter != "" {
			w.Header().Set("Retry-After", a.RetryAfter)
		}
		if a.Code != 0 {
			w.WriteHeader(a.Code)
		}
		fmt.Fprint(w, a.Body)
	}))
	t.Cleanup(f.Close)
	return f
}
