package sweep_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/jobwatch/jobwatch/storage"
	"github.com/jobwatch/jobwatch/storage/storagetest"
	"github.com/jobwatch/jobwatch/tracker"
)

// alerts are the alerts in the outbox, oldest first.
func (e *env) alerts(t *testing.T) []tracker.Alert {
	t.Helper()
	out, err := e.store.ListAlerts(context.Background(), "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	alerts := make([]tracker.Alert, len(out))
	for i, o := range out {
		alerts[len(out)-1-i] = o.Alert
	}
	return alerts
}

func types(alerts []tracker.Alert) []string {
	var out []string
	for _, a := range alerts {
		out = append(out, a.Type)
	}
	return out
}

// webhook applies a verified webhook delivery about a job, as ingest does:
// the observation with its delivery logged as accepted.
func (e *env) webhook(t *testing.T, id string, status tracker.Status, thin bool) {
	t.Helper()
	now := e.clock.Now()
	_, err := e.tracker.Observe(context.Background(), tracker.ApplyItem{
		Observation: &tracker.Observation{Provider: "openai", ExternalID: id, Status: status, ProviderStatus: string(status),
			Source: tracker.SourceWebhook, EventID: "evt_" + id + "_" + string(status), Type: "batch." + string(status), OccurredAt: now, PollNow: thin},
		Delivery: &tracker.Delivery{Provider: "openai", ReceivedAt: now, Outcome: tracker.OutcomeAccepted, StatusCode: 200, JobID: id},
	})
	if err != nil {
		t.Fatal(err)
	}
}

// batchEndedAt is a completed batch's answer with its completed_at.
func batchEndedAt(id string, at time.Time) answer {
	a := batch(id, "completed", 10, 10, 0)
	a.body = strings.Replace(a.body, `"created_at":1714508499`, fmt.Sprintf(`"created_at":1714508499,"completed_at":%d`, at.Unix()), 1)
	return a
}

// A job of a provider with webhooks that is merely still running when it
// goes stale raises nothing and records nothing: OpenAI sends a webhook only
// at the end.
func TestRunningJobIsNoNews(t *testing.T) {
	t.Parallel()
	api := newFakeOpenAI(t)
	api.script("batch_long", batch("batch_long", "in_progress", 10, 3, 0))
	e := setup(t, storagetest.Open(t, storage.DriverSQLite), api, true)
	e.track(t, tracker.KindBatch, "batch_long")
	for range 3 {
		e.clock.Advance(time.Hour)
		e.sweep(t)
	}
	j := e.job(t, "batch_long")
	for _, ev := range j.History {
		if ev.Type != "" {
			t.Errorf("history holds %q; want only the polls", ev.Type)
		}
	}
	if a := e.alerts(t); len(a) != 0 {
		t.Errorf("alerts %v; want none", types(a))
	}
}

// The end's webhook arriving within the grace is not missed.
func TestWebhookWithinTheGraceIsNotMissed(t *testing.T) {
	t.Parallel()
	api := newFakeOpenAI(t)
	e := setup(t, storagetest.Open(t, storage.DriverSQLite), api, true)
	end := time.Unix(e.clock.Now().Add(rules.StaleAfter-time.Minute).Unix(), 0).UTC()
	api.script("batch_ok", batchEndedAt("batch_ok", end))
	e.track(t, tracker.KindBatch, "batch_ok")
	e.clock.Advance(rules.StaleAfter)
	e.sweep(t)
	j := e.job(t, "batch_ok")
	// The grace runs from the provider's end time, a minute before the poll.
	if want := end.Add(webhookGrace); j.WebhookDueBy == nil || !j.WebhookDueBy.Equal(want) {
		t.Fatalf("webhook due by %v, want %v", j.WebhookDueBy, want)
	}
	e.clock.Advance(5 * time.Minute)
	e.webhook(t, "batch_ok", tracker.StatusSucceeded, false)
	e.clock.Advance(time.Hour)
	e.sweep(t)
	j = e.job(t, "batch_ok")
	for _, ev := range j.History {
		if ev.Type == tracker.TypeJobWebhookMissed {
			t.Fatal("job.webhook_missed recorded although the webhook came within the grace")
		}
	}
	if j.WebhookDueBy != nil || j.NextPollAt != nil {
		t.Errorf("webhook due by %v, next due %v; want neither", j.WebhookDueBy, j.NextPollAt)
	}
}

// An end that a poll learns long after it happened has missed its webhook
// already: recorded in the same sweep.
func TestOldEndMissedItsWebhookAtOnce(t *testing.T) {
	t.Parallel()
	api := newFakeOpenAI(t)
	e := setup(t, storagetest.Open(t, storage.DriverSQLite), api, true)
	api.script("batch_old", batchEndedAt("batch_old", e.clock.Now().Add(-time.Hour)))
	e.track(t, tracker.KindBatch, "batch_old")
	e.clock.Advance(rules.StaleAfter)
	e.sweep(t)
	j := e.job(t, "batch_old")
	if last := j.History[len(j.History)-1]; last.Type != tracker.TypeJobWebhookMissed || j.NextPollAt != nil {
		t.Errorf("last event %q, next due %v; want job.webhook_missed, never due again", last.Type, j.NextPollAt)
	}
	if got := counter(t, e.trackerMetrics, "jobwatch_webhooks_missed_total"); got != 1 {
		t.Errorf("jobwatch_webhooks_missed_total = %v, want 1", got)
	}
	// The end is alerted; the missed webhook is an event, not a page.
	if got := types(e.alerts(t)); len(got) != 1 || got[0] != tracker.AlertJobSucceeded {
		t.Errorf("alerts %v, want job.succeeded alone", got)
	}
}

// A provider without webhooks awaits none.
func TestNoWebhooksNoneAwaited(t *testing.T) {
	t.Parallel()
	api := newFakeOpenAI(t)
	api.script("batch_p", batch("batch_p", "completed", 1, 1, 0))
	e := setup(t, storagetest.Open(t, storage.DriverSQLite), api, false)
	e.track(t, tracker.KindBatch, "batch_p")
	e.clock.Advance(rules.StaleAfter)
	e.sweep(t)
	if j := e.job(t, "batch_p"); j.WebhookDueBy != nil || j.NextPollAt != nil || len(j.History) != 1 {
		t.Errorf("webhook due by %v, next due %v, %d events; want nothing awaited", j.WebhookDueBy, j.NextPollAt, len(j.History))
	}
}

// missEnds makes n jobs end, learned by poll, with no webhook, and sweeps
// past their grace.
func (e *env) missEnds(t *testing.T, prefix string, n int) {
	t.Helper()
	for i := range n {
		id := fmt.Sprintf("%s_%d", prefix, i)
		e.api.script(id, batch(id, "completed", 1, 1, 0))
		e.track(t, tracker.KindBatch, id)
	}
	e.clock.Advance(rules.StaleAfter)
	e.sweep(t)
	e.clock.Advance(webhookGrace)
	e.sweep(t)
}

// counter is the sum of a counter's series in reg.
func counter(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, f := range families {
		if f.GetName() == name {
			for _, m := range f.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}

func count(list []string, s string) int {
	n := 0
	for _, v := range list {
		if v == s {
			n++
		}
	}
	return n
}

// Three ends in a row learned by poll with no webhook raise
// provider.webhooks_silent once; more misses raise nothing more; the next
// webhook ends the silence with provider.webhooks_resumed, once.
func TestWebhooksSilentOnceThenResumed(t *testing.T) {
	t.Parallel()
	storagetest.Each(t, func(t *testing.T, s *storage.Store) {
		t.Parallel()
		e := setup(t, s, newFakeOpenAI(t), true)
		e.missEnds(t, "a", 2)
		if got := types(e.alerts(t)); count(got, tracker.AlertWebhooksSilent) != 0 {
			t.Fatalf("silent after two misses: %v", got)
		}
		e.missEnds(t, "b", 1)
		alerts := e.alerts(t)
		if got := types(alerts); count(got, tracker.AlertWebhooksSilent) != 1 {
			t.Fatalf("after three misses: %v, want one provider.webhooks_silent", got)
		}
		silent := alerts[len(alerts)-1]
		if silent.Type != tracker.AlertWebhooksSilent || silent.Provider != "openai" || silent.Silence == nil || silent.Silence.Missed != 3 ||
			!strings.Contains(silent.Summary, "openai webhooks are not arriving") {
			t.Errorf("silent alert = %+v", silent)
		}
		e.missEnds(t, "c", 2)
		if got := types(e.alerts(t)); count(got, tracker.AlertWebhooksSilent) != 1 {
			t.Fatalf("more misses raised more: %v", got)
		}
		// A sweep with no webhook since changes nothing.
		e.sweep(t)
		e.track(t, tracker.KindBatch, "d")
		e.webhook(t, "d", tracker.StatusSucceeded, false)
		e.sweep(t)
		e.sweep(t)
		if got := types(e.alerts(t)); count(got, tracker.AlertWebhooksResumed) != 1 {
			t.Fatalf("after a webhook: %v, want one provider.webhooks_resumed", got)
		}
		// The run starts again from nothing.
		e.missEnds(t, "e", 2)
		if got := types(e.alerts(t)); count(got, tracker.AlertWebhooksSilent) != 1 {
			t.Fatalf("two misses after the silence ended raised it again: %v", got)
		}
	})
}

// A webhook between misses breaks the run: misses must be in a row.
func TestWebhookBreaksTheRunOfMisses(t *testing.T) {
	t.Parallel()
	e := setup(t, storagetest.Open(t, storage.DriverSQLite), newFakeOpenAI(t), true)
	e.missEnds(t, "a", 2)
	e.track(t, tracker.KindBatch, "ok")
	e.webhook(t, "ok", tracker.StatusSucceeded, false)
	e.missEnds(t, "b", 2)
	if got := types(e.alerts(t)); count(got, tracker.AlertWebhooksSilent) != 0 {
		t.Fatalf("alerts %v; want no silence: a webhook came between the misses", got)
	}
}

// Replicas recording misses of one provider at once raise the silence once.
func TestWebhooksSilentOnceAcrossReplicas(t *testing.T) {
	t.Parallel()
	cfg := storagetest.Config(t, storage.DriverPostgres)
	api := newFakeOpenAI(t)
	replicas := replicasOf(t, cfg, api, true)
	for i := range 12 {
		id := fmt.Sprintf("r_%d", i)
		api.script(id, batch(id, "completed", 1, 1, 0))
		replicas[0].track(t, tracker.KindBatch, id)
	}
	// The replicas sweep at once: first the polls, then, past the grace,
	// the misses.
	for _, step := range []time.Duration{rules.StaleAfter, webhookGrace} {
		var wg sync.WaitGroup
		for _, r := range replicas {
			r.clock.Advance(step)
			wg.Go(func() {
				if _, err := r.sweeper.Sweep(context.Background()); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
	}
	if got := types(replicas[0].alerts(t)); count(got, tracker.AlertWebhooksSilent) != 1 {
		t.Fatalf("alerts %v, want one provider.webhooks_silent", got)
	}
}

// A thin webhook's end alert waits for the enrichment poll and goes out
// once, with its figures: here the poll finds failed requests, so the one
// alert is job.partial_failure.
func TestThinEndAlertWaitsForItsFigures(t *testing.T) {
	t.Parallel()
	storagetest.Each(t, func(t *testing.T, s *storage.Store) {
		t.Parallel()
		api := newFakeOpenAI(t)
		api.script("batch_thin", batch("batch_thin", "completed", 100, 90, 10))
		e := setup(t, s, api, true)
		e.track(t, tracker.KindBatch, "batch_thin")
		e.webhook(t, "batch_thin", tracker.StatusSucceeded, true)
		if a := e.alerts(t); len(a) != 0 {
			t.Fatalf("alerts %v before the enrichment poll; want none", types(a))
		}
		e.sweep(t)
		alerts := e.alerts(t)
		if len(alerts) != 1 || alerts[0].Type != tracker.AlertJobPartialFailure || alerts[0].UsageUnknown {
			t.Fatalf("alerts %v, want one job.partial_failure with its figures", types(alerts))
		}
		if u := alerts[0].Job.Usage; u.RequestsFailed != 10 || u.TotalTokens != 2200 {
			t.Errorf("alert's usage %+v, want the poll's", u)
		}
		e.clock.Advance(time.Hour)
		e.sweep(t)
		if a := e.alerts(t); len(a) != 1 {
			t.Errorf("alerts %v later, want still one", types(a))
		}
	})
}

// When the enrichment poll cannot be made within the enrich wait, the held
// alert goes out with what is known, saying that usage is unknown; the
// figures arriving later raise nothing more unless they show failures.
func TestHeldAlertGoesOutAfterTheEnrichWait(t *testing.T) {
	t.Parallel()
	api := newFakeOpenAI(t)
	api.script("batch_down", answer{code: 500, body: `{"error":{"message":"down"}}`})
	e := setup(t, storagetest.Open(t, storage.DriverSQLite), api, true)
	e.track(t, tracker.KindBatch, "batch_down")
	e.webhook(t, "batch_down", tracker.StatusSucceeded, true)
	e.sweep(t)
	if a := e.alerts(t); len(a) != 0 {
		t.Fatalf("alerts %v within the enrich wait; want none", types(a))
	}
	j := e.job(t, "batch_down")
	if j.NextPollAt == nil || j.AlertHeldUntil == nil || j.NextPollAt.After(*j.AlertHeldUntil) {
		t.Fatalf("next due %v, alert held until %v: the sweep must come back by then", j.NextPollAt, j.AlertHeldUntil)
	}
	e.clock.Advance(rules.EnrichWait)
	e.sweep(t)
	alerts := e.alerts(t)
	if len(alerts) != 1 || alerts[0].Type != tracker.AlertJobSucceeded || !alerts[0].UsageUnknown || !strings.Contains(alerts[0].Summary, "usage unknown") {
		t.Fatalf("alerts %+v, want one job.succeeded saying usage is unknown", alerts)
	}
	// The provider recovers: the figures are counted, no second alert.
	api.script("batch_down", batch("batch_down", "completed", 5, 5, 0))
	e.clock.Advance(time.Hour)
	e.sweep(t)
	if j := e.job(t, "batch_down"); j.Usage.RequestsCompleted != 5 || j.NextPollAt != nil {
		t.Errorf("usage %+v, next due %v; want enriched and done", j.Usage, j.NextPollAt)
	}
	if a := e.alerts(t); len(a) != 1 {
		t.Errorf("alerts %v, want still one", types(a))
	}
}
