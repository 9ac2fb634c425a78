package tracker

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestAlertTypes(t *testing.T) {
	t.Parallel()
	running := Job{Status: StatusRunning}
	done := func(s Status, failure string) *Job {
		j := &Job{Status: s}
		if failure != "" {
			j.Details = map[string]string{"request_failure": failure}
		}
		return j
	}
	held := func(j *Job) *Job {
		t := time.Unix(1, 0)
		j.AlertHeldUntil = &t
		return j
	}
	tests := []struct {
		name   string
		before Job
		res    Result
		obs    Observation
		want   []string
	}{
		{"failed", running, Result{Job: done(StatusFailed, ""), Effect: EffectApplied}, Observation{}, []string{"job.failed"}},
		{"succeeded", running, Result{Job: done(StatusSucceeded, ""), Effect: EffectApplied}, Observation{}, []string{"job.succeeded"}},
		{"created already expired", Job{}, Result{Job: done(StatusExpired, ""), Effect: EffectApplied, Created: true}, Observation{}, []string{"job.expired"}},
		{"completed with failed requests", running, Result{Job: done(StatusSucceeded, "partial"), Effect: EffectApplied}, Observation{}, []string{"job.partial_failure"}},
		{"failures found by the enrichment poll", *done(StatusSucceeded, ""), Result{Job: done(StatusSucceeded, "total"), Effect: EffectApplied}, Observation{}, []string{"job.partial_failure"}},
		{"enrichment without news", *done(StatusSucceeded, "partial"), Result{Job: done(StatusSucceeded, "partial"), Effect: EffectApplied}, Observation{}, nil},
		{"conflict raises nothing", *done(StatusSucceeded, ""), Result{Job: done(StatusSucceeded, ""), Effect: EffectConflict}, Observation{}, nil},
		{"lost", running, Result{Job: &Job{Status: StatusLost}, Effect: EffectApplied}, Observation{}, []string{"job.lost"}},
		{"a thin end is held", running, Result{Job: held(done(StatusSucceeded, "")), Effect: EffectApplied}, Observation{PollNow: true}, nil},
		{"the enrichment poll releases it", *held(done(StatusSucceeded, "")), Result{Job: done(StatusSucceeded, ""), Effect: EffectApplied}, Observation{Source: SourcePoll}, []string{"job.succeeded"}},
		{"released with the failures it found", *held(done(StatusSucceeded, "")), Result{Job: done(StatusSucceeded, "partial"), Effect: EffectApplied}, Observation{Source: SourcePoll}, []string{"job.partial_failure"}},
		{"the enrich wait releases it", *held(done(StatusFailed, "")), Result{Job: done(StatusFailed, ""), Effect: EffectApplied}, Observation{Source: SourceSweep, Type: TypeEnrichTimeout}, []string{"job.failed"}},
		{"a missed webhook is no page", *done(StatusSucceeded, ""), Result{Job: done(StatusSucceeded, ""), Effect: EffectApplied}, Observation{Source: SourceSweep, Type: TypeJobWebhookMissed}, nil},
		{"provider event", Job{}, Result{Effect: EffectRecorded}, Observation{Type: "usage.threshold.reached"}, []string{"usage.threshold.reached"}},
		{"duplicate", running, Result{Duplicate: true}, Observation{Type: "batch.failed"}, nil},
		{"progress", running, Result{Job: &Job{Status: StatusRunning}, Effect: EffectApplied}, Observation{}, nil},
	}
	for _, tt := range tests {
		if got := AlertTypes(tt.before, tt.res, tt.obs); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: AlertTypes = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestAlertsSayWhenUsageIsUnknown(t *testing.T) {
	t.Parallel()
	until := time.Unix(1, 0)
	before := Job{Provider: "openai", Kind: KindBatch, ExternalID: "b", Status: StatusSucceeded, AlertHeldUntil: &until}
	after := before
	after.AlertHeldUntil = nil
	res := Result{Job: &after, Effect: EffectApplied}
	now := time.Unix(100, 0)
	for _, tt := range []struct {
		obs     Observation
		unknown bool
	}{
		{Observation{Source: SourceSweep, Type: TypeEnrichTimeout}, true},
		{Observation{Source: SourcePoll}, false},
	} {
		a := Alerts(before, res, tt.obs, now)
		if len(a) != 1 || a[0].UsageUnknown != tt.unknown || strings.Contains(a[0].Summary, "usage unknown") != tt.unknown {
			t.Errorf("%s: alerts %+v, want one with usage unknown %v", tt.obs.Type, a, tt.unknown)
		}
	}
}

// A failed job whose provider named a quota or rate limit says so first; an
// expired or partly failed job that left output says it is there to
// collect; neither wording appears without its cause.
func TestSummaryWordsQuotaAndPartialResults(t *testing.T) {
	t.Parallel()
	quota := map[string]string{
		"error_code":       "token_limit_exceeded",
		"error_message":    "Enqueued token limit reached for gpt-4o in organization org-abc.\nLimit: 90,000 enqueued tokens.",
		DetailFailureCause: FailureCauseQuota,
	}
	for _, tt := range []struct {
		name    string
		job     Job
		usage   bool // the end's alert goes without the enrichment poll's figures
		typ     string
		summary string
	}{
		{"quota failure", Job{Status: StatusFailed, ProviderStatus: "failed", Details: quota}, false, AlertJobFailed,
			"openai batch batch_abc failed: quota or rate limit reached (token_limit_exceeded: Enqueued token limit reached for gpt-4o in organization org-abc. Limit: 90,000 enqueued tokens.)"},
		{"quota failure, code only", Job{Status: StatusFailed, ProviderStatus: "BATCH_STATE_FAILED", Details: map[string]string{"error_code": "8", DetailFailureCause: FailureCauseQuota}}, false, AlertJobFailed,
			"openai batch batch_abc failed (BATCH_STATE_FAILED): quota or rate limit reached (8)"},
		{"quota failure, usage unknown", Job{Status: StatusFailed, ProviderStatus: "failed", Details: quota}, true, AlertJobFailed,
			"openai batch batch_abc failed: quota or rate limit reached (token_limit_exceeded: Enqueued token limit reached for gpt-4o in organization org-abc. Limit: 90,000 enqueued tokens.); usage unknown: the provider had not reported it yet"},
		{"other failure", Job{Status: StatusFailed, ProviderStatus: "failed", Details: map[string]string{"error_code": "invalid_json_line", "error_message": "bad line"}}, false, AlertJobFailed,
			"openai batch batch_abc failed"},
		{"expired with output", Job{Status: StatusExpired, ProviderStatus: "expired", Details: map[string]string{"output_file_id": "file-out1", "error_file_id": "file-err1"}}, false, AlertJobExpired,
			"openai batch batch_abc expired; partial results to collect: output file file-out1"},
		{"expired without output", Job{Status: StatusExpired, ProviderStatus: "expired", Details: map[string]string{"error_file_id": "file-err1"}}, false, AlertJobExpired,
			"openai batch batch_abc expired"},
		{"partly failed with output", Job{Status: StatusSucceeded, ProviderStatus: "completed", Usage: Usage{RequestsTotal: 100, RequestsFailed: 3},
			Details: map[string]string{DetailRequestFailure: RequestFailurePartial, "output_file_id": "file-out2"}}, false, AlertJobPartialFailure,
			"openai batch batch_abc finished with 3 of 100 requests failed; partial results to collect: output file file-out2"},
		{"all failed", Job{Status: StatusSucceeded, ProviderStatus: "completed", Usage: Usage{RequestsTotal: 100, RequestsFailed: 100},
			Details: map[string]string{DetailRequestFailure: RequestFailureTotal, "output_file_id": "file-empty"}}, false, AlertJobPartialFailure,
			"openai batch batch_abc finished with 100 of 100 requests failed"},
		{"gemini expired with its responses file", Job{Status: StatusExpired, ProviderStatus: "expired", Details: map[string]string{"responses_file": "files/batch-abc"}}, false, AlertJobExpired,
			"openai batch batch_abc expired; partial results to collect: responses file files/batch-abc"},
	} {
		before := Job{Provider: "openai", Kind: KindBatch, ExternalID: "batch_abc", Status: StatusRunning}
		after := tt.job
		after.Provider, after.Kind, after.ExternalID = before.Provider, before.Kind, before.ExternalID
		obs := Observation{Source: SourcePoll}
		if tt.usage {
			until := time.Unix(1, 0)
			before.Status, before.AlertHeldUntil = after.Status, &until
			obs = Observation{Source: SourceSweep, Type: TypeEnrichTimeout}
		}
		alerts := Alerts(before, Result{Job: &after, Effect: EffectApplied}, obs, time.Unix(100, 0))
		if len(alerts) != 1 || alerts[0].Type != tt.typ {
			t.Fatalf("%s: alerts %+v, want one %s", tt.name, alerts, tt.typ)
		}
		if got := alerts[0].Summary; got != tt.summary {
			t.Errorf("%s: summary\n%q\nwant\n%q", tt.name, got, tt.summary)
		}
	}
}

func TestAccountCountsOnce(t *testing.T) {
	t.Parallel()
	running := Job{Status: StatusRunning, Usage: Usage{RequestsTotal: 10}}
	// A thin webhook ends the job with no figures.
	ended := Job{Status: StatusSucceeded, Usage: Usage{RequestsTotal: 10}}
	d, counted := Account(running, ended, Counted{})
	if !reflect.DeepEqual(d, UsageDelta{"jobs": 1, "succeeded_jobs": 1, "requests": 10}) {
		t.Fatalf("at the end: %v", d)
	}
	// The enrichment poll brings tokens: only they are added.
	enriched := ended
	enriched.Usage = Usage{RequestsTotal: 10, RequestsCompleted: 9, RequestsFailed: 1, TotalTokens: 500}
	d, counted = Account(ended, enriched, counted)
	if !reflect.DeepEqual(d, UsageDelta{"completed_requests": 9, "failed_requests": 1, "total_tokens": 500, "tokens": 500}) {
		t.Fatalf("after enrichment: %v", d)
	}
	// Observed again: nothing.
	if d, _ = Account(enriched, enriched, counted); len(d) != 0 {
		t.Fatalf("observed again: %v", d)
	}
	// A live job counts nothing yet.
	if d, c := Account(Job{Status: StatusPending}, running, Counted{}); d != nil || c != (Counted{}) {
		t.Fatalf("live job: %v %v", d, c)
	}
}

func TestRouteMatches(t *testing.T) {
	t.Parallel()
	job := &Job{Provider: "openai", Kind: KindBatch, Labels: map[string]string{"team": "search"}}
	a := Alert{Type: "job.failed", Provider: "openai", Job: job}
	tests := []struct {
		r    Route
		want bool
	}{
		{Route{Events: []string{"job.failed"}}, true},
		{Route{Events: []string{"job.*"}}, true},
		{Route{Events: []string{"*"}}, true},
		{Route{Events: []string{"job.succeeded", "usage.threshold"}}, false},
		{Route{Events: []string{"job.*"}, Providers: []string{"anthropic"}}, false},
		{Route{Events: []string{"job.*"}, Kinds: []Kind{KindFineTuning}}, false},
		{Route{Events: []string{"job.*"}, Labels: map[string]string{"team": "search"}}, true},
		{Route{Events: []string{"job.*"}, Labels: map[string]string{"team": "ads"}}, false},
	}
	for _, tt := range tests {
		if got := tt.r.Matches(a); got != tt.want {
			t.Errorf("%+v matches = %v, want %v", tt.r, got, tt.want)
		}
	}
}

func TestWindowStart(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 23, 17, 42, 5, 0, time.FixedZone("x", 3600))
	for window, want := range map[string]time.Time{
		"hour":  time.Date(2026, 11, 23, 16, 0, 0, 0, time.UTC),
		"day":   time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC),
		"month": time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC),
	} {
		if got := WindowStart(window, at); !got.Equal(want) {
			t.Errorf("%s: %v, want %v", window, got, want)
		}
	}
}
