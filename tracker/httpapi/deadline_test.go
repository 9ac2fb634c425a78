package httpapi_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/jobwatch/jobwatch/storage"
	"github.com/jobwatch/jobwatch/storage/storagetest"
	"github.com/jobwatch/jobwatch/tracker"
	"github.com/jobwatch/jobwatch/tracker/httpapi"
)

// frozenStore is a real store whose registrations wait for as long as
// their context lets them, as on a PostgreSQL server that stopped
// answering.
type frozenStore struct{ *storage.Store }

func (frozenStore) CreateJob(ctx context.Context, _ tracker.Job) (tracker.Job, bool, error) {
	<-ctx.Done()
	return tracker.Job{}, false, ctx.Err()
}

// TestRequestsAnswerWithinTheirDeadline: with storage hung, a request is
// answered 503 once RequestTimeout has passed, not never.
func TestRequestsAnswerWithinTheirDeadline(t *testing.T) {
	t.Parallel()
	store := frozenStore{storagetest.Open(t, storage.DriverSQLite)}
	srv := newServer(t, httpapi.New(httpapi.Options{
		Tracker:        tracker.New(store, tracker.Options{}),
		MaxBodyBytes:   4096,
		Logger:         slog.New(slog.NewTextHandler(io.Discard, nil)),
		Registry:       prometheus.NewRegistry(),
		RequestTimeout: 200 * time.Millisecond,
	}))
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Post(srv.URL+"/v1/jobs", "application/json", strings.NewReader(`{"provider":"openai","kind":"batch","id":"batch_1"}`))
	if err != nil {
		t.Fatalf("POST /v1/jobs with storage hung: %v; want a 503 after the request timeout", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("POST /v1/jobs with storage hung: %d, want 503", resp.StatusCode)
	}
}
