// Package providertest holds the checks every provider package's tests make
// of its pollers, and the fake API they poll. It is for tests only, not part
// of the library's API.
package providertest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
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

// ServiceAccountKey writes a Google service-account JSON key of project,
// with an RSA key made for the test, whose token_uri is tokenURL (a local
// token server), and returns its path and its PEM private key.
func ServiceAccountKey(t testing.TB, project, tokenURL string) (path, pemKey string) {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	pemKey = string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	body, err := json.Marshal(map[string]string{
		"type": "service_account", "project_id": project, "private_key_id": "0123456789abcdef",
		"private_key": pemKey, "client_email": "jobwatch@" + project + ".iam.gserviceaccount.com",
		"client_id": "123456789012345678901", "token_uri": tokenURL,
	})
	if err != nil {
		t.Fatal(err)
	}
	path = filepath.Join(t.TempDir(), "key.json")
	if err := os.WriteFile(path, body, 0o600); err != nil {
		t.Fatal(err)
	}
	return path, pemKey
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
