package tracker

import (
	"reflect"
	"slices"
	"testing"
	"time"
)

var planNow = time.Date(2026, 12, 3, 10, 30, 0, 0, time.UTC)

func planRules(string, Kind) Rules { return Rules{StaleAfter: time.Hour} }

// planParams is a batch of items at planNow.
func planParams(alerting *Alerting, items ...ApplyItem) ApplyParams {
	return ApplyParams{Now: planNow, Items: items, Rules: planRules, Alerting: alerting}
}

// webhook is an item of a webhook observation of openai job id, with its
// accepted delivery.
func webhook(id, eventID string, status Status, adopt bool) ApplyItem {
	return ApplyItem{
		Observation: &Observation{Provider: "openai", ExternalID: id, Kind: KindBatch, Status: status, Source: SourceWebhook,
			EventID: eventID, Type: "batch." + string(status), OccurredAt: planNow.Add(-time.Minute)},
		Adopt:    adopt,
		Delivery: &Delivery{Provider: "openai", Outcome: OutcomeAccepted, EventID: eventID},
	}
}

// running is a tracked running openai batch.
func running(id string, jobID int64, labels map[string]string) *Job {
	return &Job{ID: jobID, Provider: "openai", ExternalID: id, Kind: KindBatch, Status: StatusRunning, Labels: labels,
		CreatedAt: planNow.Add(-time.Hour), UpdatedAt: planNow.Add(-time.Hour), LastHeardAt: planNow.Add(-time.Hour)}
}

func plan(p ApplyParams, jobs map[JobKey]*Job, seen map[EventKey]bool) *ApplyPlan {
	return PlanApply(p, ApplyOrder(p.Items), jobs, seen)
}

func outcomes(ds []Delivery) []Outcome {
	var out []Outcome
	for _, d := range ds {
		out = append(out, d.Outcome)
	}
	return out
}

func TestApplyOrderAndReadKeys(t *testing.T) {
	t.Parallel()
	items := []ApplyItem{
		webhook("b2", "evt_1", StatusRunning, false),
		webhook("b1", "evt_2", StatusRunning, false),
		{Delivery: &Delivery{Provider: "openai", Outcome: OutcomeMalformed}},
		webhook("b2", "evt_3", StatusSucceeded, false),
	}
	order := ApplyOrder(items)
	if want := []int{2, 1, 0, 3}; !slices.Equal(order, want) {
		t.Fatalf("order = %v, want %v", order, want)
	}
	jobs, events := ReadKeys(items, order)
	if want := []JobKey{{"openai", "b1"}, {"openai", "b2"}}; !slices.Equal(jobs, want) {
		t.Errorf("jobs = %v, want %v", jobs, want)
	}
	if want := []EventKey{{"openai", "evt_2"}, {"openai", "evt_1"}, {"openai", "evt_3"}}; !slices.Equal(events, want) {
		t.Errorf("events = %v, want %v", events, want)
	}
}

func TestPlanApplyDedupesEvents(t *testing.T) {
	t.Parallel()
	k := JobKey{"openai", "b1"}
	jobs := map[JobKey]*Job{k: running("b1", 7, nil)}
	pl := plan(planParams(nil,
		webhook("b1", "evt_1", StatusRunning, false),
		webhook("b1", "evt_1", StatusRunning, false),   // redelivered in the same batch
		webhook("b1", "evt_0", StatusSucceeded, false), // seen by an earlier batch
	), jobs, map[EventKey]bool{{"openai", "evt_0"}: true})

	if r := pl.Results[0]; r.Duplicate || r.Effect != EffectApplied || r.Job == nil || r.Job.ID != 7 {
		t.Errorf("first = %+v, want applied to job 7", r)
	}
	for _, i := range []int{1, 2} {
		if r := pl.Results[i]; !r.Duplicate || r.Job == nil || r.Job.Status != StatusRunning {
			t.Errorf("item %d = %+v, want a duplicate showing the running job", i, r)
		}
	}
	if len(pl.Events) != 1 || pl.Events[0].EventID != "evt_1" || pl.Events[0].JobID == nil || *pl.Events[0].JobID != 7 {
		t.Errorf("events = %+v, want evt_1 of job 7 only", pl.Events)
	}
	if want := []Outcome{OutcomeAccepted, OutcomeDuplicate, OutcomeDuplicate}; !slices.Equal(outcomes(pl.Deliveries), want) {
		t.Errorf("delivery outcomes = %v, want %v", outcomes(pl.Deliveries), want)
	}
	if !slices.Equal(pl.Changed, []JobKey{k}) || len(pl.Adopted) != 0 {
		t.Errorf("changed %v, adopted %v; want job b1 changed, none adopted", pl.Changed, pl.Adopted)
	}
}

func TestPlanApplyAdoptsUnknownJobs(t *testing.T) {
	t.Parallel()
	jobs := map[JobKey]*Job{}
	pl := plan(planParams(nil,
		webhook("b1", "evt_1", StatusRunning, true),
		webhook("b1", "evt_2", StatusSucceeded, true),
		webhook("b2", "evt_3", StatusRunning, false), // not adopted: recorded without a job
		webhook("b3", "evt_4", StatusRunning, true),  // seen before: conjures no job
	), jobs, map[EventKey]bool{{"openai", "evt_4"}: true})

	k := JobKey{"openai", "b1"}
	if !slices.Equal(pl.Adopted, []JobKey{k}) || len(pl.Changed) != 0 {
		t.Fatalf("adopted %v, changed %v; want b1 adopted, none changed", pl.Adopted, pl.Changed)
	}
	if r := pl.Results[0]; !r.Created || r.Previous != "" || r.Job.Status != StatusRunning {
		t.Errorf("first = %+v, want the job created running", r)
	}
	if r := pl.Results[1]; r.Created || r.Previous != StatusRunning || r.Job.Status != StatusSucceeded {
		t.Errorf("second = %+v, want running to succeeded", r)
	}
	if j := pl.Jobs[k]; j.Status != StatusSucceeded || j.Kind != KindBatch || j.CreatedAt != planNow {
		t.Errorf("adopted job = %+v, want a batch created now that succeeded", j)
	}
	if r := pl.Results[2]; r.Job != nil || r.Effect != EffectRecorded {
		t.Errorf("unadopted = %+v, want recorded without a job", r)
	}
	if pl.Jobs[JobKey{"openai", "b3"}] != nil || !pl.Results[3].Duplicate {
		t.Errorf("a seen event adopted job b3 (%+v)", pl.Results[3])
	}
	if want := []Outcome{OutcomeAccepted, OutcomeAccepted, OutcomeRecorded, OutcomeDuplicate}; !slices.Equal(outcomes(pl.Deliveries), want) {
		t.Errorf("delivery outcomes = %v, want %v", outcomes(pl.Deliveries), want)
	}
	var adoptedBy []string
	for _, e := range pl.Events {
		if e.JobID != nil {
			t.Errorf("event %s names job id %d before the write", e.EventID, *e.JobID)
		}
		adoptedBy = append(adoptedBy, e.AdoptedJob)
	}
	if want := []string{"b1", "b1", ""}; !slices.Equal(adoptedBy, want) {
		t.Errorf("events' adopted jobs = %q, want %q", adoptedBy, want)
	}

	pl.SetAdoptedIDs([]int64{42})
	if pl.Jobs[k].ID != 42 || pl.Results[0].Job.ID != 42 || pl.Results[1].Job.ID != 42 {
		t.Errorf("ids after the write: job %d, results %d and %d; want 42", pl.Jobs[k].ID, pl.Results[0].Job.ID, pl.Results[1].Job.ID)
	}
}

func TestPlanApplyAccountsUsageAndRaisesAlerts(t *testing.T) {
	t.Parallel()
	search := map[string]string{"team": "search"}
	alerting := &Alerting{Thresholds: []Threshold{
		{Name: "search", Metric: "total_tokens", Labels: search, Window: "day", Limit: 1000, Levels: []float64{1}},
		{Name: "all", Metric: "total_tokens", Window: "day", Limit: 1000, Levels: []float64{1}},
	}}
	ending := func(id, eventID string, tokens int64) ApplyItem {
		it := webhook(id, eventID, StatusSucceeded, false)
		it.Observation.Usage = &Usage{TotalTokens: tokens}
		return it
	}
	jobs := func() map[JobKey]*Job {
		return map[JobKey]*Job{{"openai", "b1"}: running("b1", 1, search), {"openai", "b2"}: running("b2", 2, nil)}
	}
	items := []ApplyItem{ending("b1", "evt_1", 100), ending("b2", "evt_2", 50), ending("b1", "evt_3", 120)}

	pl := plan(planParams(alerting, items...), jobs(), nil)
	all := UsageDelta{"total_tokens": 170, "tokens": 170, "jobs": 2, "succeeded_jobs": 2}
	labelled := UsageDelta{"total_tokens": 120, "tokens": 120, "jobs": 1, "succeeded_jobs": 1}
	want := map[UsageKey]UsageDelta{}
	for _, w := range Windows {
		want[UsageKey{"openai", "", "", w, WindowStart(w, planNow)}] = all
		want[UsageKey{"openai", "", "team=search", w, WindowStart(w, planNow)}] = labelled
	}
	if !reflect.DeepEqual(pl.Usage, want) {
		t.Errorf("usage = %v\nwant    %v", pl.Usage, want)
	}
	if c := pl.Jobs[JobKey{"openai", "b1"}].Counted; c.TotalTokens != 120 {
		t.Errorf("b1 counted %d total tokens, want 120 (each figure counts once)", c.TotalTokens)
	}
	var types []string
	for _, a := range pl.Alerts {
		types = append(types, a.Type+" "+a.Job.ExternalID)
	}
	if want := []string{"job.succeeded b1", "job.succeeded b2"}; !slices.Equal(types, want) {
		t.Errorf("alerts = %q, want %q", types, want)
	}
	if !pl.WritesAlerting() {
		t.Error("a plan with usage and alerts writes no alerting")
	}

	quiet := plan(planParams(nil, items...), jobs(), nil)
	if quiet.Usage != nil || quiet.Alerts != nil || quiet.WritesAlerting() {
		t.Errorf("without alerting: usage %v, alerts %v; want none", quiet.Usage, quiet.Alerts)
	}
	if c := quiet.Jobs[JobKey{"openai", "b1"}].Counted; c != (Counted{}) {
		t.Errorf("without alerting b1 counted %+v, want nothing", c)
	}
}

func TestThresholdTouchedAndCrossed(t *testing.T) {
	t.Parallel()
	th := Threshold{Name: "t", Metric: "total_tokens", Provider: "openai", Window: "day", Limit: 1000, Levels: []float64{0.5, 0.8, 1}}
	day := WindowStart("day", planNow)
	tests := []struct {
		name string
		key  UsageKey
		d    UsageDelta
		want bool
	}{
		{"its metric in its window", UsageKey{"openai", "", "", "day", day}, UsageDelta{"total_tokens": 1}, true},
		{"another metric", UsageKey{"openai", "", "", "day", day}, UsageDelta{"jobs": 1}, false},
		{"another provider", UsageKey{"mythicdot", "", "", "day", day}, UsageDelta{"total_tokens": 1}, false},
		{"another scope", UsageKey{"openai", "", "team=search", "day", day}, UsageDelta{"total_tokens": 1}, false},
		{"another window", UsageKey{"openai", "", "", "hour", WindowStart("hour", planNow)}, UsageDelta{"total_tokens": 1}, false},
		{"yesterday", UsageKey{"openai", "", "", "day", day.AddDate(0, 0, -1)}, UsageDelta{"total_tokens": 1}, false},
	}
	for _, tt := range tests {
		if got := th.Touched(map[UsageKey]UsageDelta{tt.key: tt.d}, planNow); got != tt.want {
			t.Errorf("%s: touched = %v, want %v", tt.name, got, tt.want)
		}
	}
	for value, want := range map[int64][]float64{499: nil, 500: {0.5}, 999: {0.5, 0.8}, 1000: {0.5, 0.8, 1}} {
		if got := th.CrossedLevels(value); !slices.Equal(got, want) {
			t.Errorf("CrossedLevels(%d) = %v, want %v", value, got, want)
		}
	}
	a := th.CrossingAlert(day, 812, 0, 0.8, planNow)
	if c := a.Threshold; a.Type != AlertUsageThreshold || a.Provider != "openai" || c.Value != 812 || c.Level != 0.8 || !c.WindowStart.Equal(day) || a.Summary == "" {
		t.Errorf("crossing alert = %+v (%+v)", a, a.Threshold)
	}
}

func TestAlertingNotifiers(t *testing.T) {
	t.Parallel()
	al := &Alerting{Routes: []Route{
		{Events: []string{"job.*"}, Notifiers: []string{"slack"}},
		{Events: []string{"*"}, Notifiers: []string{"slack", "email"}, RepeatInterval: time.Hour},
		{Events: []string{"usage.*"}, Notifiers: []string{"pager"}},
	}}
	a := Alert{Type: AlertJobFailed, Provider: "openai", Job: &Job{Provider: "openai", ExternalID: "b1"}}
	for _, due := range []bool{true, false} {
		var asked []string
		got, err := al.Notifiers(a, func(key string, interval time.Duration) (bool, error) {
			asked = append(asked, key+" "+interval.String())
			return due, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"slack"}
		if due {
			want = []string{"slack", "email"}
		}
		if !slices.Equal(got, want) {
			t.Errorf("due %v: notifiers = %v, want %v", due, got, want)
		}
		if want := []string{"1|job.failed/openai/b1 1h0m0s"}; !slices.Equal(asked, want) {
			t.Errorf("due %v: asked %q, want %q", due, asked, want)
		}
	}
}

func TestAlertingCountMissed(t *testing.T) {
	t.Parallel()
	al := &Alerting{SilentAfter: map[string]int{"openai": 2}}
	var run WebhookRun
	types := func(alerts []Alert) []string {
		var out []string
		for _, a := range alerts {
			out = append(out, a.Type)
		}
		return out
	}
	steps := []struct {
		name   string
		broken bool
		at     time.Time
		want   []string
		missed int
	}{
		{"first miss", false, planNow, nil, 1},
		{"silent at the second", false, planNow.Add(time.Hour), []string{AlertWebhooksSilent}, 2},
		{"once per silence", false, planNow.Add(2 * time.Hour), nil, 3},
		{"a webhook ends the silence and the run", true, planNow.Add(3 * time.Hour), []string{AlertWebhooksResumed}, 1},
	}
	for _, s := range steps {
		var alerts []Alert
		run, alerts = al.CountMissed("openai", run, s.broken, 1, s.at)
		if !slices.Equal(types(alerts), s.want) || run.Missed != s.missed {
			t.Fatalf("%s: alerts %v, missed %d; want %v, %d", s.name, types(alerts), run.Missed, s.want, s.missed)
		}
		switch s.name {
		case "silent at the second":
			if run.SilentSince == nil || !run.SilentSince.Equal(s.at) || alerts[0].Silence.Missed != 2 {
				t.Fatalf("silence %v, alert %+v; want silent since %v after 2", run.SilentSince, alerts[0].Silence, s.at)
			}
		case "a webhook ends the silence and the run":
			if run.SilentSince != nil || alerts[0].Silence.Missed != 3 || !alerts[0].Silence.Since.Equal(planNow.Add(time.Hour)) {
				t.Fatalf("silence %v, alert %+v; want ended, resumed after 3 since the silence began", run.SilentSince, alerts[0].Silence)
			}
		}
	}
	if _, alerts := (&Alerting{}).CountMissed("mythicdot", WebhookRun{}, false, DefaultSilentAfter, planNow); len(alerts) != 1 {
		t.Errorf("%d misses of a provider without SilentAfter raised %v, want the default to silence it", DefaultSilentAfter, types(alerts))
	}
}

// An ended job is priced by the plan; once prices are gone (a reload
// removed them), a later observation keeps the cost the job has.
func TestPlanPricesEndsAndKeepsACostWithoutPrices(t *testing.T) {
	t.Parallel()
	prices := &Prices{Currency: "USD", Entries: []Price{{Provider: "openai", Model: "m", Input: 1}}}
	job := running("b1", 1, nil)
	job.Details = map[string]string{DetailModel: "m"}
	end := webhook("b1", "e1", StatusSucceeded, false)
	end.Observation.Usage = &Usage{InputTokens: 1_000_000}
	pl := plan(planParams(&Alerting{Prices: prices}, end), map[JobKey]*Job{{"openai", "b1"}: job}, nil)
	priced := pl.Jobs[JobKey{"openai", "b1"}]
	if !priced.Cost.Known() || priced.Cost.Nanos != NanosPerUnit || pl.Results[0].CostAdded != NanosPerUnit {
		t.Fatalf("cost = %+v, added %d; want 1 USD", priced.Cost, pl.Results[0].CostAdded)
	}
	again := webhook("b1", "e2", StatusSucceeded, false)
	pl = plan(planParams(&Alerting{}, again), map[JobKey]*Job{{"openai", "b1"}: priced}, nil)
	if c := pl.Jobs[JobKey{"openai", "b1"}].Cost; !c.Known() || c.Nanos != NanosPerUnit {
		t.Fatalf("without prices the cost became %+v, want the 1 USD it had", c)
	}
}
