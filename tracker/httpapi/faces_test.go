package httpapi_test

import (
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

// faces serves the public and the admin face of one API, with the webhooks
// mounted and two stand-ins for routes added later the way every route is
// (Handle): one under /v1/ and one beside it.
func faces(t *testing.T, apiToken, metricsToken string) (public, admin *httptest.Server, api *httpapi.Server, reg *prometheus.Registry) {
	t.Helper()
	reg = prometheus.NewRegistry()
	api = httpapi.New(httpapi.Options{
		Tracker:      tracker.New(storagetest.Open(t, storage.DriverSQLite), tracker.Options{}),
		APIToken:     apiToken,
		MetricsToken: metricsToken,
		MaxBodyBytes: 4096,
		Logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
		Registry:     reg,
	})
	ok := func(w http.ResponseWriter, r *http.Request) {
		httpapi.WriteJSON(w, http.StatusOK, map[string]string{"route": r.Pattern})
	}
	api.Handle("/webhooks/{name}", ok, false)
	api.Handle("GET /v1/stand-in", ok, true)
	api.Handle("GET /reports/{name}", ok, false)
	public = httptest.NewServer(api.Face(httpapi.PublicRoutes))
	admin = httptest.NewServer(api.Face(httpapi.AdminRoutes))
	t.Cleanup(public.Close)
	t.Cleanup(admin.Close)
	return public, admin, api, reg
}

// The public face serves the webhooks and health endpoints only; the admin
// face everything else, a route added later included, and the health
// endpoints. A route of the other face is answered as no route at all.
func TestFacesSplitRoutesByPath(t *testing.T) {
	t.Parallel()
	public, admin, _, reg := faces(t, "", "")
	tests := []struct {
		method, path  string
		public, admin int
	}{
		{"GET", "/healthz", 200, 200},
		{"GET", "/readyz", 200, 200},
		{"POST", "/webhooks/openai", 200, 404},
		{"GET", "/v1/jobs", 404, 200},
		{"GET", "/v1/usage", 404, 200},
		{"GET", "/metrics", 404, 200},
		{"GET", "/ui/", 404, 200},
		{"GET", "/ui/jobs", 404, 200},
		{"GET", "/openapi.yaml", 404, 200},
		{"GET", "/v1/stand-in", 404, 200},
		{"GET", "/reports/weekly", 404, 200},
		// No spelling of a path reaches an admin route on the public face.
		{"GET", "/webhooks/%2e%2e/v1/jobs", 404, 404},
		{"GET", "/webhooks/x/../../v1/jobs", 404, 307},
		{"GET", "/nothing", 404, 404},
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, tt := range tests {
		for _, face := range []struct {
			name string
			url  string
			want int
		}{{"public", public.URL, tt.public}, {"admin", admin.URL, tt.admin}} {
			req, err := http.NewRequest(tt.method, face.url+tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != face.want {
				t.Errorf("%s %s on the %s face: %d %s, want %d", tt.method, tt.path, face.name, resp.StatusCode, b, face.want)
			}
			if resp.StatusCode == 404 && jsonError(t, tt.path, resp, string(b)) != "no such route" {
				t.Errorf("%s %s on the %s face: 404 %s, want the answer of no route", tt.method, tt.path, face.name, b)
			}
			// A redirect on the public face must not lead to an admin route.
			if loc := resp.Header.Get("Location"); resp.StatusCode/100 == 3 && face.name == "public" {
				resp, body := get(t, "GET", public.URL+loc)
				if resp.StatusCode != 404 {
					t.Errorf("%s %s on the public face redirects to %s, which answers %d %s", tt.method, tt.path, loc, resp.StatusCode, body)
				}
			}
		}
	}
	// The refusals are counted as requests no route matched.
	if n := requests(t, reg, "unmatched", "404"); n < 8 {
		t.Errorf("jobwatch_http_requests_total{route=unmatched,code=404} = %v, want the refused requests counted", n)
	}
}

// requests is the value of jobwatch_http_requests_total of a route label
// and code.
func requests(t *testing.T, reg *prometheus.Registry, route, code string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "jobwatch_http_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["route"] == route && labels["code"] == code {
				return m.GetCounter().GetValue()
			}
		}
	}
	t.Fatalf("no jobwatch_http_requests_total{route=%q,code=%q}", route, code)
	return 0
}

// /metrics asks for the metrics token when one is set, as openapi.yaml
// says, and SetMetricsToken rotates it while the server runs.
func TestMetricsTokenAndRotation(t *testing.T) {
	t.Parallel()
	_, _, api, _ := faces(t, "api-one", "scrape-one")
	admin := newServer(t, api.Face(httpapi.AdminRoutes))
	for _, tok := range []string{"", "wrong", "api-one", "scrape-oneX"} {
		if code, body := do(t, "GET", admin.URL+"/metrics", tok, ""); code != 401 || strings.Contains(body, "scrape-one") {
			t.Errorf("/metrics with token %q: %d %s, want 401 without the token", tok, code, body)
		}
	}
	if code, body := do(t, "GET", admin.URL+"/metrics", "scrape-one", ""); code != 200 || !strings.Contains(body, "jobwatch_http_requests_total") {
		t.Errorf("/metrics with its token: %d, want 200 with the metrics", code)
	}
	if code, _ := do(t, "GET", admin.URL+"/v1/jobs", "scrape-one", ""); code != 401 {
		t.Errorf("/v1/jobs with the metrics token: %d, want 401", code)
	}

	api.SetMetricsToken("scrape-two")
	for _, c := range []struct {
		path, token string
		want        int
	}{
		{"/metrics", "scrape-one", 401},
		{"/metrics", "scrape-two", 200},
		{"/v1/jobs", "api-one", 200},
		{"/v1/jobs", "scrape-two", 401},
	} {
		if code, _ := do(t, "GET", admin.URL+c.path, c.token, ""); code != c.want {
			t.Errorf("after the rotation, %s with %q: %d, want %d", c.path, c.token, code, c.want)
		}
	}
	api.SetMetricsToken("")
	if code, _ := do(t, "GET", admin.URL+"/metrics", "", ""); code != 200 {
		t.Errorf("/metrics once its token is unset: %d, want 200", code)
	}
}
