package ingest_test

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/providers/openai"
	"github.com/jobwatch/jobwatch/storage"
	"github.com/jobwatch/jobwatch/storage/storagetest"
	"github.com/jobwatch/jobwatch/tracker"
	"github.com/jobwatch/jobwatch/tracker/ingest"
)

// Without a registry the handler registers no metrics, as a nil registry
// means in every package, and still serves.
func TestNilRegistry(t *testing.T) {
	t.Parallel()
	h := ingest.New(ingest.Options{
		Tracker:      tracker.New(storagetest.Open(t, storage.DriverSQLite), tracker.Options{}),
		Providers:    []ingest.Provider{{Name: "openai", Parser: openai.WebhookParser{}}},
		MaxBodyBytes: 4096,
		Logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	mux := http.NewServeMux()
	mux.Handle("/webhooks/{name}", h)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	resp, err := http.Post(srv.URL+"/webhooks/openai", "application/json", bytes.NewReader(openaiEvent("evt_1", "batch.completed", "batch_1", time.Now())))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("unsigned delivery to a provider without a verifier: %d, want 200", resp.StatusCode)
	}
}
