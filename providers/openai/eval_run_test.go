package openai_test

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/providers"
	"github.com/jobwatch/jobwatch/providers/openai"
	"github.com/jobwatch/jobwatch/providers/pollhttp"
	"github.com/jobwatch/jobwatch/providers/providertest"
	"github.com/jobwatch/jobwatch/tracker"
)

const testEvalID = "eval_67abd54d9b0081909a86353f6fb9317a"

// evalRunObject is an eval run as GET /v1/evals/{eval_id}/runs/{run_id}
// returns it (openai-python's RunRetrieveResponse) at a stage of its life.
func evalRunObject(id, status, counts, usage, errorObj string) string {
	return fmt.Sprintf(`{"object":"eval.run","id":%q,"eval_id":%q,"report_url":"https://platform.openai.com/evaluations/%s?run_id=%s",`+
		`"status":%q,"model":"o3-mini","name":"bulk_with_negative_examples_o3-mini","created_at":1743092069,`+
		`"result_counts":%s,"per_model_usage":%s,"per_testing_criteria_results":[],"data_source":{"type":"completions","source":{"type":"file_id","id":"file-12345"}},`+
		`"error":%s,"metadata":{}}`, id, testEvalID, testEvalID, id, status, counts, usage, errorObj)
}

// evalRunPath is where the fake API serves run id of testEvalID.
func evalRunPath(id string) string { return "/v1/evals/" + testEvalID + "/runs/" + id }

func TestPollEvalRunToEachEnd(t *testing.T) {
	t.Parallel()
	noCounts, noUsage, noError := `{"total":0,"errored":0,"failed":0,"passed":0}`, `[]`, `{"code":"","message":""}`
	done := `{"total":10,"errored":1,"failed":2,"passed":7}`
	usage := `[{"model_name":"o3-mini","invocation_count":10,"prompt_tokens":1500,"completion_tokens":500,"total_tokens":2000,"cached_tokens":1024},` +
		`{"model_name":"gpt-4.1","invocation_count":10,"prompt_tokens":300,"completion_tokens":100,"total_tokens":400,"cached_tokens":0}]`
	tests := []struct {
		id, end    string
		counts     string
		errorObj   string
		want       tracker.Status
		wantUsage  *tracker.Usage
		wantDetail map[string]string
	}{
		{"evalrun_ok", "completed", done, noError, tracker.StatusSucceeded,
			&tracker.Usage{InputTokens: 1800, CachedInputTokens: 1024, OutputTokens: 600, TotalTokens: 2400, RequestsTotal: 10, RequestsCompleted: 7, RequestsFailed: 3},
			map[string]string{"request_failure": tracker.RequestFailurePartial}},
		{"evalrun_bad", "failed", noCounts, `{"code":"invalid_data_source","message":"The file file-12345 has no valid lines."}`, tracker.StatusFailed,
			&tracker.Usage{InputTokens: 1800, CachedInputTokens: 1024, OutputTokens: 600, TotalTokens: 2400},
			map[string]string{"error_code": "invalid_data_source", "error_message": "The file file-12345 has no valid lines."}},
		{"evalrun_stop", "canceled", `{"total":4,"errored":0,"failed":0,"passed":4}`, noError, tracker.StatusCancelled,
			&tracker.Usage{InputTokens: 1800, CachedInputTokens: 1024, OutputTokens: 600, TotalTokens: 2400, RequestsTotal: 4, RequestsCompleted: 4}, map[string]string{}},
		// The batch spelling, should the API ever use it.
		{"evalrun_stop2", "cancelled", noCounts, noError, tracker.StatusCancelled,
			&tracker.Usage{InputTokens: 1800, CachedInputTokens: 1024, OutputTokens: 600, TotalTokens: 2400}, map[string]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.end, func(t *testing.T) {
			t.Parallel()
			api := newFakeAPI(t, map[string][]string{evalRunPath(tt.id): {
				evalRunObject(tt.id, "queued", noCounts, noUsage, noError),
				evalRunObject(tt.id, "in_progress", `{"total":4,"errored":0,"failed":1,"passed":3}`, noUsage, noError),
				// A status no source lists is kept verbatim, not ended.
				evalRunObject(tt.id, "paused", `{"total":4,"errored":0,"failed":1,"passed":3}`, noUsage, noError),
				evalRunObject(tt.id, tt.end, tt.counts, usage, tt.errorObj),
			}})
			p := newPoller(t, api, testKey)
			job := tracker.Job{Provider: "openai", Kind: tracker.KindEvalRun, ExternalID: tt.id, ParentID: testEvalID}
			var obs tracker.Observation
			for i, want := range []tracker.Status{tracker.StatusPending, tracker.StatusRunning, "", tt.want} {
				var err error
				if obs, err = p.Poll(t.Context(), job); err != nil {
					t.Fatalf("poll %d: %v", i+1, err)
				}
				if obs.ExternalID != tt.id || obs.Kind != tracker.KindEvalRun || obs.Status != want {
					t.Errorf("poll %d: %s %s %q (%s), want %q", i+1, obs.ExternalID, obs.Kind, obs.Status, obs.ProviderStatus, want)
				}
			}
			if obs.ProviderStatus != tt.end {
				t.Errorf("provider status %q, want %q", obs.ProviderStatus, tt.end)
			}
			if !reflect.DeepEqual(obs.Usage, tt.wantUsage) {
				t.Errorf("usage %+v, want %+v", obs.Usage, tt.wantUsage)
			}
			tt.wantDetail["report_url"] = "https://platform.openai.com/evaluations/" + testEvalID + "?run_id=" + tt.id
			tt.wantDetail[tracker.DetailModel] = "o3-mini"
			if !reflect.DeepEqual(obs.Details, tt.wantDetail) {
				t.Errorf("details %v, want %v", obs.Details, tt.wantDetail)
			}
			for _, r := range api.requests() {
				if r != "GET "+evalRunPath(tt.id) {
					t.Errorf("request %q", r)
				}
			}
		})
	}
}

// Every item errored: a total request failure; figures that are no counts
// are left out and noted, the others kept.
func TestEvalRunObservationFigures(t *testing.T) {
	t.Parallel()
	obs, err := openai.ObjectObservation(tracker.KindEvalRun, []byte(evalRunObject("evalrun_1", "completed",
		`{"total":5,"errored":5,"failed":0,"passed":0}`, `[{"prompt_tokens":-3,"completion_tokens":9223372036854775807,"total_tokens":10},{"completion_tokens":1,"total_tokens":12}]`, `null`)))
	if err != nil {
		t.Fatal(err)
	}
	if obs.Details["request_failure"] != tracker.RequestFailureTotal {
		t.Errorf("details %v, want request_failure total", obs.Details)
	}
	want := tracker.Usage{TotalTokens: 22, RequestsTotal: 5, RequestsFailed: 5}
	if obs.Usage == nil || *obs.Usage != want {
		t.Errorf("usage %+v, want %+v", obs.Usage, want)
	}
	var dropped []string
	for _, d := range obs.DroppedUsage {
		dropped = append(dropped, d.Field+" at "+d.Path)
	}
	if w := []string{"input_tokens at per_model_usage[0].prompt_tokens", "output_tokens at per_model_usage[1].completion_tokens"}; !reflect.DeepEqual(dropped, w) {
		t.Errorf("dropped %v, want %v", dropped, w)
	}
	if _, err := openai.ObjectObservation(tracker.KindEvalRun, []byte(`{"object":"eval","id":"eval_1","status":"completed"}`)); err == nil {
		t.Error("an eval taken for an eval run")
	}
}

func TestPollEvalRunFailures(t *testing.T) {
	t.Parallel()
	api := newFakeAPI(t, map[string][]string{
		evalRunPath("evalrun_other"): {evalRunObject("evalrun_not_asked", "queued", `{}`, `[]`, `null`)},
		evalRunPath("evalrun_html"):  {"<html>Bad gateway</html>"},
	})
	run := func(id, parent string) tracker.Job {
		return tracker.Job{Provider: "openai", Kind: tracker.KindEvalRun, ExternalID: id, ParentID: parent}
	}
	tests := []struct {
		name string
		key  string
		job  tracker.Job
		want providers.PollErrorClass
		code int
	}{
		{"unknown run", testKey, run("evalrun_missing", testEvalID), providers.PollNotFound, 404},
		{"run of another eval", testKey, run("evalrun_other", "eval_other"), providers.PollNotFound, 404},
		{"wrong key", "sk-wrong", run("evalrun_other", testEvalID), providers.PollAuth, 401},
		{"another run's answer", testKey, run("evalrun_other", testEvalID), providers.PollInvalid, 0},
		{"not JSON", testKey, run("evalrun_html", testEvalID), providers.PollInvalid, 0},
		{"no eval id", testKey, run("evalrun_other", ""), providers.PollInvalid, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := newPoller(t, api, tt.key).Poll(t.Context(), tt.job)
			providertest.CheckPollError(t, err, "openai", tt.job, tt.key, tt.want, tt.code)
			if tt.job.ParentID == "" && !strings.Contains(err.Error(), "registered without its eval id (parent_id)") {
				t.Errorf("error %q does not say the eval id is missing", err)
			}
		})
	}
	for _, r := range api.requests() {
		if strings.Contains(r, "/evals//") || !strings.HasPrefix(r, "GET /v1/evals/") {
			t.Errorf("polled %s", r)
		}
	}
}

// MythicDot's OpenAI-compatible API has no evals: its poller does not poll
// eval runs.
func TestCompatiblePollerHasNoEvalRuns(t *testing.T) {
	t.Parallel()
	client := pollhttp.New(pollhttp.Config{Provider: "mythicdot", MaxRetryWait: 10 * time.Millisecond})
	providertest.CheckPolls(t, openai.NewCompatiblePoller("", testKey, client), map[tracker.Kind]bool{
		tracker.KindBatch: true, tracker.KindFineTuning: true, tracker.KindResponse: true, tracker.KindEvalRun: false,
	})
}
