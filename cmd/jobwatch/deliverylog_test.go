package main

import (
	"context"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/storage"
	"github.com/jobwatch/jobwatch/storage/storagetest"
	"github.com/jobwatch/jobwatch/tracker"
)

// TestDeliveryLogBounds: the daemon logs a burst of forged requests up to
// the rate, writes the summary of the rest when it stops, and at its next
// start trims the log to server.delivery_max_rows, keeping the newest.
func TestDeliveryLogBounds(t *testing.T) {
	t.Parallel()
	cfg := storagetest.Config(t, storage.DriverSQLite)
	path, url := writeConfig(t, cfg, "")
	if err := os.WriteFile(path, []byte(strings.Replace(mustRead(t, path), "[server]\n", "[server]\ndelivery_max_rows = 5\n", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, path, url)
	const forged = 100
	for range forged {
		resp, err := http.Post(url+"/webhooks/nobody", "application/json", strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Fatalf("forged request: %d, want 404", resp.StatusCode)
		}
	}
	if err := d.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if err := d.cmd.Wait(); err != nil {
		t.Fatalf("jobwatch serve stopped with %v; logs:\n%s", err, d.logs)
	}

	store, err := storage.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	list := func() []tracker.Delivery {
		t.Helper()
		ds, err := store.ListDeliveries(context.Background(), tracker.DeliveryFilter{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		return ds
	}
	// A burst of 10 and the rate's refills while the requests took are
	// logged; the summary, written at the stop, says the rest.
	ds := list()
	summed, err := strconv.Atoi(strings.SplitN(ds[0].Reason, " ", 2)[0])
	if err != nil || !strings.Contains(ds[0].Reason, "more unknown_provider deliveries") || len(ds) < 11 || len(ds)-1+summed != forged {
		t.Fatalf("after the daemon stopped, %d rows, newest %+v; want at least 10 logged and a summary of the rest", len(ds), ds[0])
	}
	summary := ds[0].Reason

	startDaemon(t, path, url)
	deadline := time.Now().Add(10 * time.Second)
	for len(ds) > 5 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		ds = list()
	}
	if len(ds) != 5 || ds[0].Reason != summary {
		t.Fatalf("after a start with delivery_max_rows = 5, %d rows, newest %+v; want the newest 5", len(ds), ds[0])
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
