package bench

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jobwatch/jobwatch/providers/signature"
	"github.com/jobwatch/jobwatch/tracker/config"
	"github.com/jobwatch/jobwatch/tracker/daemon"
)

// IngestOptions configure Ingest.
type IngestOptions struct {
	// Storage is "sqlite" or "postgres".
	Storage string
	// DSN is, for SQLite, a database file that must not exist yet (empty: a
	// temporary file, removed after); for PostgreSQL, an admin DSN through
	// which the run's own database is created and dropped (empty:
	// $JOBWATCH_TEST_POSTGRES_DSN, then DefaultPostgresDSN).
	DSN string
	// Concurrency is how many senders post at once. Default 32.
	Concurrency int
	// Duration is how long each server is driven in all. Default 10s.
	Duration time.Duration
	// Rounds is how many turns each server's driving is split into, the
	// two servers taking turns (baseline, jobwatch, baseline, ...), so that
	// a machine whose speed drifts during the run (a shared one) slows both
	// alike and the ratio stays comparable. Default 5.
	Rounds int
	// LogOutput receives the daemon's error log; nil discards it.
	LogOutput io.Writer
	// CPUProfile, when set, receives a CPU profile of the driven rounds,
	// both servers' (the baseline's requests run in receiver).
	CPUProfile io.Writer
}

// ServerStats is how one server fared under the load.
type ServerStats struct {
	// Requests is how many requests were sent.
	Requests int
	// OK is how many were answered 2xx.
	OK int
	// Errors is how many were answered otherwise or failed in transport.
	Errors int
	// FirstError describes the first error, if any.
	FirstError string
	// Elapsed is the time from the first request to the last answer, added
	// up over the rounds.
	Elapsed time.Duration
	// P50, P99 and Max are latencies of all requests, errors included.
	P50, P99, Max time.Duration

	latencies []time.Duration // sorted
}

// PerSecond is the request rate.
func (s ServerStats) PerSecond() float64 { return perSecond(s.Requests, s.Elapsed) }

// IngestResult is what Ingest measured.
type IngestResult struct {
	Storage     string
	Concurrency int
	Duration    time.Duration
	Rounds      int
	// Baseline is the server that only reads, verifies and parses.
	Baseline ServerStats
	// Jobwatch is the daemon's webhook endpoint.
	Jobwatch ServerStats
	// Stored is how many accepted events the daemon's storage holds after
	// the run; it should equal Jobwatch.OK.
	Stored int
}

// Ratio is jobwatch's request rate over the baseline's.
func (r IngestResult) Ratio() float64 {
	if b := r.Baseline.PerSecond(); b > 0 {
		return r.Jobwatch.PerSecond() / b
	}
	return 0
}

// Print writes the figures, one "name: value" per line, and a summary line.
func (r IngestResult) Print(w io.Writer) {
	for _, s := range []struct {
		name string
		st   ServerStats
	}{{"baseline", r.Baseline}, {"jobwatch", r.Jobwatch}} {
		fmt.Fprintf(w, "%s requests: %d\n", s.name, s.st.Requests)
		fmt.Fprintf(w, "%s requests/s: %.0f\n", s.name, s.st.PerSecond())
		fmt.Fprintf(w, "%s p50: %s\n", s.name, ms(s.st.P50))
		fmt.Fprintf(w, "%s p99: %s\n", s.name, ms(s.st.P99))
		fmt.Fprintf(w, "%s max: %s\n", s.name, ms(s.st.Max))
		fmt.Fprintf(w, "%s errors: %d\n", s.name, s.st.Errors)
		if s.st.FirstError != "" {
			fmt.Fprintf(w, "%s first error: %s\n", s.name, s.st.FirstError)
		}
	}
	fmt.Fprintf(w, "ratio: %.2f\n", r.Ratio())
	fmt.Fprintf(w, "answered 2xx: %d\n", r.Jobwatch.OK)
	fmt.Fprintf(w, "stored events: %d\n", r.Stored)
	rel := "="
	if r.Stored != r.Jobwatch.OK {
		rel = "!="
	}
	fmt.Fprintf(w, "rounds: %d\n", r.Rounds)
	fmt.Fprintf(w, "summary: ingest %s c=%d %s: jobwatch %.0f req/s p99 %s, baseline %.0f req/s, ratio %.2f, stored %d %s answered %d\n",
		r.Storage, r.Concurrency, r.Duration, r.Jobwatch.PerSecond(), ms(r.Jobwatch.P99), r.Baseline.PerSecond(), r.Ratio(), r.Stored, rel, r.Jobwatch.OK)
}

// Ingest drives a baseline server and the daemon's webhook endpoint
// in-process, each for opts.Duration in all, in opts.Rounds alternating
// turns, with the same signed-event generator, and then counts the events
// the daemon stored. A count that differs from the deliveries answered 2xx
// is an error wrapping ErrInconsistent, returned with the complete result.
func Ingest(ctx context.Context, opts IngestOptions) (res IngestResult, err error) {
	opts.Concurrency = cmp.Or(opts.Concurrency, 32)
	opts.Duration = cmp.Or(opts.Duration, 10*time.Second)
	opts.Rounds = cmp.Or(opts.Rounds, 5)
	if opts.Concurrency < 1 || opts.Duration < 0 || opts.Rounds < 1 {
		return res, fmt.Errorf("concurrency %d, duration %s and rounds %d must be positive", opts.Concurrency, opts.Duration, opts.Rounds)
	}
	res = IngestResult{Storage: opts.Storage, Concurrency: opts.Concurrency, Duration: opts.Duration, Rounds: opts.Rounds}
	db, err := openDatabase(ctx, opts.Storage, opts.DSN)
	if err != nil {
		return res, err
	}
	defer db.close(ctx, &err)

	secret := newSecret()
	cfg, err := config.Parse(ingestTOML(db, secret))
	if err != nil {
		return res, fmt.Errorf("build daemon config: %w", err)
	}
	sigCfg := signature.Config{Scheme: signature.SchemeStandardWebhooks, Secrets: []string{secret}, Tolerance: 5 * time.Minute}
	gen, err := newGenerator(sigCfg)
	if err != nil {
		return res, err
	}
	baseURL, stopBaseline, err := startBaseline(sigCfg, cfg.Server.MaxBodyBytes)
	if err != nil {
		return res, err
	}
	defer stopBaseline()
	jobwatchURL, stopDaemon, err := startDaemon(ctx, cfg, opts.LogOutput)
	if err != nil {
		return res, err
	}

	err = profile(opts.CPUProfile, func() error {
		var err error
		res.Baseline, res.Jobwatch, err = gen.takeTurns(ctx, baseURL, jobwatchURL, opts.Concurrency, opts.Rounds, opts.Duration/time.Duration(opts.Rounds))
		return err
	})
	if err = errors.Join(err, stopDaemon()); err != nil {
		return res, err
	}
	if res.Stored, err = countEvents(ctx, cfg); err != nil {
		return res, err
	}
	if res.Stored != res.Jobwatch.OK {
		return res, fmt.Errorf("%w: %d events stored, %d deliveries answered 2xx", ErrInconsistent, res.Stored, res.Jobwatch.OK)
	}
	return res, nil
}

// ingestTOML is the daemon's config: one OpenAI webhook endpoint, no sweep
// during the run, errors only in the log.
func ingestTOML(db *database, secret string) string {
	return fmt.Sprintf(`[server]
listen = "127.0.0.1:0"

%s
[log]
level = "error"

[sweep]
schedule = "@every 1h"

[[providers]]
name = "openai"
type = "openai"

[providers.webhook]
secrets = [%s]
tolerance = "5m"
`, db.storageTOML(), strconv.Quote(secret))
}

// newSecret returns a random Standard Webhooks secret.
func newSecret() string {
	b := make([]byte, 32)
	rand.Read(b)
	return "whsec_" + base64.StdEncoding.EncodeToString(b)
}

// startBaseline serves a server that reads, verifies and parses each
// delivery, and stores nothing: what any webhook receiver must do at the
// least. It returns the URL to post to and how to stop it.
func startBaseline(sigCfg signature.Config, maxBody int64) (string, func(), error) {
	return startReceiver(sigCfg, maxBody, nil)
}

// startReceiver serves receiver(sigCfg's verifier, maxBody, keep) and
// returns the URL to post to and how to stop it.
func startReceiver(sigCfg signature.Config, maxBody int64, keep func(thinEvent, []byte) error) (string, func(), error) {
	verifier, err := signature.New(sigCfg)
	if err != nil {
		return "", nil, fmt.Errorf("build receiver's verifier: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("listen for the receiver: %w", err)
	}
	srv := &http.Server{Handler: receiver(verifier, maxBody, keep), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return "http://" + ln.Addr().String() + "/webhooks/openai", func() { srv.Close() }, nil
}

// thinEvent is an OpenAI thin event, as the baseline parses it.
type thinEvent struct {
	ID        string `json:"id"`
	Object    string `json:"object"`
	CreatedAt int64  `json:"created_at"`
	Type      string `json:"type"`
	Data      struct {
		ID string `json:"id"`
	} `json:"data"`
}

// receiver reads the body under the same cap as the daemon, verifies its
// signature, parses it, hands it to keep unless keep is nil, and accepts it.
func receiver(v signature.Verifier, maxBody int64, keep func(thinEvent, []byte) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
		if err != nil {
			http.Error(w, "could not read body", http.StatusBadRequest)
			return
		}
		if err := v.Verify(r.Header, body, time.Now()); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		var ev thinEvent
		if err := json.Unmarshal(body, &ev); err != nil {
			http.Error(w, "payload: "+err.Error(), http.StatusBadRequest)
			return
		}
		if keep != nil {
			if err := keep(ev, body); err != nil {
				http.Error(w, "keep: "+err.Error(), http.StatusServiceUnavailable)
				return
			}
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"status":"accepted"}`)
	}
}

// startDaemon runs the daemon from cfg, its error log to logOut (nil:
// discarded), and returns the URL of its webhook endpoint and how to stop
// it.
func startDaemon(ctx context.Context, cfg config.Config, logOut io.Writer) (string, func() error, error) {
	if logOut == nil {
		logOut = io.Discard
	}
	d, err := daemon.New(ctx, cfg, daemon.NewLogger(cfg.Log, logOut))
	if err != nil {
		return "", nil, fmt.Errorf("start daemon: %w", err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- d.Run(runCtx) }()
	return "http://" + d.Addr().String() + "/webhooks/openai", func() error {
		stop()
		if err := <-done; err != nil {
			return fmt.Errorf("run daemon: %w", err)
		}
		return nil
	}, nil
}

// countEvents counts the events the daemon stored.
func countEvents(ctx context.Context, cfg config.Config) (int, error) {
	store, err := daemon.OpenStore(ctx, cfg.Storage)
	if err != nil {
		return 0, fmt.Errorf("open store to count events: %w", err)
	}
	defer store.Close()
	var n int
	if err := store.DB().NewRaw("SELECT count(*) FROM events WHERE provider = 'openai'").Scan(ctx, &n); err != nil {
		return 0, fmt.Errorf("count stored events: %w", err)
	}
	return n, nil
}

// generator makes distinct signed OpenAI thin events: each about a batch of
// its own, as when a fleet of batches finishes.
type generator struct {
	run    string
	signer signature.Signer
	n      atomic.Int64
}

func newGenerator(cfg signature.Config) (*generator, error) {
	signer, err := signature.NewSigner(cfg)
	if err != nil {
		return nil, fmt.Errorf("build signer: %w", err)
	}
	b := make([]byte, 4)
	rand.Read(b)
	return &generator{run: hex.EncodeToString(b), signer: signer}, nil
}

// request builds the next signed delivery for url.
func (g *generator) request(ctx context.Context, url string) (*http.Request, error) {
	n := g.n.Add(1)
	now := time.Now()
	body := fmt.Appendf(nil, `{"id":"evt_%s_%d","object":"event","created_at":%d,"type":"batch.completed","data":{"id":"batch_%s_%d"}}`,
		g.run, n, now.Unix(), g.run, n)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if err := g.signer.Sign(req.Header, "msg_"+strconv.FormatInt(n, 10), body, now); err != nil {
		return nil, fmt.Errorf("sign event: %w", err)
	}
	return req, nil
}

// drive posts deliveries to url from concurrency senders until d has passed
// (requests in flight then are let finish: cancelling them would leave their
// fate unknown), and returns the latencies and outcomes.
func (g *generator) drive(ctx context.Context, url string, concurrency int, d time.Duration) (ServerStats, error) {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConns = concurrency
	transport.MaxIdleConnsPerHost = concurrency
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport, Timeout: time.Minute}

	type sender struct {
		lat        []time.Duration
		ok, errs   int
		firstError string
		err        error
	}
	senders := make([]sender, concurrency)
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(d)
	for i := range senders {
		s := &senders[i]
		wg.Go(func() {
			for ctx.Err() == nil && time.Now().Before(deadline) {
				req, err := g.request(ctx, url)
				if err != nil {
					s.err = err
					return
				}
				t := time.Now()
				status, err := post(client, req)
				s.lat = append(s.lat, time.Since(t))
				switch {
				case err != nil && ctx.Err() == nil:
					s.errs++
					s.firstError = cmp.Or(s.firstError, err.Error())
				case err == nil && status/100 == 2:
					s.ok++
				case err == nil:
					s.errs++
					s.firstError = cmp.Or(s.firstError, fmt.Sprintf("answered %d", status))
				}
			}
		})
	}
	wg.Wait()
	st := ServerStats{Elapsed: time.Since(start)}
	var lat []time.Duration
	for _, s := range senders {
		if s.err != nil {
			return st, s.err
		}
		lat = append(lat, s.lat...)
		st.OK += s.ok
		st.Errors += s.errs
		st.FirstError = cmp.Or(st.FirstError, s.firstError)
	}
	if err := ctx.Err(); err != nil {
		return st, err
	}
	st.Requests = len(lat)
	st.setLatencies(lat)
	return st, nil
}

// takeTurns drives the servers at urls a and b in turn, a first, for turn
// each, rounds times, and returns how each fared over all its turns.
func (g *generator) takeTurns(ctx context.Context, a, b string, concurrency, rounds int, turn time.Duration) (ServerStats, ServerStats, error) {
	var as, bs []ServerStats
	for range rounds {
		st, err := g.drive(ctx, a, concurrency, turn)
		if err != nil {
			return ServerStats{}, ServerStats{}, err
		}
		as = append(as, st)
		if st, err = g.drive(ctx, b, concurrency, turn); err != nil {
			return ServerStats{}, ServerStats{}, err
		}
		bs = append(bs, st)
	}
	return mergeStats(as), mergeStats(bs), nil
}

// setLatencies sets the request count's latency figures from lat, which it
// sorts and keeps, so that rounds can be merged.
func (s *ServerStats) setLatencies(lat []time.Duration) {
	slices.Sort(lat)
	s.latencies = lat
	s.P50, s.P99 = percentile(lat, 0.50), percentile(lat, 0.99)
	if len(lat) > 0 {
		s.Max = lat[len(lat)-1]
	}
}

// mergeStats adds up rounds of one server: their requests, outcomes and
// driving time, and the latencies of them all.
func mergeStats(rounds []ServerStats) ServerStats {
	var (
		all ServerStats
		lat []time.Duration
	)
	for _, r := range rounds {
		all.Requests += r.Requests
		all.OK += r.OK
		all.Errors += r.Errors
		all.Elapsed += r.Elapsed
		all.FirstError = cmp.Or(all.FirstError, r.FirstError)
		lat = append(lat, r.latencies...)
	}
	all.setLatencies(lat)
	return all
}

// post sends req and reads the whole answer, so that the connection is
// reused, and returns its status code.
func post(client *http.Client, req *http.Request) (int, error) {
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return 0, fmt.Errorf("read answer: %w", err)
	}
	return resp.StatusCode, nil
}
