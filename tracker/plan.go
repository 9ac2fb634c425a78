package tracker

import (
	"cmp"
	"maps"
	"slices"
	"strconv"
	"time"
)

// The rules of Store.Apply, as pure code. A backend reads what a batch
// names (ReadKeys: its jobs and, when needed, which of its event ids were
// seen), PlanApply decides in memory everything the batch writes, and the
// backend writes that. Where only the database can settle a race at write
// time (whether a threshold crossing is new, whether a route's repeat
// interval has passed, a provider's run of missed webhooks), the backend
// asks it, and the rule of what to do with the answer is here:
// Threshold.CrossedLevels and Threshold.CrossingAlert, Alerting.Notifiers,
// Alerting.CountMissed.

// JobKey names a job: its provider and the provider's id for it.
type JobKey struct{ Provider, ExternalID string }

// Compare orders keys by provider, then external id.
func (k JobKey) Compare(o JobKey) int {
	return cmp.Or(cmp.Compare(k.Provider, o.Provider), cmp.Compare(k.ExternalID, o.ExternalID))
}

// EventKey names an event: its provider and the provider's event id.
type EventKey struct{ Provider, EventID string }

// itemKey is the job an item names; zero for an item without an
// observation.
func itemKey(it ApplyItem) JobKey {
	if it.Observation == nil {
		return JobKey{}
	}
	return JobKey{it.Observation.Provider, it.Observation.ExternalID}
}

// ApplyOrder is the order in which a batch's items apply, as indexes into
// items: by the (provider, external id) of their jobs, the items of one job
// in their given order. Backends that lock jobs lock them in this order, so
// that concurrent batches lock shared jobs in the same order.
func ApplyOrder(items []ApplyItem) []int {
	order := make([]int, len(items))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return itemKey(items[a]).Compare(itemKey(items[b])) })
	return order
}

// ReadKeys are what a backend reads before PlanApply: the jobs the items
// name, each once and in order (order is ApplyOrder(items)), and the event
// ids they carry, for looking up which were seen.
func ReadKeys(items []ApplyItem, order []int) ([]JobKey, []EventKey) {
	var (
		jobs   []JobKey
		events []EventKey
	)
	for _, i := range order {
		o := items[i].Observation
		if o == nil {
			continue
		}
		if k := itemKey(items[i]); k.ExternalID != "" && (len(jobs) == 0 || jobs[len(jobs)-1] != k) {
			jobs = append(jobs, k)
		}
		if o.EventID != "" {
			events = append(events, EventKey{o.Provider, o.EventID})
		}
	}
	return jobs, events
}

// ApplyPlan is everything one Apply batch writes, decided by PlanApply.
type ApplyPlan struct {
	// Results are the items' results, in the order of the items. The
	// results of jobs the batch adopts carry their ids once SetAdoptedIDs
	// has given them.
	Results []Result
	// Jobs are the jobs read and adopted, by key, in their state after
	// the batch.
	Jobs map[JobKey]*Job
	// Adopted are the jobs the batch creates, in key order.
	Adopted []JobKey
	// Changed are the existing jobs the batch changes, in the order of the
	// batch.
	Changed []JobKey
	// Events are the history rows to insert, in order.
	Events []EventWrite
	// Deliveries are the webhook deliveries to log, with their final
	// outcomes, in order.
	Deliveries []Delivery

	// With ApplyParams.Alerting only:

	// Usage is what to add to each usage total.
	Usage map[UsageKey]UsageDelta
	// Alerts are the alerts the observations raise, in order; the
	// threshold crossings and webhook silences the write finds follow them.
	Alerts []Alert
	// Missed counts, by provider, the job.webhook_missed verdicts applied:
	// what to add to the provider's run of missed webhooks
	// (Alerting.CountMissed).
	Missed map[string]int

	// resultJobs are the jobs of Results that have one, by item index.
	resultJobs map[int]JobKey
}

// EventWrite is a history row an Apply batch writes.
type EventWrite struct {
	Event
	// AdoptedJob is the external id of the job the batch adopts for the
	// event, whose id the write assigns (JobID is nil then); "" otherwise.
	AdoptedJob string
}

// UsageKey names a usage total: a provider's usage of one model (""
// when unknown) in one scope (see Threshold.Scope) over one UTC window.
type UsageKey struct {
	Provider, Model, Scope, Window string
	Start                          time.Time
}

// WritesAlerting reports whether the plan has usage, alerts or missed
// webhooks to write besides its jobs, events and deliveries.
func (pl *ApplyPlan) WritesAlerting() bool {
	return len(pl.Usage) > 0 || len(pl.Alerts) > 0 || len(pl.Missed) > 0
}

// SetAdoptedIDs gives the adopted jobs, and the results that carry them,
// the ids the write assigned: ids[i] is Adopted[i]'s.
func (pl *ApplyPlan) SetAdoptedIDs(ids []int64) {
	if len(ids) == 0 {
		return
	}
	for i, k := range pl.Adopted {
		pl.Jobs[k].ID = ids[i]
	}
	for i, k := range pl.resultJobs {
		pl.Results[i].Job.ID = pl.Jobs[k].ID
	}
}

// PlanApply decides what batch p writes, given the jobs read (jobs, by key,
// which it updates in place to their state after the batch and completes
// with the jobs it adopts) and which event ids were seen before (seen; nil
// when they were not looked up, as none then). order is ApplyOrder(p.Items).
//
// An observation whose event id was seen before, or earlier in the batch,
// is a duplicate and changes nothing. An adopting item whose job does not
// exist makes it, pending, unless its event was seen (a redelivered event
// cannot conjure a job after a policy change); each job is written once,
// after its observations apply. Every other observation passes through
// Transition against its job's state in memory, items of one job in order,
// and is recorded in the history. An accepted delivery is logged with the
// outcome its observation turned out to have (Result.DeliveryOutcome).
// With p.Alerting, each applied observation's usage is accounted (Account)
// into every scope and window it counts in, and its alerts (Alerts) and
// missed webhooks are collected.
func PlanApply(p ApplyParams, order []int, jobs map[JobKey]*Job, seen map[EventKey]bool) *ApplyPlan {
	if seen == nil {
		seen = map[EventKey]bool{}
	}
	created := adoptJobs(p, order, jobs, seen)
	pl := &ApplyPlan{
		Results:    make([]Result, len(p.Items)),
		Jobs:       jobs,
		Adopted:    slices.SortedFunc(maps.Keys(created), JobKey.Compare),
		Events:     make([]EventWrite, 0, len(p.Items)),
		Deliveries: make([]Delivery, 0, len(p.Items)),
		resultJobs: map[int]JobKey{},
	}
	for _, i := range order {
		item := p.Items[i]
		var r Result
		if obs := item.Observation; obs != nil {
			k := itemKey(item)
			ek := EventKey{obs.Provider, obs.EventID}
			if obs.EventID != "" && seen[ek] {
				r.Duplicate = true
				if j := jobs[k]; j != nil {
					c := *j
					r.Job = &c
				}
			} else {
				if obs.EventID != "" {
					seen[ek] = true
				}
				var ev EventWrite
				var unstuck *EventWrite
				r, ev, unstuck = pl.applyOne(p, *obs, k, created)
				if r.Job != nil {
					pl.resultJobs[i] = k
					if slices.Contains(pl.Adopted, k) {
						ev.JobID, ev.AdoptedJob = nil, k.ExternalID
					} else if !slices.Contains(pl.Changed, k) {
						pl.Changed = append(pl.Changed, k)
					}
				}
				pl.Events = append(pl.Events, ev)
				if unstuck != nil {
					pl.Events = append(pl.Events, *unstuck)
				}
			}
		}
		if d := item.Delivery; d != nil {
			logged := *d
			if item.Observation != nil && d.Outcome == OutcomeAccepted {
				logged.Outcome = r.DeliveryOutcome()
			}
			pl.Deliveries = append(pl.Deliveries, logged)
		}
		pl.Results[i] = r
	}
	return pl
}

// adoptJobs makes, in jobs and as pending, the jobs that adopting items name
// and that do not exist, unless the item's event was seen before. It
// returns which jobs it made.
func adoptJobs(p ApplyParams, order []int, jobs map[JobKey]*Job, seen map[EventKey]bool) map[JobKey]bool {
	created := map[JobKey]bool{}
	for _, i := range order {
		it := p.Items[i]
		o := it.Observation
		k := itemKey(it)
		if o == nil || !it.Adopt || k.ExternalID == "" || jobs[k] != nil || (o.EventID != "" && seen[EventKey{o.Provider, o.EventID}]) {
			continue
		}
		kind := cmp.Or(o.Kind, Kind("unknown"))
		next := p.Now.Add(p.Rules(o.Provider, kind).StaleAfter)
		jobs[k] = &Job{Provider: o.Provider, ExternalID: o.ExternalID, Kind: kind, Status: StatusPending,
			CreatedAt: p.Now, UpdatedAt: p.Now, LastHeardAt: p.Now, NextPollAt: &next}
		created[k] = true
	}
	return created
}

// applyOne passes one observation through Transition against the in-memory
// state of its job, updating that state, and returns the result and the
// history row. With p.Alerting it also accounts the job's usage and
// collects what the observation raises.
//
// An observation that changes a stuck job's provider status also returns
// the job.unstuck history row that follows its own.
func (pl *ApplyPlan) applyOne(p ApplyParams, obs Observation, k JobKey, created map[JobKey]bool) (Result, EventWrite, *EventWrite) {
	ev := EventWrite{Event: Event{
		Provider:       obs.Provider,
		EventID:        obs.EventID,
		Source:         obs.Source,
		Type:           obs.Type,
		ProviderStatus: obs.ProviderStatus,
		Status:         obs.Status,
		Effect:         EffectRecorded,
		OccurredAt:     obs.OccurredAt.UTC(),
		RecordedAt:     p.Now,
		Payload:        obs.Payload,
	}}
	var res Result
	job := pl.Jobs[k]
	if job == nil {
		res.Effect = EffectRecorded
		if p.Alerting != nil {
			pl.collect(p, Job{}, res, obs, nil)
		}
		return res, ev, nil
	}
	before := *job
	if created[k] {
		// The first observation of an adopted job created it.
		res.Created = true
		delete(created, k)
		before = Job{}
	}
	res.Previous = before.Status
	next, effect := Transition(*job, obs, p.Now, p.Rules(job.Provider, job.Kind))
	var delta UsageDelta
	if p.Alerting != nil {
		// Without prices (removed by a reload), a job keeps the cost it has.
		if next.Status.Terminal() && p.Alerting.Prices != nil {
			next.Cost = p.Alerting.Prices.CostOf(next)
		}
		delta, next.Counted = Account(*job, next, job.Counted)
		res.CostAdded = delta[MetricCost]
	}
	*job = next
	id := next.ID
	ev.JobID, ev.Effect = &id, effect
	c := next
	res.Job, res.Effect = &c, effect
	if p.Alerting != nil {
		res.Alerts = pl.collect(p, before, res, obs, delta)
	}
	var unstuck *EventWrite
	if before.StuckStatus != "" && next.StuckStatus == "" {
		u := ev
		u.EventID, u.Source, u.Type, u.Effect, u.Payload = "", SourceSweep, TypeJobUnstuck, EffectRecorded, nil
		unstuck = &u
	}
	return res, ev, unstuck
}

// collect notes what one applied observation raises: its alerts, a missed
// webhook, and its usage delta, added to the totals of every window, for
// all jobs and for the label scope of each threshold whose labels its job
// carries. It returns how many alerts the observation raises.
func (pl *ApplyPlan) collect(p ApplyParams, before Job, res Result, obs Observation, delta UsageDelta) int {
	alerts := Alerts(before, res, obs, p.Now)
	pl.Alerts = append(pl.Alerts, alerts...)
	if obs.Type == TypeJobWebhookMissed && res.Effect == EffectApplied {
		if pl.Missed == nil {
			pl.Missed = map[string]int{}
		}
		pl.Missed[obs.Provider]++
	}
	if len(delta) == 0 {
		return len(alerts)
	}
	scopes := []string{""}
	for _, t := range p.Alerting.Thresholds {
		if len(t.Labels) > 0 && hasLabels(res.Job.Labels, t.Labels) && !slices.Contains(scopes, t.Scope()) {
			scopes = append(scopes, t.Scope())
		}
	}
	if pl.Usage == nil {
		pl.Usage = map[UsageKey]UsageDelta{}
	}
	for _, scope := range scopes {
		for _, w := range Windows {
			k := UsageKey{obs.Provider, res.Job.Details[DetailModel], scope, w, WindowStart(w, p.Now)}
			d := pl.Usage[k]
			if d == nil {
				d = UsageDelta{}
				pl.Usage[k] = d
			}
			for m, v := range delta {
				d[m] += v
			}
		}
	}
	return len(alerts)
}

// hasLabels reports whether have holds every label of want.
func hasLabels(have, want map[string]string) bool {
	for k, v := range want {
		if got, ok := have[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// Touched reports whether usage adds to t's metric in t's window at now,
// in the provider and scope t counts: only then can the batch cross t.
func (t Threshold) Touched(usage map[UsageKey]UsageDelta, now time.Time) bool {
	start := WindowStart(t.Window, now)
	for k, d := range usage {
		if k.Scope == t.Scope() && k.Window == t.Window && k.Start.Equal(start) && (t.Provider == "" || k.Provider == t.Provider) && d[t.Metric] > 0 {
			return true
		}
	}
	return false
}

// CrossedLevels are the levels of t that a total of value has reached, in
// t's order. Each alerts once per window: the backend records a crossing
// and raises CrossingAlert only when its record is new.
func (t Threshold) CrossedLevels(value int64) []float64 {
	var levels []float64
	for _, level := range t.Levels {
		if float64(value) >= level*float64(t.Limit) {
			levels = append(levels, level)
		}
	}
	return levels
}

// CrossingAlert is the usage.threshold alert of t's window starting at
// start reaching level with a total of value, projected of which running
// jobs are projected to cost (0 for usage that is spent).
func (t Threshold) CrossingAlert(start time.Time, value, projected int64, level float64, now time.Time) Alert {
	a := Alert{Type: AlertUsageThreshold, CreatedAt: now, Provider: t.Provider, Threshold: &ThresholdCrossing{
		Name: t.Name, Metric: t.Metric, Provider: t.Provider, Labels: t.Labels, Window: t.Window, WindowStart: start,
		Limit: t.Limit, Value: value, Level: level, Currency: t.Currency, Projected: projected,
	}}
	a.Summary = Summary(a)
	return a
}

// Notifiers are the notifiers alert a goes to: those of every route that
// matches it, each once, in route order. A route with a RepeatInterval
// takes the alert only when due says so: due is asked with a key naming the
// route and what "the same alert" is (Alert.RepeatKey), and answers whether
// the same alert went through the route no later than interval ago (or
// never), recording that it goes now. The backend answers it, so that
// concurrent transactions and replicas send it once.
func (al *Alerting) Notifiers(a Alert, due func(key string, interval time.Duration) (bool, error)) ([]string, error) {
	var notifiers []string
	for i, r := range al.Routes {
		if !r.Matches(a) {
			continue
		}
		if r.RepeatInterval > 0 {
			ok, err := due(strconv.Itoa(i)+"|"+a.RepeatKey(), r.RepeatInterval)
			if err != nil {
				return nil, err
			}
			if !ok {
				continue // sent within the interval
			}
		}
		for _, n := range r.Notifiers {
			if !slices.Contains(notifiers, n) {
				notifiers = append(notifiers, n)
			}
		}
	}
	return notifiers, nil
}

// WebhookRun is a provider's run of missed webhooks: how many job ends in
// a row were learned by poll with no webhook (job.webhook_missed), and
// since when its webhooks are silent (nil while they are not).
type WebhookRun struct {
	Missed      int
	SilentSince *time.Time
}

// CountMissed adds n missed webhooks of provider to its run and returns
// the run to store and the alerts that raises. broken says that a verified
// webhook delivery arrived since the run was last counted: it ends the run
// first, and a silence with it (provider.webhooks_resumed). A run reaching
// SilentAfterFor(provider) declares the webhooks silent
// (provider.webhooks_silent), once per silence. The backend counts one
// provider's runs in turn.
func (al *Alerting) CountMissed(provider string, run WebhookRun, broken bool, n int, now time.Time) (WebhookRun, []Alert) {
	var alerts []Alert
	if broken {
		if run.SilentSince != nil {
			alerts = append(alerts, SilenceAlert(AlertWebhooksResumed, provider, run.Missed, *run.SilentSince, now))
			run.SilentSince = nil
		}
		run.Missed = 0
	}
	run.Missed += n
	if run.SilentSince == nil && run.Missed >= al.SilentAfterFor(provider) {
		t := now
		run.SilentSince = &t
		alerts = append(alerts, SilenceAlert(AlertWebhooksSilent, provider, run.Missed, t, now))
	}
	return run, alerts
}

// SilenceAlert is a provider.webhooks_silent or provider.webhooks_resumed
// alert (typ) about provider's webhooks, silent since since after missed
// job ends in a row learned by poll.
func SilenceAlert(typ, provider string, missed int, since, now time.Time) Alert {
	a := Alert{Type: typ, CreatedAt: now, Provider: provider, Silence: &WebhookSilence{Missed: missed, Since: since.UTC()}}
	a.Summary = Summary(a)
	return a
}
