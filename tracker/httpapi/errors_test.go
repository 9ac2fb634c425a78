package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/jobwatch/jobwatch/storage"
	"github.com/jobwatch/jobwatch/storage/storagetest"
	"github.com/jobwatch/jobwatch/tracker"
)

// jsonError asserts that an answer is a JSON error and returns its message.
func jsonError(t *testing.T, what string, resp *http.Response, body string) string {
	t.Helper()
	var e struct {
		Error string `json:"error"`
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s: Content-Type %q, want application/json (body %q)", what, ct, body)
	}
	if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error == "" {
		t.Errorf("%s: body %q is not a JSON error", what, body)
	}
	return e.Error
}

func get(t *testing.T, method, url string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// The mux's own answers (no route, wrong method) are JSON like the API's.
func TestMuxErrorsAreJSON(t *testing.T) {
	t.Parallel()
	srv, _ := setup(t, "")
	resp, body := get(t, "DELETE", srv.URL+"/v1/jobs")
	if resp.StatusCode != 405 || !strings.Contains(resp.Header.Get("Allow"), "POST") {
		t.Errorf("DELETE /v1/jobs: %d, Allow %q; want 405 with Allow", resp.StatusCode, resp.Header.Get("Allow"))
	}
	if msg := jsonError(t, "405", resp, body); !strings.Contains(msg, "GET") || !strings.Contains(msg, "POST") {
		t.Errorf("405 message %q does not name the allowed methods", msg)
	}
	resp, body = get(t, "GET", srv.URL+"/v2/nothing")
	if resp.StatusCode != 404 {
		t.Errorf("GET /v2/nothing: %d, want 404", resp.StatusCode)
	}
	jsonError(t, "404", resp, body)
}

// Every list route takes limit 1..MaxPageSize and refuses a malformed query.
func TestListRoutesCheckTheQuery(t *testing.T) {
	t.Parallel()
	srv, _ := setup(t, "")
	for _, route := range []string{"/v1/jobs", "/v1/deliveries"} {
		for _, q := range []string{"limit=0", "limit=-1", "limit=1001", "limit=ten"} {
			resp, body := get(t, "GET", srv.URL+route+"?"+q)
			if msg := jsonError(t, route+"?"+q, resp, body); resp.StatusCode != 400 || !strings.Contains(msg, "limit: must be 1 to 1000") {
				t.Errorf("%s?%s: %d %q, want 400 naming limit", route, q, resp.StatusCode, msg)
			}
		}
		for _, q := range []string{"provider=%zz", "provider=a;limit=5", "limit=1&%"} {
			resp, body := get(t, "GET", srv.URL+route+"?"+q)
			if msg := jsonError(t, route+"?"+q, resp, body); resp.StatusCode != 400 || !strings.Contains(msg, "malformed query string") {
				t.Errorf("%s?%s: %d %q, want 400 malformed query string", route, q, resp.StatusCode, msg)
			}
		}
		for _, q := range []string{"limit=1", "limit=1000", ""} {
			if resp, body := get(t, "GET", srv.URL+route+"?"+q); resp.StatusCode != 200 {
				t.Errorf("%s?%s: %d %s, want 200", route, q, resp.StatusCode, body)
			}
		}
	}
}

// Text PostgreSQL refuses (NUL, lone surrogates, bytes that are not UTF-8)
// and numbers beyond a float64 are a 400 naming the field on both backends
// alike, and leave nothing behind.
func TestUnstorableInputIs400OnEveryBackend(t *testing.T) {
	t.Parallel()
	for _, driver := range storagetest.Backends {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			store := storagetest.Open(t, driver)
			srv := serve(t, store, "")
			bodies := []struct{ name, body, field string }{
				{"NUL in a label value", `{"provider":"openai","kind":"batch","id":"b1","labels":{"team":"a\u0000b"}}`, "labels: "},
				{"NUL in a label key", `{"provider":"openai","kind":"batch","id":"b1","labels":{"te\u0000am":"a"}}`, "labels: "},
				{"NUL in metadata", `{"provider":"openai","kind":"batch","id":"b1","metadata":{"note":"x\u0000"}}`, "metadata: "},
				{"NUL in a metadata key", `{"provider":"openai","kind":"batch","id":"b1","metadata":{"\u0000":1}}`, "metadata: "},
				{"huge number", `{"provider":"openai","kind":"batch","id":"b1","metadata":{"n":1e1000000}}`, "metadata: number 1e1000000 is out of range"},
				{"number beyond float64", `{"provider":"openai","kind":"batch","id":"b1","metadata":[-1.5e400]}`, "metadata: number -1.5e400"},
				{"tiny number", `{"provider":"openai","kind":"batch","id":"b1","metadata":1e-1000000}`, "metadata: number 1e-1000000"},
				{"lone surrogate", `{"provider":"openai","kind":"batch","id":"b1","metadata":"\ud800x"}`, `metadata: a string holds a lone UTF-16 surrogate \ud800`},
				{"lone low surrogate", `{"provider":"openai","kind":"batch","id":"b1","metadata":{"k":"\udc00"}}`, `metadata: a string holds a lone UTF-16 surrogate \udc00`},
			}
			for _, tt := range bodies {
				code, body := do(t, "POST", srv.URL+"/v1/jobs", "", tt.body)
				var e struct{ Error string }
				json.Unmarshal([]byte(body), &e)
				if code != 400 || !strings.HasPrefix(e.Error, tt.field) {
					t.Errorf("%s: %d %s, want 400 starting %q", tt.name, code, body, tt.field)
				}
			}
			if code, body := do(t, "GET", srv.URL+"/v1/jobs/openai/b1", "", ""); code != 404 {
				t.Errorf("after refused registrations the job exists: %d %s", code, body)
			}
			for _, path := range []string{
				"/v1/jobs?provider=a%00", "/v1/jobs?label=team%3Da%00", "/v1/jobs?provider=%ff", "/v1/jobs?a%00=1",
				"/v1/jobs/openai/b%00c", "/v1/jobs/open%00ai/b", "/v1/jobs/openai/b%ff", "/v1/deliveries?provider=x%00",
			} {
				resp, body := get(t, "GET", srv.URL+path)
				if msg := jsonError(t, path, resp, body); resp.StatusCode != 400 || !strings.Contains(msg, "must be UTF-8 without NUL bytes") {
					t.Errorf("GET %s: %d %q, want 400", path, resp.StatusCode, msg)
				}
			}
			// What both backends store stays accepted, and comes back as sent.
			good := `{"provider":"openai","kind":"batch","id":"b2","labels":{"team":"é"},"metadata":{"big":1.7e308,"small":-2.5e-300,"zero":0.000e-999,"emoji":"\ud83d\ude00","esc":"\u001f"}}`
			if code, body := do(t, "POST", srv.URL+"/v1/jobs", "", good); code != 201 {
				t.Fatalf("storable registration: %d %s", code, body)
			}
			job, err := tracker.New(store, tracker.Options{}).Job(context.Background(), "openai", "b2")
			var meta struct{ Emoji string }
			json.Unmarshal(job.Metadata, &meta)
			if err != nil || meta.Emoji != "😀" || job.Labels["team"] != "é" {
				t.Errorf("stored job = %s %v, %v", job.Metadata, job.Labels, err)
			}
			// The library refuses what JSON cannot carry, too.
			_, _, err = tracker.New(store, tracker.Options{}).Track(context.Background(), tracker.TrackRequest{
				Provider: "openai", Kind: tracker.KindBatch, ExternalID: "b3", Labels: map[string]string{"team": "\xff"}})
			var verr *tracker.ValidationError
			if !errors.As(err, &verr) || verr.Field != "labels" {
				t.Errorf("Track with a label not UTF-8 = %v, want a labels ValidationError", err)
			}
			_, _, err = tracker.New(store, tracker.Options{}).Track(context.Background(), tracker.TrackRequest{
				Provider: "openai", Kind: tracker.KindBatch, ExternalID: "b3", Metadata: []byte("\"\xff\"")})
			if !errors.As(err, &verr) || verr.Field != "metadata" {
				t.Errorf("Track with metadata not UTF-8 = %v, want a metadata ValidationError", err)
			}
		})
	}
}

// Every route's metric label has one form: method, space, pattern.
func TestRouteLabelsHaveOneForm(t *testing.T) {
	t.Parallel()
	srv, reg := serveAPI(t, storagetest.Open(t, storage.DriverSQLite), "")
	for _, r := range []struct{ method, path string }{
		{"GET", "/healthz"}, {"POST", "/v1/jobs"}, {"GET", "/v1/jobs"}, {"GET", "/v1/jobs/openai/x"},
		{"POST", "/webhooks/openai"}, {"GET", "/webhooks/openai"}, {"FROB", "/webhooks/openai"},
		{"GET", "/nowhere"}, {"DELETE", "/v1/jobs"},
	} {
		get(t, r.method, srv.URL+r.path)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var routes []string
	for _, mf := range mfs {
		if mf.GetName() != "jobwatch_http_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "route" && !slices.Contains(routes, l.GetValue()) {
					routes = append(routes, l.GetValue())
				}
			}
		}
	}
	slices.Sort(routes)
	want := []string{"GET /healthz", "GET /v1/jobs", "GET /v1/jobs/{provider}/{id}", "GET /webhooks/{name}",
		"OTHER /webhooks/{name}", "POST /v1/jobs", "POST /webhooks/{name}", "unmatched"}
	if !slices.Equal(routes, want) {
		t.Errorf("route labels = %q, want %q", routes, want)
	}
}
