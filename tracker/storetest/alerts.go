package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/tracker"
)

// alertingTracker is a tracker over s on the clock now that raises alerts
// through a.
func alertingTracker(s tracker.Store, now func() time.Time, a *tracker.Alerting) *tracker.Tracker {
	return tracker.New(s, tracker.Options{StaleAfter: 10 * time.Minute, Now: now, Alerting: a})
}

// outbox lists the notifiers of every alert in s (in any state) by alert
// type, each list sorted.
func outbox(t *testing.T, s tracker.Store) map[string][]string {
	t.Helper()
	all, err := s.ListAlerts(context.Background(), "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	byType := map[string][]string{}
	for _, a := range all {
		byType[a.Alert.Type] = append(byType[a.Alert.Type], a.Notifier)
	}
	for _, n := range byType {
		slices.Sort(n)
	}
	return byType
}

// alertsAreEnqueuedWithTheirChange: an end raises its alert to each routed
// notifier once, a redelivery raises nothing, and a provider event repeated
// within its route's repeat interval is sent once.
func alertsAreEnqueuedWithTheirChange(t *testing.T, open OpenStore) {
	s := open(t)
	ctx := context.Background()
	tr := alertingTracker(s, time.Now, &tracker.Alerting{Routes: []tracker.Route{
		{Events: []string{"job.failed", "job.lost"}, Notifiers: []string{"slack", "email"}},
		{Events: []string{"job.*"}, Notifiers: []string{"slack"}},
		{Events: []string{"usage.threshold.reached"}, Notifiers: []string{"log"}, RepeatInterval: time.Hour},
	}})
	if _, err := tr.Observe(ctx, observation("b1", "e1", tracker.StatusRunning, time.Now())); err != nil {
		t.Fatal(err)
	}
	if got := outbox(t, s); len(got) != 0 {
		t.Fatalf("progress raised alerts: %v", got)
	}
	if _, err := tr.Observe(ctx, observation("b1", "e2", tracker.StatusFailed, time.Now())); err != nil {
		t.Fatal(err)
	}
	// A redelivery raises nothing more.
	if _, err := tr.Observe(ctx, observation("b1", "e2", tracker.StatusFailed, time.Now())); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		pe := tracker.ApplyItem{Observation: &tracker.Observation{Provider: "mythicdot", Type: "usage.threshold.reached", Source: tracker.SourceWebhook,
			OccurredAt: time.Now(), Payload: json.RawMessage(`{"metric":"tokens"}`)}}
		if _, err := tr.Observe(ctx, pe); err != nil {
			t.Fatal(err)
		}
	}
	got := outbox(t, s)
	if fmt.Sprint(got["job.failed"]) != "[email slack]" {
		t.Errorf("job.failed went to %v, want slack and email once each", got["job.failed"])
	}
	if fmt.Sprint(got["usage.threshold.reached"]) != "[log]" {
		t.Errorf("a repeated provider event went to %v, want log once within the repeat interval", got["usage.threshold.reached"])
	}
	alerts, _ := s.ListAlerts(ctx, tracker.AlertPending, 10)
	for _, a := range alerts {
		if a.Alert.Type == "job.failed" && (a.Alert.Job == nil || a.Alert.Job.ExternalID != "b1" || a.Alert.Summary == "" || a.Alert.ID != tracker.AlertID(a.ID)) {
			t.Errorf("alert = %+v", a.Alert)
		}
	}
}

// usageCountedOnceAndThresholdsAlertOncePerLevel: a job's usage counts once
// however often its figures arrive, and a threshold alerts once per level
// crossed.
func usageCountedOnceAndThresholdsAlertOncePerLevel(t *testing.T, open OpenStore) {
	s := open(t)
	ctx := context.Background()
	tr := alertingTracker(s, time.Now, &tracker.Alerting{
		Routes: []tracker.Route{{Events: []string{"usage.threshold"}, Notifiers: []string{"ops"}}},
		Thresholds: []tracker.Threshold{{Name: "daily-tokens", Metric: "tokens", Provider: "mythicdot", Window: "day", Limit: 1000, Levels: []float64{0.8, 1.0}},
			{Name: "team-a", Metric: "jobs", Labels: map[string]string{"team": "a"}, Window: "month", Limit: 100, Levels: []float64{0.5}}},
	})
	end := func(id string, tokens int64) {
		t.Helper()
		// A thin end first, then the figures, then the figures again.
		it := observation(id, "end_"+id, tracker.StatusSucceeded, time.Now())
		if _, err := tr.Observe(ctx, it); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			poll := tracker.ApplyItem{Observation: &tracker.Observation{Provider: "mythicdot", ExternalID: id, Status: tracker.StatusSucceeded,
				Usage: &tracker.Usage{TotalTokens: tokens}, Source: tracker.SourcePoll, OccurredAt: time.Now()}}
			if _, err := tr.Observe(ctx, poll); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, tok := range []int64{500, 300} { // 800: 80%
		end(fmt.Sprintf("j%d", tok), tok)
	}
	if n := len(outbox(t, s)["usage.threshold"]); n != 1 {
		t.Fatalf("%d threshold alerts at 80%%, want 1", n)
	}
	end("j150", 150) // 950: nothing new
	end("j60", 60)   // 1010: 100%
	end("j70", 70)   // 1080: nothing new
	if n := len(outbox(t, s)["usage.threshold"]); n != 2 {
		t.Fatalf("%d threshold alerts after crossing 80%% and 100%%, want exactly 2", n)
	}
	totals, err := s.UsageTotals(ctx, "day", tracker.WindowStart("day", time.Now()))
	if err != nil || len(totals) != 1 || totals[0].Metrics["tokens"] != 1080 || totals[0].Metrics["jobs"] != 5 || totals[0].Metrics["succeeded_jobs"] != 5 {
		t.Fatalf("day totals = %+v, %v; want 1080 tokens over 5 jobs, each counted once", totals, err)
	}
}

// oneBatchFinishingManyJobs: the alerts and usage of every job a batch
// finishes are written, each alert once per notifier and the usage of all
// of them added up.
func oneBatchFinishingManyJobs(t *testing.T, open OpenStore) {
	s := open(t)
	ctx := context.Background()
	tr := alertingTracker(s, time.Now, &tracker.Alerting{
		Routes:     []tracker.Route{{Events: []string{"job.*", "usage.threshold"}, Notifiers: []string{"slack", "email"}}},
		Thresholds: []tracker.Threshold{{Name: "daily", Metric: "tokens", Window: "day", Limit: 1000, Levels: []float64{0.5}}},
	})
	var items []tracker.ApplyItem
	for i := range 5 {
		it := observation(fmt.Sprintf("b%d", i), fmt.Sprintf("end%d", i), tracker.StatusSucceeded, time.Now())
		it.Observation.Usage = &tracker.Usage{TotalTokens: 100}
		items = append(items, it)
	}
	if _, err := tr.Observe(ctx, items...); err != nil {
		t.Fatal(err)
	}
	got := outbox(t, s)
	if len(got["job.succeeded"]) != 10 || fmt.Sprint(got["usage.threshold"]) != "[email slack]" {
		t.Errorf("outbox = %v, want job.succeeded for 5 jobs to slack and email, and the threshold crossed once to each", got)
	}
	for _, w := range tracker.Windows {
		totals, err := s.UsageTotals(ctx, w, tracker.WindowStart(w, time.Now()))
		if err != nil || len(totals) != 1 || totals[0].Metrics["tokens"] != 500 || totals[0].Metrics["jobs"] != 5 {
			t.Errorf("%s totals = %+v, %v; want 500 tokens over 5 jobs", w, totals, err)
		}
	}
}

// Two replicas (two stores on one database) crossing a threshold together
// alert once per level.
func thresholdCrossingsAcrossReplicas(t *testing.T, open OpenStore) {
	alerting := &tracker.Alerting{
		Routes:     []tracker.Route{{Events: []string{"usage.threshold"}, Notifiers: []string{"ops"}}},
		Thresholds: []tracker.Threshold{{Name: "jobs", Metric: "jobs", Window: "hour", Limit: 100, Levels: []float64{0.25, 0.5, 0.75, 1.0}}},
	}
	var trackers []*tracker.Tracker
	var first tracker.Store
	for range 2 {
		s := open(t)
		if first == nil {
			first = s
		}
		trackers = append(trackers, tracker.New(s, tracker.Options{Alerting: alerting, MaxConcurrentCommits: 2}))
	}
	var wg sync.WaitGroup
	for i := range 120 {
		wg.Go(func() {
			id := fmt.Sprintf("r%d", i)
			if _, err := trackers[i%2].Observe(context.Background(), observation(id, "e"+id, tracker.StatusFailed, time.Now())); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := len(outbox(t, first)["usage.threshold"]); n != 4 {
		t.Fatalf("%d threshold alerts for 4 levels crossed by two replicas, want 4", n)
	}
}

// failJobs adopts n jobs, each failed at now, through a tracker that routes
// every alert to each of notifiers: each notifier then has n pending
// alerts, due at now.
func failJobs(t *testing.T, s tracker.Store, now time.Time, n int, notifiers ...string) {
	t.Helper()
	tr := alertingTracker(s, func() time.Time { return now }, &tracker.Alerting{Routes: []tracker.Route{{Events: []string{"*"}, Notifiers: notifiers}}})
	for i := range n {
		if _, err := tr.Observe(context.Background(), observation(fmt.Sprint(i), fmt.Sprint("e", i), tracker.StatusFailed, now)); err != nil {
			t.Fatal(err)
		}
	}
}

// outboxLifecycle: alerts are claimed under a lease, finished as sent or
// dead, counted by state, and a dead one retried.
func outboxLifecycle(t *testing.T, open OpenStore) {
	s := open(t)
	ctx := context.Background()
	now := time.Now().UTC()
	failJobs(t, s, now, 3, "a", "b")
	claim := func(n string, at time.Time) []tracker.OutboxAlert {
		got, err := s.ClaimAlerts(ctx, tracker.ClaimAlertsParams{Notifier: n, Now: at, Lease: time.Minute, Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	a := claim("a", now)
	// While the oldest are leased, the third, of another job, is claimed
	// beside them; then none is left.
	if len(a) != 2 || a[0].Notifier != "a" || len(claim("a", now)) != 1 || len(claim("a", now)) != 0 {
		t.Fatalf("claims of notifier a = %+v", a)
	}
	err := s.FinishAlerts(ctx, []tracker.AlertOutcome{
		{ID: a[0].ID, State: tracker.AlertSent, Attempts: 1, At: now},
		{ID: a[1].ID, State: tracker.AlertDead, Attempts: 5, LastError: "410 gone", At: now},
	})
	if err != nil {
		t.Fatal(err)
	}
	counts, _ := s.CountAlerts(ctx)
	if counts[tracker.AlertSent] != 1 || counts[tracker.AlertDead] != 1 || counts[tracker.AlertPending] != 4 {
		t.Fatalf("counts = %v", counts)
	}
	if err := s.RetryAlert(ctx, a[0].ID, now); !errors.Is(err, tracker.ErrNotFound) {
		t.Errorf("retrying a sent alert: %v, want ErrNotFound", err)
	}
	if err := s.RetryAlert(ctx, a[1].ID, now); err != nil {
		t.Fatal(err)
	}
	// The claims of notifier a not finished come back after the lease, with the retried one.
	if got := claim("a", now.Add(2*time.Minute)); len(got) != 2 {
		t.Fatalf("after the lease and a retry: %d due, want 2", len(got))
	}
}

// raiseLostThenFailed makes each of jobs lost and then failed, in turn:
// job.lost and then job.failed alerts, to the notifiers, the second of each
// job raised after every job's first.
func raiseLostThenFailed(t *testing.T, s tracker.Store, now time.Time, jobs []string, notifiers ...string) {
	t.Helper()
	tr := alertingTracker(s, func() time.Time { return now }, &tracker.Alerting{Routes: []tracker.Route{{Events: []string{"*"}, Notifiers: notifiers}}})
	for _, status := range []tracker.Status{tracker.StatusLost, tracker.StatusFailed} {
		for _, id := range jobs {
			if _, err := tr.Observe(context.Background(), observation(id, fmt.Sprint(id, status), status, now)); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// claimIDs claims up to limit alerts of a notifier at a time, leased for a
// minute, and returns their ids.
func claimIDs(t *testing.T, s tracker.Store, notifier string, at time.Time, limit int) []int64 {
	t.Helper()
	got, err := s.ClaimAlerts(context.Background(), tracker.ClaimAlertsParams{Notifier: notifier, Now: at, Lease: time.Minute, Limit: limit})
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]int64, len(got))
	for i, a := range got {
		ids[i] = a.ID
	}
	return ids
}

// finishAlertsRecordsEachOutcome: one FinishAlerts records sent, dead,
// retried and released alerts, each as its outcome says, and nothing of
// the alerts it does not name.
func finishAlertsRecordsEachOutcome(t *testing.T, open OpenStore) {
	s := open(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	failJobs(t, s, now, 5, "a")
	ids := claimIDs(t, s, "a", now, 4)
	if len(ids) != 4 {
		t.Fatalf("claimed %v, want 4", ids)
	}
	at, retryAt := now.Add(time.Second), now.Add(time.Hour)
	err := s.FinishAlerts(ctx, []tracker.AlertOutcome{
		{ID: ids[0], State: tracker.AlertSent, Attempts: 1, At: at},
		{ID: ids[1], State: tracker.AlertDead, Attempts: 3, LastError: "410 \"gone\"\n", At: at},
		{ID: ids[2], State: tracker.AlertPending, Attempts: 2, LastError: "503", NextAttemptAt: retryAt, At: at},
		{ID: ids[3], State: tracker.AlertPending, NextAttemptAt: at, At: at},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.FinishAlerts(ctx, nil); err != nil {
		t.Fatalf("FinishAlerts of none: %v", err)
	}
	all, err := s.ListAlerts(ctx, "", 10)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[int64]tracker.OutboxAlert{}
	for _, a := range all {
		byID[a.ID] = a
	}
	check := func(id int64, state tracker.AlertState, attempts int, lastError string, next time.Time, sent bool) {
		t.Helper()
		a := byID[id]
		if a.State != state || a.Attempts != attempts || a.LastError != lastError || !a.NextAttemptAt.Equal(next) || (a.SentAt != nil) != sent {
			t.Errorf("alert %d = %s, %d attempts, error %q, next %v, sent at %v; want %s, %d, %q, %v, sent %v",
				id, a.State, a.Attempts, a.LastError, a.NextAttemptAt, a.SentAt, state, attempts, lastError, next, sent)
		}
		if sent && !a.SentAt.Equal(at) {
			t.Errorf("alert %d sent at %v, want %v", id, a.SentAt, at)
		}
		if !a.UpdatedAt.Equal(at) {
			t.Errorf("alert %d updated at %v, want %v", id, a.UpdatedAt, at)
		}
	}
	lease := now.Add(time.Minute)
	check(ids[0], tracker.AlertSent, 1, "", lease, true)
	check(ids[1], tracker.AlertDead, 3, "410 \"gone\"\n", lease, false)
	check(ids[2], tracker.AlertPending, 2, "503", retryAt, false)
	check(ids[3], tracker.AlertPending, 0, "", at, false)
	var untouched int
	for id, a := range byID {
		if !slices.Contains(ids, id) {
			untouched++
			if a.State != tracker.AlertPending || !a.UpdatedAt.Equal(now) || !a.NextAttemptAt.Equal(now) {
				t.Errorf("alert %d not named was changed: %+v", id, a)
			}
		}
	}
	if untouched != 1 {
		t.Errorf("%d alerts not named, want 1", untouched)
	}
}

// claimAlertsKeepsASubjectsOrder: a notifier's alerts are claimed oldest
// first; the newer alerts of a job wait behind its older one while that
// one is leased or waits for its retry, and other jobs' alerts do not.
func claimAlertsKeepsASubjectsOrder(t *testing.T, open OpenStore) {
	s := open(t)
	now := time.Now().UTC()
	// x.lost, y.lost, x.failed, y.failed.
	raiseLostThenFailed(t, s, now, []string{"x", "y"}, "a", "b")
	finish := func(o ...tracker.AlertOutcome) {
		t.Helper()
		if err := s.FinishAlerts(context.Background(), o); err != nil {
			t.Fatal(err)
		}
	}
	release := func(ids ...int64) {
		t.Helper()
		for _, id := range ids {
			finish(tracker.AlertOutcome{ID: id, State: tracker.AlertPending, NextAttemptAt: now, At: now})
		}
	}
	// Leased: x.lost is claimed alone; y's beside it, but not x.failed.
	xLost := claimIDs(t, s, "a", now, 1)
	ys := claimIDs(t, s, "a", now, 10)
	if len(xLost) != 1 || len(ys) != 2 || ys[0] < xLost[0] {
		t.Fatalf("claims = %v then %v, want x.lost, then y.lost and y.failed: x.failed waits behind the lease of x.lost", xLost, ys)
	}
	release(append(xLost, ys...)...)
	all := claimIDs(t, s, "a", now, 10)
	if len(all) != 4 || !slices.IsSorted(all) || all[0] != xLost[0] || all[1] != ys[0] || all[3] != ys[1] {
		t.Fatalf("claim of all = %v, want x.lost %v, y.lost %v, x.failed, y.failed %v", all, xLost[0], ys[0], ys[1])
	}
	// x.lost fails and waits a minute; the others are released.
	finish(tracker.AlertOutcome{ID: all[0], State: tracker.AlertPending, Attempts: 1, NextAttemptAt: now.Add(time.Minute), At: now})
	release(all[1:]...)
	if got, want := claimIDs(t, s, "a", now.Add(time.Second), 10), []int64{all[1], all[3]}; !slices.Equal(got, want) {
		t.Fatalf("claim while x.lost waits for its retry = %v, want y's %v: x.failed waits behind it, y's do not", got, want)
	}
	if got := claimIDs(t, s, "b", now.Add(time.Second), 10); len(got) != 4 {
		t.Fatalf("notifier b claimed %v, want its four: another notifier's retry holds it back", got)
	}
	if got, want := claimIDs(t, s, "a", now.Add(time.Minute), 10), []int64{all[0], all[2]}; !slices.Equal(got, want) {
		t.Fatalf("claim at the retry = %v, want x's %v in order", got, want)
	}
	// A dead-lettered alert holds nothing back.
	finish(tracker.AlertOutcome{ID: all[0], State: tracker.AlertDead, Attempts: 2, LastError: "gone", At: now})
	release(all[2])
	if got := claimIDs(t, s, "a", now.Add(time.Minute), 10); !slices.Equal(got, all[2:3]) {
		t.Fatalf("claim after x.lost died = %v, want x.failed %v", got, all[2:3])
	}
}

// Replicas claiming one notifier's alerts at once never claim an alert
// twice, nor the alerts of one job in two claims: a job's newer alert waits
// behind the lease of its older one.
func concurrentAlertClaimsNeverSplitASubject(t *testing.T, open OpenStore) {
	s := open(t)
	ctx := context.Background()
	now := time.Now().UTC()
	jobs := make([]string, 20)
	for i := range jobs {
		jobs[i] = fmt.Sprint("job", i)
	}
	raiseLostThenFailed(t, s, now, jobs, "a")
	claimedBy := map[int64]int{} // alert id: the claim that took it
	for round := 0; len(claimedBy) < 2*len(jobs); round++ {
		if round == 10 {
			t.Fatalf("%d of %d alerts claimed after 10 rounds", len(claimedBy), 2*len(jobs))
		}
		var (
			mu     sync.Mutex
			claims [][]tracker.OutboxAlert
			wg     sync.WaitGroup
		)
		for range 4 {
			wg.Go(func() {
				got, err := s.ClaimAlerts(ctx, tracker.ClaimAlertsParams{Notifier: "a", Now: now, Lease: time.Minute, Limit: 6})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				claims = append(claims, got)
			})
		}
		wg.Wait()
		subjectClaim := map[tracker.AlertSubject]int{}
		var sent []tracker.AlertOutcome
		for c, got := range claims {
			for _, a := range got {
				if prev, ok := claimedBy[a.ID]; ok {
					t.Fatalf("round %d: alert %d claimed again, first by claim %d", round, a.ID, prev)
				}
				claimedBy[a.ID] = round*4 + c
				if prev, ok := subjectClaim[a.Alert.Subject()]; ok && prev != c {
					t.Fatalf("round %d: the alerts of %v taken by two claims at once", round, a.Alert.Subject())
				}
				subjectClaim[a.Alert.Subject()] = c
				sent = append(sent, tracker.AlertOutcome{ID: a.ID, State: tracker.AlertSent, Attempts: 1, At: now})
			}
		}
		if err := s.FinishAlerts(ctx, sent); err != nil {
			t.Fatal(err)
		}
	}
}
