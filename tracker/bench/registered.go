package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jobwatch/jobwatch/providers/mythicdot"
	"github.com/jobwatch/jobwatch/providers/signature"
	"github.com/jobwatch/jobwatch/tracker"
)

// registeredSweepSchedule is the daemon's sweep schedule in the registered
// workload: a thin end's enrichment poll waits for the next sweep, so
// sweeps run every second, the shortest interval a cron descriptor takes.
const registeredSweepSchedule = "@every 1s"

// The registered workload's mix.
const (
	// mythicDotShare is the share of jobs whose end MythicDot sends, the
	// whole object in the event; the others' are OpenAI's thin events.
	mythicDotShare = 0.30
	// redeliveryShare is the share of deliveries that are an exact
	// redelivery of an end (same event, same body), sent once the end was
	// answered.
	redeliveryShare = 0.05
	// staleShare is the share of deliveries that are a job's older event
	// arriving after its end.
	staleShare = 0.02
	// firstTurnShare is the share of the baseline's rate the daemon's
	// first turn is registered for; later turns, 1.5 times the daemon's
	// last rate. A turn whose registered jobs run out ends early.
	firstTurnShare = 0.3
	// registerConcurrency is how many registrations run at once.
	registerConcurrency = 16
	// alertSettle is how long the run still listens once every end has an
	// alert, so that a second alert of an end is caught: twice the default
	// [alerts] interval.
	alertSettle = 2 * time.Second
)

// RegisteredStats is what the registered workload measures beyond the
// ingest rates.
type RegisteredStats struct {
	// Registered is how many jobs were registered; those whose end the run
	// did not get to send stay running, and expect no alert.
	Registered int
	// Ends is how many jobs' ends were answered 2xx, OpenAIEnds and
	// MythicDotEnds by provider; each must produce exactly one alert.
	Ends, OpenAIEnds, MythicDotEnds int
	// Duplicates is how many exact redeliveries of an end were answered
	// 2xx; Stale how many older events sent after their job's end.
	Duplicates, Stale int
	// Polls is how many enrichment polls the fake OpenAI API answered;
	// PolledTwice how many jobs it was asked about more than once.
	Polls, PolledTwice int
	// Alerts is how many distinct alerts the notifier's receiver got;
	// Redelivered how many times one came again (a notifier's retry, same
	// webhook-id).
	Alerts, Redelivered int
	// Missing is how many ends got no alert, Extra how many more than one,
	// Unexpected how many alerts were about no end the run sent.
	Missing, Extra, Unexpected int
	// P50, P99 and Max are the end-to-end latencies: from an end's first
	// send to its first alert's arrival at the receiver.
	P50, P99, Max time.Duration
	// OpenAIP50 and MythicDotP50 are the end-to-end p50 of each provider's
	// ends, and OpenAIP99 and MythicDotP99 their p99: the thin ones' alerts
	// wait for the enrichment poll, the whole ones' do not.
	OpenAIP50, MythicDotP50, OpenAIP99, MythicDotP99 time.Duration
	// Drain is the time from the last turn's end to the last alert's
	// arrival.
	Drain time.Duration
	// AlertSpan is the time from the first end's send to the last alert's
	// arrival, over which Alerts were delivered (AlertsPerSecond).
	AlertSpan time.Duration
}

// AlertsPerSecond is the rate at which alerts were delivered, from the
// first end sent to the last alert.
func (s RegisteredStats) AlertsPerSecond() float64 { return perSecond(s.Alerts, s.AlertSpan) }

func (s RegisteredStats) print(w io.Writer) {
	fmt.Fprintf(w, "registered jobs: %d\n", s.Registered)
	fmt.Fprintf(w, "ends answered: %d\n", s.Ends)
	fmt.Fprintf(w, "openai thin ends: %d\n", s.OpenAIEnds)
	fmt.Fprintf(w, "mythicdot full ends: %d\n", s.MythicDotEnds)
	fmt.Fprintf(w, "exact redeliveries: %d\n", s.Duplicates)
	fmt.Fprintf(w, "stale events after the end: %d\n", s.Stale)
	fmt.Fprintf(w, "enrichment polls: %d\n", s.Polls)
	fmt.Fprintf(w, "jobs polled more than once: %d\n", s.PolledTwice)
	fmt.Fprintf(w, "alerts delivered: %d\n", s.Alerts)
	fmt.Fprintf(w, "alerts/s: %.0f\n", s.AlertsPerSecond())
	fmt.Fprintf(w, "alerts redelivered: %d\n", s.Redelivered)
	fmt.Fprintf(w, "ends without alert: %d\n", s.Missing)
	fmt.Fprintf(w, "ends with several alerts: %d\n", s.Extra)
	fmt.Fprintf(w, "alerts about no end sent: %d\n", s.Unexpected)
	fmt.Fprintf(w, "end to end p50: %s\n", ms(s.P50))
	fmt.Fprintf(w, "end to end p99: %s\n", ms(s.P99))
	fmt.Fprintf(w, "end to end max: %s\n", ms(s.Max))
	fmt.Fprintf(w, "openai end to end p50: %s\n", ms(s.OpenAIP50))
	fmt.Fprintf(w, "mythicdot end to end p50: %s\n", ms(s.MythicDotP50))
	fmt.Fprintf(w, "openai end to end p99: %s\n", ms(s.OpenAIP99))
	fmt.Fprintf(w, "mythicdot end to end p99: %s\n", ms(s.MythicDotP99))
	fmt.Fprintf(w, "alert drain after the last turn: %s\n", ms(s.Drain))
}

// followUp is what a job's end is followed by.
type followUp int

const (
	followNone followUp = iota
	// followRedelivery: the end again, byte for byte.
	followRedelivery
	// followStale: an older event (a fine-tune's created).
	followStale
)

// regJob is one registered job and what became of its end.
type regJob struct {
	provider string
	kind     tracker.Kind
	id       string
	// n numbers the job in the run; its event ids derive from it.
	n     int
	after followUp
	// Set by the one sender that sends the end: the end's body, when it was
	// first sent, and whether it was answered 2xx.
	body   []byte
	sentAt time.Time
	ok     bool
}

func (j *regJob) key() string { return j.provider + "/" + j.id }

// registeredRun is the registered workload: its jobs, the fake OpenAI API
// that answers their enrichment polls and the receiver of their alerts. It
// is the daemon lane's source.
type registeredRun struct {
	run          string
	openaiSecret string
	mythicSecret string
	notifySecret string
	openai       signature.Signer
	mythicdot    signature.Signer
	fake         *fakeProvider
	alerts       *alertReceiver
	tracker      *tracker.Tracker

	// jobs grow between turns only; taken is how many ends were handed
	// out.
	jobs  []*regJob
	taken atomic.Int64

	mu sync.Mutex
	// queue holds the jobs whose end was answered and whose follow-up is
	// still to be sent; senders take from it first.
	queue                []*regJob
	duplicates, staleOKs atomic.Int64
}

// startRegistered serves the fake OpenAI API and the alert receiver of a
// run whose event ids carry run and whose OpenAI webhooks are signed with
// openaiSecret.
func startRegistered(run, openaiSecret string) (*registeredRun, error) {
	r := &registeredRun{run: run, openaiSecret: openaiSecret, mythicSecret: newSecret(), notifySecret: newSecret()}
	var err error
	if r.openai, err = signature.NewSigner(signature.Config{Scheme: signature.SchemeStandardWebhooks, Secrets: []string{openaiSecret}}); err != nil {
		return nil, fmt.Errorf("build OpenAI signer: %w", err)
	}
	if r.mythicdot, err = signature.NewSigner(signature.Config{Scheme: mythicdot.Type.Scheme, SignatureHeader: mythicdot.Type.SignatureHeader, Secrets: []string{r.mythicSecret}}); err != nil {
		return nil, fmt.Errorf("build MythicDot signer: %w", err)
	}
	if r.alerts, err = startAlertReceiver(r.notifySecret); err != nil {
		return nil, err
	}
	if r.fake, err = startFakeProvider(); err != nil {
		r.alerts.close()
		return nil, err
	}
	return r, nil
}

func (r *registeredRun) close() {
	r.fake.close()
	r.alerts.close()
}

// toml is the daemon's providers, notifier and route: OpenAI polled at the
// fake API, never before an hour for a live job (so that only enrichment
// polls are made), MythicDot not polled, and every job.* alert to the
// receiver.
func (r *registeredRun) toml() string {
	return fmt.Sprintf(`[[providers]]
name = "openai"
type = "openai"
base_url = %s
api_key = "sk-bench"

[providers.poll]
rate_limit = 1000000
burst = 1000000
concurrency = 16
stale_after = "1h"

[providers.webhook]
secrets = [%s]
tolerance = "5m"

[[providers]]
name = "mythicdot"
type = "mythicdot"

[providers.webhook]
secrets = [%s]

[[notifiers]]
name = "bench"
type = "webhook"
url = %s
secret = %s

[[routes]]
events = ["job.*"]
notifiers = ["bench"]
repeat_interval = "0s"
`, strconv.Quote(r.fake.baseURL()), strconv.Quote(r.openaiSecret), strconv.Quote(r.mythicSecret),
		strconv.Quote(r.alerts.url), strconv.Quote(r.notifySecret))
}

// lane is the daemons' lane: jobs registered with the first one's tracker
// before each turn, their events posted below each one's /webhooks/ in
// turn.
func (r *registeredRun) lane(daemons []*runningDaemon) lane {
	r.tracker = daemons[0].tracker
	l := lane{src: r, before: r.register}
	for _, d := range daemons {
		l.urls = append(l.urls, d.root+"/webhooks/")
	}
	return l
}

// register registers, before a turn, enough jobs for it: 1.5 times what
// the daemon's last turn sent at its rate own, or firstTurnShare of the
// baseline's rate before the first turn.
func (r *registeredRun) register(ctx context.Context, turn time.Duration, own, baseline float64) error {
	rate := own
	if rate == 0 {
		rate = baseline * firstTurnShare
	}
	want := int(1.5*rate*turn.Seconds()) + 100
	add := want - (len(r.jobs) - int(r.taken.Load()))
	if add <= 0 {
		return nil
	}
	// Per job, so that the shares hold of deliveries: each job has one end
	// and at most one follow-up. The choices follow two low-discrepancy
	// sequences of the job's number, so that even a short run has its
	// shares.
	ends := 1 - redeliveryShare - staleShare
	jobs := make([]*regJob, add)
	for i := range jobs {
		j := &regJob{provider: "openai", kind: tracker.KindBatch, n: len(r.jobs) + i + 1}
		switch u := spread(j.n, 0.6180339887498949); {
		case u < staleShare/ends:
			// Only MythicDot sends an event before a job's end: a
			// fine-tune's created.
			j.provider, j.kind, j.after = "mythicdot", tracker.KindFineTuning, followStale
		case u < mythicDotShare:
			j.provider = "mythicdot"
		}
		if j.after == followNone && spread(j.n, 0.7548776662466927) < redeliveryShare/ends/(1-staleShare/ends) {
			j.after = followRedelivery
		}
		prefix := "batch_"
		if j.kind == tracker.KindFineTuning {
			prefix = "ftjob-"
		}
		j.id = prefix + r.run + "_" + strconv.Itoa(j.n)
		jobs[i] = j
	}
	var (
		next atomic.Int64
		wg   sync.WaitGroup
		errs = make([]error, registerConcurrency)
	)
	for w := range registerConcurrency {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < len(jobs) && errs[w] == nil; i = int(next.Add(1)) - 1 {
				j := jobs[i]
				if _, _, err := r.tracker.Track(ctx, tracker.TrackRequest{Provider: j.provider, Kind: j.kind, ExternalID: j.id}); err != nil {
					errs[w] = fmt.Errorf("register %s job %s: %w", j.provider, j.id, err)
				}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	r.jobs = append(r.jobs, jobs...)
	return nil
}

// spread is the n-th element, in [0, 1), of the additive recurrence of
// step alpha (irrational), a sequence spread evenly over [0, 1).
func spread(n int, alpha float64) float64 {
	_, frac := math.Modf(float64(n) * alpha)
	return frac
}

// next implements source: a follow-up whose end was answered, else the
// next registered job's end; nil once every registered job's end went.
// root is the daemon's /webhooks/ URL.
func (r *registeredRun) next(ctx context.Context, root string) (*http.Request, func(bool), error) {
	r.mu.Lock()
	if len(r.queue) > 0 {
		j := r.queue[0]
		r.queue = r.queue[1:]
		r.mu.Unlock()
		return r.followUp(ctx, root, j)
	}
	r.mu.Unlock()
	var j *regJob
	for {
		i := r.taken.Load()
		if int(i) >= len(r.jobs) {
			return nil, nil, nil
		}
		if r.taken.CompareAndSwap(i, i+1) {
			j = r.jobs[i]
			break
		}
	}
	now := time.Now()
	j.body = r.endBody(j, now)
	req, err := r.request(ctx, root, j, "msg_"+r.run+"_"+strconv.Itoa(j.n), j.body, now)
	if err != nil {
		return nil, nil, err
	}
	j.sentAt = now
	return req, func(ok bool) {
		j.ok = ok
		if ok && j.after != followNone {
			r.mu.Lock()
			r.queue = append(r.queue, j)
			r.mu.Unlock()
		}
	}, nil
}

// followUp is j's delivery after its end: the end again, or its stale
// created event, a minute older than the end.
func (r *registeredRun) followUp(ctx context.Context, root string, j *regJob) (*http.Request, func(bool), error) {
	now := time.Now()
	body, msgID, counter := j.body, "msg_"+r.run+"_"+strconv.Itoa(j.n), &r.duplicates
	if j.after == followStale {
		body = fmt.Appendf(nil, `{"id":"evt_%s_%d_created","type":"fine_tuning.job.created","created":%d,"data":{"object":{"id":%q,"object":"fine_tuning.job","status":"queued"}}}`,
			r.run, j.n, j.sentAt.Add(-time.Minute).Unix(), j.id)
		msgID, counter = msgID+"_created", &r.staleOKs
	}
	req, err := r.request(ctx, root, j, msgID, body, now)
	if err != nil {
		return nil, nil, err
	}
	return req, func(ok bool) {
		if ok {
			counter.Add(1)
		}
	}, nil
}

// endBody is j's end event as its provider sends it: OpenAI's thin
// batch.completed, or MythicDot's with the whole object and its figures.
func (r *registeredRun) endBody(j *regJob, now time.Time) []byte {
	switch {
	case j.provider == "openai":
		return fmt.Appendf(nil, `{"id":"evt_%s_%d","object":"event","created_at":%d,"type":"batch.completed","data":{"id":%q}}`,
			r.run, j.n, now.Unix(), j.id)
	case j.kind == tracker.KindFineTuning:
		return fmt.Appendf(nil, `{"id":"evt_%s_%d","type":"fine_tuning.job.succeeded","created":%d,"data":{"object":{"id":%q,"object":"fine_tuning.job",`+
			`"status":"succeeded","fine_tuned_model":"ft:gpt-4o-mini:bench","trained_tokens":120000}}}`, r.run, j.n, now.Unix(), j.id)
	}
	return fmt.Appendf(nil, `{"id":"evt_%s_%d","type":"batch.completed","created":%d,"data":{"object":{"id":%q,"object":"batch","status":"completed",`+
		`"request_counts":{"total":10,"completed":10,"failed":0},"usage":{"input_tokens":100,"output_tokens":50,"total_tokens":150},"output_file_id":"file-out"}}}`,
		r.run, j.n, now.Unix(), j.id)
}

// request is body posted to j's provider's endpoint below root, signed as
// that provider signs.
func (r *registeredRun) request(ctx context.Context, root string, j *regJob, msgID string, body []byte, now time.Time) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, root+j.provider, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	signer := r.openai
	if j.provider == "mythicdot" {
		signer = r.mythicdot
	}
	if err := signer.Sign(req.Header, msgID, body, now); err != nil {
		return nil, fmt.Errorf("sign %s event: %w", j.provider, err)
	}
	return req, nil
}

// await waits, once the turns are over, until every end answered 2xx has
// an alert and alertSettle more has passed, or until no alert has arrived
// for quiet, and then accounts for them.
func (r *registeredRun) await(ctx context.Context, quiet time.Duration) (*RegisteredStats, error) {
	ends := make(map[string]endSent, r.taken.Load())
	for _, j := range r.jobs[:r.taken.Load()] {
		ends[j.key()] = endSent{at: j.sentAt, ok: j.ok}
	}
	start := time.Now()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var complete time.Time
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-tick.C:
		}
		now := time.Now()
		all := r.alerts.covers(ends)
		last := r.alerts.lastArrival()
		if all && complete.IsZero() {
			complete = now
		}
		if last.Before(start) {
			last = start
		}
		if (all && now.Sub(complete) >= alertSettle) || now.Sub(last) >= quiet {
			break
		}
	}
	a := account(ends, r.alerts.snapshot())
	s := &RegisteredStats{
		Registered: len(r.jobs), Ends: a.ends, Duplicates: int(r.duplicates.Load()), Stale: int(r.staleOKs.Load()),
		Polls: int(r.fake.polls.Load()), PolledTwice: r.fake.polledTwice(), Alerts: a.alerts, Redelivered: a.redelivered,
		Missing: a.missing, Extra: a.extra, Unexpected: a.unexpected,
	}
	for _, j := range r.jobs[:r.taken.Load()] {
		switch {
		case !j.ok:
		case j.provider == "openai":
			s.OpenAIEnds++
		default:
			s.MythicDotEnds++
		}
	}
	for _, l := range a.byProvider {
		slices.Sort(l)
	}
	s.OpenAIP50, s.MythicDotP50 = percentile(a.byProvider["openai"], 0.50), percentile(a.byProvider["mythicdot"], 0.50)
	s.OpenAIP99, s.MythicDotP99 = percentile(a.byProvider["openai"], 0.99), percentile(a.byProvider["mythicdot"], 0.99)
	slices.Sort(a.latencies)
	s.P50, s.P99 = percentile(a.latencies, 0.50), percentile(a.latencies, 0.99)
	if len(a.latencies) > 0 {
		s.Max = a.latencies[len(a.latencies)-1]
	}
	last := r.alerts.lastArrival()
	if last.After(start) {
		s.Drain = last.Sub(start)
	}
	if len(r.jobs) > 0 && r.taken.Load() > 0 && !last.IsZero() {
		s.AlertSpan = last.Sub(r.jobs[0].sentAt)
	}
	return s, nil
}

// endSent is a job's end as the run sent it: when first, and whether it was
// answered 2xx.
type endSent struct {
	at time.Time
	ok bool
}

// arrival is one alert delivery at the receiver: the alert's id
// (webhook-id) and when it arrived.
type arrival struct {
	id string
	at time.Time
}

// accounting is how the alerts received match the ends sent.
type accounting struct {
	// ends is how many ends were answered 2xx.
	ends int
	// alerts is how many distinct alerts arrived, redelivered how many
	// deliveries repeated one.
	alerts, redelivered int
	// missing: ends answered 2xx with no alert; extra: with more than one
	// distinct alert; unexpected: alerts about a job whose end was not sent.
	missing, extra, unexpected int
	// latencies are, per end with an alert, its first alert's arrival less
	// the end's first send; byProvider the same by the job's provider.
	latencies  []time.Duration
	byProvider map[string][]time.Duration
}

// account matches the alerts received, by job key, to the ends sent. An
// end answered otherwise than 2xx may or may not have been applied: its
// alerts are counted, and its lack of one is not.
func account(ends map[string]endSent, got map[string][]arrival) accounting {
	a := accounting{byProvider: map[string][]time.Duration{}}
	for key, arrivals := range got {
		ids := map[string]bool{}
		for _, ar := range arrivals {
			ids[ar.id] = true
		}
		a.alerts += len(ids)
		a.redelivered += len(arrivals) - len(ids)
		if _, ok := ends[key]; !ok {
			a.unexpected += len(ids)
		}
	}
	for key, e := range ends {
		if !e.ok {
			continue
		}
		a.ends++
		arrivals := got[key]
		if len(arrivals) == 0 {
			a.missing++
			continue
		}
		first, ids := arrivals[0].at, map[string]bool{}
		for _, ar := range arrivals {
			ids[ar.id] = true
			if ar.at.Before(first) {
				first = ar.at
			}
		}
		if len(ids) > 1 {
			a.extra++
		}
		a.latencies = append(a.latencies, first.Sub(e.at))
		provider, _, _ := strings.Cut(key, "/")
		a.byProvider[provider] = append(a.byProvider[provider], first.Sub(e.at))
	}
	return a
}

// alertReceiver is the webhook notifier's receiver: it verifies each
// delivery's Standard Webhooks signature and records its arrival by the
// job it is about.
type alertReceiver struct {
	url      string
	srv      *http.Server
	verifier signature.Verifier

	mu  sync.Mutex
	got map[string][]arrival // by job key; "" for alerts about no job
	// last is the latest arrival.
	last time.Time
}

func startAlertReceiver(secret string) (*alertReceiver, error) {
	v, err := signature.New(signature.Config{Scheme: signature.SchemeStandardWebhooks, Secrets: []string{secret}})
	if err != nil {
		return nil, fmt.Errorf("build alert receiver's verifier: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen for the alert receiver: %w", err)
	}
	a := &alertReceiver{url: "http://" + ln.Addr().String() + "/alerts", verifier: v, got: map[string][]arrival{}}
	a.srv = &http.Server{Handler: http.HandlerFunc(a.serve), ReadHeaderTimeout: 10 * time.Second}
	go a.srv.Serve(ln)
	return a, nil
}

func (a *alertReceiver) serve(w http.ResponseWriter, r *http.Request) {
	at := time.Now()
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		http.Error(w, "could not read body", http.StatusBadRequest)
		return
	}
	if err := a.verifier.Verify(r.Header, body, at); err != nil {
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	var alert tracker.Alert
	if err := json.Unmarshal(body, &alert); err != nil {
		http.Error(w, "alert: "+err.Error(), http.StatusBadRequest)
		return
	}
	key := ""
	if alert.Job != nil {
		key = alert.Job.Provider + "/" + alert.Job.ExternalID
	}
	a.mu.Lock()
	a.got[key] = append(a.got[key], arrival{id: r.Header.Get("webhook-id"), at: at})
	if at.After(a.last) {
		a.last = at
	}
	a.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// covers reports whether every end of ends answered 2xx has an alert.
func (a *alertReceiver) covers(ends map[string]endSent) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	for key, e := range ends {
		if e.ok && len(a.got[key]) == 0 {
			return false
		}
	}
	return true
}

// lastArrival is when the latest alert arrived (zero before any).
func (a *alertReceiver) lastArrival() time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.last
}

// snapshot is a copy of the arrivals by job key.
func (a *alertReceiver) snapshot() map[string][]arrival {
	a.mu.Lock()
	defer a.mu.Unlock()
	got := make(map[string][]arrival, len(a.got))
	for k, v := range a.got {
		got[k] = slices.Clone(v)
	}
	return got
}

func (a *alertReceiver) close() { a.srv.Close() }
