package sweep_test

import (
	"strings"
	"testing"

	"github.com/jobwatch/jobwatch/storage"
	"github.com/jobwatch/jobwatch/storage/storagetest"
	"github.com/jobwatch/jobwatch/tracker"
)

// A batch that OpenAI failed for its enqueued token limit, found by a poll,
// is stored with failure_cause quota and raises job.failed saying so first;
// an expired batch with output raises job.expired saying its partial
// results are there to collect.
func TestPolledEndsSayQuotaAndPartialResults(t *testing.T) {
	t.Parallel()
	storagetest.Each(t, func(t *testing.T, s *storage.Store) {
		t.Parallel()
		api := newFakeOpenAI(t)
		api.script("batch_quota", answer{code: 200, body: `{"id":"batch_quota","object":"batch","endpoint":"/v1/chat/completions",` +
			`"errors":{"object":"list","data":[{"code":"token_limit_exceeded","line":null,"param":null,` +
			`"message":"Enqueued token limit reached for gpt-4o in organization org-abc. Limit: 90,000 enqueued tokens. ` +
			`Please try again once some in_progress batches have been completed."}]},` +
			`"input_file_id":"file-in","completion_window":"24h","status":"failed","output_file_id":null,"error_file_id":null,` +
			`"created_at":1714508499,"failed_at":1714508502,"request_counts":{"total":0,"completed":0,"failed":0},"metadata":null}`})
		api.script("batch_exp", batch("batch_exp", "expired", 1000, 640, 0))
		e := setup(t, s, api, false)
		e.track(t, tracker.KindBatch, "batch_quota")
		e.track(t, tracker.KindBatch, "batch_exp")
		e.clock.Advance(rules.StaleAfter)
		e.sweep(t)

		if j := e.job(t, "batch_quota"); j.Status != tracker.StatusFailed || j.Details[tracker.DetailFailureCause] != tracker.FailureCauseQuota ||
			j.Details["error_code"] != "token_limit_exceeded" {
			t.Errorf("quota batch: %s, details %v; want failed with failure_cause quota", j.Status, j.Details)
		}
		want := map[string]string{
			"batch_quota": "openai batch batch_quota failed: quota or rate limit reached (token_limit_exceeded: Enqueued token limit reached for gpt-4o in organization org-abc.",
			"batch_exp":   "openai batch batch_exp expired; partial results to collect: output file file-out",
		}
		for _, a := range e.alerts(t) {
			if a.Job == nil {
				continue
			}
			w, ok := want[a.Job.ExternalID]
			if !ok {
				continue
			}
			delete(want, a.Job.ExternalID)
			if !strings.HasPrefix(a.Summary, w) {
				t.Errorf("%s alert about %s: summary\n%q\nwant it to begin\n%q", a.Type, a.Job.ExternalID, a.Summary, w)
			}
		}
		if len(want) > 0 {
			t.Errorf("no alert about %v; alerts %v", want, types(e.alerts(t)))
		}
	})
}
