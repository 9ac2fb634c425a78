package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/storage"
	"github.com/jobwatch/jobwatch/storage/storagetest"
	"github.com/jobwatch/jobwatch/tracker"
)

// A backup taken while the daemon keeps registering jobs opens, passes
// SQLite's integrity check and holds every job registered before it began.
func TestBackupWhileTheDaemonWrites(t *testing.T) {
	t.Parallel()
	path, url := writeConfig(t, storagetest.Config(t, storage.DriverSQLite), "[[providers]]\nname = \"openai\"\ntype = \"openai\"\n")
	startDaemon(t, path, url)
	ctx := context.Background()
	client := tracker.NewClient(url)

	var (
		mu      sync.Mutex
		tracked []string
		wg      sync.WaitGroup
		werr    error
	)
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			id := fmt.Sprintf("batch_%d", i)
			if _, _, err := client.Track(ctx, tracker.TrackRequest{Provider: "openai", Kind: tracker.KindBatch, ExternalID: id}); err != nil {
				werr = err
				return
			}
			mu.Lock()
			tracked = append(tracked, id)
			mu.Unlock()
		}
	}()
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(tracked) }
	eventually(t, 10*time.Second, "the writer registers jobs", func() bool { return count() >= 50 })
	mu.Lock()
	before := append([]string(nil), tracked...)
	mu.Unlock()

	backup := filepath.Join(t.TempDir(), "backup.db")
	var stdout, stderr bytes.Buffer
	code := run(ctx, []string{"backup", backup, "--config", path}, &stdout, &stderr)
	n := count()
	close(stop)
	wg.Wait()
	if werr != nil {
		t.Fatalf("the writer failed: %v", werr)
	}
	if code != 0 {
		t.Fatalf("jobwatch backup: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	if n == len(before) {
		t.Errorf("no job was registered while the backup ran")
	}

	s, err := storage.Open(ctx, storage.Config{Driver: storage.DriverSQLite, DSN: backup})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var check string
	if err := s.DB().NewRaw("PRAGMA integrity_check").Scan(ctx, &check); err != nil || check != "ok" {
		t.Fatalf("integrity_check of the backup = %q, %v", check, err)
	}
	for _, id := range before {
		if _, err := s.GetJob(ctx, "openai", id); err != nil {
			t.Fatalf("job %s, registered before the backup, is not in it: %v", id, err)
		}
	}

	// A backup never overwrites a file.
	stdout.Reset()
	stderr.Reset()
	if code := run(ctx, []string{"backup", backup, "--config", path}, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "the file exists") {
		t.Errorf("backup over an existing file: exit %d\n%s", code, stderr.String())
	}
	// A PostgreSQL store is pg_dump's to back up.
	pgPath, _ := writeConfig(t, storage.Config{Driver: storage.DriverPostgres, DSN: "postgres://jobwatch:s3cret@127.0.0.1:1/jobwatch"}, "")
	stderr.Reset()
	if code := run(ctx, []string{"backup", filepath.Join(t.TempDir(), "b.db"), "--config", pgPath}, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "pg_dump") {
		t.Errorf("backup of a PostgreSQL store: exit %d\n%s", code, stderr.String())
	}
}

// A SQLite store filled by the daemon (jobs of three providers with their
// history, webhook deliveries, usage, a threshold crossing, alerts sent,
// pending and dead) moves to PostgreSQL whole, and back; a daemon on the
// PostgreSQL store then registers and alerts with fresh ids.
func TestMigrateStoreSQLiteToPostgres(t *testing.T) {
	t.Parallel()
	pgDSN := storagetest.PostgresDSN(t)
	rc := &receiver{}
	okSrv := httptest.NewServer(rc)
	t.Cleanup(okSrv.Close)
	answer := func(code int) *httptest.Server {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(code) }))
		t.Cleanup(srv.Close)
		return srv
	}
	badSrv, downSrv := answer(http.StatusBadRequest), answer(http.StatusServiceUnavailable)
	extra := alertConfig(fmt.Sprintf(`
[[providers]]
name = "openai"
type = "openai"

[[providers]]
name = "claude"
type = "anthropic"
base_url = %q
api_key = "sk-ant-test"

[[notifiers]]
name = "ok"
type = "webhook"
url = %q
secret = %q

[[notifiers]]
name = "bad"
type = "webhook"
url = %q
secret = %q

[[notifiers]]
name = "down"
type = "webhook"
url = %q
secret = %q

[[routes]]
events = ["job.failed"]
notifiers = ["ok", "bad", "down"]

[[routes]]
events = ["usage.threshold"]
notifiers = ["ok"]
repeat_interval = "1h"

[[thresholds]]
name = "daily-tokens"
metric = "tokens"
window = "day"
limit = 100
levels = [1.0]
`, downSrv.URL, okSrv.URL, downstreamSecret, badSrv.URL, downstreamSecret, downSrv.URL, downstreamSecret))
	sqlitePath := filepath.Join(t.TempDir(), "jobwatch.db")
	path, url := writeConfig(t, storage.Config{Driver: storage.DriverSQLite, DSN: sqlitePath}, extra)
	d := startDaemon(t, path, url)
	ctx := context.Background()
	client := tracker.NewClient(url)
	for _, req := range []tracker.TrackRequest{
		{Provider: "openai", Kind: tracker.KindBatch, ExternalID: "batch_a", Model: "gpt-4o-mini", Labels: map[string]string{"team": "search"}},
		{Provider: "openai", Kind: tracker.KindEvalRun, ExternalID: "evalrun_1", ParentID: "eval_1", Metadata: []byte(`{"ticket":42}`)},
		{Provider: "claude", Kind: tracker.KindBatch, ExternalID: "msgbatch_1"},
	} {
		if _, _, err := client.Track(ctx, req); err != nil {
			t.Fatal(err)
		}
	}
	postMythic(t, url, []byte(`{"id":"evt_r1","type":"batch.in_progress","created":1706140700,"data":{"object":{"id":"batch_m","status":"in_progress"}}}`))
	postMythic(t, url, []byte(`{"id":"evt_c1","type":"batch.completed","created":1706140800,"data":{"object":{"id":"batch_m","status":"completed",
"request_counts":{"total":4,"completed":4,"failed":0},"usage":{"input_tokens":100,"output_tokens":50,"total_tokens":150}}}}`))
	postMythic(t, url, []byte(`{"id":"evt_f1","type":"batch.failed","created":1706140800,"data":{"object":{"id":"batch_bad","status":"failed"}}}`))
	postMythic(t, url, []byte(`{"id":"evt_f1","type":"batch.failed","created":1706140800,"data":{"object":{"id":"batch_bad","status":"failed"}}}`)) // a duplicate
	eventually(t, 10*time.Second, "alerts sent, pending after a failure, and dead", func() bool {
		sent, _ := client.Alerts(ctx, tracker.AlertSent, 10)
		dead, _ := client.Alerts(ctx, tracker.AlertDead, 10)
		pending, _ := client.Alerts(ctx, tracker.AlertPending, 10)
		return len(sent) == 2 && len(dead) == 1 && len(pending) == 1 && pending[0].Attempts > 0
	})
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	d.cmd.Wait()

	var stdout, stderr bytes.Buffer
	code := run(ctx, []string{"migrate-store", "--from", "sqlite:" + sqlitePath, "--to", "postgres:" + pgDSN}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("jobwatch migrate-store: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	for _, want := range []string{"  jobs                 5\n", "  events               3\n", "  deliveries           4\n", "  alerts               4\n", "  threshold_crossings  1\n", "  alert_repeats        1\n", "  provider_webhooks    0\n"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("migrate-store's counts lack %q:\n%s", want, stdout.String())
		}
	}

	src, err := storage.Open(ctx, storage.Config{Driver: storage.DriverSQLite, DSN: sqlitePath})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	pg := storagetest.OpenConfig(t, storage.Config{Driver: storage.DriverPostgres, DSN: pgDSN})
	compareStores(t, src, pg)

	// Again into a store that now has jobs: refused, nothing written.
	stdout.Reset()
	stderr.Reset()
	if code := run(ctx, []string{"migrate-store", "--from", "sqlite:" + sqlitePath, "--to", "postgres:" + pgDSN}, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "target store is not empty: its jobs table holds 5 rows") {
		t.Errorf("migrate-store into a store with jobs: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	compareStores(t, src, pg)

	// And back, from the PostgreSQL store's config into a new SQLite file.
	pgPath, pgURL := writeConfig(t, storage.Config{Driver: storage.DriverPostgres, DSN: pgDSN}, extra)
	back := filepath.Join(t.TempDir(), "back.db")
	stderr.Reset()
	if code := run(ctx, []string{"migrate-store", "--from-config", pgPath, "--to", "sqlite:" + back}, &stdout, &stderr); code != 0 {
		t.Fatalf("migrate-store back to SQLite: exit %d\n%s", code, stderr.String())
	}
	backStore, err := storage.Open(ctx, storage.Config{Driver: storage.DriverSQLite, DSN: back})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { backStore.Close() })
	compareStores(t, src, backStore)

	// A daemon on the PostgreSQL store gives new rows ids past the copied.
	startDaemon(t, pgPath, pgURL)
	pgClient := tracker.NewClient(pgURL)
	if _, created, err := pgClient.Track(ctx, tracker.TrackRequest{Provider: "openai", Kind: tracker.KindBatch, ExternalID: "batch_new"}); err != nil || !created {
		t.Fatalf("track on the PostgreSQL store: created %v, %v", created, err)
	}
	postMythic(t, pgURL, []byte(`{"id":"evt_f2","type":"batch.failed","created":1706140900,"data":{"object":{"id":"batch_bad2","status":"failed"}}}`))
	eventually(t, 10*time.Second, "the new failure's alert reaches the receiver", func() bool { return len(rc.got()) == 2 })
	for _, id := range []string{"batch_new", "batch_bad2"} {
		j, err := pg.GetJob(ctx, map[string]string{"batch_new": "openai", "batch_bad2": "mythicdot"}[id], id)
		if err != nil || j.ID <= 5 {
			t.Errorf("job %s on the PostgreSQL store: id %d, %v; want an id past the 5 copied", id, j.ID, err)
		}
	}
}

// compareStores fails the test unless b holds what a does: every job field
// for field, each job's history, the deliveries, today's usage, the alerts
// and as many rows of every table.
func compareStores(t *testing.T, a, b *storage.Store) {
	t.Helper()
	ctx := context.Background()
	jobsA, err := a.ListJobs(ctx, tracker.ListParams{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	jobsB, err := b.ListJobs(ctx, tracker.ListParams{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	// PostgreSQL keeps metadata as jsonb, which respaces it.
	for _, jobs := range [][]tracker.Job{jobsA, jobsB} {
		for i := range jobs {
			if m := jobs[i].Metadata; m != nil {
				var buf bytes.Buffer
				if err := json.Compact(&buf, m); err != nil {
					t.Fatal(err)
				}
				jobs[i].Metadata = buf.Bytes()
			}
		}
	}
	if len(jobsA) == 0 || !reflect.DeepEqual(jobsA, jobsB) {
		t.Fatalf("jobs differ:\n%+v\n%+v", jobsA, jobsB)
	}
	events := 0
	for _, j := range jobsA {
		ha, err := a.History(ctx, j.ID, 1000)
		if err != nil {
			t.Fatal(err)
		}
		hb, err := b.History(ctx, j.ID, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(ha, hb) {
			t.Errorf("history of %s differs:\n%+v\n%+v", j.ExternalID, ha, hb)
		}
		events += len(ha)
	}
	if events == 0 {
		t.Errorf("no job has a history to compare")
	}
	same := func(what string, get func(s *storage.Store) (any, error)) {
		t.Helper()
		va, err := get(a)
		if err != nil {
			t.Fatal(err)
		}
		vb, err := get(b)
		if err != nil {
			t.Fatal(err)
		}
		if reflect.ValueOf(va).Len() == 0 || !reflect.DeepEqual(va, vb) {
			t.Errorf("%s differ:\n%+v\n%+v", what, va, vb)
		}
	}
	same("deliveries", func(s *storage.Store) (any, error) { return s.ListDeliveries(ctx, tracker.DeliveryFilter{Limit: 1000}) })
	same("usage totals", func(s *storage.Store) (any, error) {
		return s.UsageTotals(ctx, "day", time.Now().UTC().Truncate(24*time.Hour))
	})
	same("alerts", func(s *storage.Store) (any, error) { return s.ListAlerts(ctx, "", 1000) })
	for _, table := range []string{"jobs", "events", "deliveries", "usage_totals", "threshold_crossings", "alerts", "alert_repeats", "provider_webhooks"} {
		var na, nb int64
		if err := a.DB().NewRaw("SELECT count(*) FROM "+table).Scan(ctx, &na); err != nil {
			t.Fatal(err)
		}
		if err := b.DB().NewRaw("SELECT count(*) FROM "+table).Scan(ctx, &nb); err != nil {
			t.Fatal(err)
		}
		if na != nb {
			t.Errorf("%s: %d rows, then %d", table, na, nb)
		}
	}
}
