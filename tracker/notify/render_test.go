package notify_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/jobwatch/jobwatch/tracker"
	"github.com/jobwatch/jobwatch/tracker/notify"
)

// maxPhoneLine is the longest line Text may have, in runes, except a line
// holding an id or a URL that is longer by itself.
const maxPhoneLine = 80

var (
	raisedAt = time.Date(2026, 11, 23, 10, 5, 0, 0, time.UTC)
	endedAt  = time.Date(2026, 11, 23, 10, 4, 0, 0, time.UTC)
)

// failedBatch is a failed OpenAI batch with counts, usage, labels and a long
// error message.
func failedBatch() tracker.Alert {
	return tracker.Alert{
		ID: "alrt_12", Type: tracker.AlertJobFailed, CreatedAt: raisedAt, Provider: "openai",
		Summary: "openai batch batch_abc failed: token limit exceeded",
		Job: &tracker.Job{
			Provider: "openai", Kind: tracker.KindBatch, ExternalID: "batch_abc",
			Status: tracker.StatusFailed, ProviderStatus: "failed",
			Labels: map[string]string{"team": "ml", "env": "prod"},
			Usage: tracker.Usage{
				InputTokens: 1_234_567, OutputTokens: 340_000, TotalTokens: 1_574_567,
				RequestsTotal: 1000, RequestsCompleted: 600, RequestsFailed: 400,
			},
			Details: map[string]string{
				"error_message": "The batch could not be completed because the token limit " +
					"for the organization was exceeded; retry later or raise the limit.",
				"error_code":    "token_limit_exceeded",
				"error_file_id": "file-err123",
			},
			ResolvedAt: &endedAt,
		},
	}
}

func TestSubjectAndText(t *testing.T) {
	t.Parallel()
	longID := "batch_" + strings.Repeat("0123456789abcdef", 6)

	partial := tracker.Alert{
		ID: "alrt_13", Type: tracker.AlertJobPartialFailure, CreatedAt: raisedAt, Provider: "openai",
		Job: &tracker.Job{
			Provider: "openai", Kind: tracker.KindBatch, ExternalID: longID,
			Status: tracker.StatusSucceeded, ProviderStatus: "completed",
			Usage: tracker.Usage{RequestsTotal: 1000, RequestsCompleted: 988, RequestsFailed: 12},
			Details: map[string]string{
				"request_failure": "partial", "output_file_id": "file-out456", "error_file_id": "file-err789",
			},
		},
	}
	total := tracker.Alert{
		ID: "alrt_14", Type: tracker.AlertJobPartialFailure, Provider: "mythicdot",
		Job: &tracker.Job{
			Provider: "mythicdot", Kind: tracker.KindBatch, ExternalID: "batch_t",
			Status: tracker.StatusSucceeded, ProviderStatus: "completed",
			Usage:   tracker.Usage{RequestsTotal: 50, RequestsFailed: 50},
			Details: map[string]string{"request_failure": "total"},
		},
	}
	threshold := tracker.Alert{
		ID: "alrt_15", Type: tracker.AlertUsageThreshold, CreatedAt: raisedAt,
		Threshold: &tracker.ThresholdCrossing{
			Name: "daily-tokens", Metric: "tokens", Provider: "openai",
			Labels: map[string]string{"team": "ml"}, Window: "day",
			WindowStart: time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC),
			Limit:       5_000_000, Value: 4_100_000, Level: 0.8,
		},
	}
	hourly := tracker.Alert{
		ID: "alrt_16", Type: tracker.AlertUsageThreshold,
		Threshold: &tracker.ThresholdCrossing{
			Name: "hourly-failures", Metric: "failed_requests", Window: "hour",
			WindowStart: time.Date(2026, 11, 23, 14, 0, 0, 0, time.UTC),
			Limit:       200, Value: 200, Level: 1,
		},
	}
	event := tracker.Alert{
		ID: "alrt_17", Type: "model.deployed", CreatedAt: raisedAt, Provider: "llmtune",
		Data: json.RawMessage(`{"type":"model.deployed","deployment":{"id":"dep_1",` +
			`"model":"ft:llama-3-8b:acme:custom:abc123","region":"us-east-1","replicas":2},` +
			`"note":"` + strings.Repeat("word ", 300) + `"}`),
	}
	authFailed := tracker.Alert{ID: "alrt_18", Type: tracker.TypeProviderAuthFailed, Provider: "anthropic"}
	lastHeard := time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)
	lost := tracker.Alert{
		ID: "alrt_19", Type: tracker.AlertJobLost, Provider: "anthropic",
		Job: &tracker.Job{
			Provider: "anthropic", Kind: tracker.KindBatch, ExternalID: "msgbatch_01",
			Status: tracker.StatusLost, LastHeardAt: lastHeard, CreatedAt: lastHeard.Add(-time.Hour),
		},
	}
	stuckSince := time.Date(2026, 11, 22, 6, 0, 0, 0, time.UTC)
	stuck := tracker.Alert{
		ID: "alrt_24", Type: tracker.AlertJobStuck, Provider: "openai", CreatedAt: stuckSince.Add(2*time.Hour + 10*time.Minute),
		Job: &tracker.Job{
			Provider: "openai", Kind: tracker.KindBatch, ExternalID: "batch_s", Status: tracker.StatusRunning,
			ProviderStatus: "finalizing", StatusSince: &stuckSince, StuckStatus: "finalizing",
		},
	}
	stuck.Summary = tracker.Summary(stuck)
	hostile := tracker.Alert{
		ID: "alrt_20", Type: tracker.AlertJobFailed, Provider: "generic",
		Job: &tracker.Job{
			Provider: "generic", Kind: "eval_run", ExternalID: "run\n*forged line*",
			Status: tracker.StatusFailed, Labels: map[string]string{"a": "b\nc"},
		},
	}

	silentSince := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	silent := tracker.Alert{ID: "alrt_21", Type: tracker.AlertWebhooksSilent, Provider: "openai",
		Silence: &tracker.WebhookSilence{Missed: 3, Since: silentSince}}
	silent.Summary = tracker.Summary(silent)
	resumed := tracker.Alert{ID: "alrt_22", Type: tracker.AlertWebhooksResumed, Provider: "openai",
		Silence: &tracker.WebhookSilence{Missed: 4, Since: silentSince}}
	unknown := tracker.Alert{ID: "alrt_23", Type: tracker.AlertJobSucceeded, Provider: "openai", UsageUnknown: true,
		Job: &tracker.Job{Provider: "openai", Kind: tracker.KindBatch, ExternalID: "batch_u", Status: tracker.StatusSucceeded}}
	unknown.Summary = tracker.Summary(unknown)
	quota := tracker.Alert{ID: "alrt_25", Type: tracker.AlertJobFailed, Provider: "openai", CreatedAt: raisedAt,
		Job: &tracker.Job{Provider: "openai", Kind: tracker.KindBatch, ExternalID: "batch_q", Status: tracker.StatusFailed, ProviderStatus: "failed",
			Details: map[string]string{
				"error_code": "token_limit_exceeded",
				"error_message": "Enqueued token limit reached for gpt-4o in organization org-abc. " +
					"Limit: 90,000 enqueued tokens. Please try again once some in_progress batches have been completed.",
				tracker.DetailFailureCause: tracker.FailureCauseQuota,
			}}}
	quota.Summary = tracker.Summary(quota)
	expired := tracker.Alert{ID: "alrt_26", Type: tracker.AlertJobExpired, Provider: "azure-openai", CreatedAt: raisedAt,
		Job: &tracker.Job{Provider: "azure-openai", Kind: tracker.KindBatch, ExternalID: "batch_e", Status: tracker.StatusExpired, ProviderStatus: "expired",
			Usage:   tracker.Usage{RequestsTotal: 1000, RequestsCompleted: 700},
			Details: map[string]string{"output_file_id": "file-part1"}}}
	expired.Summary = tracker.Summary(expired)
	expiredEmpty := tracker.Alert{ID: "alrt_27", Type: tracker.AlertJobExpired, Provider: "openai",
		Job: &tracker.Job{Provider: "openai", Kind: tracker.KindBatch, ExternalID: "batch_n", Status: tracker.StatusExpired, ProviderStatus: "expired",
			Details: map[string]string{"error_file_id": "file-err1"}}}
	expiredEmpty.Summary = tracker.Summary(expiredEmpty)

	tests := []struct {
		name     string
		alert    tracker.Alert
		subject  string
		want     []string // lines, or parts of lines, Text must have
		unwanted []string // parts of lines Text must not have
		long     []string // words allowed to make a line longer than maxPhoneLine
	}{
		{
			name:    "failed batch",
			alert:   failedBatch(),
			subject: "[jobwatch] openai batch batch_abc failed",
			want: []string{
				"openai batch failed\n",
				"\nopenai batch batch_abc failed: token limit exceeded\n",
				"\njob: batch_abc\n",
				"\nstatus: failed\n",
				"\nlabels: env=prod, team=ml\n",
				"\nrequests: 600 of 1,000 completed, 400 failed\n",
				"\ntokens: 1,234,567 in, 340,000 out, 1,574,567 total\n",
				"\nerror: The batch could not be completed because the token limit for the\n  organization",
				"\nerror code: token_limit_exceeded\n",
				"\nerror file: file-err123\n",
				"\nended: 2026-11-23 10:04 UTC\n",
				"\nalert alrt_12, 2026-11-23 10:05 UTC",
			},
		},
		{
			name:  "partial failure",
			alert: partial,
			// Cut at 200 runes: the id is long.
			subject: "[jobwatch] openai batch " + longID + ": 12 of 1,000 requests failed; partial results to collect: output file fi…",
			want: []string{
				"openai batch partly failed\n",
				"\njob: " + longID + "\n",
				"\nstatus: succeeded (provider: completed)\n",
				"\npartial results: output file file-out456\n",
				"\nrequests: 988 of 1,000 completed, 12 failed\n",
				"\noutput file: file-out456\n",
				"\nerror file: file-err789\n",
			},
			long: []string{longID},
		},
		{
			name:    "quota failure",
			alert:   quota,
			subject: "[jobwatch] openai batch batch_q failed: quota or rate limit reached (token_limit_exceeded: Enqueued token limit reached for gpt-4o in organization org-abc. Limit: 90,000 enqueued tokens. Please try a…",
			want: []string{
				"openai batch failed: quota or rate limit reached\n",
				"\nopenai batch batch_q failed: quota or rate limit reached\n  (token_limit_exceeded: Enqueued token limit reached for gpt-4o in\n",
				"\nerror code: token_limit_exceeded\n",
			},
			unwanted: []string{"failure cause", "partial results"},
		},
		{
			name:    "expired with partial output",
			alert:   expired,
			subject: "[jobwatch] azure-openai batch batch_e expired; partial results to collect: output file file-part1",
			want: []string{
				"azure-openai batch expired\n",
				"\nazure-openai batch batch_e expired; partial results to collect: output\n  file file-part1\n",
				"\npartial results: output file file-part1\n",
				"\nrequests: 700 of 1,000 completed\n",
			},
		},
		{
			name:     "expired without output",
			alert:    expiredEmpty,
			subject:  "[jobwatch] openai batch batch_n expired",
			want:     []string{"openai batch expired\n"},
			unwanted: []string{"partial results"},
		},
		{
			name:    "total failure",
			alert:   total,
			subject: "[jobwatch] mythicdot batch batch_t: all 50 requests failed",
			want:    []string{"mythicdot batch: all requests failed\n", "\nrequests: 0 of 50 completed, 50 failed\n"},
		},
		{
			name:    "usage threshold",
			alert:   threshold,
			subject: "[jobwatch] usage 80% of daily-tokens (4,100,000 of 5,000,000 tokens, day 2026-11-23)",
			want: []string{
				"usage at 80% of daily-tokens\n",
				"\nthreshold: daily-tokens\n",
				"\nmetric: tokens\n",
				"\nusage: 4,100,000 of 5,000,000 (82%)\n",
				"\nlevel: 80% crossed\n",
				"\nwindow: day 2026-11-23\n",
				"\nprovider: openai\n",
				"\nlabels: team=ml\n",
			},
		},
		{
			name:    "hourly threshold",
			alert:   hourly,
			subject: "[jobwatch] usage 100% of hourly-failures (200 of 200 failed requests, hour 2026-11-23 14:00 UTC)",
			want:    []string{"\nmetric: failed requests\n", "\nusage: 200 of 200 (100%)\n"},
		},
		{
			name:    "provider event",
			alert:   event,
			subject: "[jobwatch] llmtune model.deployed",
			want: []string{
				"llmtune model.deployed\n",
				"\ntype: model.deployed\n",
				"\nprovider: llmtune\n",
				"\ndata:\n  type: model.deployed\n  deployment: {\"id\":\"dep_1\", \"model\":",
				"\n  note: word word",
				"…\n",
			},
		},
		{
			name:    "provider auth failed",
			alert:   authFailed,
			subject: "[jobwatch] anthropic refused our credentials (provider.auth_failed)",
			want:    []string{"anthropic refused our credentials (provider.auth_failed)\n", "\ntype: provider.auth_failed\n"},
		},
		{
			name:    "lost job",
			alert:   lost,
			subject: "[jobwatch] anthropic batch msgbatch_01 lost",
			want:    []string{"anthropic batch lost\n", "\nlast heard: 2026-11-22 08:00 UTC\n", "\nregistered: 2026-11-22 07:00 UTC\n"},
		},
		{
			name:    "stuck job",
			alert:   stuck,
			subject: "[jobwatch] openai batch batch_s stuck",
			want: []string{"openai batch stuck\n", "openai batch batch_s is stuck: finalizing for 2h10m0s", "\nstuck in: finalizing\n",
				"\nsince: 2026-11-22 06:00 UTC\n"},
		},
		{
			name:    "webhooks silent",
			alert:   silent,
			subject: "[jobwatch] openai webhooks are not arriving (provider.webhooks_silent)",
			want: []string{
				"\nopenai webhooks are not arriving: the last 3 job ends were learned by\n  polling, with no webhook\n",
				"\nmissed in a row: 3\n", "\nsilent since: 2026-11-23 09:00 UTC\n",
			},
		},
		{
			name:    "webhooks resumed",
			alert:   resumed,
			subject: "[jobwatch] openai webhooks are arriving again (provider.webhooks_resumed)",
			want:    []string{"\nsilent since: 2026-11-23 09:00 UTC\n"},
		},
		{
			name:    "usage unknown",
			alert:   unknown,
			subject: "[jobwatch] openai batch batch_u succeeded",
			want:    []string{"usage unknown", "\nusage: unknown: the provider had not reported it when this was sent\n"},
		},
		{
			name:    "control characters",
			alert:   hostile,
			subject: "[jobwatch] generic eval_run run *forged line* failed",
			want:    []string{"\njob: run *forged line*\n", "\nlabels: a=b c"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := notify.Subject(tt.alert); got != tt.subject {
				t.Errorf("Subject =\n%q\nwant\n%q", got, tt.subject)
			}
			text := notify.Text(tt.alert)
			if strings.HasPrefix(text, "*") {
				t.Errorf("Text has Slack markup: %q", strings.SplitN(text, "\n", 2)[0])
			}
			for _, w := range tt.want {
				if !strings.Contains(text, w) {
					t.Errorf("Text lacks %q; got:\n%s", w, text)
				}
			}
			for _, w := range tt.unwanted {
				if strings.Contains(text, w) {
					t.Errorf("Text has %q; got:\n%s", w, text)
				}
			}
			checkPhoneLines(t, text, tt.long)
		})
	}
}

// checkPhoneLines fails when a line of text is longer than maxPhoneLine
// runes, unless one of long (an id) is on it.
func checkPhoneLines(t *testing.T, text string, long []string) {
	t.Helper()
	for i, line := range strings.Split(text, "\n") {
		if utf8.RuneCountInString(line) <= maxPhoneLine {
			continue
		}
		exempt := false
		for _, id := range long {
			exempt = exempt || strings.Contains(line, id)
		}
		if !exempt {
			t.Errorf("line %d has %d runes (max %d): %q", i+1, utf8.RuneCountInString(line), maxPhoneLine, line)
		}
	}
}

func TestTextBoundsProviderData(t *testing.T) {
	t.Parallel()
	huge := map[string]string{}
	for i := range 200 {
		huge[strings.Repeat("k", 5)+string(rune('a'+i%26))+strings.Repeat("x", i%7)] = strings.Repeat("value ", 40)
	}
	data, err := json.Marshal(huge)
	if err != nil {
		t.Fatal(err)
	}
	for name, tt := range map[string]struct {
		raw  json.RawMessage
		want string
	}{
		"object": {data, "\n  kkkkka: value value"},
		"array":  {json.RawMessage(`[` + strings.Repeat(`"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",`, 300) + `1]`), "\ndata: [\"aaaa"},
		"broken": {json.RawMessage(`{"unterminated": "` + strings.Repeat("z", 5000)), "\ndata: {\"unterminated\": \"zzzz"},
	} {
		a := tracker.Alert{ID: "alrt_1", Type: "usage.threshold.reached", Provider: "mythicdot", Data: tt.raw}
		text := notify.Text(a)
		if n := utf8.RuneCountInString(text); n > 1000 {
			t.Errorf("%s: Text is %d runes, want the data cut to about 500:\n%s", name, n, text)
		}
		if !strings.Contains(text, tt.want) {
			t.Errorf("%s: Text lacks %q:\n%s", name, tt.want, text)
		}
		checkPhoneLines(t, text, nil)
	}
}

// A cost crossing and a priced job read in money, in subject and text alike.
func TestCostReadsInMoney(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)
	crossing := tracker.Alert{Type: tracker.AlertUsageThreshold, Threshold: &tracker.ThresholdCrossing{Name: "daily-spend", Metric: tracker.MetricCost,
		Window: "day", WindowStart: start, Limit: 400_000_000, Value: 520_000_000, Projected: 90_000_000, Currency: "USD", Level: 1}}
	if got, want := notify.Subject(crossing), "[jobwatch] projected cost 100% of daily-spend (0.52 USD of 0.40 USD cost, day 2026-12-03)"; got != want {
		t.Errorf("subject = %q, want %q", got, want)
	}
	text := notify.Text(crossing)
	for _, want := range []string{"usage: 0.52 USD of 0.40 USD (130%)", "projected: 0.09 USD for running jobs, included above"} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q:\n%s", want, text)
		}
	}
	job := tracker.Alert{Type: "job.succeeded", Provider: "openai", Job: &tracker.Job{Provider: "openai", Kind: tracker.KindBatch, ExternalID: "b", Status: tracker.StatusSucceeded,
		Cost: &tracker.Cost{Nanos: 431_250_000, Amount: 0.43125, Currency: "USD"}}}
	unknown := job
	j := *job.Job
	j.Cost = &tracker.Cost{Currency: "USD", Unknown: "no price for openai batch model o3"}
	unknown.Job = &j
	for a, want := range map[*tracker.Alert]string{&job: "cost: 0.43 USD", &unknown: "cost: unknown (no price for openai batch model o3)"} {
		if text := notify.Text(*a); !strings.Contains(text, want) {
			t.Errorf("text lacks %q:\n%s", want, text)
		}
	}
}
