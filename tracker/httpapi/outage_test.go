package httpapi_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/jobwatch/jobwatch/storage"
	"github.com/jobwatch/jobwatch/storage/storagetest"
	"github.com/jobwatch/jobwatch/tracker"
	"github.com/jobwatch/jobwatch/tracker/httpapi"
	"github.com/jobwatch/jobwatch/tracker/internal/logtest"
)

// downStore is a real store whose job listing fails while down is set, as
// it does while the database is unreachable.
type downStore struct {
	*storage.Store
	down atomic.Bool
}

func (s *downStore) ListJobs(ctx context.Context, p tracker.ListParams) ([]tracker.Job, error) {
	if s.down.Load() {
		return nil, errors.New("dial tcp 127.0.0.1:5432: connect: connection refused")
	}
	return s.Store.ListJobs(ctx, p)
}

// TestOutageIsLoggedOnce: requests that storage fails are answered 503 and
// counted in jobwatch_http_requests_total, but logged once for the outage,
// and once at its end with the count.
func TestOutageIsLoggedOnce(t *testing.T) {
	t.Parallel()
	var logs logtest.Buffer
	store := &downStore{Store: storagetest.Open(t, storage.DriverSQLite)}
	api := httpapi.New(httpapi.Options{
		Tracker:      tracker.New(store, tracker.Options{}),
		MaxBodyBytes: 4096,
		Logger:       slog.New(slog.NewTextHandler(&logs, nil)),
		Registry:     prometheus.NewRegistry(),
	})
	srv := newServer(t, api)
	logged := logs.String

	store.down.Store(true)
	for range 20 {
		if code, resp := do(t, http.MethodGet, srv.URL+"/v1/jobs", "", ""); code != http.StatusServiceUnavailable {
			t.Fatalf("GET /v1/jobs with storage down: %d %s, want 503", code, resp)
		}
	}
	if n := strings.Count(logged(), "\n"); n != 1 || !strings.Contains(logged(), "level=ERROR") {
		t.Fatalf("log of 20 failed requests (%d lines), want one error:\n%s", n, logged())
	}
	store.down.Store(false)
	if code, resp := do(t, http.MethodGet, srv.URL+"/v1/jobs", "", ""); code != http.StatusOK {
		t.Fatalf("GET /v1/jobs with storage back: %d %s", code, resp)
	}
	lines := strings.Split(strings.TrimSpace(logged()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[1], "storage available again") || !strings.Contains(lines[1], "failed_requests=20") {
		t.Fatalf("log after the outage, want its end with 20 failed requests:\n%s", logged())
	}
}
