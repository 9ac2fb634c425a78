package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/tracker"
)

// costPrices price mythicdot batches on the model "mt-large" at 2 per
// million input tokens and 6 per million output tokens.
var costPrices = &tracker.Prices{Currency: "USD", Entries: []tracker.Price{
	{Provider: "mythicdot", Model: "mt-*", Kind: tracker.KindBatch, Input: 2, Output: 6},
}}

// costPoll is a poll's answer: job id succeeded with in and out tokens,
// on model (none when "").
func costPoll(id, model string, in, out int64) tracker.ApplyItem {
	o := &tracker.Observation{Provider: "mythicdot", ExternalID: id, Status: tracker.StatusSucceeded, ProviderStatus: "succeeded",
		Usage: &tracker.Usage{InputTokens: in, OutputTokens: out}, Source: tracker.SourcePoll, OccurredAt: time.Now()}
	if model != "" {
		o.Details = map[string]string{tracker.DetailModel: model}
	}
	return tracker.ApplyItem{Observation: o}
}

// dayTotals are the day's usage totals by model.
func dayTotals(t *testing.T, s tracker.Store) map[string]tracker.UsageTotal {
	t.Helper()
	totals, err := s.UsageTotals(context.Background(), "day", tracker.WindowStart("day", time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]tracker.UsageTotal{}
	for _, u := range totals {
		if u.Scope == "" {
			out[u.Model] = u
		}
	}
	return out
}

// costIsCountedOnce: a job's cost is computed once its usage is known,
// stored on the job with the price that produced it, and counted into the
// usage totals of its model exactly once however often it is polled,
// however late more usage arrives and however often its webhook is
// redelivered; a cost threshold crosses once. A job whose model is unknown
// has a cost that says so, counted nowhere.
func costIsCountedOnce(t *testing.T, open OpenStore) {
	s := open(t)
	ctx := context.Background()
	tr := alertingTracker(s, time.Now, &tracker.Alerting{
		Prices: costPrices,
		Routes: []tracker.Route{{Events: []string{"usage.threshold", "job.*"}, Notifiers: []string{"ops"}}},
		Thresholds: []tracker.Threshold{{Name: "daily-spend", Metric: tracker.MetricCost, Window: "day", Currency: "USD",
			Limit: 5 * tracker.NanosPerUnit, Levels: []float64{1.0}}},
	})
	if _, _, err := tr.Track(ctx, tracker.TrackRequest{Provider: "mythicdot", Kind: tracker.KindBatch, ExternalID: "b1", Model: "mt-large"}); err != nil {
		t.Fatal(err)
	}
	// A thin end: no tokens yet, so no cost.
	end := observation("b1", "end_b1", tracker.StatusSucceeded, time.Now())
	for range 2 { // delivered, then redelivered
		if _, err := tr.Observe(ctx, end); err != nil {
			t.Fatal(err)
		}
	}
	j, err := tr.Job(ctx, "mythicdot", "b1")
	if err != nil || j.Cost == nil || j.Cost.Known() {
		t.Fatalf("after a thin end: cost %+v, %v; want unknown (no tokens reported)", j.Cost, err)
	}
	// Many polls with the same figures: 1M in, 0.5M out = 2 + 3 = 5 USD.
	for range 3 {
		if _, err := tr.Observe(ctx, costPoll("b1", "", 1_000_000, 500_000)); err != nil {
			t.Fatal(err)
		}
	}
	j, _ = tr.Job(ctx, "mythicdot", "b1")
	if !j.Cost.Known() || j.Cost.Nanos != 5*tracker.NanosPerUnit || j.Cost.Price == nil || j.Cost.Price.Model != "mt-*" {
		t.Fatalf("after the polls: cost %+v, want 5 USD priced by the mt-* entry", j.Cost)
	}
	if got := dayTotals(t, s)["mt-large"].Metrics[tracker.MetricCost]; got != 5*tracker.NanosPerUnit {
		t.Fatalf("day cost of mt-large = %d nanos after three polls, want 5 USD once", got)
	}
	// Late usage: 0.5M more output tokens add 3 USD, once.
	for range 2 {
		if _, err := tr.Observe(ctx, costPoll("b1", "", 1_000_000, 1_000_000)); err != nil {
			t.Fatal(err)
		}
	}
	u := dayTotals(t, s)["mt-large"]
	if u.Metrics[tracker.MetricCost] != 8*tracker.NanosPerUnit || u.Cost != 8 || u.Metrics["jobs"] != 1 || u.Metrics["output_tokens"] != 1_000_000 {
		t.Fatalf("day totals of mt-large = %+v, want 8 USD, one job, 1M output tokens", u)
	}
	// A job the prices know no model of: unknown, counted nowhere.
	if _, err := tr.Observe(ctx, observation("b2", "end_b2", tracker.StatusSucceeded, time.Now())); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Observe(ctx, costPoll("b2", "", 1_000_000, 0)); err != nil {
		t.Fatal(err)
	}
	j, _ = tr.Job(ctx, "mythicdot", "b2")
	if j.Cost == nil || j.Cost.Known() {
		t.Fatalf("b2 has no model: cost %+v, want unknown", j.Cost)
	}
	if u := dayTotals(t, s)[""]; u.Metrics[tracker.MetricCost] != 0 || u.Metrics["input_tokens"] != 1_000_000 {
		t.Fatalf("day totals of unknown models = %+v, want the tokens and no cost", u)
	}
	// The provider's word names the model: priced from then on.
	if _, err := tr.Observe(ctx, costPoll("b2", "mt-small", 1_000_000, 0)); err != nil {
		t.Fatal(err)
	}
	if got := dayTotals(t, s)["mt-small"].Metrics[tracker.MetricCost]; got != 2*tracker.NanosPerUnit {
		t.Fatalf("day cost of mt-small = %d nanos, want 2 USD", got)
	}
	crossings := 0
	alerts, _ := s.ListAlerts(ctx, "", 100)
	for _, a := range alerts {
		if th := a.Alert.Threshold; th != nil {
			crossings++
			if th.Currency != "USD" || th.Value != 5*tracker.NanosPerUnit {
				t.Errorf("crossing = %+v, want 5 USD", th)
			}
		}
		if a.Alert.Type == "job.succeeded" && a.Alert.Job.ExternalID == "b1" && a.Alert.Job.Cost == nil {
			t.Errorf("b1's end alert carries no cost: %+v", a.Alert.Job)
		}
	}
	if crossings != 1 {
		t.Fatalf("%d crossings of the cost threshold, want 1", crossings)
	}
}

// costAcrossReplicas: two replicas applying the same polls and webhooks of
// the same jobs at once count each job's cost once.
func costAcrossReplicas(t *testing.T, open OpenStore) {
	alerting := &tracker.Alerting{Prices: costPrices}
	var trackers []*tracker.Tracker
	var first tracker.Store
	for range 2 {
		s := open(t)
		if first == nil {
			first = s
		}
		trackers = append(trackers, tracker.New(s, tracker.Options{Alerting: alerting, MaxConcurrentCommits: 2}))
	}
	const jobs = 20
	var wg sync.WaitGroup
	for i := range jobs {
		id := fmt.Sprintf("r%d", i)
		for r := range 4 {
			wg.Go(func() {
				tr := trackers[r%2]
				end := observation(id, "end_"+id, tracker.StatusSucceeded, time.Now())
				if _, err := tr.Observe(context.Background(), end, costPoll(id, "mt-large", 500_000, 0)); err != nil {
					t.Error(err)
				}
			})
		}
	}
	wg.Wait()
	// 20 jobs of 0.5M input tokens at 2 per million: 20 USD. Each job
	// counts under the model known when it was counted: a thin end that
	// comes first counts it under none.
	totals := dayTotals(t, first)
	if got := totals["mt-large"]; got.Metrics[tracker.MetricCost] != jobs*tracker.NanosPerUnit || got.Metrics["input_tokens"] != jobs*500_000 {
		t.Fatalf("mt-large totals = %+v, want %d USD", got, jobs)
	}
	if n := totals["mt-large"].Metrics["jobs"] + totals[""].Metrics["jobs"]; n != jobs {
		t.Fatalf("%d jobs counted, want %d", n, jobs)
	}
}

// projectedCostWarnsBeforeItIsSpent: live jobs that report their request
// count are projected to cost their requests times the average cost per
// request of their provider and model so far; a projected cost threshold
// crosses on spent plus projected cost, once, and /v1/usage's totals show
// the projection.
func projectedCostWarnsBeforeItIsSpent(t *testing.T, open OpenStore) {
	s := open(t)
	ctx := context.Background()
	tr := alertingTracker(s, time.Now, &tracker.Alerting{
		Prices: costPrices,
		Routes: []tracker.Route{{Events: []string{"usage.threshold"}, Notifiers: []string{"ops"}}},
		Thresholds: []tracker.Threshold{
			{Name: "spend", Metric: tracker.MetricCost, Window: "day", Currency: "USD", Limit: 10 * tracker.NanosPerUnit, Levels: []float64{1.0}, Projected: true},
			{Name: "team-b", Metric: tracker.MetricCost, Labels: map[string]string{"team": "b"}, Window: "day", Currency: "USD", Limit: tracker.NanosPerUnit, Levels: []float64{1.0}, Projected: true},
		},
	})
	// One ended job: 100 requests for 2 USD, 0.02 USD a request.
	end := observation("done", "end_done", tracker.StatusSucceeded, time.Now())
	done := costPoll("done", "mt-large", 1_000_000, 0)
	done.Observation.Usage.RequestsTotal = 100
	if _, err := tr.Observe(ctx, end, done); err != nil {
		t.Fatal(err)
	}
	running := func(id string, requests int64, labels map[string]string) {
		t.Helper()
		if _, _, err := tr.Track(ctx, tracker.TrackRequest{Provider: "mythicdot", Kind: tracker.KindBatch, ExternalID: id, Model: "mt-large", Labels: labels}); err != nil {
			t.Fatal(err)
		}
		it := observation(id, "run_"+id, tracker.StatusRunning, time.Now())
		it.Observation.Usage = &tracker.Usage{RequestsTotal: requests}
		if _, err := tr.Observe(ctx, it); err != nil {
			t.Fatal(err)
		}
	}
	running("r1", 300, map[string]string{"team": "a"}) // 6 USD
	if err := tr.CheckProjectedThresholds(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(outbox(t, s)["usage.threshold"]); n != 0 {
		t.Fatalf("%d crossings at 2 USD spent and 6 projected of 10, want none", n)
	}
	running("r2", 200, nil) // 4 USD more: 12 in all
	for range 2 {
		if err := tr.CheckProjectedThresholds(ctx); err != nil {
			t.Fatal(err)
		}
	}
	alerts, _ := s.ListAlerts(ctx, "", 100)
	var crossings []*tracker.ThresholdCrossing
	for _, a := range alerts {
		if a.Alert.Threshold != nil {
			crossings = append(crossings, a.Alert.Threshold)
		}
	}
	if len(crossings) != 1 || crossings[0].Name != "spend" || crossings[0].Value != 12*tracker.NanosPerUnit || crossings[0].Projected != 10*tracker.NanosPerUnit {
		t.Fatalf("crossings = %+v, want spend once at 12 USD with 10 projected (team-b has no live job)", crossings)
	}
	usage, err := tr.Usage(ctx, "day", "")
	if err != nil {
		t.Fatal(err)
	}
	var row *tracker.UsageTotal
	for i := range usage {
		if usage[i].Model == "mt-large" && usage[i].Scope == "" {
			row = &usage[i]
		}
	}
	if row == nil || row.Cost != 2 || row.Projected != 10 || row.Currency != "USD" {
		t.Fatalf("usage = %+v, want mt-large at 2 USD spent and 10 projected", usage)
	}
	// A job no longer tracked is projected no more.
	if err := tr.Untrack(ctx, "mythicdot", "r2", false); err != nil {
		t.Fatal(err)
	}
	sizes, err := tr.Projection(ctx)
	if err != nil || len(sizes) != 1 || sizes[0].Nanos != 6*tracker.NanosPerUnit {
		t.Fatalf("projection after untracking r2 = %+v, %v; want r1's 6 USD alone", sizes, err)
	}
}
