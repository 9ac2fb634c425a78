package ingest_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/storage/storagetest"
	"github.com/jobwatch/jobwatch/tracker"
	"github.com/jobwatch/jobwatch/tracker/ingest"
)

// fakeClock is a handler clock the test moves by hand.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Now().UnixNano())
	return c
}

func (c *fakeClock) Now() time.Time      { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Add(d time.Duration) { c.ns.Add(int64(d)) }
func (e *env) client(conns int) *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conns}}
}

// counter sums the samples of a counter vector whose labels include want.
func (e *env) counter(t *testing.T, name string, want map[string]string) float64 {
	t.Helper()
	mfs, err := e.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metric:
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			for k, v := range want {
				if labels[k] != v {
					continue metric
				}
			}
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
}

// TestForgedFloodCostsBoundedWrites: 20,000 forged requests (bad
// signatures to two providers, unknown provider names) write at most
// RejectedLogRate rows per provider and outcome and second, plus one
// summary row each; signed deliveries sent meanwhile are all accepted and
// stored. Writes are counted as rows, on a clock the test moves.
func TestForgedFloodCostsBoundedWrites(t *testing.T) {
	t.Parallel()
	for _, driver := range storagetest.Backends {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			clock := newFakeClock()
			e := setupWith(t, driver, options{now: clock.Now})
			client := e.client(32)
			post := func(path string, h http.Header, body []byte) int {
				req, _ := http.NewRequest(http.MethodPost, e.srv.URL+path, bytes.NewReader(body))
				for k, v := range h {
					req.Header[k] = v
				}
				resp, err := client.Do(req)
				if err != nil {
					t.Error(err)
					return 0
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				return resp.StatusCode
			}
			const forged, signed = 20000, 200
			// A forger's request: well-formed, signed with a guessed key.
			body := openaiEvent("evt_forged", "batch.completed", "batch_forged", clock.Now())
			forgedOpenAI := signOpenAI(t, "wh_forged", body, clock.Now())
			forgedOpenAI.Set("Webhook-Signature", "v1,"+strings.Repeat("A", 43)+"=")
			forgedMythic := http.Header{"X-Mythicdot-Signature": {hexHMAC("guess", body)}}
			var wg sync.WaitGroup
			var next atomic.Int64
			for range 16 {
				wg.Go(func() {
					for i := next.Add(1) - 1; i < forged; i = next.Add(1) - 1 {
						var code, want int
						switch i % 3 {
						case 0:
							code, want = post("/webhooks/openai", forgedOpenAI, body), 401
						case 1:
							code, want = post("/webhooks/mythicdot", forgedMythic, body), 401
						case 2:
							code, want = post(fmt.Sprintf("/webhooks/nobody-%d", i), nil, body), 404
						}
						if code != want {
							t.Errorf("forged request %d: %d, want %d", i, code, want)
							return
						}
					}
				})
			}
			var accepted atomic.Int64
			for w := range 4 {
				wg.Go(func() {
					for i := w; i < signed; i += 4 {
						body := openaiEvent(fmt.Sprintf("evt_real_%d", i), "batch.completed", fmt.Sprintf("batch_real_%d", i), clock.Now())
						if code := post("/webhooks/openai", signOpenAI(t, fmt.Sprintf("wh_real_%d", i), body, clock.Now()), body); code == 200 {
							accepted.Add(1)
						}
					}
				})
			}
			wg.Wait()
			sent := func(r int) int { return (forged - r + 2) / 3 } // how many of 0..forged-1 are r modulo 3
			if t.Failed() {
				t.FailNow()
			}
			if accepted.Load() != signed {
				t.Fatalf("%d of %d signed deliveries accepted during the flood", accepted.Load(), signed)
			}
			ctx := context.Background()
			count := func(o tracker.Outcome) int {
				t.Helper()
				ds, err := e.store.ListDeliveries(ctx, tracker.DeliveryFilter{Outcome: o, Limit: forged + signed})
				if err != nil {
					t.Fatal(err)
				}
				return len(ds)
			}
			// The clock stood still: each of the three (provider, outcome)
			// pairs logged its burst and no more.
			if n := count(tracker.OutcomeAccepted); n != signed {
				t.Errorf("%d accepted deliveries logged, want %d", n, signed)
			}
			bad, unknown := count(tracker.OutcomeBadSignature), count(tracker.OutcomeUnknownProvider)
			if bad != 2*ingest.RejectedLogRate || unknown != ingest.RejectedLogRate {
				t.Errorf("logged %d bad_signature and %d unknown_provider rows for %d forged requests, want %d and %d",
					bad, unknown, forged, 2*ingest.RejectedLogRate, ingest.RejectedLogRate)
			}
			unlogged := e.counter(t, "jobwatch_webhook_deliveries_unlogged_total", nil)
			if int(unlogged) != forged-3*ingest.RejectedLogRate {
				t.Errorf("jobwatch_webhook_deliveries_unlogged_total = %v, want %d", unlogged, forged-3*ingest.RejectedLogRate)
			}
			if all := e.counter(t, "jobwatch_webhook_deliveries_total", map[string]string{"outcome": "unknown_provider"}); int(all) != sent(2) {
				t.Errorf("jobwatch_webhook_deliveries_total{outcome=unknown_provider} = %v, want every one of %d", all, sent(2))
			}

			// A second later, the rate lets RejectedLogRate more through.
			clock.Add(time.Second)
			for i := range 2 * ingest.RejectedLogRate {
				post(fmt.Sprintf("/webhooks/nobody-late-%d", i), nil, nil)
			}
			if n := count(tracker.OutcomeUnknownProvider); n != 2*ingest.RejectedLogRate {
				t.Errorf("%d unknown_provider rows a second later, want %d", n, 2*ingest.RejectedLogRate)
			}

			// The summaries: one row per provider and outcome, saying how
			// many were left out; then nothing more to say.
			if err := e.h.LogSummaries(ctx); err != nil {
				t.Fatal(err)
			}
			if err := e.h.LogSummaries(ctx); err != nil {
				t.Fatal(err)
			}
			more := regexp.MustCompile(`^(\d+) more (\w+) deliveries, received from .* were not logged`)
			summed := map[string]int{}
			ds, err := e.store.ListDeliveries(ctx, tracker.DeliveryFilter{Limit: 1000})
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range ds {
				if m := more.FindStringSubmatch(d.Reason); m != nil {
					n, _ := strconv.Atoi(m[1])
					summed[d.Provider+" "+m[2]] += n
					if m[2] != string(d.Outcome) || d.StatusCode == 0 {
						t.Errorf("summary row %+v: outcome or status code not the summed deliveries'", d)
					}
				}
			}
			want := map[string]int{
				"openai bad_signature":    sent(0) - ingest.RejectedLogRate,
				"mythicdot bad_signature": sent(1) - ingest.RejectedLogRate,
				// and of the 2*RejectedLogRate late ones, as many unlogged
				"unknown unknown_provider": sent(2) - ingest.RejectedLogRate + ingest.RejectedLogRate,
			}
			if fmt.Sprint(summed) != fmt.Sprint(want) {
				t.Errorf("summary rows say %v, want %v", summed, want)
			}
			if len(ds) != signed+4*ingest.RejectedLogRate+len(want) {
				t.Errorf("the delivery log has %d rows, want %d", len(ds), signed+4*ingest.RejectedLogRate+len(want))
			}
		})
	}
}
