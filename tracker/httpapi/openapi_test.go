package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/jobwatch/jobwatch/storage"
	"github.com/jobwatch/jobwatch/storage/storagetest"
	"github.com/jobwatch/jobwatch/tracker"
	"github.com/jobwatch/jobwatch/tracker/httpapi"
)

var (
	specOnce sync.Once
	spec     *openapi3.T
	router   routers.Router
	specErr  error
)

// openAPI loads and checks openapi.yaml, once.
func openAPI(t *testing.T) (*openapi3.T, routers.Router) {
	t.Helper()
	specOnce.Do(func() {
		loader := openapi3.NewLoader()
		if spec, specErr = loader.LoadFromData(httpapi.OpenAPI); specErr != nil {
			return
		}
		if specErr = spec.Validate(loader.Context); specErr != nil {
			return
		}
		router, specErr = legacy.NewRouter(spec)
	})
	if specErr != nil {
		t.Fatalf("openapi.yaml: %v", specErr)
	}
	return spec, router
}

// newServer serves h, checking every request it serves and every answer
// against openapi.yaml (validated), until t ends.
func newServer(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(validated(t, h))
	t.Cleanup(srv.Close)
	return srv
}

// validated wraps h so that each request it serves, and the answer, is
// checked against openapi.yaml (conforms); a mismatch fails t.
func validated(t *testing.T, h http.Handler) http.Handler {
	t.Helper()
	_, router := openAPI(t)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("%s %s: read the request body: %v", r.Method, r.URL, err)
		}
		check := r.Clone(context.Background())
		check.Body = io.NopCloser(bytes.NewReader(body))
		if len(body) > 0 && check.Header.Get("Content-Type") == "" {
			// The API reads every body as JSON, whatever its Content-Type.
			check.Header.Set("Content-Type", "application/json")
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		maps.Copy(w.Header(), rec.Header())
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
		if err := conforms(router, check, rec); err != nil {
			t.Errorf("%s %s answered %d %s: %v", r.Method, r.URL, rec.Code, rec.Body, err)
		}
	})
}

// conforms checks a request and its answer against the document of
// router:
//   - a request no route of the document takes must have been refused as
//     a route the server does not have, or a method it does not take, is
//     (a JSON 404 or 405);
//   - a request the document refuses must have been refused (4xx);
//   - every answer of a documented route must be one the document gives
//     for its status, body included. The mux's own 404 and 405 are taken
//     for any route: a daemon may lack one (no poller, no registry), and
//     TestOpenAPIDescribesEveryRoute holds the routes to the document.
func conforms(router routers.Router, req *http.Request, rec *httptest.ResponseRecorder) error {
	route, params, err := router.FindRoute(req)
	if err != nil {
		if (rec.Code == http.StatusNotFound || rec.Code == http.StatusMethodNotAllowed) && isJSONError(rec) {
			return nil
		}
		return fmt.Errorf("no route of openapi.yaml takes it (%v), yet the server served it", err)
	}
	if isMuxRefusal(rec) {
		return nil
	}
	opts := &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, SkipSettingDefaults: true, IncludeResponseStatus: true}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts}
	if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil && rec.Code < 400 {
		return fmt.Errorf("openapi.yaml refuses the request, yet the server took it: %w", err)
	}
	return openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: rec.Code, Header: rec.Header(), Body: io.NopCloser(bytes.NewReader(rec.Body.Bytes())), Options: opts,
	})
}

// errorMessage is the message of an answer that is a JSON error, "" for
// any other.
func errorMessage(rec *httptest.ResponseRecorder) string {
	var e struct{ Error string }
	if json.Unmarshal(rec.Body.Bytes(), &e) != nil {
		return ""
	}
	return e.Error
}

func isJSONError(rec *httptest.ResponseRecorder) bool { return errorMessage(rec) != "" }

// isMuxRefusal reports whether an answer is the mux's own: no such route
// (404) or a method the route does not take (405).
func isMuxRefusal(rec *httptest.ResponseRecorder) bool {
	msg := errorMessage(rec)
	return (rec.Code == http.StatusNotFound && msg == "no such route") ||
		(rec.Code == http.StatusMethodNotAllowed && strings.HasPrefix(msg, "method not allowed; allowed: "))
}

// noPoller serves the poll route in TestOpenAPIDescribesEveryRoute.
type noPoller struct{}

func (noPoller) PollJob(context.Context, string, string) (tracker.Job, error) {
	return tracker.Job{}, tracker.ErrNotFound
}

// openapi.yaml describes exactly the routes a daemon serves (every one
// configured: poller, registry, webhooks), and is served at /openapi.yaml.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	t.Parallel()
	doc, _ := openAPI(t)
	api := httpapi.New(httpapi.Options{
		Tracker:      tracker.New(storagetest.Open(t, storage.DriverSQLite), tracker.Options{}),
		MaxBodyBytes: 4096,
		Logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
		Registry:     prometheus.NewRegistry(),
		Poller:       noPoller{},
	})
	api.Handle("/webhooks/{name}", webhookStandIn, false)
	var served []string
	for _, p := range api.Routes() {
		if !strings.Contains(p, " ") {
			// A route of any method: the webhooks, which take POST and
			// answer the others 405 themselves.
			p = "POST " + p
		}
		served = append(served, p)
	}
	var documented []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented = append(documented, method+" "+path)
		}
	}
	slices.Sort(served)
	slices.Sort(documented)
	if !slices.Equal(served, documented) {
		t.Errorf("routes served:\n%s\nroutes in openapi.yaml:\n%s", strings.Join(served, "\n"), strings.Join(documented, "\n"))
	}

	srv := newServer(t, api)
	resp, body := get(t, "GET", srv.URL+"/openapi.yaml")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/yaml" || body != string(httpapi.OpenAPI) {
		t.Errorf("GET /openapi.yaml: %d %s, want 200 application/yaml with the document", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}

// The check of TestOpenAPIDescribesEveryRoute and of every other test's
// requests finds what differs from the document.
func TestConformsFindsDrift(t *testing.T) {
	t.Parallel()
	_, router := openAPI(t)
	job := `{"provider":"openai","kind":"batch","id":"b1","status":"pending","usage":{},"created_at":"2026-12-03T10:00:00Z","updated_at":"2026-12-03T10:00:00Z","last_heard_at":"2026-12-03T10:00:00Z"}`
	for _, tt := range []struct {
		name, method, path, body string
		code                     int
		answer                   string
		drift                    string // "" when it conforms
	}{
		{"a job", "GET", "/v1/jobs/openai/b1", "", 200, job, ""},
		{"a job with an undocumented field", "GET", "/v1/jobs/openai/b1", "", 200, strings.Replace(job, `"usage"`, `"cost":1,"usage"`, 1), "cost"},
		{"a job without its status", "GET", "/v1/jobs/openai/b1", "", 200, strings.Replace(job, `"status":"pending",`, "", 1), "status"},
		{"an undocumented status", "GET", "/v1/usage", "", 418, `{"error":"teapot"}`, "status is not supported"},
		{"an undocumented route served", "GET", "/v1/nothing", "", 200, `{}`, "no route of openapi.yaml"},
		{"an undocumented route refused by the mux", "GET", "/v1/nothing", "", 404, `{"error":"no such route"}`, ""},
		{"a request the document refuses, taken", "GET", "/v1/jobs?limit=0", "", 200, `{"jobs":[]}`, "refuses the request"},
		{"a request the document refuses, refused", "GET", "/v1/jobs?limit=0", "", 400, `{"error":"limit: must be 1 to 1000"}`, ""},
		{"an unknown field taken", "POST", "/v1/jobs/openai/b1/resolve", `{"status":"failed","why":"x"}`, 200, job, "refuses the request"},
		{"an error that is not JSON", "GET", "/v1/jobs/openai/b1", "", 404, "not found", "Content-Type"},
	} {
		req := httptest.NewRequest(tt.method, tt.path, strings.NewReader(tt.body))
		if tt.body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		rec := httptest.NewRecorder()
		if strings.HasPrefix(tt.answer, "{") {
			httpapi.WriteJSON(rec, tt.code, json.RawMessage(tt.answer))
		} else {
			rec.WriteHeader(tt.code)
			rec.WriteString(tt.answer)
		}
		err := conforms(router, req, rec)
		switch {
		case tt.drift == "" && err != nil:
			t.Errorf("%s: %v, want it to conform", tt.name, err)
		case tt.drift != "" && (err == nil || !strings.Contains(err.Error(), tt.drift)):
			t.Errorf("%s: %v, want an error about %q", tt.name, err, tt.drift)
		}
	}
}
