package tracker

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Alerting is the configured policy by which applied observations raise
// alerts: where each goes, the usage thresholds, and when a provider's
// webhooks count as silent. It travels with ApplyParams so that alerts are
// written to the outbox in the transaction of the change that raised them.
type Alerting struct {
	Routes     []Route
	Thresholds []Threshold
	// Prices, when set, price every job that ends (Job.Cost), and its
	// cost counts into the usage totals as MetricCost.
	Prices *Prices
	// SilentAfter is, by provider, how many job ends in a row learned by
	// poll with no webhook (job.webhook_missed) raise
	// provider.webhooks_silent; a provider not in it uses
	// DefaultSilentAfter.
	SilentAfter map[string]int
}

// DefaultSilentAfter is the number of missed webhooks in a row that make a
// provider's webhooks silent when Alerting.SilentAfter does not say.
const DefaultSilentAfter = 3

// SilentAfterFor is SilentAfter of a provider, or its default.
func (a *Alerting) SilentAfterFor(provider string) int {
	if n := a.SilentAfter[provider]; n > 0 {
		return n
	}
	return DefaultSilentAfter
}

// Route sends the alerts it matches to notifiers. Empty match fields match
// everything.
type Route struct {
	// Events are alert types or patterns ending in "*" ("job.*", "*").
	Events    []string
	Providers []string
	Kinds     []Kind
	// Labels must all be on the alert's job (or threshold) with these values.
	Labels    map[string]string
	Notifiers []string
	// RepeatInterval, when set, sends an alert of the same type about the
	// same job (or provider, or threshold) at most once per interval.
	RepeatInterval time.Duration
}

// Matches reports whether the route takes alert a.
func (r Route) Matches(a Alert) bool {
	if !slices.ContainsFunc(r.Events, func(p string) bool { return matchPattern(p, a.Type) }) {
		return false
	}
	if len(r.Providers) > 0 && !slices.Contains(r.Providers, a.Provider) {
		return false
	}
	var kind Kind
	var labels map[string]string
	switch {
	case a.Job != nil:
		kind, labels = a.Job.Kind, a.Job.Labels
	case a.Threshold != nil:
		labels = a.Threshold.Labels
	}
	if len(r.Kinds) > 0 && !slices.Contains(r.Kinds, kind) {
		return false
	}
	return hasLabels(labels, r.Labels)
}

func matchPattern(pattern, typ string) bool {
	if prefix, ok := strings.CutSuffix(pattern, "*"); ok {
		return strings.HasPrefix(typ, prefix)
	}
	return pattern == typ
}

// RepeatKey names what "the same alert" is for RepeatInterval.
func (a Alert) RepeatKey() string {
	switch {
	case a.Job != nil:
		return a.Type + "/" + a.Provider + "/" + a.Job.ExternalID
	case a.Threshold != nil:
		return fmt.Sprintf("%s/%s/%s/%g", a.Type, a.Threshold.Name, a.Threshold.WindowStart.Format(time.RFC3339), a.Threshold.Level)
	}
	return a.Type + "/" + a.Provider
}

// Threshold is a usage limit per UTC window, alerting as each level of it is
// crossed.
type Threshold struct {
	Name string
	// Metric is one of UsageMetrics.
	Metric string
	// Provider, when set, counts only its jobs; else all providers'.
	Provider string
	// Labels, when set, count only jobs carrying them.
	Labels map[string]string
	// Window is "hour", "day" or "month".
	Window string
	// Limit is in the metric's unit: nanos of Currency for MetricCost.
	Limit int64
	// Currency names the unit of a MetricCost threshold; "" otherwise.
	Currency string
	// Levels are fractions of Limit (0.8, 1.0), each alerting once per window.
	Levels []float64
	// Projected, for MetricCost, applies the levels to the projected total:
	// the window's cost plus what the running jobs of known size will cost
	// (see Projection). The sweep checks it.
	Projected bool
}

// Scope is the usage aggregate a threshold reads: "" for all jobs, else its
// labels as sorted k=v pairs.
func (t Threshold) Scope() string { return LabelScope(t.Labels) }

// Used is the threshold's metric summed over the totals of its window that
// it counts: its scope, and its provider when it names one.
func (t Threshold) Used(totals []UsageTotal) int64 {
	var v int64
	for _, u := range totals {
		if u.Scope == t.Scope() && (t.Provider == "" || u.Provider == t.Provider) {
			v += u.Metrics[t.Metric]
		}
	}
	return v
}

// LabelScope is a label set's canonical form.
func LabelScope(labels map[string]string) string {
	keys := slices.Sorted(maps.Keys(labels))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + labels[k]
	}
	return strings.Join(parts, ",")
}

// Windows are the UTC windows usage is aggregated over.
var Windows = []string{"hour", "day", "month"}

// WindowStart is the first instant of the UTC window holding t.
func WindowStart(window string, t time.Time) time.Time {
	t = t.UTC()
	switch window {
	case "hour":
		return t.Truncate(time.Hour)
	case "day":
		return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	case "month":
		return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
	}
	panic("tracker: unknown window " + window)
}

// UsageMetrics are the aggregated figures, by the name thresholds use.
var UsageMetrics = []string{
	"tokens", "input_tokens", "cached_input_tokens", "output_tokens", "total_tokens", "trained_tokens",
	"requests", "completed_requests", "failed_requests",
	"jobs", "succeeded_jobs", "failed_jobs", "cancelled_jobs", "expired_jobs",
	MetricCost,
}

// MetricCost is the usage metric of money: the known costs of ended jobs
// (Job.Cost), in nanos of the prices' currency.
const MetricCost = "cost"

// UsageDelta is what one observation adds to the usage aggregates, by metric.
type UsageDelta map[string]int64

// Account is the pure rule of usage accounting: a job counts once it has
// ended, and each of its figures counts once however often it is observed,
// however late it arrives (a thin webhook ends the job, the enrichment poll
// brings the figures). counted is what was already added for the job; Account
// returns what to add now and the new counted figures. The job's known cost
// counts the same way, as MetricCost: recomputed with more figures, only
// its increase is added.
func Account(before, after Job, counted Counted) (UsageDelta, Counted) {
	if !after.Status.Terminal() {
		return nil, counted
	}
	d := UsageDelta{}
	add := func(metric string, now, then int64) int64 {
		if now > then {
			d[metric] += now - then
			return now
		}
		return then
	}
	u := after.Usage
	c := counted
	c.InputTokens = add("input_tokens", u.InputTokens, counted.InputTokens)
	c.CachedInputTokens = add("cached_input_tokens", u.CachedInputTokens, counted.CachedInputTokens)
	c.OutputTokens = add("output_tokens", u.OutputTokens, counted.OutputTokens)
	c.TotalTokens = add("total_tokens", u.TotalTokens, counted.TotalTokens)
	c.TrainedTokens = add("trained_tokens", u.TrainedTokens, counted.TrainedTokens)
	c.RequestsTotal = add("requests", u.RequestsTotal, counted.RequestsTotal)
	c.RequestsCompleted = add("completed_requests", u.RequestsCompleted, counted.RequestsCompleted)
	c.RequestsFailed = add("failed_requests", u.RequestsFailed, counted.RequestsFailed)
	if after.Cost.Known() {
		c.CostNanos = add(MetricCost, after.Cost.Nanos, counted.CostNanos)
	}
	if t := d["total_tokens"] + d["trained_tokens"]; t > 0 {
		d["tokens"] = t
	}
	if !before.Status.Terminal() {
		d["jobs"]++
		d[string(after.Status)+"_jobs"]++
	}
	for k, v := range d {
		if v == 0 {
			delete(d, k)
		}
	}
	return d, c
}

// AlertTypes are the alerts one applied observation raises. before is the
// job as it was (zero when the observation created it or names no job).
//
// An end raises job.<status>, or job.partial_failure when requests failed,
// once: when it is learned, or, when its alert is held for the enrichment
// poll (Job.AlertHeldUntil), when the hold ends. Failures that the
// enrichment poll finds after the end's alert went out raise
// job.partial_failure then. An untracked job raises nothing.
func AlertTypes(before Job, res Result, obs Observation) []string {
	after := res.Job
	if res.Duplicate || obs.Type == TypeUsageDropped {
		return nil
	}
	if after != nil && after.UntrackedAt != nil {
		// Nobody wants to hear of it any more.
		return nil
	}
	if after == nil {
		// A provider event about no job: routes decide which matter.
		if obs.Type != "" {
			return []string{obs.Type}
		}
		return nil
	}
	var types []string
	failure := after.Details[DetailRequestFailure]
	end := "job." + string(after.Status)
	if failure != "" {
		end = AlertJobPartialFailure
	}
	switch {
	case after.Status.Terminal() && !before.Status.Terminal() && res.Effect == EffectApplied:
		if after.AlertHeldUntil == nil {
			types = append(types, end)
		}
	case after.Status.Terminal() && before.AlertHeldUntil != nil && after.AlertHeldUntil == nil:
		types = append(types, end)
	case after.Status.Terminal() && failure != "" && before.Details[DetailRequestFailure] == "":
		types = append(types, AlertJobPartialFailure)
	}
	if after.Status == StatusLost && before.Status != StatusLost {
		types = append(types, AlertJobLost)
	}
	if obs.Type == TypeJobStuck && res.Effect == EffectApplied && after.StuckStatus != "" && before.StuckStatus != after.StuckStatus {
		types = append(types, AlertJobStuck)
	}
	return types
}

// Alerts are the alerts of AlertTypes, each with the job as it is after the
// observation (or, for a provider event, its payload) and its summary.
func Alerts(before Job, res Result, obs Observation, now time.Time) []Alert {
	var out []Alert
	for _, typ := range AlertTypes(before, res, obs) {
		a := Alert{Type: typ, CreatedAt: now, Provider: obs.Provider}
		if res.Job != nil {
			j := *res.Job
			a.Job = &j
			// An end alert released by the enrich wait goes without the
			// enrichment poll's figures, and says so.
			a.UsageUnknown = obs.Type == TypeEnrichTimeout
		} else {
			a.Data = obs.Payload
		}
		a.Summary = Summary(a)
		out = append(out, a)
	}
	return out
}

// Summary is an alert's one line for people. A job's end says what is
// known of it beyond its status: a failure for a quota or rate limit
// ("openai batch batch_abc failed: quota or rate limit reached
// (token_limit_exceeded: ...)", FailureNote), and the output an expired or
// partly failed job leaves to collect ("...; partial results to collect:
// output file file-abc", PartialResultsNote).
func Summary(a Alert) string {
	if s := a.Silence; s != nil {
		if a.Type == AlertWebhooksResumed {
			return fmt.Sprintf("%s webhooks are arriving again, silent since %s", a.Provider, s.Since.Format("2006-01-02 15:04 MST"))
		}
		return fmt.Sprintf("%s webhooks are not arriving: the last %d job ends were learned by polling, with no webhook", a.Provider, s.Missed)
	}
	if t := a.Threshold; t != nil {
		if t.Metric == MetricCost {
			projected := ""
			if t.Projected > 0 {
				projected = fmt.Sprintf(" projected (%s of it for running jobs)", FormatMoney(t.Projected, t.Currency))
			}
			return fmt.Sprintf("cost threshold %s at %.0f%%%s: %s of %s this %s (from %s)",
				t.Name, t.Level*100, projected, FormatMoney(t.Value, t.Currency), FormatMoney(t.Limit, t.Currency), t.Window, t.WindowStart.Format("2006-01-02 15:04 MST"))
		}
		return fmt.Sprintf("usage threshold %s at %.0f%%: %d of %d %s this %s (from %s)",
			t.Name, t.Level*100, t.Value, t.Limit, t.Metric, t.Window, t.WindowStart.Format("2006-01-02 15:04 MST"))
	}
	j := a.Job
	if j == nil {
		return fmt.Sprintf("%s event from %s", a.Type, a.Provider)
	}
	what := fmt.Sprintf("%s %s %s", j.Provider, j.Kind, j.ExternalID)
	var s string
	switch a.Type {
	case AlertJobLost:
		return fmt.Sprintf("%s is lost: %s", what, j.Details["lost_reason"])
	case AlertJobStuck:
		if j.StatusSince != nil {
			return fmt.Sprintf("%s is stuck: %s for %s", what, j.StuckStatus, a.CreatedAt.Sub(*j.StatusSince).Round(time.Second))
		}
		return fmt.Sprintf("%s is stuck: %s", what, j.StuckStatus)
	case AlertJobPartialFailure:
		s = fmt.Sprintf("%s finished with %d of %d requests failed", what, j.Usage.RequestsFailed, j.Usage.RequestsTotal)
	default:
		s = fmt.Sprintf("%s %s", what, j.Status)
		if j.ProviderStatus != "" && j.ProviderStatus != string(j.Status) {
			s += fmt.Sprintf(" (%s)", j.ProviderStatus)
		}
		if note := FailureNote(j); note != "" && a.Type == AlertJobFailed {
			s += ": " + note
		}
	}
	if note := PartialResultsNote(j); note != "" {
		s += "; " + note
	}
	if a.UsageUnknown {
		s += "; usage unknown: the provider had not reported it yet"
	}
	return s
}
