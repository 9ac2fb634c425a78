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

// PollFailure is a poll that must fail: of Job with the API key Key, as a
// *providers.PollError of Class with the HTTP status Code (0: none came).
type PollFailure struct {
	Name  string
	Key   string
	Job   tracker.Job
	Class providers.PollErrorClass
	Code  int
}

// CheckPollFailures polls each failure's job, in a parallel subtest, with
// the poller newPoller returns for its key, and checks its error with
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

// CheckObserved checks what every answer parser promises of what it made of
// an answer, whatever the answer (fuzz tests call it): err is a
// *providers.PayloadError with a message; else obs is of kind, about a
// valid job id, its Status is normalize of its ProviderStatus, it has no
// Payload and no empty detail, and request_failure only flags a succeeded
// job with failed requests. It reports whether obs is an observation.
func CheckObserved(t testing.TB, obs tracker.Observation, err error, kind tracker.Kind, normalize func(string) tracker.Status) bool {
	t.Helper()
	if err != nil {
		if pe, ok := errors.AsType[*providers.PayloadError](err); !ok || pe.Msg == "" {
			t.Fatalf("%s: error %v (%T) is not a *providers.PayloadError with a message", kind, err, err)
		}
		return false
	}
	if err := tracker.ValidateExternalID(obs.ExternalID); err != nil {
		t.Fatalf("%s: ExternalID %q: %v", kind, obs.ExternalID, err)
	}
	if obs.Kind != kind || obs.Status != normalize(obs.ProviderStatus) || obs.Payload != nil {
		t.Fatalf("%s: observation %+v", kind, obs)
	}
	for k, v := range obs.Details {
		if v == "" {
			t.Fatalf("%s: Details[%q] is empty", kind, k)
		}
	}
	if _, ok := obs.Details[tracker.DetailRequestFailure]; ok && (obs.Status != tracker.StatusSucceeded || obs.Usage == nil || obs.Usage.RequestsFailed == 0) {
		t.Fatalf("%s: request_failure on %+v", kind, obs)
	}
	return true
}
