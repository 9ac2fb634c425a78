package bench_test

import (
	"bytes"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/tracker/bench"
)

// backends runs fn per storage backend; PostgreSQL only when
// $JOBWATCH_TEST_POSTGRES_DSN names a server.
func backends(t *testing.T, fn func(t *testing.T, storage, dsn string)) {
	for _, storage := range []string{"sqlite", "postgres"} {
		t.Run(storage, func(t *testing.T) {
			dsn := ""
			if storage == "postgres" {
				if dsn = os.Getenv(bench.EnvPostgresDSN); dsn == "" {
					t.Skipf("set %s to run the PostgreSQL bench", bench.EnvPostgresDSN)
				}
			}
			fn(t, storage, dsn)
		})
	}
}

// printed checks that every line print writes is "name: value", and the last
// one the summary.
func printed(t *testing.T, print func(*bytes.Buffer), summaryPrefix string) {
	t.Helper()
	var b bytes.Buffer
	print(&b)
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	figure := regexp.MustCompile(`^[a-zA-Z0-9/ ]+: \S`)
	for _, l := range lines {
		if !figure.MatchString(l) {
			t.Errorf("line %q is not \"name: value\"", l)
		}
	}
	if last := lines[len(lines)-1]; !strings.HasPrefix(last, summaryPrefix) {
		t.Errorf("last line %q, want the summary %q...", last, summaryPrefix)
	}
	t.Logf("\n%s", b.String())
}

func TestIngest(t *testing.T) {
	backends(t, func(t *testing.T, storage, dsn string) {
		res, err := bench.Ingest(t.Context(), bench.IngestOptions{Storage: storage, DSN: dsn, Concurrency: 4, Duration: 500 * time.Millisecond, Floor: true})
		if err != nil {
			t.Fatal(err)
		}
		if res.Floor == nil || res.Floor.OK == 0 || res.Floor.Errors != 0 {
			t.Errorf("floor receiver: %+v; want some deliveries answered 2xx and no error", res.Floor)
		}
		if res.Jobwatch.OK == 0 || res.Baseline.OK == 0 {
			t.Errorf("answered 2xx: jobwatch %d, baseline %d; want some of each", res.Jobwatch.OK, res.Baseline.OK)
		}
		if res.Jobwatch.Errors != 0 || res.Baseline.Errors != 0 {
			t.Errorf("errors: jobwatch %d (%s), baseline %d (%s)", res.Jobwatch.Errors, res.Jobwatch.FirstError, res.Baseline.Errors, res.Baseline.FirstError)
		}
		if res.Stored != res.Jobwatch.OK {
			t.Errorf("stored %d events, answered %d", res.Stored, res.Jobwatch.OK)
		}
		printed(t, func(b *bytes.Buffer) { res.Print(b) }, "summary: ingest "+storage+" c=4 500ms: ")
		var out bytes.Buffer
		res.Print(&out)
		if !strings.Contains(out.String(), "\njobwatch / floor: ") {
			t.Errorf("no jobwatch / floor line in:\n%s", out.String())
		}
	})
}

func TestSweep(t *testing.T) {
	backends(t, func(t *testing.T, storage, dsn string) {
		res, err := bench.Sweep(t.Context(), bench.SweepOptions{Storage: storage, DSN: dsn, Jobs: 2000, Due: 300, BatchSize: 100, PollConcurrency: 8})
		if err != nil {
			t.Fatal(err)
		}
		if res.Polled != 300 || res.Failed != 0 || res.StillDue != 0 || res.Priced != 300 {
			t.Errorf("polled %d, failed %d, still due %d, priced %d; want 300, 0, 0, 300", res.Polled, res.Failed, res.StillDue, res.Priced)
		}
		// 3 full claims of 100, one empty one ending the first sweep, one
		// empty one proving nothing is left.
		if len(res.Claims) != 5 {
			t.Errorf("%d claims, want 5", len(res.Claims))
		}
		printed(t, func(b *bytes.Buffer) { res.Print(b) }, "summary: sweep "+storage+" jobs=2000 due=300 ")
	})
}

func TestSQLiteDSNMustBeNew(t *testing.T) {
	path := t.TempDir() + "/existing.db"
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := bench.Sweep(t.Context(), bench.SweepOptions{Storage: "sqlite", DSN: path, Jobs: 10, Due: 1}); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("err = %v, want the file named as already existing", err)
	}
	dsn := "file:" + t.TempDir() + "/new.db?_pragma=cache_size(-2000)"
	if _, err := bench.Sweep(t.Context(), bench.SweepOptions{Storage: "sqlite", DSN: dsn, Jobs: 10, Due: 1}); err == nil || !strings.Contains(err.Error(), "name a file path") {
		t.Errorf("err = %v, want a file: DSN refused", err)
	}
}

func TestIngestRegistered(t *testing.T) {
	backends(t, func(t *testing.T, storage, dsn string) {
		res, err := bench.Ingest(t.Context(), bench.IngestOptions{Storage: storage, DSN: dsn, Workload: bench.WorkloadRegistered,
			Concurrency: 4, Duration: time.Second, Rounds: 2})
		if err != nil {
			t.Fatal(err)
		}
		r := res.Registered
		if r == nil {
			t.Fatal("no registered figures")
		}
		if res.Jobwatch.Errors != 0 {
			t.Errorf("jobwatch errors: %d (%s)", res.Jobwatch.Errors, res.Jobwatch.FirstError)
		}
		if r.OpenAIEnds == 0 || r.MythicDotEnds == 0 || r.OpenAIEnds+r.MythicDotEnds != r.Ends {
			t.Errorf("ends: openai %d + mythicdot %d, want both and %d in all", r.OpenAIEnds, r.MythicDotEnds, r.Ends)
		}
		// Every thin end is enriched by one poll, within the 2m enrich wait.
		if r.Polls != r.OpenAIEnds {
			t.Errorf("%d enrichment polls for %d thin ends", r.Polls, r.OpenAIEnds)
		}
		if r.Alerts != r.Ends || r.Missing != 0 || r.Extra != 0 || r.Unexpected != 0 {
			t.Errorf("%d alerts for %d ends: %d missing, %d extra, %d unexpected", r.Alerts, r.Ends, r.Missing, r.Extra, r.Unexpected)
		}
		if r.Duplicates == 0 || r.Stale == 0 {
			t.Errorf("redeliveries %d, stale events %d; want some of each", r.Duplicates, r.Stale)
		}
		if r.P50 <= 0 || r.P99 < r.P50 {
			t.Errorf("end to end p50 %s, p99 %s", r.P50, r.P99)
		}
		if want := res.Jobwatch.OK - r.Duplicates; res.Stored != want {
			t.Errorf("stored %d events, want %d", res.Stored, want)
		}
		printed(t, func(b *bytes.Buffer) { res.Print(b) }, "summary: ingest registered "+storage+" c=4 1s: ")
	})
}

// Two daemons on one PostgreSQL database, the deliveries spread over them
// and both sweeping: still one alert per end, one enrichment poll per thin
// end and no job polled twice, every event stored once.
func TestIngestRegisteredReplicas(t *testing.T) {
	dsn := os.Getenv(bench.EnvPostgresDSN)
	if dsn == "" {
		t.Skipf("set %s to run the PostgreSQL bench", bench.EnvPostgresDSN)
	}
	res, err := bench.Ingest(t.Context(), bench.IngestOptions{Storage: "postgres", DSN: dsn, Workload: bench.WorkloadRegistered,
		Concurrency: 4, Duration: time.Second, Rounds: 2, Replicas: 2})
	if err != nil {
		t.Fatal(err)
	}
	r := res.Registered
	if res.Replicas != 2 || r == nil {
		t.Fatalf("replicas %d, registered figures %v; want 2 and some", res.Replicas, r)
	}
	if res.Jobwatch.Errors != 0 {
		t.Errorf("jobwatch errors: %d (%s)", res.Jobwatch.Errors, res.Jobwatch.FirstError)
	}
	if r.OpenAIEnds == 0 || r.Polls != r.OpenAIEnds || r.PolledTwice != 0 {
		t.Errorf("%d enrichment polls for %d thin ends, %d jobs polled more than once", r.Polls, r.OpenAIEnds, r.PolledTwice)
	}
	if r.Alerts != r.Ends || r.Missing != 0 || r.Extra != 0 || r.Unexpected != 0 {
		t.Errorf("%d alerts for %d ends: %d missing, %d extra, %d unexpected", r.Alerts, r.Ends, r.Missing, r.Extra, r.Unexpected)
	}
	if want := res.Jobwatch.OK - r.Duplicates; res.Stored != want {
		t.Errorf("stored %d events, want %d", res.Stored, want)
	}
	printed(t, func(b *bytes.Buffer) { res.Print(b) }, "summary: ingest registered postgres c=4 1s: ")
}

func TestReplicasNeedPostgres(t *testing.T) {
	if _, err := bench.Ingest(t.Context(), bench.IngestOptions{Storage: "sqlite", Replicas: 2}); err == nil || !strings.Contains(err.Error(), "postgres") {
		t.Errorf("err = %v, want replicas refused without postgres", err)
	}
}
