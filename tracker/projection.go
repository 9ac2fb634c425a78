package tracker

import (
	"context"
	"fmt"
	"maps"
	"slices"
)

// RunningSize is the size of live jobs (pending or running) that report
// one: the requests of those of one provider, model and label set.
type RunningSize struct {
	Provider string
	// Model is the jobs' Details[DetailModel]; "" when unknown.
	Model  string
	Labels map[string]string
	// Requests is the sum of the jobs' Usage.RequestsTotal.
	Requests int64
	// Nanos is what they are projected to cost (Project); 0 when no
	// average cost per request is known for their provider.
	Nanos int64
}

// Project fills in what each running size is projected to cost: its
// requests times the average cost per request so far of its provider and
// model, or of its provider when its model has none, from month, the
// current month's usage totals. The average is the month's cost over its
// requests, among totals that have both.
func Project(sizes []RunningSize, month []UsageTotal) {
	type sum struct{ cost, requests int64 }
	byModel, byProvider := map[[2]string]sum{}, map[string]sum{}
	for _, u := range month {
		c, r := u.Metrics[MetricCost], u.Metrics["requests"]
		if u.Scope != "" || c <= 0 || r <= 0 {
			continue
		}
		k := [2]string{u.Provider, u.Model}
		byModel[k] = sum{byModel[k].cost + c, byModel[k].requests + r}
		byProvider[u.Provider] = sum{byProvider[u.Provider].cost + c, byProvider[u.Provider].requests + r}
	}
	for i, s := range sizes {
		avg, ok := byModel[[2]string{s.Provider, s.Model}]
		if !ok {
			avg, ok = byProvider[s.Provider]
		}
		if ok {
			sizes[i].Nanos = int64(float64(s.Requests) * float64(avg.cost) / float64(avg.requests))
		}
	}
}

// ProjectedFor is what the running sizes that t counts (its provider and
// labels) are projected to cost.
func (t Threshold) ProjectedFor(sizes []RunningSize) int64 {
	var n int64
	for _, s := range sizes {
		if (t.Provider == "" || s.Provider == t.Provider) && hasLabels(s.Labels, t.Labels) {
			n += s.Nanos
		}
	}
	return n
}

// Projection is what the live jobs of known size are projected to cost,
// by provider and model (see Project); empty when nothing can be projected.
func (t *Tracker) Projection(ctx context.Context) ([]RunningSize, error) {
	sizes, err := t.store.RunningSizes(ctx)
	if err != nil {
		return nil, fmt.Errorf("project costs: %w", err)
	}
	if len(sizes) == 0 {
		return nil, nil
	}
	month, err := t.store.UsageTotals(ctx, "month", WindowStart("month", t.now()))
	if err != nil {
		return nil, fmt.Errorf("project costs: %w", err)
	}
	Project(sizes, month)
	return sizes, nil
}

// CheckProjectedThresholds applies the levels of each projected cost
// threshold (Threshold.Projected) to its window's cost plus what the live
// jobs it counts are projected to cost, raising usage.threshold once per
// level and window like any crossing. The sweep calls it; spent cost
// crosses these thresholds in the write that counts it, as any other.
func (t *Tracker) CheckProjectedThresholds(ctx context.Context) error {
	a := t.committer.alerting
	if a == nil || !slices.ContainsFunc(a.Thresholds, func(th Threshold) bool { return th.Projected }) {
		return nil
	}
	sizes, err := t.Projection(ctx)
	if err != nil {
		return err
	}
	projected := map[string]int64{}
	for _, th := range a.Thresholds {
		if th.Projected {
			projected[th.Name] = th.ProjectedFor(sizes)
		}
	}
	if err := t.store.CheckThresholds(ctx, t.now().UTC(), a, projected); err != nil {
		return fmt.Errorf("check projected thresholds %v: %w", slices.Sorted(maps.Keys(projected)), err)
	}
	return nil
}

// Usage returns the totals of the current window (hour, day or month) of
// provider ("" for all), each with the prices' currency, and with what the
// live jobs of its provider and model are projected to cost on the totals
// of all jobs (scope ""): a row is added for a provider and model that has
// projected cost and no total yet.
func (t *Tracker) Usage(ctx context.Context, window, provider string) ([]UsageTotal, error) {
	start := WindowStart(window, t.now())
	totals, err := t.store.UsageTotals(ctx, window, start)
	if err != nil {
		return nil, fmt.Errorf("read usage: %w", err)
	}
	totals = slices.DeleteFunc(totals, func(u UsageTotal) bool { return provider != "" && u.Provider != provider })
	a := t.committer.alerting
	if a == nil || a.Prices == nil {
		return totals, nil
	}
	sizes, err := t.Projection(ctx)
	if err != nil {
		return nil, err
	}
	projected := map[[2]string]int64{}
	for _, s := range sizes {
		if s.Nanos > 0 && (provider == "" || s.Provider == provider) {
			projected[[2]string{s.Provider, s.Model}] += s.Nanos
		}
	}
	for i := range totals {
		u := &totals[i]
		u.Currency = a.Prices.Currency
		if k := [2]string{u.Provider, u.Model}; u.Scope == "" && projected[k] > 0 {
			u.Projected = float64(projected[k]) / NanosPerUnit
			delete(projected, k)
		}
	}
	for _, k := range slices.SortedFunc(maps.Keys(projected), func(x, y [2]string) int { return slices.Compare(x[:], y[:]) }) {
		totals = append(totals, UsageTotal{Provider: k[0], Model: k[1], Window: window, WindowStart: start, Metrics: map[string]int64{},
			Currency: a.Prices.Currency, Projected: float64(projected[k]) / NanosPerUnit})
	}
	return totals, nil
}
