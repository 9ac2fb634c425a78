package vertex_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/providers"
	"github.com/jobwatch/jobwatch/providers/pollhttp"
	"github.com/jobwatch/jobwatch/providers/providertest"
	"github.com/jobwatch/jobwatch/providers/vertex"
	"github.com/jobwatch/jobwatch/tracker"
)

const (
	project  = "my-project"
	location = "us-central1"
	jobsPath = "/v1/projects/" + project + "/locations/" + location + "/batchPredictionJobs/"
)

// tokenServer is Google's OAuth2 token endpoint for a service-account key:
// it answers a JWT-bearer grant with an access token ("token-1",
// "token-2", ...) valid for expiresIn seconds, or with code when it is set.
type tokenServer struct {
	*httptest.Server
	calls     atomic.Int32
	code      int
	expiresIn int
}

func newTokenServer(t *testing.T, code, expiresIn int) *tokenServer {
	t.Helper()
	ts := &tokenServer{code: code, expiresIn: expiresIn}
	ts.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := ts.calls.Add(1)
		if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" || r.PostForm.Get("assertion") == "" {
			http.Error(w, `{"error":"unsupported_grant_type"}`, http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if ts.code != 0 {
			w.WriteHeader(ts.code)
			fmt.Fprintf(w, `{"error":"invalid_grant","error_description":"Invalid JWT Signature: %s"}`, r.PostForm.Get("assertion"))
			return
		}
		fmt.Fprintf(w, `{"access_token":"token-%d","token_type":"Bearer","expires_in":%d}`, n, ts.expiresIn)
	}))
	t.Cleanup(ts.Close)
	return ts
}

// keyFile writes a service-account key whose token_uri is tokenURL and
// returns its path and private key.
func keyFile(t *testing.T, tokenURL string) (string, string) {
	t.Helper()
	return providertest.ServiceAccountKey(t, project, tokenURL)
}

// answer is one stage of a fake job.
type answer = providertest.Answer

// fakeAPI behaves like Vertex AI's API, serving the jobs (by id) under
// jobsPath: a request without a bearer token the token server issued is
// refused with 401, an unknown job with 404, as Google answers them. It
// returns the server and the count of the requests it has had.
func fakeAPI(t *testing.T, jobs map[string][]answer) (*httptest.Server, func() int) {
	t.Helper()
	paths := make(map[string][]answer, len(jobs))
	for id, seq := range jobs {
		paths[jobsPath+id] = seq
	}
	return providertest.FakeAPI(t, func(r *http.Request) (int, string) {
		if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer token-") {
			return http.StatusUnauthorized, `{"error":{"code":401,"message":"Request had invalid authentication credentials.","status":"UNAUTHENTICATED"}}`
		}
		return 0, ""
	}, `{"error":{"code":404,"message":"The BatchPredictionJob does not exist.","status":"NOT_FOUND"}}`, paths)
}

// newPoller returns a poller of srv with the service-account key at
// keyPath.
func newPoller(t *testing.T, srv *httptest.Server, keyPath string) *vertex.Poller {
	t.Helper()
	tokens, err := vertex.TokenSource(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	return vertex.NewPoller("vertex", srv.URL+"/v1", project, location, tokens,
		pollhttp.New(pollhttp.Config{Provider: "vertex", Retries: 2, MaxRetryWait: 50 * time.Millisecond}))
}

// setup is a fake API with jobs and a poller of it whose tokens come from a
// working token server.
func setup(t *testing.T, jobs map[string][]answer) (*vertex.Poller, func() int) {
	t.Helper()
	srv, requests := fakeAPI(t, jobs)
	path, _ := keyFile(t, newTokenServer(t, 0, 3600).URL+"/token")
	return newPoller(t, srv, path), requests
}

// job is a batch prediction job as batchPredictionJobs.get returns it, with
// extra fields after its state.
func job(id, state, extra string) answer {
	return answer{Body: fmt.Sprintf(`{"name":"projects/123456789012/locations/us-central1/batchPredictionJobs/%s",`+
		`"displayName":"nightly-eval","model":"publishers/google/models/gemini-2.0-flash-001",`+
		`"inputConfig":{"instancesFormat":"jsonl","gcsSource":{"uris":["gs://b/in.jsonl"]}},`+
		`"outputConfig":{"predictionsFormat":"jsonl","gcsDestination":{"outputUriPrefix":"gs://b/out"}},`+
		`"state":%q,"createTime":"2026-12-01T10:00:00.000000Z","updateTime":"2026-12-01T10:05:00.000000Z"%s}`, id, state, extra)}
}

const output = `,"outputInfo":{"gcsOutputDirectory":"gs://b/out/prediction-model-2026-12-01T10:00:00.000000Z"}`

func TestPollEnds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		id     string
		last   answer
		want   tracker.Status
		usage  tracker.Usage
		detail map[string]string
	}{
		{"1001", job("1001", "JOB_STATE_SUCCEEDED", output+`,"completionStats":{"successfulCount":"100","failedCount":"0","incompleteCount":"0"}`),
			tracker.StatusSucceeded, tracker.Usage{RequestsTotal: 100, RequestsCompleted: 100},
			map[string]string{"output_directory": "gs://b/out/prediction-model-2026-12-01T10:00:00.000000Z"}},
		{"1002", job("1002", "JOB_STATE_PARTIALLY_SUCCEEDED", output+`,"completionStats":{"successfulCount":"97","failedCount":"3","incompleteCount":"0"}`),
			tracker.StatusSucceeded, tracker.Usage{RequestsTotal: 100, RequestsCompleted: 97, RequestsFailed: 3},
			map[string]string{tracker.DetailRequestFailure: tracker.RequestFailurePartial}},
		{"1003", job("1003", "JOB_STATE_FAILED", `,"error":{"code":3,"message":"Invalid instance at line 7"},"completionStats":{"successfulCount":"0","failedCount":"0","incompleteCount":"-1"}`),
			tracker.StatusFailed, tracker.Usage{},
			map[string]string{"error_message": "Invalid instance at line 7", "error_code": "3"}},
		{"1004", job("1004", "JOB_STATE_CANCELLED", `,"error":{"code":1,"message":"CANCELED"},"completionStats":{"successfulCount":"40","failedCount":"0","incompleteCount":"60"}`),
			tracker.StatusCancelled, tracker.Usage{RequestsTotal: 100, RequestsCompleted: 40},
			map[string]string{"error_message": "CANCELED"}},
		{"1005", job("1005", "JOB_STATE_EXPIRED", output+`,"completionStats":{"successfulCount":"70","failedCount":"2","incompleteCount":"28"}`),
			tracker.StatusExpired, tracker.Usage{RequestsTotal: 100, RequestsCompleted: 70, RequestsFailed: 2},
			map[string]string{"output_directory": "gs://b/out/prediction-model-2026-12-01T10:00:00.000000Z"}},
	}
	jobs := map[string][]answer{}
	for _, tt := range tests {
		jobs[tt.id] = []answer{
			job(tt.id, "JOB_STATE_QUEUED", ""),
			job(tt.id, "JOB_STATE_PENDING", ""),
			job(tt.id, "JOB_STATE_RUNNING", `,"startTime":"2026-12-01T10:01:00Z","completionStats":{"successfulCount":"10","incompleteCount":"90"}`),
			tt.last,
		}
	}
	p, _ := setup(t, jobs)
	for _, tt := range tests {
		j := tracker.Job{Provider: "vertex", Kind: tracker.KindBatch, ExternalID: tt.id}
		var obs tracker.Observation
		for i, want := range []tracker.Status{tracker.StatusPending, tracker.StatusPending, tracker.StatusRunning, tt.want} {
			var err error
			if obs, err = p.Poll(t.Context(), j); err != nil {
				t.Fatalf("%s poll %d: %v", tt.id, i+1, err)
			}
			if obs.Status != want || obs.ExternalID != tt.id || obs.Kind != tracker.KindBatch || !strings.Contains(string(obs.Payload), `"state"`) {
				t.Errorf("%s poll %d: %s %s %q (%s), want %q", tt.id, i+1, obs.Kind, obs.ExternalID, obs.Status, obs.ProviderStatus, want)
			}
		}
		var u tracker.Usage
		if obs.Usage != nil {
			u = *obs.Usage
		}
		if u != tt.usage || len(obs.DroppedUsage) != 0 {
			t.Errorf("%s: usage %+v (dropped %+v), want %+v", tt.id, u, obs.DroppedUsage, tt.usage)
		}
		for k, v := range tt.detail {
			if obs.Details[k] != v {
				t.Errorf("%s: details %v, want %s=%q", tt.id, obs.Details, k, v)
			}
		}
		if obs.Details["resource_name"] != "projects/123456789012/locations/us-central1/batchPredictionJobs/"+tt.id {
			t.Errorf("%s: resource_name %q", tt.id, obs.Details["resource_name"])
		}
		if obs.Details[tracker.DetailModel] != "gemini-2.0-flash-001" {
			t.Errorf("%s: model %q, want gemini-2.0-flash-001", tt.id, obs.Details[tracker.DetailModel])
		}
	}
}

// Many polls at once share one token: the token endpoint is asked once,
// and again only once that token is about to expire.
func TestTokenSharedAndRefreshed(t *testing.T) {
	t.Parallel()
	srv, _ := fakeAPI(t, map[string][]answer{"7": {job("7", "JOB_STATE_RUNNING", "")}})
	// oauth2 refreshes a token 10s before it expires: this one is good
	// for 2s.
	ts := newTokenServer(t, 0, 12)
	path, _ := keyFile(t, ts.URL+"/token")
	p := newPoller(t, srv, path)
	pollMany := func() {
		var wg sync.WaitGroup
		for range 16 {
			wg.Go(func() {
				if _, err := p.Poll(t.Context(), tracker.Job{Kind: tracker.KindBatch, ExternalID: "7"}); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
	}
	pollMany()
	if n := ts.calls.Load(); n != 1 {
		t.Fatalf("token endpoint called %d times for 16 concurrent polls, want 1", n)
	}
	time.Sleep(2200 * time.Millisecond)
	pollMany()
	if n := ts.calls.Load(); n != 2 {
		t.Errorf("token endpoint called %d times after the first token expired, want 2", n)
	}
}

// A token endpoint that refuses the key fails the poll as the API's 401
// would, PollAuth, without the key, the assertion or the endpoint's answer
// in the error.
func TestTokenRefused(t *testing.T) {
	t.Parallel()
	for _, code := range []int{http.StatusBadRequest, http.StatusUnauthorized} {
		srv, requests := fakeAPI(t, map[string][]answer{"7": {job("7", "JOB_STATE_RUNNING", "")}})
		ts := newTokenServer(t, code, 3600)
		path, pemKey := keyFile(t, ts.URL+"/token")
		j := tracker.Job{Kind: tracker.KindBatch, ExternalID: "7"}
		_, err := newPoller(t, srv, path).Poll(t.Context(), j)
		providertest.CheckPollError(t, err, "vertex", j, "BEGIN PRIVATE KEY", providers.PollAuth, 0)
		if msg := err.Error(); strings.Contains(msg, pemKey[40:80]) || strings.Contains(msg, "Invalid JWT Signature") || strings.Contains(msg, "eyJ") {
			t.Errorf("error %q holds a credential or the token endpoint's answer", msg)
		}
		if requests() != 0 {
			t.Errorf("the API was asked %d times without a token", requests())
		}
	}
}

// A 429 is retried after the Retry-After it names, and the answer after it
// is the poll's.
func TestPollRetriesAfterTooManyRequests(t *testing.T) {
	t.Parallel()
	p, requests := setup(t, map[string][]answer{"429": {
		{Code: http.StatusTooManyRequests, RetryAfter: "0", Body: `{"error":{"code":429,"message":"Quota exceeded","status":"RESOURCE_EXHAUSTED"}}`},
		job("429", "JOB_STATE_SUCCEEDED", ""),
	}})
	obs, err := p.Poll(t.Context(), tracker.Job{Kind: tracker.KindBatch, ExternalID: "429"})
	if err != nil {
		t.Fatal(err)
	}
	if obs.Status != tracker.StatusSucceeded || requests() != 2 {
		t.Errorf("status %q after %d requests; want succeeded after 2", obs.Status, requests())
	}
}

// A paused job, or one in a state jobwatch does not know, is never taken
// to have ended.
func TestPollPausedAndUnknownAreNotTerminal(t *testing.T) {
	t.Parallel()
	p, _ := setup(t, map[string][]answer{
		"1": {job("1", "JOB_STATE_PAUSED", "")},
		"2": {job("2", "JOB_STATE_ARCHIVED", "")},
		"3": {job("3", "JOB_STATE_UNSPECIFIED", "")},
	})
	for id, want := range map[string]tracker.Status{"1": tracker.StatusRunning, "2": "", "3": ""} {
		obs, err := p.Poll(t.Context(), tracker.Job{Kind: tracker.KindBatch, ExternalID: id})
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		if obs.Status != want || obs.ProviderStatus == "" {
			t.Errorf("%s: status %q (%s), want %q and the word kept", id, obs.Status, obs.ProviderStatus, want)
		}
	}
}

func TestPollFailures(t *testing.T) {
	t.Parallel()
	denied := `{"error":{"code":403,"message":"Permission 'aiplatform.batchPredictionJobs.get' denied","status":"PERMISSION_DENIED"}}`
	p, _ := setup(t, map[string][]answer{
		"busy":   {{Code: http.StatusServiceUnavailable, Body: `{"error":{"code":503,"message":"The service is currently unavailable.","status":"UNAVAILABLE"}}`}},
		"denied": {{Code: http.StatusForbidden, Body: denied}},
		"odd":    {{Body: `{"name":"projects/1/locations/us-central1/batchPredictionJobs/odd","state":"JOB_STATE_RUNNING","completionStats":{"successfulCount":"many"}}`}},
		"other":  {job("9999", "JOB_STATE_SUCCEEDED", "")},
	})
	srv, _ := fakeAPI(t, map[string][]answer{})
	noToken := vertex.NewPoller("vertex", srv.URL+"/v1", project, location, staticToken(""), pollhttp.New(pollhttp.Config{Provider: "vertex"}))
	tests := []struct {
		name   string
		poller *vertex.Poller
		id     string
		kind   tracker.Kind
		class  providers.PollErrorClass
		code   int
	}{
		{"unknown job", p, "missing", tracker.KindBatch, providers.PollNotFound, 404},
		{"token refused by the API", noToken, "1", tracker.KindBatch, providers.PollAuth, 401},
		{"permission denied", p, "denied", tracker.KindBatch, providers.PollAuth, 403},
		{"unavailable", p, "busy", tracker.KindBatch, providers.PollTransient, 503},
		{"malformed answer", p, "odd", tracker.KindBatch, providers.PollInvalid, 0},
		{"answer about another job", p, "other", tracker.KindBatch, providers.PollInvalid, 0},
		{"not a polled kind", p, "1", tracker.KindFineTuning, providers.PollInvalid, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			j := tracker.Job{Kind: tt.kind, ExternalID: tt.id}
			_, err := tt.poller.Poll(t.Context(), j)
			providertest.CheckPollError(t, err, "vertex", j, "token-", tt.class, tt.code)
		})
	}
}

func TestPolls(t *testing.T) {
	t.Parallel()
	p := vertex.NewPoller("vertex", "", project, location, staticToken("t"), pollhttp.New(pollhttp.Config{Provider: "vertex"}))
	for kind, want := range map[tracker.Kind]bool{tracker.KindBatch: true, tracker.KindFineTuning: false, tracker.KindResponse: false} {
		if got := p.Polls(kind); got != want {
			t.Errorf("Polls(%s) = %v, want %v", kind, got, want)
		}
	}
}

func TestDefaultBaseURL(t *testing.T) {
	t.Parallel()
	for loc, want := range map[string]string{
		"us-central1": "https://us-central1-aiplatform.googleapis.com/v1",
		"global":      "https://aiplatform.googleapis.com/v1",
	} {
		if got := vertex.DefaultBaseURL(loc); got != want {
			t.Errorf("DefaultBaseURL(%q) = %q, want %q", loc, got, want)
		}
	}
}

// A key file that is not a service-account key is refused when the poller
// is built, without quoting it.
func TestTokenSourceRefusesABadKeyFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "key.json")
	if err := os.WriteFile(path, []byte(`{"type":"authorized_user","client_secret":"s3cr3t-value","refresh_token":"r"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, filepath.Join(t.TempDir(), "absent.json")} {
		_, err := vertex.TokenSource(p)
		if err == nil || strings.Contains(err.Error(), "s3cr3t-value") {
			t.Errorf("TokenSource(%s) = %v, want an error without the file's secret", p, err)
		}
	}
}

// Without a key file and without application default credentials, the
// poller is built and each poll fails as PollAuth.
func TestNoDefaultCredentials(t *testing.T) {
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", filepath.Join(t.TempDir(), "absent.json"))
	srv, requests := fakeAPI(t, map[string][]answer{"7": {job("7", "JOB_STATE_RUNNING", "")}})
	p := newPoller(t, srv, "")
	j := tracker.Job{Kind: tracker.KindBatch, ExternalID: "7"}
	_, err := p.Poll(t.Context(), j)
	providertest.CheckPollError(t, err, "vertex", j, "token-", providers.PollAuth, 0)
	if requests() != 0 {
		t.Errorf("the API was asked %d times without a token", requests())
	}
}
