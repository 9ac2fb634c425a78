// Package providertest holds the checks every provider package's tests make
// of its pollers. It is for tests only, not part of the library's API.
package providertest

import (
	"errors"
	"fmt"
	"strings"
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
