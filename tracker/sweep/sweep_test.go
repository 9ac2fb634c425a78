package sweep_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/jobwatch/jobwatch/providers/openai"
	"github.com/jobwatch/jobwatch/providers/pollhttp"
	"github.com/jobwatch/jobwatch/storage"
	"github.com/jobwatch/jobwatch/storage/storagetest"
	"github.com/jobwatch/jobwatch/tracker"
	"github.com/jobwatch/jobwatch/tracker/sweep"
)

// clock is a test clock the tracker and the sweep read.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }

// fakeOpenAI serves GET /batches/{id} and /fine_tuning/jobs/{id}: each job
// walks through its script of answers, one per poll, staying on the last.
type fakeOpenAI struct {
	*httptest.Server
	mu      sync.Mutex
	scripts map[string][]answer
	calls   map[string]int
	times   map[string][]time.Time
}

type answer struct {
	code    int
	body    string
	headers map[string]string
}

func newFakeOpenAI(t *testing.T) *fakeOpenAI {
	f := &fakeOpenAI{scripts: map[string][]answer{}, calls: map[string]int{}, times: map[string][]time.Time{}}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
		f.mu.Lock()
		script, ok := f.scripts[id]
		n := f.calls[id]
		f.calls[id]++
		f.times[id] = append(f.times[id], time.Now())
		f.mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer sk-test" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if !ok {
			http.Error(w, `{"error":{"message":"No batch found"}}`, http.StatusNotFound)
			return
		}
		a := script[min(n, len(script)-1)]
		for k, v := range a.headers {
			w.Header().Set(k, v)
		}
		w.WriteHeader(a.code)
		io.WriteString(w, a.body)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeOpenAI) script(id string, answers ...answer) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.scripts[id] = answers
}

func (f *fakeOpenAI) callCount(id string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[id]
}

func batch(id, status string, total, completed, failed int) answer {
	return answer{code: 200, body: fmt.Sprintf(`{"id":%q,"object":"batch","endpoint":"/v1/chat/completions","status":%q,
"input_file_id":"file-in","output_file_id":"file-out","error_file_id":null,"completion_window":"24h","created_at":1714508499,
"request_counts":{"total":%d,"completed":%d,"failed":%d},"usage":{"input_tokens":1500,"output_tokens":700,"total_tokens":2200},"metadata":null}`,
		id, status, total, completed, failed)}
}

type env struct {
	// trackerMetrics is the tracker's registry.
	trackerMetrics *prometheus.Registry
	// sweepOptions are those sweeper was made with; the tracker's
	// PollDue wakes sweeper.
	sweepOptions sweep.Options
	clock        *clock
	store        *storage.Store
	tracker      *tracker.Tracker
	sweeper      *sweep.Sweeper
	api          *fakeOpenAI
}

var rules = tracker.Rules{StaleAfter: 10 * time.Minute, MaxPollInterval: time.Hour, LostPollInterval: 6 * time.Hour, NotFoundLimit: 3, EnrichWait: 2 * time.Minute}

// webhookGrace is the grace of the provider when setup is told it has webhooks.
const webhookGrace = 10 * time.Minute

// everyAlert routes every alert to one notifier, so that tests read what
// was raised in the outbox.
var everyAlert = &tracker.Alerting{Routes: []tracker.Route{{Events: []string{"*"}, Notifiers: []string{"log"}}}}

// setup makes a tracker and a sweep of the provider "openai" served by api;
// webhooks says whether the provider has a webhook endpoint (its ends
// learned by poll then await their webhooks).
func setup(t *testing.T, store *storage.Store, api *fakeOpenAI, webhooks bool) *env {
	t.Helper()
	r := rules
	if webhooks {
		r.WebhookGrace = webhookGrace
	}
	return setupRules(t, store, api, r)
}

// setupRules is setup with the transition rules r.
func setupRules(t *testing.T, store *storage.Store, api *fakeOpenAI, r tracker.Rules) *env {
	t.Helper()
	c := &clock{t: time.Now().UTC().Truncate(time.Millisecond)}
	reg := prometheus.NewRegistry()
	e := &env{trackerMetrics: reg, clock: c, store: store, api: api}
	tr := tracker.New(store, tracker.Options{Now: c.Now, Rules: func(string, tracker.Kind) tracker.Rules { return r }, Alerting: everyAlert, Registry: reg,
		PollDue: func() { e.sweeper.Wake() }})
	client := pollhttp.New(pollhttp.Config{Provider: "openai", Concurrency: 16, MaxRetryWait: 5 * time.Second, Retries: 3, Timeout: 20 * time.Second,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	e.tracker = tr
	e.sweepOptions = sweep.Options{
		Tracker:     tr,
		Providers:   map[string]sweep.Provider{"openai": {Poller: openai.NewPoller(api.URL, "sk-test", client), Concurrency: 8}},
		LostAfter:   func(tracker.Kind) time.Duration { return 26 * time.Hour },
		BatchSize:   100,
		Lease:       2 * time.Minute,
		AuthBackoff: 5 * time.Minute,
		Logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
		Registry:    prometheus.NewRegistry(),
	}
	e.sweeper = sweep.New(e.sweepOptions)
	return e
}

func (e *env) track(t *testing.T, kind tracker.Kind, id string) {
	t.Helper()
	if _, _, err := e.tracker.Track(context.Background(), tracker.TrackRequest{Provider: "openai", Kind: kind, ExternalID: id}); err != nil {
		t.Fatal(err)
	}
}

func (e *env) sweep(t *testing.T) sweep.Result {
	t.Helper()
	res, err := e.sweeper.Sweep(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func (e *env) job(t *testing.T, id string) tracker.Job {
	t.Helper()
	j, err := e.tracker.Job(context.Background(), "openai", id)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// Register a batch, send no webhook: it resolves by poll within stale_after
// plus one sweep, with its request counts and usage stored. Its provider has
// webhooks, so the end's webhook is then awaited for the grace, without
// another poll, and recorded missed.
func TestBatchResolvesByPollAlone(t *testing.T) {
	t.Parallel()
	storagetest.Each(t, func(t *testing.T, s *storage.Store) {
		t.Parallel()
		api := newFakeOpenAI(t)
		api.script("batch_1", batch("batch_1", "completed", 1000, 995, 5))
		e := setup(t, s, api, true)
		e.track(t, tracker.KindBatch, "batch_1")
		if res := e.sweep(t); res.Claimed != 0 || api.callCount("batch_1") != 0 {
			t.Fatalf("a job was polled before it went stale: %+v", res)
		}
		e.clock.Advance(rules.StaleAfter)
		before := time.Now()
		e.sweep(t)
		if last := e.sweeper.Last(); last.Started.Before(before) || last.Result.Claimed != 1 || last.Result.Polled != 1 || last.Err != "" {
			t.Errorf("Last() = %+v, want the sweep just made, its one job polled", last)
		}
		j := e.job(t, "batch_1")
		if due := e.clock.Now().Add(webhookGrace); j.Status != tracker.StatusSucceeded || j.ResolvedBy != tracker.SourcePoll ||
			j.WebhookDueBy == nil || !j.WebhookDueBy.Equal(due) || j.NextPollAt == nil || !j.NextPollAt.Equal(due) {
			t.Fatalf("job = %s resolved by %q, webhook due by %v, next due %v; want succeeded by poll, its webhook awaited until %v",
				j.Status, j.ResolvedBy, j.WebhookDueBy, j.NextPollAt, due)
		}
		if j.Usage.RequestsTotal != 1000 || j.Usage.RequestsFailed != 5 || j.Usage.TotalTokens != 2200 || j.Details["output_file_id"] != "file-out" || j.Details["request_failure"] != "partial" {
			t.Errorf("usage %+v details %v", j.Usage, j.Details)
		}
		var types []string
		for _, ev := range j.History {
			types = append(types, ev.Type)
		}
		// Going stale is no news: the poll is the only event.
		if len(types) != 1 || types[0] != "" {
			t.Errorf("history types = %v, want the poll alone", types)
		}
		e.clock.Advance(webhookGrace)
		e.sweep(t)
		j = e.job(t, "batch_1")
		if last := j.History[len(j.History)-1]; last.Type != tracker.TypeJobWebhookMissed || j.NextPollAt != nil || j.WebhookDueBy != nil {
			t.Errorf("after the grace: last event %q, next due %v, webhook due by %v; want job.webhook_missed, never due again", last.Type, j.NextPollAt, j.WebhookDueBy)
		}
		if n := api.callCount("batch_1"); n != 1 {
			t.Errorf("polled %d times, want once: the end was known", n)
		}
	})
}

func TestStatusSequences(t *testing.T) {
	t.Parallel()
	api := newFakeOpenAI(t)
	api.script("batch_seq", batch("batch_seq", "validating", 10, 0, 0), batch("batch_seq", "in_progress", 10, 4, 0),
		batch("batch_seq", "finalizing", 10, 10, 0), batch("batch_seq", "finalizing", 10, 10, 0), batch("batch_seq", "completed", 10, 10, 0))
	ft := func(status string) answer {
		return answer{code: 200, body: fmt.Sprintf(`{"object":"fine_tuning.job","id":"ftjob-1","model":"gpt-4o-mini","status":%q,"fine_tuned_model":%s,"trained_tokens":%s,"created_at":1}`,
			status, map[bool]string{true: `"ft:gpt-4o-mini:org::abc"`, false: "null"}[status == "succeeded"], map[bool]string{true: "5000", false: "null"}[status == "succeeded"])}
	}
	api.script("ftjob-1", ft("validating_files"), ft("queued"), ft("running"), ft("succeeded"))
	e := setup(t, storagetest.Open(t, storage.DriverSQLite), api, false)
	e.track(t, tracker.KindBatch, "batch_seq")
	e.track(t, tracker.KindFineTuning, "ftjob-1")
	seen := map[string][]string{}
	for range 12 {
		e.clock.Advance(time.Hour)
		e.sweep(t)
		for _, id := range []string{"batch_seq", "ftjob-1"} {
			j := e.job(t, id)
			if w := seen[id]; len(w) == 0 || w[len(w)-1] != j.ProviderStatus {
				seen[id] = append(seen[id], j.ProviderStatus)
			}
		}
	}
	if got := strings.Join(seen["batch_seq"], ","); got != "validating,in_progress,finalizing,completed" {
		t.Errorf("batch went through %s", got)
	}
	if got := strings.Join(seen["ftjob-1"], ","); got != "validating_files,queued,running,succeeded" {
		t.Errorf("fine-tune went through %s", got)
	}
	if j := e.job(t, "ftjob-1"); j.Status != tracker.StatusSucceeded || j.Details["fine_tuned_model"] != "ft:gpt-4o-mini:org::abc" || j.Usage.TrainedTokens != 5000 {
		t.Errorf("fine-tune = %s %v %+v", j.Status, j.Details, j.Usage)
	}
	// "finalizing" twice in a row: the second poll found nothing new and backed off.
	if n := api.callCount("batch_seq"); n != 5 {
		t.Errorf("batch polled %d times, want 5 (one per scripted answer)", n)
	}
}

// A provider answering 429 with Retry-After: 2 is not called again before
// 2 s have passed, and the job still resolves.
func TestRetryAfterIsHonoured(t *testing.T) {
	t.Parallel()
	api := newFakeOpenAI(t)
	api.script("batch_429", answer{code: 429, body: `{"error":{"message":"Rate limit reached"}}`, headers: map[string]string{"Retry-After": "2"}},
		batch("batch_429", "completed", 3, 3, 0))
	e := setup(t, storagetest.Open(t, storage.DriverSQLite), api, false)
	e.track(t, tracker.KindBatch, "batch_429")
	e.clock.Advance(rules.StaleAfter)
	e.sweep(t)
	api.mu.Lock()
	times := api.times["batch_429"]
	api.mu.Unlock()
	if len(times) != 2 || times[1].Sub(times[0]) < 1900*time.Millisecond {
		t.Fatalf("calls at %v: want a second call no sooner than 2 s after the 429", times)
	}
	if j := e.job(t, "batch_429"); j.Status != tracker.StatusSucceeded {
		t.Fatalf("job = %s, want succeeded", j.Status)
	}
}

func TestServerErrorsBackOffAndRecover(t *testing.T) {
	t.Parallel()
	api := newFakeOpenAI(t)
	down := answer{code: 500, body: `{"error":"internal"}`}
	api.script("batch_500", down, down, down, down, down, down, down, down, batch("batch_500", "completed", 1, 1, 0))
	e := setup(t, storagetest.Open(t, storage.DriverSQLite), api, false)
	e.track(t, tracker.KindBatch, "batch_500")
	e.clock.Advance(rules.StaleAfter)
	res := e.sweep(t)
	j := e.job(t, "batch_500")
	if res.Failed != 1 || j.Status != tracker.StatusPending || j.QuietPolls != 1 || j.NextPollAt == nil || !j.NextPollAt.Equal(e.clock.Now().Add(20*time.Minute)) {
		t.Fatalf("after a failed poll: %+v, job %s quiet %d next %v; want it kept and backed off 20m", res, j.Status, j.QuietPolls, j.NextPollAt)
	}
	e.clock.Advance(20 * time.Minute)
	e.sweep(t)
	e.clock.Advance(time.Hour)
	e.sweep(t)
	if j := e.job(t, "batch_500"); j.Status != tracker.StatusSucceeded {
		t.Fatalf("job = %s after the provider recovered, want succeeded", j.Status)
	}
}

func TestCompletedWithEveryRequestFailed(t *testing.T) {
	t.Parallel()
	api := newFakeOpenAI(t)
	all := batch("batch_allfail", "completed", 50, 0, 50)
	all.body = strings.Replace(all.body, `"output_file_id":"file-out","error_file_id":null`, `"output_file_id":null,"error_file_id":"file-err"`, 1)
	api.script("batch_allfail", all)
	e := setup(t, storagetest.Open(t, storage.DriverSQLite), api, false)
	e.track(t, tracker.KindBatch, "batch_allfail")
	e.clock.Advance(rules.StaleAfter)
	e.sweep(t)
	j := e.job(t, "batch_allfail")
	if j.Status != tracker.StatusSucceeded || j.Details["request_failure"] != "total" || j.Details["error_file_id"] != "file-err" {
		t.Fatalf("job = %s %v; want it marked as a total request failure", j.Status, j.Details)
	}
}

func TestAuthFailurePausesTheProvider(t *testing.T) {
	t.Parallel()
	api := newFakeOpenAI(t)
	api.script("batch_a", batch("batch_a", "completed", 1, 1, 0))
	api.script("batch_b", batch("batch_b", "completed", 1, 1, 0))
	e := setup(t, storagetest.Open(t, storage.DriverSQLite), api, false)
	// A poller with a revoked key.
	client := pollhttp.New(pollhttp.Config{Provider: "openai", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	e.sweeper = sweep.New(sweep.Options{
		Tracker:     e.tracker,
		Providers:   map[string]sweep.Provider{"openai": {Poller: openai.NewPoller(api.URL, "sk-revoked", client), Concurrency: 1}},
		LostAfter:   func(tracker.Kind) time.Duration { return 26 * time.Hour },
		AuthBackoff: 5 * time.Minute,
		Logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	e.track(t, tracker.KindBatch, "batch_a")
	e.track(t, tracker.KindBatch, "batch_b")
	e.clock.Advance(rules.StaleAfter)
	e.sweep(t)
	if n := api.callCount("batch_a") + api.callCount("batch_b"); n != 1 {
		t.Fatalf("provider called %d times after a 401, want once (then paused)", n)
	}
	for _, id := range []string{"batch_a", "batch_b"} {
		j := e.job(t, id)
		if j.Status != tracker.StatusPending || j.NextPollAt == nil || !j.NextPollAt.Equal(e.clock.Now().Add(5*time.Minute)) {
			t.Errorf("%s = %s next %v; want kept, due when the pause ends", id, j.Status, j.NextPollAt)
		}
	}
	events, err := e.store.DB().NewSelect().Table("events").Where("type = ?", tracker.TypeProviderAuthFailed).Count(context.Background())
	if err != nil || events != 1 {
		t.Errorf("%d provider.auth_failed events, %v; want 1", events, err)
	}
}

// A provider whose key was refused is paused; SetProviders with a new key,
// naming it changed, ends the pause: a job that comes due during it is
// polled with the new key at the next sweep.
func TestSetProvidersEndsThePauseOfARotatedKey(t *testing.T) {
	t.Parallel()
	api := newFakeOpenAI(t)
	api.script("batch_a", batch("batch_a", "completed", 1, 1, 0))
	api.script("batch_b", batch("batch_b", "completed", 1, 1, 0))
	e := setup(t, storagetest.Open(t, storage.DriverSQLite), api, false)
	poller := func(key string) map[string]sweep.Provider {
		client := pollhttp.New(pollhttp.Config{Provider: "openai", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		return map[string]sweep.Provider{"openai": {Poller: openai.NewPoller(api.URL, key, client), Concurrency: 1}}
	}
	e.sweeper.SetProviders(poller("sk-revoked"), nil)
	e.track(t, tracker.KindBatch, "batch_a")
	e.clock.Advance(time.Minute)
	e.track(t, tracker.KindBatch, "batch_b")
	e.clock.Advance(rules.StaleAfter - time.Minute)
	e.sweep(t) // batch_a: 401, the provider is paused for 5 minutes
	if j := e.job(t, "batch_a"); j.Status != tracker.StatusPending {
		t.Fatalf("batch_a polled with a revoked key: %s", j.Status)
	}

	e.sweeper.SetProviders(poller("sk-test"), []string{"openai"})
	e.clock.Advance(time.Minute) // batch_b is due, within the pause
	e.sweep(t)
	if j := e.job(t, "batch_b"); j.Status != tracker.StatusSucceeded {
		t.Errorf("batch_b after the rotation = %s, want succeeded: polled with the new key at once", j.Status)
	}
}

func TestNotFoundThreeTimesLosesTheJob(t *testing.T) {
	t.Parallel()
	api := newFakeOpenAI(t)
	e := setup(t, storagetest.Open(t, storage.DriverSQLite), api, false)
	e.track(t, tracker.KindBatch, "batch_gone")
	for range 3 {
		e.clock.Advance(time.Hour)
		e.sweep(t)
	}
	j := e.job(t, "batch_gone")
	if j.Status != tracker.StatusLost || !strings.Contains(j.Details["lost_reason"], "404") || j.NotFoundPolls != 3 {
		t.Fatalf("job = %s %v after three 404s; want lost with the reason", j.Status, j.Details)
	}
}

func TestLostJobIsStillPolledAndResolves(t *testing.T) {
	t.Parallel()
	api := newFakeOpenAI(t)
	api.script("batch_slow", batch("batch_slow", "in_progress", 10, 1, 0))
	e := setup(t, storagetest.Open(t, storage.DriverSQLite), api, false)
	e.track(t, tracker.KindBatch, "batch_slow")
	for i := 0; i < 30 && e.job(t, "batch_slow").Status != tracker.StatusLost; i++ {
		e.clock.Advance(time.Hour)
		e.sweep(t)
	}
	j := e.job(t, "batch_slow")
	if j.Status != tracker.StatusLost || j.NextPollAt == nil || j.NextPollAt.Sub(e.clock.Now()) != rules.LostPollInterval {
		t.Fatalf("job = %s next %v; want lost and polled every %v", j.Status, j.NextPollAt, rules.LostPollInterval)
	}
	api.script("batch_slow", batch("batch_slow", "completed", 10, 10, 0))
	e.clock.Advance(rules.LostPollInterval)
	e.sweep(t)
	if j := e.job(t, "batch_slow"); j.Status != tracker.StatusSucceeded {
		t.Fatalf("lost job = %s after the provider finished it, want succeeded", j.Status)
	}
}

// A thin webhook makes its job due at once; the enrichment poll fetches the
// details and then the job is never polled again.
func TestThinWebhookIsEnrichedAtOnce(t *testing.T) {
	t.Parallel()
	api := newFakeOpenAI(t)
	api.script("batch_thin", batch("batch_thin", "completed", 7, 7, 0))
	e := setup(t, storagetest.Open(t, storage.DriverSQLite), api, true)
	e.track(t, tracker.KindBatch, "batch_thin")
	_, err := e.tracker.Observe(context.Background(), tracker.ApplyItem{Observation: &tracker.Observation{
		Provider: "openai", ExternalID: "batch_thin", Status: tracker.StatusSucceeded, ProviderStatus: "completed",
		Source: tracker.SourceWebhook, EventID: "evt_1", Type: "batch.completed", OccurredAt: e.clock.Now(), PollNow: true,
	}})
	if err != nil {
		t.Fatal(err)
	}
	e.sweep(t)
	j := e.job(t, "batch_thin")
	if j.Usage.RequestsCompleted != 7 || j.ResolvedBy != tracker.SourceWebhook || j.NextPollAt != nil {
		t.Fatalf("job = %+v; want enriched, resolved by the webhook, not due again", j)
	}
	e.clock.Advance(2 * time.Hour)
	e.sweep(t)
	if n := api.callCount("batch_thin"); n != 1 {
		t.Errorf("polled %d times, want once", n)
	}
}

// Three trackers sweeping one PostgreSQL database poll each of 2,000 due
// jobs exactly once; claims left by a replica that died are taken over after
// the lease.
// replicasOf sets up three replicas, each with its own store and clock, on
// the database of cfg.
func replicasOf(t *testing.T, cfg storage.Config, api *fakeOpenAI, webhooks bool) []*env {
	t.Helper()
	var replicas []*env
	for range 3 {
		replicas = append(replicas, setup(t, storagetest.OpenConfig(t, cfg), api, webhooks))
	}
	return replicas
}

func TestReplicasShareOnePostgres(t *testing.T) {
	t.Parallel()
	cfg := storagetest.Config(t, storage.DriverPostgres)
	api := newFakeOpenAI(t)
	const jobs = 2000
	for i := range jobs {
		id := fmt.Sprintf("batch_%04d", i)
		api.script(id, batch(id, "in_progress", 10, 5, 0))
	}
	replicas := replicasOf(t, cfg, api, false)
	start := replicas[0].clock.Now()
	for _, r := range replicas {
		r.clock.t = start
	}
	for i := range jobs {
		replicas[i%3].track(t, tracker.KindBatch, fmt.Sprintf("batch_%04d", i))
	}
	for _, r := range replicas {
		r.clock.Advance(rules.StaleAfter)
	}
	var wg sync.WaitGroup
	for _, r := range replicas {
		wg.Go(func() { r.sweep(t) })
	}
	wg.Wait()
	for i := range jobs {
		if n := api.callCount(fmt.Sprintf("batch_%04d", i)); n != 1 {
			t.Fatalf("batch_%04d polled %d times in one period, want exactly once", i, n)
		}
	}

	// A replica claims due jobs and dies before polling them.
	for _, r := range replicas {
		r.clock.Advance(2 * time.Hour)
	}
	dead, err := replicas[0].store.ClaimDue(context.Background(), tracker.ClaimParams{Now: replicas[0].clock.Now(), Lease: 2 * time.Minute, Limit: 150})
	if err != nil || len(dead) != 150 {
		t.Fatalf("dead replica claimed %d, %v", len(dead), err)
	}
	if res := replicas[1].sweep(t); res.Claimed != jobs-150 {
		t.Fatalf("within the lease another replica claimed %d, want the %d unclaimed", res.Claimed, jobs-150)
	}
	replicas[2].clock.Advance(2*time.Minute + time.Second)
	if res := replicas[2].sweep(t); res.Claimed != 150 {
		t.Fatalf("after the lease a replica claimed %d, want the dead replica's 150", res.Claimed)
	}
	for _, d := range dead {
		if n := api.callCount(d.ExternalID); n != 2 {
			t.Fatalf("%s polled %d times, want twice (before, and after the takeover)", d.ExternalID, n)
		}
	}
}

// A slow provider never holds up another's polls in the same sweep.
func TestSlowProviderDelaysNoOther(t *testing.T) {
	t.Parallel()
	fast, slow := newFakeOpenAI(t), newFakeOpenAI(t)
	slowSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(600 * time.Millisecond)
		slow.Config.Handler.ServeHTTP(w, r)
	}))
	t.Cleanup(slowSrv.Close)
	e := setup(t, storagetest.Open(t, storage.DriverSQLite), fast, false)
	client := pollhttp.New(pollhttp.Config{Provider: "slowai", Concurrency: 1, Timeout: 20 * time.Second, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	fastClient := pollhttp.New(pollhttp.Config{Provider: "openai", Concurrency: 4, Timeout: 20 * time.Second, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	e.sweeper = sweep.New(sweep.Options{
		Tracker: e.tracker,
		Providers: map[string]sweep.Provider{
			"openai": {Poller: openai.NewPoller(fast.URL, "sk-test", fastClient), Concurrency: 4},
			"slowai": {Poller: openai.NewPoller(slowSrv.URL, "sk-test", client), Concurrency: 1},
		},
		LostAfter: func(tracker.Kind) time.Duration { return 26 * time.Hour },
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	for i := range 3 {
		for _, p := range []string{"slowai", "openai"} {
			id := fmt.Sprintf("batch_%s_%d", p, i)
			if p == "openai" {
				fast.script(id, batch(id, "completed", 1, 1, 0))
			} else {
				slow.script(id, batch(id, "completed", 1, 1, 0))
			}
			if _, _, err := e.tracker.Track(context.Background(), tracker.TrackRequest{Provider: p, Kind: tracker.KindBatch, ExternalID: id}); err != nil {
				t.Fatal(err)
			}
		}
	}
	e.clock.Advance(rules.StaleAfter)
	start := time.Now()
	e.sweep(t)
	if took := time.Since(start); took < 1500*time.Millisecond {
		t.Fatalf("the slow provider's three polls took %v, want ≥ 1.8 s (one at a time)", took)
	}
	fast.mu.Lock()
	defer fast.mu.Unlock()
	for id, times := range fast.times {
		if len(times) != 1 || times[0].Sub(start) > 500*time.Millisecond {
			t.Errorf("%s polled at %v after the sweep began, want at once", id, times)
		}
	}
}
