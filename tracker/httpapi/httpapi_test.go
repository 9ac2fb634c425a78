package httpapi_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/jobwatch/jobwatch/storage"
	"github.com/jobwatch/jobwatch/storage/storagetest"
	"github.com/jobwatch/jobwatch/tracker"
	"github.com/jobwatch/jobwatch/tracker/httpapi"
)

func setup(t *testing.T, token string) (*httptest.Server, *storage.Store) {
	t.Helper()
	store := storagetest.Open(t, storage.DriverSQLite)
	return serve(t, store, token), store
}

// serve serves the API over store.
func serve(t *testing.T, store *storage.Store, token string) *httptest.Server {
	t.Helper()
	srv, _ := serveAPI(t, store, token)
	return srv
}

// serveAPI serves the API over store and returns its metrics registry too.
func serveAPI(t *testing.T, store *storage.Store, token string) (*httptest.Server, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	api := httpapi.New(httpapi.Options{
		Tracker:      tracker.New(store, tracker.Options{}),
		APIToken:     token,
		MaxBodyBytes: 4096,
		Logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
		Registry:     reg,
	})
	api.Handle("/webhooks/{name}", webhookStandIn, false)
	return newServer(t, api), reg
}

// webhookStandIn answers webhooks as the daemon's ingest does when it
// accepts one, and refuses methods other than POST as it does.
func webhookStandIn(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		httpapi.WriteError(w, http.StatusMethodNotAllowed, "webhooks are delivered with POST")
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]string{"status": "accepted"})
}

func do(t *testing.T, method, url, token, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestTrackAnswers(t *testing.T) {
	t.Parallel()
	srv, _ := setup(t, "")
	tests := []struct {
		name, body string
		code       int
		contains   string
	}{
		{"new", `{"provider":"openai","kind":"batch","id":"batch_1","labels":{"team":"a"},"metadata":{"x":1}}`, 201, `"status":"pending"`},
		{"existing", `{"provider":"openai","kind":"batch","id":"batch_1"}`, 200, `"team":"a"`},
		{"missing id", `{"provider":"openai","kind":"batch"}`, 400, `id: required`},
		{"bad kind", `{"provider":"openai","kind":"Batch!","id":"x"}`, 400, `kind: `},
		{"bad provider", `{"provider":"Open AI","kind":"batch","id":"x"}`, 400, `provider: `},
		{"wrong type", `{"provider":"openai","kind":"batch","id":7}`, 400, `id: must be string`},
		{"unknown field", `{"provider":"openai","kind":"batch","id":"x","colour":"red"}`, 400, `unknown field \"colour\"`},
		{"malformed", `{"provider":`, 400, `malformed JSON`},
		{"oversized", `{"provider":"openai","kind":"batch","id":"x","metadata":"` + strings.Repeat("a", 5000) + `"}`, 413, `larger than 4096 bytes`},
	}
	for _, tt := range tests {
		code, body := do(t, "POST", srv.URL+"/v1/jobs", "", tt.body)
		if code != tt.code || !strings.Contains(body, tt.contains) {
			t.Errorf("%s: got %d %s, want %d containing %q", tt.name, code, body, tt.code, tt.contains)
		}
	}
	if code, body := do(t, "GET", srv.URL+"/v1/jobs?status=bogus", "", ""); code != 400 || !strings.Contains(body, "status") {
		t.Errorf("bad status filter: %d %s", code, body)
	}
	if code, body := do(t, "GET", srv.URL+"/v1/jobs?label=novalue", "", ""); code != 400 || !strings.Contains(body, "label") {
		t.Errorf("bad label filter: %d %s", code, body)
	}
	if code, _ := do(t, "GET", srv.URL+"/v1/jobs/openai/nope", "", ""); code != 404 {
		t.Errorf("unknown job: %d, want 404", code)
	}
}

func TestAPIToken(t *testing.T) {
	t.Parallel()
	srv, _ := setup(t, "s3cret-token")
	body := `{"provider":"openai","kind":"batch","id":"b"}`
	for _, tok := range []string{"", "wrong", "s3cret-tokenX"} {
		if code, resp := do(t, "POST", srv.URL+"/v1/jobs", tok, body); code != 401 || strings.Contains(resp, "s3cret") {
			t.Errorf("token %q: %d %s, want 401 without the token", tok, code, resp)
		}
	}
	if code, _ := do(t, "POST", srv.URL+"/v1/jobs", "s3cret-token", body); code != 201 {
		t.Errorf("right token: %d, want 201", code)
	}
	// Health and metrics stay open for probes and scrapers.
	for _, p := range []string{"/healthz", "/readyz", "/metrics"} {
		if code, _ := do(t, "GET", srv.URL+p, "", ""); code != 200 {
			t.Errorf("%s without token: %d", p, code)
		}
	}
}

func TestReadyzFailsWhenStorageIsDown(t *testing.T) {
	t.Parallel()
	srv, store := setup(t, "")
	if code, _ := do(t, "GET", srv.URL+"/readyz", "", ""); code != 200 {
		t.Fatalf("readyz = %d, want 200", code)
	}
	store.Close()
	if code, _ := do(t, "GET", srv.URL+"/readyz", "", ""); code != 503 {
		t.Errorf("readyz with storage closed = %d, want 503", code)
	}
	if code, body := do(t, "POST", srv.URL+"/v1/jobs", "", `{"provider":"openai","kind":"batch","id":"b"}`); code != 503 {
		t.Errorf("track with storage closed = %d %s, want 503", code, body)
	}
	if code, _ := do(t, "GET", srv.URL+"/healthz", "", ""); code != 200 {
		t.Errorf("healthz with storage closed = %d, want 200 (the process is up)", code)
	}
}

// The HTTP Client and the in-process Tracker answer alike.
func TestClientMatchesTracker(t *testing.T) {
	t.Parallel()
	srv, store := setup(t, "tok")
	ctx := context.Background()
	var viaHTTP tracker.API = tracker.NewClient(srv.URL, tracker.WithToken("tok"))
	var inProc tracker.API = tracker.New(store, tracker.Options{})
	req := tracker.TrackRequest{Provider: "anthropic", Kind: tracker.KindBatch, ExternalID: "msgbatch_1", Labels: map[string]string{"env": "prod"}}
	job, created, err := viaHTTP.Track(ctx, req)
	if err != nil || !created || job.Status != tracker.StatusPending {
		t.Fatalf("client Track = %+v, %v, %v", job, created, err)
	}
	if _, created, err = inProc.Track(ctx, req); err != nil || created {
		t.Fatalf("tracker Track after client = %v, %v; want existing", created, err)
	}
	for _, api := range []tracker.API{viaHTTP, inProc} {
		got, err := api.Job(ctx, "anthropic", "msgbatch_1")
		if err != nil || got.Labels["env"] != "prod" {
			t.Errorf("%T Job = %+v, %v", api, got, err)
		}
		page, err := api.List(ctx, tracker.Filter{Labels: map[string]string{"env": "prod"}, Limit: 10})
		if err != nil || len(page.Jobs) != 1 {
			t.Errorf("%T List = %+v, %v", api, page, err)
		}
		if _, err := api.Job(ctx, "anthropic", "missing"); !errors.Is(err, tracker.ErrNotFound) {
			t.Errorf("%T Job(missing) = %v, want ErrNotFound", api, err)
		}
	}
	_, _, err = tracker.NewClient(srv.URL).Track(ctx, req)
	var apiErr *tracker.APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 401 {
		t.Errorf("client without token = %v, want a 401 APIError", err)
	}
	// Bad input is the same ValidationError from both, and the client sends nothing.
	bad := tracker.TrackRequest{Provider: "anthropic", Kind: tracker.KindBatch, ExternalID: "msgbatch_2", Metadata: []byte(`{"n":1e999}`)}
	for _, api := range []tracker.API{tracker.NewClient("http://127.0.0.1:1"), inProc} {
		var verr *tracker.ValidationError
		if _, _, err := api.Track(ctx, bad); !errors.As(err, &verr) || verr.Field != "metadata" {
			t.Errorf("%T Track(bad metadata) = %v, want a metadata ValidationError", api, err)
		}
	}
}

// POST /v1/jobs with a provider the daemon does not have is a 400 naming
// the ones it has, and registers nothing.
func TestTrackRefusesAProviderNotConfigured(t *testing.T) {
	t.Parallel()
	store := storagetest.Open(t, storage.DriverSQLite)
	srv := newServer(t, httpapi.New(httpapi.Options{
		Tracker:      tracker.New(store, tracker.Options{Providers: []string{"openai", "anthropic"}}),
		MaxBodyBytes: 4096,
		Logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
		Registry:     prometheus.NewRegistry(),
	}))
	code, body := do(t, "POST", srv.URL+"/v1/jobs", "", `{"provider":"opneai","kind":"batch","id":"batch_1"}`)
	if want := `provider: \"opneai\" is not configured (configured: anthropic, openai)`; code != 400 || !strings.Contains(body, want) {
		t.Errorf("POST /v1/jobs opneai = %d %s, want 400 containing %s", code, body, want)
	}
	if code, body := do(t, "GET", srv.URL+"/v1/jobs?provider=opneai", "", ""); code != 200 || strings.Contains(body, "batch_1") {
		t.Errorf("the refused job is listed: %d %s", code, body)
	}
	if code, body := do(t, "POST", srv.URL+"/v1/jobs", "", `{"provider":"openai","kind":"batch","id":"batch_1"}`); code != 201 {
		t.Errorf("POST /v1/jobs openai = %d %s, want 201", code, body)
	}
}

// POST /v1/jobs takes an eval run's eval id as parent_id, checked like a
// job id; GET answers and the Client carry it.
func TestTrackWithParentID(t *testing.T) {
	t.Parallel()
	srv, _ := setup(t, "")
	const eval = "eval_67abd54d9b0081909a86353f6fb9317a"
	code, body := do(t, "POST", srv.URL+"/v1/jobs", "", `{"provider":"openai","kind":"eval_run","id":"evalrun_1","parent_id":"`+eval+`"}`)
	if code != 201 || !strings.Contains(body, `"parent_id":"`+eval+`"`) {
		t.Errorf("POST /v1/jobs with parent_id = %d %s", code, body)
	}
	if code, body := do(t, "GET", srv.URL+"/v1/jobs/openai/evalrun_1", "", ""); code != 200 || !strings.Contains(body, `"parent_id":"`+eval+`"`) {
		t.Errorf("GET = %d %s, want the parent id", code, body)
	}
	if code, body := do(t, "POST", srv.URL+"/v1/jobs", "", `{"provider":"openai","kind":"eval_run","id":"evalrun_2","parent_id":"evals/1"}`); code != 400 || !strings.Contains(body, "parent_id: ") {
		t.Errorf("POST /v1/jobs with a bad parent_id = %d %s, want 400 naming parent_id", code, body)
	}
	if code, body := do(t, "POST", srv.URL+"/v1/jobs", "", `{"provider":"openai","kind":"batch","id":"batch_1"}`); code != 201 || strings.Contains(body, "parent_id") {
		t.Errorf("POST /v1/jobs without parent_id = %d %s, want no parent_id", code, body)
	}
	job, err := tracker.NewClient(srv.URL).Job(context.Background(), "openai", "evalrun_1")
	if err != nil || job.ParentID != eval {
		t.Errorf("Client.Job = parent %q, %v; want %s", job.ParentID, err, eval)
	}
}
