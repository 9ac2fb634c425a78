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
	"github.com/jobwatch/jobwatch/storage"
	"github.com/jobwatch/jobwatch/tracker"
	"github.com/jobwatch/jobwatch/tracker/config"
	"github.com/jobwatch/jobwatch/tracker/daemon"
)

// The workloads of Ingest.
const (
	// WorkloadAdopt sends OpenAI thin batch.completed events about jobs
	// never registered, which the daemon adopts: one distinct job each.
	WorkloadAdopt = "adopt"
	// WorkloadRegistered registers jobs first, as applications do, then
	// sends their ends and follows each to its alert (see Ingest).
	WorkloadRegistered = "registered"
)

// IngestOptions configure Ingest.
type IngestOptions struct {
	// Storage is "sqlite" or "postgres".
	Storage string
	// Workload is WorkloadAdopt (the default) or WorkloadRegistered.
	Workload string
	// DSN is, for SQLite, a database file that must not exist yet (empty: a
	// temporary file, removed after); for PostgreSQL, an admin DSN through
	// which the run's own database is created and dropped (empty:
	// $JOBWATCH_TEST_POSTGRES_DSN, then DefaultPostgresDSN).
	DSN string
	// Concurrency is how many senders post at once. Default 32.
	Concurrency int
	// Duration is how long each server is driven in all. Default 10s.
	Duration time.Duration
	// Replicas is how many daemons run on the one database, each with its
	// own listener, all sweeping; the senders spread the deliveries over
	// them in turn. Default 1; more only with "postgres".
	Replicas int
	// Rounds is how many turns each server's driving is split into, the
	// two servers taking turns (baseline, jobwatch, baseline, ...), so that
	// a machine whose speed drifts during the run (a shared one) slows both
	// alike and the ratio stays comparable. Default 5.
	Rounds int
	// Floor adds a third server to the turns: the floor receiver, the
	// simplest durable receiver (the baseline's work, then a group commit of
	// FloorRows thin rows per event into a database of its own on
	// Storage), which bounds what any receiver that stores each event
	// before it answers can reach on this machine.
	Floor bool
	// History is how many events of history are stored before the turns
	// (see History): 0, the default, starts from an empty database.
	History int
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
	Workload    string
	Concurrency int
	Duration    time.Duration
	Rounds      int
	Replicas    int
	// History is what was stored before the turns.
	History History
	// Baseline is the server that only reads, verifies and parses.
	Baseline ServerStats
	// Jobwatch is the daemon's webhook endpoint.
	Jobwatch ServerStats
	// Floor is the floor receiver (IngestOptions.Floor); nil without it.
	Floor *ServerStats
	// Stored is how many webhook events the daemon's storage holds after
	// the run, the seeded history aside; it should equal Jobwatch.OK less
	// the exact redeliveries answered 2xx (Registered.Duplicates), which
	// are answered and not stored again.
	Stored int
	// Registered is what the registered workload measured beyond the
	// ingest rates; nil for the adopt workload.
	Registered *RegisteredStats
}

// expectedStored is how many webhook events storage should hold: those
// answered 2xx, each once.
func (r IngestResult) expectedStored() int {
	if r.Registered != nil {
		return r.Jobwatch.OK - r.Registered.Duplicates
	}
	return r.Jobwatch.OK
}

// Ratio is jobwatch's request rate over the baseline's.
func (r IngestResult) Ratio() float64 {
	if b := r.Baseline.PerSecond(); b > 0 {
		return r.Jobwatch.PerSecond() / b
	}
	return 0
}

// FloorRatio is jobwatch's request rate over the floor receiver's; 0
// without one.
func (r IngestResult) FloorRatio() float64 {
	if r.Floor != nil && r.Floor.PerSecond() > 0 {
		return r.Jobwatch.PerSecond() / r.Floor.PerSecond()
	}
	return 0
}

// Print writes the figures, one "name: value" per line, and a summary line.
func (r IngestResult) Print(w io.Writer) {
	type server struct {
		name string
		st   ServerStats
	}
	servers := []server{{"baseline", r.Baseline}, {"jobwatch", r.Jobwatch}}
	var floor string
	if r.Floor != nil {
		servers = slices.Insert(servers, 1, server{"floor", *r.Floor})
		floor = fmt.Sprintf(", floor %.0f req/s, jobwatch / floor %.2f", r.Floor.PerSecond(), r.FloorRatio())
	}
	for _, s := range servers {
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
	if r.Floor != nil {
		fmt.Fprintf(w, "floor ratio: %.2f\n", r.Floor.PerSecond()/r.Baseline.PerSecond())
		fmt.Fprintf(w, "jobwatch / floor: %.2f\n", r.FloorRatio())
	}
	fmt.Fprintf(w, "answered 2xx: %d\n", r.Jobwatch.OK)
	fmt.Fprintf(w, "stored events: %d\n", r.Stored)
	rel := "="
	if r.Stored != r.expectedStored() {
		rel = "!="
	}
	fmt.Fprintf(w, "rounds: %d\n", r.Rounds)
	fmt.Fprintf(w, "replicas: %d\n", r.Replicas)
	fmt.Fprintf(w, "history events: %d\n", r.History.Events)
	if r.History.Events > 0 {
		fmt.Fprintf(w, "history jobs: %d\n", r.History.Jobs)
		fmt.Fprintf(w, "history deliveries: %d\n", r.History.Deliveries)
		fmt.Fprintf(w, "history seed time: %s\n", r.History.Took.Round(time.Millisecond))
	}
	if reg := r.Registered; reg != nil {
		reg.print(w)
		fmt.Fprintf(w, "summary: ingest registered %s c=%d %s: jobwatch %.0f req/s p99 %s, baseline %.0f req/s, ratio %.2f%s, "+
			"end to end p50 %s p99 %s, %d alerts for %d ends (%d missing, %d extra), %d enrichment polls, stored %d %s expected %d\n",
			r.Storage, r.Concurrency, r.Duration, r.Jobwatch.PerSecond(), ms(r.Jobwatch.P99), r.Baseline.PerSecond(), r.Ratio(), floor,
			ms(reg.P50), ms(reg.P99), reg.Alerts, reg.Ends, reg.Missing, reg.Extra, reg.Polls, r.Stored, rel, r.expectedStored())
		return
	}
	fmt.Fprintf(w, "summary: ingest %s c=%d %s: jobwatch %.0f req/s p99 %s, baseline %.0f req/s, ratio %.2f%s, stored %d %s answered %d\n",
		r.Storage, r.Concurrency, r.Duration, r.Jobwatch.PerSecond(), ms(r.Jobwatch.P99), r.Baseline.PerSecond(), r.Ratio(), floor, r.Stored, rel, r.Jobwatch.OK)
}

// Ingest drives a baseline server and the daemon's webhook endpoint
// in-process, each for opts.Duration in all, in opts.Rounds alternating
// turns, and then counts the webhook events the daemon stored. With
// opts.History, that many events of history are seeded first, out of the
// measure (see History), and not counted. The baseline
// always gets the adopt workload's signed OpenAI thin events; the daemon
// gets opts.Workload's. A count that differs from the deliveries answered
// 2xx (less the exact redeliveries, which are not stored twice) is an error
// wrapping ErrInconsistent, returned with the complete result.
//
// The registered workload registers the jobs first (Tracker.Track, between
// the turns, out of the measure), then sends one end per job: 70% OpenAI
// thin batch.completed events, whose enrichment poll a fake OpenAI API in
// the run answers, 30% MythicDot events carrying the whole object. About 5%
// of deliveries are exact redeliveries of an end and 2% stale events sent
// after it (a MythicDot fine-tune's fine_tuning.job.created after its
// succeeded). Every job.* alert goes to a webhook notifier whose receiver is
// in the run. After the last turn Ingest waits for the alerts, until each
// end has one or none arrived for alerts.enrich_wait plus 30 s, and
// measures each end's latency from its first send to its alert's arrival.
// An end without exactly one alert, an alert about no end sent, or a job
// the fake OpenAI API was asked about more than once, is an error wrapping
// ErrInconsistent: with opts.Replicas daemons on one database, these are
// the checks that no alert was sent twice and no job polled twice.
func Ingest(ctx context.Context, opts IngestOptions) (res IngestResult, err error) {
	opts.Workload = cmp.Or(opts.Workload, WorkloadAdopt)
	opts.Concurrency = cmp.Or(opts.Concurrency, 32)
	opts.Duration = cmp.Or(opts.Duration, 10*time.Second)
	opts.Rounds = cmp.Or(opts.Rounds, 5)
	opts.Replicas = cmp.Or(opts.Replicas, 1)
	if opts.Concurrency < 1 || opts.Duration < 0 || opts.Rounds < 1 || opts.Replicas < 1 || opts.History < 0 {
		return res, fmt.Errorf("concurrency %d, duration %s, rounds %d and replicas %d must be positive, history %d not negative",
			opts.Concurrency, opts.Duration, opts.Rounds, opts.Replicas, opts.History)
	}
	if opts.Replicas > 1 && opts.Storage != "postgres" {
		return res, fmt.Errorf("%d replicas need storage postgres, not %q", opts.Replicas, opts.Storage)
	}
	if opts.Workload != WorkloadAdopt && opts.Workload != WorkloadRegistered {
		return res, fmt.Errorf("unknown workload %q (want %s or %s)", opts.Workload, WorkloadAdopt, WorkloadRegistered)
	}
	res = IngestResult{Storage: opts.Storage, Workload: opts.Workload, Concurrency: opts.Concurrency, Duration: opts.Duration, Rounds: opts.Rounds, Replicas: opts.Replicas}
	db, err := openDatabase(ctx, opts.Storage, opts.DSN)
	if err != nil {
		return res, err
	}
	defer db.close(ctx, &err)

	secret := newSecret()
	sigCfg := signature.Config{Scheme: signature.SchemeStandardWebhooks, Secrets: []string{secret}, Tolerance: 5 * time.Minute}
	gen, err := newGenerator(sigCfg)
	if err != nil {
		return res, err
	}
	var (
		reg  *registeredRun
		toml = ingestTOML(db, "@every 1h", openaiWebhookTOML(secret))
	)
	if opts.Workload == WorkloadRegistered {
		if reg, err = startRegistered(gen.run, secret); err != nil {
			return res, err
		}
		defer reg.close()
		toml = ingestTOML(db, registeredSweepSchedule, reg.toml())
	}
	cfg, err := config.Parse(toml)
	if err != nil {
		return res, fmt.Errorf("build daemon config: %w", err)
	}
	if res.History, err = storeHistory(ctx, cfg, opts.History); err != nil {
		return res, err
	}
	baseURL, stopBaseline, err := startBaseline(sigCfg, cfg.Server.MaxBodyBytes)
	if err != nil {
		return res, err
	}
	defer stopBaseline()
	lanes := []lane{{urls: []string{baseURL}, src: gen}}
	if opts.Floor {
		floorURL, stopFloor, ferr := startFloor(ctx, opts, sigCfg, cfg.Server.MaxBodyBytes)
		if ferr != nil {
			return res, ferr
		}
		defer func() { err = errors.Join(err, stopFloor()) }()
		lanes = append(lanes, lane{urls: []string{floorURL}, src: gen})
	}
	// One after the other: each applies pending migrations at start.
	var daemons []*runningDaemon
	stopDaemons := func() error {
		var errs []error
		for _, d := range daemons {
			errs = append(errs, d.stop())
		}
		daemons = nil
		return errors.Join(errs...)
	}
	defer func() { err = errors.Join(err, stopDaemons()) }()
	for range opts.Replicas {
		d, err := startDaemon(ctx, cfg, opts.LogOutput)
		if err != nil {
			return res, err
		}
		daemons = append(daemons, d)
	}
	jobwatch := lane{src: gen}
	for _, d := range daemons {
		jobwatch.urls = append(jobwatch.urls, d.root+"/webhooks/openai")
	}
	if reg != nil {
		jobwatch = reg.lane(daemons)
	}

	err = profile(opts.CPUProfile, func() error {
		st, err := takeTurns(ctx, append(lanes, jobwatch), opts.Concurrency, opts.Rounds, opts.Duration/time.Duration(opts.Rounds))
		if err != nil {
			return err
		}
		res.Baseline, res.Jobwatch = st[0], st[len(st)-1]
		if opts.Floor {
			res.Floor = &st[1]
		}
		return nil
	})
	if err == nil && reg != nil {
		res.Registered, err = reg.await(ctx, cfg.Alerts.EnrichWait.D()+30*time.Second)
	}
	if err = errors.Join(err, stopDaemons()); err != nil {
		return res, err
	}
	if res.Stored, err = countEvents(ctx, cfg, res.History.LastEventID); err != nil {
		return res, err
	}
	var errs []error
	if want := res.expectedStored(); res.Stored != want {
		errs = append(errs, fmt.Errorf("%w: %d events stored, %d deliveries answered 2xx of which %d exact redeliveries", ErrInconsistent, res.Stored, res.Jobwatch.OK, res.Jobwatch.OK-want))
	}
	if r := res.Registered; r != nil && (r.Missing > 0 || r.Extra > 0 || r.Unexpected > 0) {
		errs = append(errs, fmt.Errorf("%w: of %d ends, %d got no alert and %d more than one; %d alerts about no end sent", ErrInconsistent, r.Ends, r.Missing, r.Extra, r.Unexpected))
	}
	if r := res.Registered; r != nil && r.PolledTwice > 0 {
		errs = append(errs, fmt.Errorf("%w: %d jobs polled more than once", ErrInconsistent, r.PolledTwice))
	}
	return res, errors.Join(errs...)
}

// startFloor serves the floor receiver (IngestOptions.Floor) over a
// database of its own, of opts.Storage (through opts.DSN's admin DSN on
// PostgreSQL; a temporary file on SQLite). stop ends it and removes its
// database.
func startFloor(ctx context.Context, opts IngestOptions, sigCfg signature.Config, maxBody int64) (url string, stop func() error, err error) {
	dsn := opts.DSN
	if opts.Storage == storage.DriverSQLite {
		dsn = "" // opts.DSN names the daemon's file
	}
	db, err := openDatabase(ctx, opts.Storage, dsn)
	if err != nil {
		return "", nil, err
	}
	insert, closeDB, err := openFloor(ctx, db, FloorRows)
	if err != nil {
		db.close(ctx, &err)
		return "", nil, err
	}
	g := &groupInsert{insert: insert}
	url, stopServer, err := startReceiver(sigCfg, maxBody, func(ev thinEvent, body []byte) error { return g.add(ev.ID, string(body)) })
	if err != nil {
		err = errors.Join(err, closeDB())
		db.close(ctx, &err)
		return "", nil, err
	}
	return url, func() error {
		stopServer()
		err := closeDB()
		db.close(ctx, &err)
		return err
	}, nil
}

// ingestTOML is the daemon's config: the run's storage, errors only in the
// log, sweeps on schedule, and rest (providers, notifiers, routes).
func ingestTOML(db *database, schedule, rest string) string {
	return fmt.Sprintf(`[server]
listen = "127.0.0.1:0"

%s
[log]
level = "error"

[sweep]
schedule = %s

%s`, db.storageTOML(), strconv.Quote(schedule), rest)
}

// openaiWebhookTOML is an OpenAI provider whose webhooks are signed with
// secret, and not polled.
func openaiWebhookTOML(secret string) string {
	return fmt.Sprintf(`[[providers]]
name = "openai"
type = "openai"

[providers.webhook]
secrets = [%s]
tolerance = "5m"
`, strconv.Quote(secret))
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

// runningDaemon is a daemon run by startDaemon.
type runningDaemon struct {
	// root is its URL, "http://127.0.0.1:port".
	root    string
	tracker *tracker.Tracker
	// stop ends its run and waits for it.
	stop func() error
}

// startDaemon runs the daemon from cfg, its error log to logOut (nil:
// discarded).
func startDaemon(ctx context.Context, cfg config.Config, logOut io.Writer) (*runningDaemon, error) {
	if logOut == nil {
		logOut = io.Discard
	}
	d, err := daemon.New(ctx, cfg, daemon.NewLogger(cfg.Log, logOut))
	if err != nil {
		return nil, fmt.Errorf("start daemon: %w", err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- d.Run(runCtx) }()
	return &runningDaemon{root: "http://" + d.Addr().String(), tracker: d.Tracker(), stop: func() error {
		stop()
		if err := <-done; err != nil {
			return fmt.Errorf("run daemon: %w", err)
		}
		return nil
	}}, nil
}

// storeHistory seeds events events of history into the database of cfg
// (see seedHistory), given its delivery log's bounds.
func storeHistory(ctx context.Context, cfg config.Config, events int) (History, error) {
	if events == 0 {
		return History{}, nil
	}
	store, err := daemon.OpenStore(ctx, cfg.Storage)
	if err != nil {
		return History{}, fmt.Errorf("open store to seed history: %w", err)
	}
	defer store.Close()
	return seedHistory(ctx, store, events, time.Now().UTC(), cfg.Server.DeliveryRetention.D(), cfg.Server.DeliveryMaxRows)
}

// countEvents counts the webhook events the daemon stored after the event
// of id after (the last of the seeded history; 0 for none).
func countEvents(ctx context.Context, cfg config.Config, after int64) (int, error) {
	store, err := daemon.OpenStore(ctx, cfg.Storage)
	if err != nil {
		return 0, fmt.Errorf("open store to count events: %w", err)
	}
	defer store.Close()
	var n int
	if err := store.DB().NewRaw("SELECT count(*) FROM events WHERE source = 'webhook' AND id > ?", after).Scan(ctx, &n); err != nil {
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

// source makes the deliveries a lane's senders post.
type source interface {
	// next builds the next signed delivery to post to url, or returns nil
	// when the source has none left, which ends the turn. done, unless nil,
	// is told whether the delivery was answered 2xx.
	next(ctx context.Context, url string) (req *http.Request, done func(ok bool), err error)
}

// next implements source: the generator never runs out.
func (g *generator) next(ctx context.Context, url string) (*http.Request, func(bool), error) {
	req, err := g.request(ctx, url)
	return req, nil, err
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

// drive posts src's deliveries from concurrency senders, to each of urls in
// turn, until d has passed or src runs out (requests in flight then are let
// finish: cancelling them would leave their fate unknown), and returns the
// latencies and outcomes.
func drive(ctx context.Context, urls []string, src source, concurrency int, d time.Duration) (ServerStats, error) {
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
	var (
		wg   sync.WaitGroup
		sent atomic.Int64
	)
	start := time.Now()
	deadline := start.Add(d)
	for i := range senders {
		s := &senders[i]
		wg.Go(func() {
			for ctx.Err() == nil && time.Now().Before(deadline) {
				req, done, err := src.next(ctx, urls[int(sent.Add(1))%len(urls)])
				if err != nil {
					s.err = err
					return
				}
				if req == nil {
					return
				}
				t := time.Now()
				status, err := post(client, req)
				s.lat = append(s.lat, time.Since(t))
				if done != nil {
					done(err == nil && status/100 == 2)
				}
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

// lane is one server driven in turns, or several replicas of it.
type lane struct {
	// urls are where its deliveries go, each in turn.
	urls []string
	src  source
	// before, unless nil, runs before each of the lane's turns, out of the
	// measure, told the turn's length and the request rates of the lane's
	// last turn (0 before its first) and of the first lane's (the
	// baseline's) last turn.
	before func(ctx context.Context, turn time.Duration, own, first float64) error
}

// takeTurns drives the servers of lanes in turn, in their order, for turn
// each, rounds times, and returns how each fared over all its turns, in
// the lanes' order.
func takeTurns(ctx context.Context, lanes []lane, concurrency, rounds int, turn time.Duration) ([]ServerStats, error) {
	stats := make([][]ServerStats, len(lanes))
	last := func(i int) float64 {
		if len(stats[i]) == 0 {
			return 0
		}
		return stats[i][len(stats[i])-1].PerSecond()
	}
	for range rounds {
		for i, l := range lanes {
			if l.before != nil {
				if err := l.before(ctx, turn, last(i), last(0)); err != nil {
					return nil, err
				}
			}
			st, err := drive(ctx, l.urls, l.src, concurrency, turn)
			if err != nil {
				return nil, err
			}
			stats[i] = append(stats[i], st)
		}
	}
	merged := make([]ServerStats, len(lanes))
	for i, s := range stats {
		merged[i] = mergeStats(s)
	}
	return merged, nil
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
