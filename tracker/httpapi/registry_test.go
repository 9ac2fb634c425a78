package httpapi_test

import (
	"io"
	"log/slog"
	"net/http"
	"testing"

	"github.com/jobwatch/jobwatch/storage"
	"github.com/jobwatch/jobwatch/storage/storagetest"
	"github.com/jobwatch/jobwatch/tracker"
	"github.com/jobwatch/jobwatch/tracker/httpapi"
)

// Without a registry the API registers no metrics and has no /metrics, as
// a nil registry means in every package; the rest is served.
func TestNilRegistry(t *testing.T) {
	t.Parallel()
	store := storagetest.Open(t, storage.DriverSQLite)
	srv := newServer(t, httpapi.New(httpapi.Options{
		Tracker:      tracker.New(store, tracker.Options{}),
		MaxBodyBytes: 4096,
		Logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
	}))
	for path, want := range map[string]int{"/metrics": http.StatusNotFound, "/healthz": http.StatusOK, "/v1/jobs": http.StatusOK, "/v1/usage": http.StatusOK} {
		if code, body := do(t, "GET", srv.URL+path, "", ""); code != want {
			t.Errorf("GET %s: %d %s, want %d", path, code, body, want)
		}
	}
	// No poller: no poll route.
	if code, _ := do(t, "POST", srv.URL+"/v1/jobs/openai/batch_1/poll", "", ""); code != http.StatusNotFound {
		t.Errorf("POST poll without a poller: %d, want 404", code)
	}
}
