package azureopenai_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/providers"
	"github.com/jobwatch/jobwatch/providers/azureopenai"
	"github.com/jobwatch/jobwatch/providers/pollhttp"
	"github.com/jobwatch/jobwatch/providers/providertest"
	"github.com/jobwatch/jobwatch/tracker"
)

const (
	testTenant       = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
	testClientID     = "a1b2c3d4-e5f6-4a5b-8c7d-9e0f1a2b3c4d"
	testClientSecret = "entra~client~secret~0123456789abcdef"
)

// tokenServer is a fake Microsoft Entra ID token endpoint of testTenant:
// a client-credentials request with the test application's id, secret and
// EntraScope gets the next token ("entra-token-1", "entra-token-2", ...),
// valid for expiresIn seconds; any other request gets 401 with Entra's error
// shape, which echoes the client id. It counts the tokens it issued.
type tokenServer struct {
	*httptest.Server
	issued atomic.Int64
}

func newTokenServer(t *testing.T, expiresIn int) *tokenServer {
	t.Helper()
	ts := &tokenServer{}
	ts.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Method != http.MethodPost || r.URL.Path != "/"+testTenant+"/oauth2/v2.0/token" || r.ParseForm() != nil ||
			r.PostForm.Get("grant_type") != "client_credentials" || r.PostForm.Get("client_id") != testClientID ||
			r.PostForm.Get("client_secret") != testClientSecret || r.PostForm.Get("scope") != azureopenai.EntraScope {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprintf(w, `{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided for %s (%s)."}`,
				r.PostForm.Get("client_id"), r.PostForm.Get("client_secret"))
			return
		}
		n := ts.issued.Add(1)
		json.NewEncoder(w).Encode(map[string]any{"token_type": "Bearer", "expires_in": expiresIn, "access_token": fmt.Sprintf("entra-token-%d", n)})
	}))
	t.Cleanup(ts.Close)
	return ts
}

// tokenURL is the token endpoint of tenant at the server, shaped as Entra's.
func (ts *tokenServer) tokenURL(tenant string) string {
	return ts.URL + "/" + tenant + "/oauth2/v2.0/token"
}

// entraResource is fakeResource's Azure resource taking Entra ID bearer
// tokens instead of api-key: the latest token the token server issued, and
// no other (an api-key alone is refused).
func entraResource(t *testing.T, ts *tokenServer, jobs map[string][]answer) (*httptest.Server, func() int) {
	t.Helper()
	return providertest.FakeAPI(t, func(r *http.Request) (int, string) {
		if r.Header.Get("Authorization") != fmt.Sprintf("Bearer entra-token-%d", ts.issued.Load()) || r.Header.Get("Api-Key") != "" {
			return http.StatusUnauthorized, `{"error":{"code":"401","message":"Unauthorized. Access token is missing, invalid, audience is incorrect, or have expired."}}`
		}
		return 0, ""
	}, `{"error":{"code":"404","message":"Resource not found"}}`, jobs)
}

// newEntraPoller is the azure-openai poller of srv made by Type from the
// config's settings, with the Entra ID keys and a token_url at ts.
func newEntraPoller(t *testing.T, srv *httptest.Server, ts *tokenServer, secret string) providers.Poller {
	t.Helper()
	p, err := azureopenai.Type.NewPoller(providers.Settings{Name: "azure", BaseURL: srv.URL,
		TenantID: testTenant, ClientID: testClientID, ClientSecret: secret, TokenURL: ts.tokenURL(testTenant)},
		pollhttp.New(pollhttp.Config{Provider: "azure", Retries: 2, MaxRetryWait: 50 * time.Millisecond, Concurrency: 16}))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Many concurrent polls share one token; the job's statuses map as with
// api-key.
func TestEntraConcurrentPollsShareOneToken(t *testing.T) {
	t.Parallel()
	ts := newTokenServer(t, 3600)
	const polls = 20
	jobs := map[string][]answer{}
	for i := range polls {
		id := fmt.Sprintf("batch_%d", i)
		jobs["/openai/v1/batches/"+id] = []answer{batch(id, "completed", counts(3, 3, 0))}
	}
	srv, requests := entraResource(t, ts, jobs)
	p := newEntraPoller(t, srv, ts, testClientSecret)
	var wg sync.WaitGroup
	for i := range polls {
		wg.Go(func() {
			job := tracker.Job{Provider: "azure", Kind: tracker.KindBatch, ExternalID: fmt.Sprintf("batch_%d", i)}
			obs, err := p.Poll(t.Context(), job)
			if err != nil || obs.Status != tracker.StatusSucceeded || obs.ExternalID != job.ExternalID {
				t.Errorf("poll %s: %q %s, %v; want succeeded", job.ExternalID, obs.Status, obs.ExternalID, err)
			}
		})
	}
	wg.Wait()
	if n := ts.issued.Load(); n != 1 {
		t.Errorf("%d tokens fetched for %d concurrent polls, want 1", n, polls)
	}
	if n := requests(); n != polls {
		t.Errorf("%d requests to the resource, want %d", n, polls)
	}
}

// A token about to expire (within oauth2's expiry delta) is refreshed
// before the next poll, which sends the new one.
func TestEntraTokenRefreshedBeforeExpiry(t *testing.T) {
	t.Parallel()
	ts := newTokenServer(t, 5)
	srv, _ := entraResource(t, ts, map[string][]answer{"/openai/v1/fine_tuning/jobs/ftjob-1": {fineTune("ftjob-1", "running", "")}})
	p := newEntraPoller(t, srv, ts, testClientSecret)
	job := tracker.Job{Provider: "azure", Kind: tracker.KindFineTuning, ExternalID: "ftjob-1"}
	for i := range 2 {
		if obs, err := p.Poll(t.Context(), job); err != nil || obs.Status != tracker.StatusRunning {
			t.Fatalf("poll %d: %q, %v; want running", i+1, obs.Status, err)
		}
		if n := ts.issued.Load(); n != int64(i+1) {
			t.Errorf("after poll %d: %d tokens fetched, want %d", i+1, n, i+1)
		}
	}
}

// A token endpoint that refuses the credentials fails the poll as an auth
// failure, before any request to the resource, without the secret or the
// endpoint's answer in the error; so does one that cannot be reached.
func TestEntraTokenRefusedIsAnAuthFailure(t *testing.T) {
	t.Parallel()
	ts := newTokenServer(t, 3600)
	srv, requests := entraResource(t, ts, map[string][]answer{"/openai/v1/batches/batch_1": {batch("batch_1", "completed", "")}})
	job := tracker.Job{Provider: "azure", Kind: tracker.KindBatch, ExternalID: "batch_1"}
	const wrong = "wrong~secret~fedcba9876543210"
	_, err := newEntraPoller(t, srv, ts, wrong).Poll(t.Context(), job)
	providertest.CheckPollError(t, err, "azure", job, wrong, providers.PollAuth, 0)
	if msg := err.Error(); strings.Contains(msg, testClientSecret) || strings.Contains(msg, "AADSTS") || !strings.Contains(msg, "401") || !strings.Contains(msg, "invalid_client") {
		t.Errorf("error %q: want the token endpoint's status and error code, without its description", msg)
	}

	gone := newTokenServer(t, 3600)
	gone.Close()
	_, err = newEntraPoller(t, srv, gone, testClientSecret).Poll(t.Context(), job)
	providertest.CheckPollError(t, err, "azure", job, testClientSecret, providers.PollAuth, 0)
	if n := requests(); n != 0 {
		t.Errorf("%d requests to the resource without a token, want 0", n)
	}
}

// The bearer token is what the resource takes: the api-key poller of the
// same resource is refused, and the default token endpoint is Entra's public
// cloud one for the tenant.
func TestEntraBearerTokenReplacesAPIKey(t *testing.T) {
	t.Parallel()
	ts := newTokenServer(t, 3600)
	srv, _ := entraResource(t, ts, map[string][]answer{"/openai/v1/batches/batch_1": {batch("batch_1", "in_progress", "")}})
	job := tracker.Job{Provider: "azure", Kind: tracker.KindBatch, ExternalID: "batch_1"}
	_, err := newPoller(srv, testKey).Poll(t.Context(), job)
	providertest.CheckPollError(t, err, "azure", job, testKey, providers.PollAuth, http.StatusUnauthorized)
	if obs, err := newEntraPoller(t, srv, ts, testClientSecret).Poll(t.Context(), job); err != nil || obs.Status != tracker.StatusRunning {
		t.Errorf("entra poll: %q, %v; want running", obs.Status, err)
	}
	if got, want := azureopenai.EntraTokenURL(testTenant), "https://login.microsoftonline.com/"+testTenant+"/oauth2/v2.0/token"; got != want {
		t.Errorf("EntraTokenURL = %q, want %q", got, want)
	}
}
