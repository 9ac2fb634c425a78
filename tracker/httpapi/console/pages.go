package console

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jobwatch/jobwatch/providers"
	"github.com/jobwatch/jobwatch/tracker"
	"github.com/jobwatch/jobwatch/tracker/sweep"
)

// funcs are the templates' helpers.
var funcs = template.FuncMap{
	// ts writes a time in UTC to the second; "" for none.
	"ts": func(t any) string {
		switch t := t.(type) {
		case time.Time:
			if t.IsZero() {
				return ""
			}
			return t.UTC().Format("2006-01-02 15:04:05Z")
		case *time.Time:
			if t == nil {
				return ""
			}
			return t.UTC().Format("2006-01-02 15:04:05Z")
		}
		return fmt.Sprint(t)
	},
	// pct writes a ratio as a whole percentage.
	"pct": func(f float64) string { return fmt.Sprintf("%.0f%%", f*100) },
	// pretty indents JSON for reading; other bytes are written as they are.
	"pretty": func(b json.RawMessage) string {
		var out bytes.Buffer
		if json.Indent(&out, b, "", "  ") != nil {
			return string(b)
		}
		return out.String()
	},
	// sorted lists a map's keys in order.
	"sorted": func(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) },
	// jobURL is a job's page.
	"jobURL":  jobURL,
	"alertID": tracker.AlertID,
	"figure":  figure,
}

// figure writes a usage metric's value: money for MetricCost (its nanos in
// currency), else the count.
func figure(metric string, value int64, currency string) string {
	if metric == tracker.MetricCost {
		return tracker.FormatMoney(value, currency)
	}
	return strconv.FormatInt(value, 10)
}

// jobURL is a job's page.
func jobURL(provider, id string) string {
	return "/ui/jobs/" + url.PathEscape(provider) + "/" + url.PathEscape(id)
}

// providerRow is one provider's line of the overview.
type providerRow struct {
	Name     string
	ByStatus map[tracker.Status]int64
	Total    int64
	Stuck    int64
	// ByWebhook and ByPoll are the ends of the last day learned each way.
	ByWebhook, ByPoll int64
	// SilentSince is when its webhooks were declared silent; nil: they are not.
	SilentSince *time.Time
}

// WebhookShare is the part of the last day's ends learned by webhook,
// 0 to 1; meaningless when Ends is 0.
func (p providerRow) WebhookShare() float64 {
	if p.Ends() == 0 {
		return 0
	}
	return float64(p.ByWebhook) / float64(p.Ends())
}

// Ends is how many of its jobs ended in the last day by webhook or poll.
func (p providerRow) Ends() int64 { return p.ByWebhook + p.ByPoll }

// thresholdRow is a threshold and its current window's usage.
type thresholdRow struct {
	tracker.Threshold
	Used  int64
	Ratio float64
}

type overviewData struct {
	Statuses             []tracker.Status
	Providers            []providerRow
	Running, Stuck, Lost int64
	Sweep                *sweep.LastSweep
	AlertsPending        int64
	AlertsDead           int64
	Thresholds           []thresholdRow
	// Spend is today's cost by provider, and SpendTotal their sum, in
	// nanos of Currency; Currency is "" when no prices are configured.
	Spend      map[string]int64
	SpendTotal int64
	Currency   string
	SpendDay   string
	HasSweeps  bool
}

func (c *Console) overview(r *http.Request) view {
	ctx := r.Context()
	st := c.opts.Tracker.Store()
	now := c.opts.Tracker.Now()
	d := overviewData{Statuses: tracker.Statuses, Currency: c.opts.Tracker.Currency(), SpendDay: now.UTC().Format("2006-01-02")}
	rows := map[string]*providerRow{}
	row := func(name string) *providerRow {
		if rows[name] == nil {
			rows[name] = &providerRow{Name: name, ByStatus: map[tracker.Status]int64{}}
		}
		return rows[name]
	}
	summary, err := st.SummarizeJobs(ctx, now.Add(-24*time.Hour))
	if err != nil {
		return c.storageFailure(r, err)
	}
	for _, n := range summary {
		p := row(n.Provider)
		p.ByStatus[n.Status] += n.Count
		p.Total += n.Count
		p.Stuck += n.Stuck
		p.ByWebhook += n.ByWebhook
		p.ByPoll += n.ByPoll
		d.Stuck += n.Stuck
		switch n.Status {
		case tracker.StatusRunning:
			d.Running += n.Count
		case tracker.StatusLost:
			d.Lost += n.Count
		}
	}
	silences, err := st.WebhookSilences(ctx)
	if err != nil {
		return c.storageFailure(r, err)
	}
	for name, since := range silences {
		row(name).SilentSince = &since
	}
	for _, name := range slices.Sorted(maps.Keys(rows)) {
		d.Providers = append(d.Providers, *rows[name])
	}
	alerts, err := st.CountAlerts(ctx)
	if err != nil {
		return c.storageFailure(r, err)
	}
	d.AlertsPending, d.AlertsDead = alerts[tracker.AlertPending], alerts[tracker.AlertDead]
	if c.opts.LastSweep != nil {
		d.HasSweeps = true
		if last := c.opts.LastSweep(); !last.Started.IsZero() {
			d.Sweep = &last
		}
	}
	// Today's totals, and those of each threshold's window.
	totals := map[string][]tracker.UsageTotal{}
	for _, w := range tracker.Windows {
		if w != "day" && !slices.ContainsFunc(c.thresholds(), func(t tracker.Threshold) bool { return t.Window == w }) {
			continue
		}
		if totals[w], err = st.UsageTotals(ctx, w, tracker.WindowStart(w, now)); err != nil {
			return c.storageFailure(r, err)
		}
	}
	for _, t := range c.thresholds() {
		used := t.Used(totals[t.Window])
		d.Thresholds = append(d.Thresholds, thresholdRow{Threshold: t, Used: used, Ratio: float64(used) / float64(t.Limit)})
	}
	for _, u := range totals["day"] {
		if v, ok := u.Metrics[tracker.MetricCost]; ok && u.Scope == "" {
			if d.Spend == nil {
				d.Spend = map[string]int64{}
			}
			d.Spend[u.Provider] += v
			d.SpendTotal += v
		}
	}
	return view{page: "overview", title: "Overview", data: d}
}

type jobsData struct {
	Filter    tracker.Filter
	Label     string
	Statuses  []tracker.Status
	Providers []string
	Jobs      []tracker.Job
	// Next is the URL of the next page; "" on the last.
	Next string
}

func (c *Console) jobs(r *http.Request) view {
	q := r.URL.Query()
	d := jobsData{Statuses: tracker.Statuses, Label: q.Get("label")}
	d.Filter = tracker.Filter{Provider: q.Get("provider"), Kind: tracker.Kind(q.Get("kind")), Status: tracker.Status(q.Get("status")),
		Query: q.Get("q"), Cursor: q.Get("cursor"), Limit: 50}
	if d.Label != "" {
		k, v, ok := strings.Cut(d.Label, "=")
		if !ok || k == "" {
			return failure(http.StatusBadRequest, fmt.Sprintf("label: %q is not key=value", d.Label))
		}
		d.Filter.Labels = map[string]string{k: v}
	}
	page, err := c.opts.Tracker.List(r.Context(), d.Filter)
	if err != nil {
		return c.storageFailure(r, err)
	}
	d.Jobs = page.Jobs
	if page.NextCursor != "" {
		next := url.Values{}
		for k, vs := range q {
			next[k] = vs
		}
		next.Set("cursor", page.NextCursor)
		d.Next = "/ui/jobs?" + next.Encode()
	}
	d.Providers = c.opts.Tracker.Providers()
	return view{page: "jobs", title: "Jobs", data: d}
}

type jobData struct {
	Job     tracker.Job
	CanPoll bool
	// Ends are the statuses a person may resolve a job to.
	Ends []tracker.Status
	// Done says what the last button did; "" when none.
	Done string
}

// doneMessages are what the job page says after each of its buttons, by
// the done query parameter its redirect sets.
var doneMessages = map[string]string{
	"polled":    "Polled just now.",
	"resolved":  "Marked resolved.",
	"untracked": "No longer tracked: it is not polled again and raises no alert.",
}

func (c *Console) job(r *http.Request) view {
	j, err := c.opts.Tracker.Job(r.Context(), r.PathValue("provider"), r.PathValue("id"))
	if err != nil {
		return c.storageFailure(r, err)
	}
	d := jobData{Job: j, CanPoll: c.opts.Poller != nil && j.UntrackedAt == nil, Done: doneMessages[r.URL.Query().Get("done")],
		Ends: []tracker.Status{tracker.StatusSucceeded, tracker.StatusFailed, tracker.StatusCancelled, tracker.StatusExpired}}
	return view{page: "job", title: j.Provider + " " + string(j.Kind) + " " + j.ExternalID, data: d}
}

// pollJob polls the job now and shows it after.
func (c *Console) pollJob(w http.ResponseWriter, r *http.Request) view {
	provider, id := r.PathValue("provider"), r.PathValue("id")
	_, err := c.opts.Poller.PollJob(r.Context(), provider, id)
	var pe *providers.PollError
	switch {
	case err == nil:
		http.Redirect(w, r, jobURL(provider, id)+"?done=polled", http.StatusSeeOther)
		return view{}
	case errors.Is(err, sweep.ErrNotPolled):
		return failure(http.StatusConflict, fmt.Sprintf("Provider %s: %v.", provider, err))
	case errors.As(err, &pe):
		return failure(http.StatusBadGateway, "The poll failed: "+pe.Error())
	}
	return c.storageFailure(r, err)
}

// resolveJob marks the job ended, with the status and reason the form gives.
func (c *Console) resolveJob(w http.ResponseWriter, r *http.Request) view {
	provider, id := r.PathValue("provider"), r.PathValue("id")
	_, err := c.opts.Tracker.Resolve(r.Context(), provider, id, tracker.Status(r.PostForm.Get("status")), r.PostForm.Get("reason"))
	switch {
	case err == nil:
		http.Redirect(w, r, jobURL(provider, id)+"?done=resolved", http.StatusSeeOther)
		return view{}
	case errors.Is(err, tracker.ErrNotTerminal):
		return failure(http.StatusBadRequest, err.Error())
	case errors.Is(err, tracker.ErrJobEnded), errors.Is(err, tracker.ErrJobUntracked):
		return failure(http.StatusConflict, "The job was left as it is: "+err.Error()+".")
	}
	return c.storageFailure(r, err)
}

// untrackJob stops tracking the job; with purge checked it is deleted with
// its history and alerts, and the page goes back to the list.
func (c *Console) untrackJob(w http.ResponseWriter, r *http.Request) view {
	provider, id := r.PathValue("provider"), r.PathValue("id")
	purge := r.PostForm.Get("purge") == "on"
	if err := c.opts.Tracker.Untrack(r.Context(), provider, id, purge); err != nil {
		return c.storageFailure(r, err)
	}
	if purge {
		http.Redirect(w, r, "/ui/jobs", http.StatusSeeOther)
	} else {
		http.Redirect(w, r, jobURL(provider, id)+"?done=untracked", http.StatusSeeOther)
	}
	return view{}
}

type deliveriesData struct {
	Filter     tracker.DeliveryFilter
	Outcomes   []tracker.Outcome
	Providers  []string
	Deliveries []tracker.Delivery
}

func (c *Console) deliveries(r *http.Request) view {
	q := r.URL.Query()
	d := deliveriesData{Outcomes: tracker.Outcomes, Providers: c.opts.Tracker.Providers(),
		Filter: tracker.DeliveryFilter{Provider: q.Get("provider"), Outcome: tracker.Outcome(q.Get("outcome")), Limit: 100}}
	var err error
	if d.Deliveries, err = c.opts.Tracker.Store().ListDeliveries(r.Context(), d.Filter); err != nil {
		return c.storageFailure(r, err)
	}
	return view{page: "deliveries", title: "Webhook deliveries", data: d}
}

type alertsData struct {
	State  tracker.AlertState
	States []tracker.AlertState
	Alerts []tracker.OutboxAlert
	// Retried is the alert just made pending again; "" when none.
	Retried string
}

func (c *Console) alerts(r *http.Request) view {
	q := r.URL.Query()
	d := alertsData{State: tracker.AlertState(q.Get("state")), States: []tracker.AlertState{tracker.AlertPending, tracker.AlertSent, tracker.AlertDead}}
	if d.State != "" && !slices.Contains(d.States, d.State) {
		return failure(http.StatusBadRequest, fmt.Sprintf("state: %q is not pending, sent or dead", d.State))
	}
	if id, err := tracker.ParseAlertID(q.Get("retried")); err == nil {
		d.Retried = tracker.AlertID(id)
	}
	var err error
	if d.Alerts, err = c.opts.Tracker.Store().ListAlerts(r.Context(), d.State, 100); err != nil {
		return c.storageFailure(r, err)
	}
	return view{page: "alerts", title: "Alerts", data: d}
}

// retryAlert makes a dead alert pending again.
func (c *Console) retryAlert(w http.ResponseWriter, r *http.Request) view {
	id, err := tracker.ParseAlertID(r.PathValue("id"))
	if err != nil {
		return failure(http.StatusBadRequest, err.Error())
	}
	switch err := c.opts.Tracker.Store().RetryAlert(r.Context(), id, time.Now()); {
	case errors.Is(err, tracker.ErrNotFound):
		return failure(http.StatusNotFound, "There is no dead alert "+tracker.AlertID(id)+".")
	case err != nil:
		return c.storageFailure(r, err)
	}
	http.Redirect(w, r, "/ui/alerts?state=pending&retried="+tracker.AlertID(id), http.StatusSeeOther)
	return view{}
}
