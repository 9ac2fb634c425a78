package ingest_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/jobwatch/jobwatch/storage"
	"github.com/jobwatch/jobwatch/tracker"
	"github.com/jobwatch/jobwatch/tracker/internal/logtest"
)

// downStore is a real store whose writes fail while down is set, as they
// do while the database is unreachable.
type downStore struct {
	*storage.Store
	down atomic.Bool
}

func (s *downStore) Apply(ctx context.Context, p tracker.ApplyParams) ([]tracker.Result, error) {
	if s.down.Load() {
		return nil, errors.New("dial tcp 127.0.0.1:5432: connect: connection refused")
	}
	return s.Store.Apply(ctx, p)
}

// TestOutageIsLoggedOnce: during a storage outage every delivery is
// answered 503 and counted in the metrics, but the log says so once, and
// once more when storage is back, with the count.
func TestOutageIsLoggedOnce(t *testing.T) {
	t.Parallel()
	var logs logtest.Buffer
	var store *downStore
	e := setupWith(t, storage.DriverSQLite, options{
		logger: slog.New(slog.NewTextHandler(&logs, nil)),
		store: func(s *storage.Store) tracker.Store {
			store = &downStore{Store: s}
			return store
		},
	})
	store.down.Store(true)
	const n = 50
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			body := []byte(fmt.Sprintf(`{"id":"evt_o%d","type":"batch.completed","created":1,"data":{"object":{"id":"b%d","status":"completed"}}}`, i, i))
			if code, resp := e.post(t, "mythicdot", http.Header{"X-MythicDot-Signature": {hexHMAC(mythicSecret, body)}}, body); code != 503 {
				t.Errorf("with storage down: %d %s, want 503", code, resp)
			}
		})
	}
	// Forged deliveries cannot be logged either; that is no more lines.
	for range 5 {
		e.post(t, "openai", nil, []byte("{}"))
	}
	wg.Wait()
	if got := e.counter(t, "jobwatch_webhook_deliveries_total", map[string]string{"outcome": "unavailable"}); got != n {
		t.Errorf("jobwatch_webhook_deliveries_total{outcome=unavailable} = %v, want %d", got, n)
	}
	if lines := strings.Count(logs.String(), "\n"); lines != 1 || !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), "connection refused") {
		t.Fatalf("log during the outage (%d lines), want one error:\n%s", lines, logs.String())
	}

	store.down.Store(false)
	body := []byte(`{"id":"evt_back","type":"batch.completed","created":1,"data":{"object":{"id":"b","status":"completed"}}}`)
	if code, resp := e.post(t, "mythicdot", http.Header{"X-MythicDot-Signature": {hexHMAC(mythicSecret, body)}}, body); code != 200 {
		t.Fatalf("with storage back: %d %s", code, resp)
	}
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[1], "storage available again") || !strings.Contains(lines[1], fmt.Sprintf("failed_requests=%d", n+5)) {
		t.Fatalf("log after the outage, want its end with %d failed requests:\n%s", n+5, logs.String())
	}
}
