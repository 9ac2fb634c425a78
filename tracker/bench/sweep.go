package bench

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime/debug"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jobwatch/jobwatch/storage"
	"github.com/jobwatch/jobwatch/tracker"
	"github.com/jobwatch/jobwatch/tracker/config"
	"github.com/jobwatch/jobwatch/tracker/daemon"
	"github.com/jobwatch/jobwatch/tracker/sweep"
)

// SweepOptions configure Sweep.
type SweepOptions struct {
	// Storage is "sqlite" or "postgres".
	Storage string
	// DSN is as in IngestOptions.
	DSN string
	// Jobs is how many tracked jobs are seeded. Default 1,000,000.
	Jobs int
	// Due is how many of them are due for a poll. Default 100,000.
	Due int
	// BatchSize is how many due jobs one claim takes ([sweep] batch_size).
	// Default sweep.DefaultBatchSize.
	BatchSize int
	// PollConcurrency is how many polls are in flight at once
	// ([providers.poll] concurrency). Default 64.
	PollConcurrency int
	// LogOutput receives the sweep's error log; nil discards it.
	LogOutput io.Writer
	// CPUProfile, when set, receives a CPU profile of the sweeps.
	CPUProfile io.Writer
}

// SweepResult is what Sweep measured.
type SweepResult struct {
	Storage         string
	Jobs, Due       int
	BatchSize       int
	PollConcurrency int
	// SeedTime is how long seeding took (not part of the measure).
	SeedTime time.Duration
	// Polled is how many polls the fake provider answered; it should equal Due.
	Polled int
	// Failed is how many polls the sweeps counted as failed.
	Failed int
	// StillDue is how many jobs were due after the sweeps; it should be 0.
	StillDue int
	// Priced is how many jobs have a cost after the sweeps; it should
	// equal Due (each poll ends its job with a priced model and usage).
	Priced int
	// Elapsed is the time of the sweeps, from the first claim to the one
	// that found nothing.
	Elapsed time.Duration
	// Claims are the durations of every claim query, in order.
	Claims []time.Duration
	// ClaimP50 and ClaimP99 are percentiles of Claims.
	ClaimP50, ClaimP99 time.Duration
	// PeakRSS is the process's peak resident set size during the sweeps,
	// in bytes (0 where the kernel does not say).
	PeakRSS int64
}

// PerSecond is the poll rate.
func (r SweepResult) PerSecond() float64 { return perSecond(r.Polled, r.Elapsed) }

// Print writes the figures, one "name: value" per line, and a summary line.
func (r SweepResult) Print(w io.Writer) {
	rss := float64(r.PeakRSS) / (1 << 20)
	fmt.Fprintf(w, "jobs: %d\n", r.Jobs)
	fmt.Fprintf(w, "due: %d\n", r.Due)
	fmt.Fprintf(w, "seed time: %s\n", r.SeedTime.Round(time.Millisecond))
	fmt.Fprintf(w, "polled: %d\n", r.Polled)
	fmt.Fprintf(w, "failed polls: %d\n", r.Failed)
	fmt.Fprintf(w, "still due: %d\n", r.StillDue)
	fmt.Fprintf(w, "priced: %d\n", r.Priced)
	fmt.Fprintf(w, "total time: %s\n", r.Elapsed.Round(time.Millisecond))
	fmt.Fprintf(w, "polls/s: %.0f\n", r.PerSecond())
	fmt.Fprintf(w, "claim batches: %d\n", len(r.Claims))
	fmt.Fprintf(w, "claim p50: %s\n", ms(r.ClaimP50))
	fmt.Fprintf(w, "claim p99: %s\n", ms(r.ClaimP99))
	fmt.Fprintf(w, "peak RSS: %.0f MB\n", rss)
	fmt.Fprintf(w, "summary: sweep %s jobs=%d due=%d batch=%d poll-concurrency=%d: polled %d in %s (%.0f polls/s), claim p50 %s p99 %s, peak RSS %.0f MB\n",
		r.Storage, r.Jobs, r.Due, r.BatchSize, r.PollConcurrency, r.Polled, r.Elapsed.Round(time.Millisecond), r.PerSecond(),
		ms(r.ClaimP50), ms(r.ClaimP99), rss)
}

// Sweep seeds opts.Jobs tracked jobs, the first opts.Due of them due, and
// runs sweeps against a local fake provider until a claim finds nothing due,
// timing the whole and each claim. A fake provider that did not answer
// exactly opts.Due polls, a failed poll, or a job still due after, is an
// error wrapping ErrInconsistent, returned with the complete result.
func Sweep(ctx context.Context, opts SweepOptions) (res SweepResult, err error) {
	if opts.Jobs == 0 {
		opts.Jobs = 1_000_000
	}
	if opts.Due == 0 {
		opts.Due = 100_000
	}
	if opts.BatchSize == 0 {
		opts.BatchSize = sweep.DefaultBatchSize
	}
	if opts.PollConcurrency == 0 {
		opts.PollConcurrency = 64
	}
	if opts.Jobs < 1 || opts.Due < 1 || opts.Due > opts.Jobs {
		return res, fmt.Errorf("want 1 <= due (%d) <= jobs (%d)", opts.Due, opts.Jobs)
	}
	res = SweepResult{Storage: opts.Storage, Jobs: opts.Jobs, Due: opts.Due, BatchSize: opts.BatchSize, PollConcurrency: opts.PollConcurrency}
	db, err := openDatabase(ctx, opts.Storage, opts.DSN)
	if err != nil {
		return res, err
	}
	defer db.close(ctx, &err)

	fake, err := startFakeProvider()
	if err != nil {
		return res, err
	}
	defer fake.close()
	cfg, err := config.Parse(sweepTOML(db, fake.baseURL(), opts))
	if err != nil {
		return res, fmt.Errorf("build sweep config: %w", err)
	}
	store, err := daemon.OpenStore(ctx, cfg.Storage)
	if err != nil {
		return res, fmt.Errorf("open store: %w", err)
	}
	defer store.Close()

	now := time.Now().UTC()
	t := time.Now()
	if err := seed(ctx, store, opts.Jobs, opts.Due, now); err != nil {
		return res, err
	}
	res.SeedTime = time.Since(t)

	topts := daemon.TrackerOptions(cfg)
	logOut := opts.LogOutput
	if logOut == nil {
		logOut = io.Discard
	}
	sweeper, err := daemon.NewSweeper(cfg, tracker.New(store, topts), daemon.NewLogger(cfg.Log, logOut), nil)
	if err != nil {
		return res, fmt.Errorf("build sweeper: %w", err)
	}

	// Count only the sweeps' memory, not the seeding's.
	debug.FreeOSMemory()
	resetPeakRSS()
	err = profile(opts.CPUProfile, func() error {
		start := time.Now()
		defer func() { res.Elapsed = time.Since(start) }()
		return sweepAll(ctx, sweeper, &res)
	})
	res.PeakRSS = peakRSS()
	if err != nil {
		return res, err
	}
	res.Polled = int(fake.polls.Load())
	sorted := slices.Clone(res.Claims)
	slices.Sort(sorted)
	res.ClaimP50, res.ClaimP99 = percentile(sorted, 0.50), percentile(sorted, 0.99)
	if err := store.DB().NewRaw("SELECT count(*) FROM jobs WHERE next_poll_at IS NOT NULL AND next_poll_at <= ?", time.Now().UTC()).
		Scan(ctx, &res.StillDue); err != nil {
		return res, fmt.Errorf("count jobs still due: %w", err)
	}
	if err := store.DB().NewRaw("SELECT count(*) FROM jobs WHERE cost IS NOT NULL").Scan(ctx, &res.Priced); err != nil {
		return res, fmt.Errorf("count priced jobs: %w", err)
	}
	if res.Polled != res.Due || res.Failed != 0 || res.StillDue != 0 || res.Priced != res.Due {
		return res, fmt.Errorf("%w: %d of %d due jobs polled, %d polls failed, %d jobs still due, %d priced", ErrInconsistent,
			res.Polled, res.Due, res.Failed, res.StillDue, res.Priced)
	}
	return res, nil
}

// sweepAll runs sweeps until one claims nothing, collecting their claim
// durations and poll counts in res.
func sweepAll(ctx context.Context, s *sweep.Sweeper, res *SweepResult) error {
	for {
		r, err := s.Sweep(ctx)
		if err != nil {
			return fmt.Errorf("sweep: %w", err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		res.Claims = append(res.Claims, r.ClaimDurations...)
		res.Failed += r.Failed
		if r.Claimed == 0 {
			return nil
		}
	}
}

// sweepTOML is the config of the sweep: one OpenAI provider, polled at the
// fake's URL with no rate limit to speak of, with the bookkeeping a real
// deployment has on: a price for the fake's model, so that every end is
// priced, and a stuck_after for the seeded jobs' provider status (beside
// the type's defaults) long enough that none is stuck, so that every due
// job is checked against it without raising job.stuck.
func sweepTOML(db *database, baseURL string, opts SweepOptions) string {
	return fmt.Sprintf(`[server]
listen = "127.0.0.1:0"

%s
[log]
level = "error"

[sweep]
schedule = "@every 1h"
batch_size = %d

[[providers]]
name = "openai"
type = "openai"
base_url = %s
api_key = "sk-bench"

[providers.poll]
rate_limit = 1000000
burst = 1000000
concurrency = %d

[providers.stuck_after.batch]
in_progress = "24h"

[[prices]]
provider = "openai"
model = "gpt-4o-mini*"
kind = "batch"
input_per_million = 0.075
output_per_million = 0.30
`, db.storageTOML(), opts.BatchSize, strconv.Quote(baseURL), opts.PollConcurrency)
}

// seedSelect is the rows of the seeded jobs from a series of n, with ?1 the
// number due, ?2 their creation time, ?3 the due jobs' next poll and ?4 the
// not-due live jobs'. Class c: 0 due, 1 terminal (never polled again), 2 live
// but not due for an hour. %[1]s casts a timestamp and %[2]s a JSON value,
// where the dialect needs it.
const seedSelect = `SELECT 'openai', 'batch_bench_' || n, 'batch',
	CASE c WHEN 1 THEN 'succeeded' ELSE 'running' END,
	CASE c WHEN 1 THEN 'completed' ELSE 'in_progress' END,
	'{}'%[2]s, '{}'%[2]s, '{}'%[2]s, '{}'%[2]s,
	?2%[1]s, ?2%[1]s, ?2%[1]s,
	CASE c WHEN 1 THEN ?2%[1]s END,
	CASE c WHEN 1 THEN 'poll' ELSE '' END,
	CASE c WHEN 0 THEN ?3%[1]s WHEN 2 THEN ?4%[1]s END,
	0, 0
FROM (SELECT n, CASE WHEN n <= ?1 THEN 0 WHEN (n - ?1) %% 2 = 1 THEN 1 ELSE 2 END AS c FROM %[3]s) AS j`

// seedColumns are the columns seedSelect fills: every NOT NULL one.
const seedColumns = `INSERT INTO jobs (provider, external_id, kind, status, provider_status,
	labels, usage, details, counted_usage, created_at, updated_at, last_heard_at,
	resolved_at, resolved_by, next_poll_at, quiet_polls, not_found_polls)
`

// seed inserts jobs rows, the first due of them due a minute before now, in
// one statement (so one transaction), and refreshes the planner's statistics
// (and, on PostgreSQL, vacuums the table).
func seed(ctx context.Context, store *storage.Store, jobs, due int, now time.Time) error {
	var q string
	if store.Dialect() == storage.DriverPostgres {
		q = seedColumns + fmt.Sprintf(seedSelect, "::timestamptz", "::jsonb", "generate_series(1, ?0) AS s(n)")
	} else {
		q = "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n+1 FROM s WHERE n < ?0)\n" +
			seedColumns + fmt.Sprintf(seedSelect, "", "", "s")
	}
	created := now.Add(-time.Hour)
	if _, err := store.DB().NewRaw(q, jobs, due, created, now.Add(-time.Minute), now.Add(time.Hour)).Exec(ctx); err != nil {
		return fmt.Errorf("seed %d jobs: %w", jobs, err)
	}
	analyze := "ANALYZE jobs"
	if store.Dialect() == storage.DriverPostgres {
		// Vacuum too: the autovacuum the seed's inserts call for would
		// otherwise start within a minute, in the measured sweep.
		analyze = "VACUUM (ANALYZE) jobs"
	}
	if _, err := store.DB().ExecContext(ctx, analyze); err != nil {
		return fmt.Errorf("analyze jobs: %w", err)
	}
	if store.Dialect() == storage.DriverPostgres {
		// Flush the seed's WAL now, so that the checkpoint it would cause
		// does not land in the measured sweep.
		if _, err := store.DB().ExecContext(ctx, "CHECKPOINT"); err != nil {
			return fmt.Errorf("checkpoint after seeding: %w", err)
		}
	}
	return nil
}

// fakeProvider answers every GET /v1/batches/{id} with a completed batch
// naming its model and usage, so that each poll resolves and prices its
// job, and counts them, in all and by job.
type fakeProvider struct {
	srv   *http.Server
	ln    net.Listener
	polls atomic.Int64

	mu sync.Mutex
	// byJob is how many times each batch id was polled.
	byJob map[string]int
}

func startFakeProvider() (*fakeProvider, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen for the fake provider: %w", err)
	}
	f := &fakeProvider{ln: ln, byJob: map[string]int{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/batches/{id}", func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"id":%s,"object":"batch","model":"gpt-4o-mini-2024-07-18","status":"completed","request_counts":{"total":10,"completed":10,"failed":0},`+
			`"usage":{"input_tokens":100,"output_tokens":50,"total_tokens":150},"output_file_id":"file-out"}`, strconv.Quote(id))
		f.polls.Add(1)
		f.mu.Lock()
		f.byJob[id]++
		f.mu.Unlock()
	})
	f.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go f.srv.Serve(ln)
	return f, nil
}

// polledTwice is how many jobs were polled more than once.
func (f *fakeProvider) polledTwice() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.byJob {
		if c > 1 {
			n++
		}
	}
	return n
}

// baseURL is the fake's API root, as [providers] base_url takes it.
func (f *fakeProvider) baseURL() string { return "http://" + f.ln.Addr().String() + "/v1" }

func (f *fakeProvider) close() { f.srv.Close() }
