package openai

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/jobwatch/jobwatch/providers"
	"github.com/jobwatch/jobwatch/providers/payload"
	"github.com/jobwatch/jobwatch/tracker"
)

// BatchStatus normalizes a batch's status (GET /v1/batches/{id}). A batch in
// finalizing or cancelling is still running: it may sit there long after its
// counts reach 100%. Unknown words are "" (no normalized equivalent).
func BatchStatus(s string) tracker.Status {
	switch s {
	case "validating":
		return tracker.StatusPending
	case "in_progress", "finalizing", "cancelling":
		return tracker.StatusRunning
	case "completed":
		return tracker.StatusSucceeded
	case "failed":
		return tracker.StatusFailed
	case "expired":
		return tracker.StatusExpired
	case "cancelled":
		return tracker.StatusCancelled
	}
	return ""
}

// FineTuningStatus normalizes a fine-tuning job's status (GET
// /v1/fine_tuning/jobs/{id}). Unknown words, such as a paused job's, are ""
// (no normalized equivalent): never guessed terminal.
func FineTuningStatus(s string) tracker.Status {
	switch s {
	case "validating_files", "queued":
		return tracker.StatusPending
	case "running":
		return tracker.StatusRunning
	case "succeeded":
		return tracker.StatusSucceeded
	case "failed":
		return tracker.StatusFailed
	case "cancelled":
		return tracker.StatusCancelled
	}
	return ""
}

// ResponseStatus normalizes a background response's status (GET
// /v1/responses/{id}). An incomplete response is a truncated answer: failed.
// Unknown words are "" (no normalized equivalent).
func ResponseStatus(s string) tracker.Status {
	switch s {
	case "queued":
		return tracker.StatusPending
	case "in_progress":
		return tracker.StatusRunning
	case "completed":
		return tracker.StatusSucceeded
	case "failed", "incomplete":
		return tracker.StatusFailed
	case "cancelled":
		return tracker.StatusCancelled
	}
	return ""
}

// EvalRunStatus normalizes an eval run's status (GET
// /v1/evals/{eval_id}/runs/{run_id}). The SDKs type it as a free string;
// OpenAI's eval guide and API reference list queued, in_progress, completed,
// failed and canceled (one "l", as in the eval.run.canceled webhook); the
// batch spelling cancelled is accepted too. Unknown words are "" (no
// normalized equivalent): never guessed terminal.
func EvalRunStatus(s string) tracker.Status {
	switch s {
	case "queued":
		return tracker.StatusPending
	case "in_progress":
		return tracker.StatusRunning
	case "completed":
		return tracker.StatusSucceeded
	case "failed":
		return tracker.StatusFailed
	case "canceled", "cancelled":
		return tracker.StatusCancelled
	}
	return ""
}

// ObjectObservation maps an OpenAI API object of the given kind (batch,
// fine_tuning, response or eval_run, as GET /v1/batches/{id},
// /v1/fine_tuning/jobs/{id}, /v1/responses/{id} and
// /v1/evals/{eval_id}/runs/{id} return it, and as OpenAI-compatible
// providers embed it in their webhooks) to an observation: ExternalID, Kind,
// Status (through BatchStatus, FineTuningStatus, ResponseStatus or
// EvalRunStatus), ProviderStatus verbatim, Usage (nil when the object reports
// none; figures that are no counts are left out, in DroppedUsage) and
// Details. A missing status leaves Status and ProviderStatus empty.
// OccurredAt is left zero: a poll's time is the caller's. Null fields are
// absent fields; any other failure is a *providers.PayloadError whose Field is
// a path within obj.
//
// Usage's CachedInputTokens is usage.input_tokens_details.cached_tokens
// (batches, responses) or per_model_usage's cached_tokens summed (eval
// runs): the part of InputTokens served from OpenAI's prompt cache.
//
// Details keys: model (tracker.DetailModel: the object's model, a
// fine-tune's base model, an eval run's evaluated model; through
// payload.ModelName), output_file_id, error_file_id (batches; an expired
// batch keeps its partial output), fine_tuned_model (fine-tunes),
// error_message and error_code (the batch's quota error, else its first
// error; the fine-tune's or the response's error, the eval run's error),
// failure_cause (tracker.FailureCauseQuota when that error's code says a
// quota or rate limit: token_limit_exceeded, rate_limit_exceeded,
// insufficient_quota), incomplete_reason (responses), report_url
// (eval runs), request_failure (completed batches with failed requests,
// completed eval runs with errored items: tracker.RequestFailurePartial or
// tracker.RequestFailureTotal).
func ObjectObservation(kind tracker.Kind, obj []byte) (tracker.Observation, error) {
	switch kind {
	case tracker.KindBatch:
		return batchObservation(obj)
	case tracker.KindFineTuning:
		return fineTuningObservation(obj)
	case tracker.KindResponse:
		return responseObservation(obj)
	case tracker.KindEvalRun:
		return evalRunObservation(obj)
	}
	return tracker.Observation{}, &providers.PayloadError{Msg: fmt.Sprintf("no object mapping for kind %q (want batch, fine_tuning, response or eval_run)", kind)}
}

// apiError is the {code, message} pair OpenAI reports failures with.
type apiError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// tokenUsage is the usage object of batches and responses.
type tokenUsage struct {
	InputTokens        payload.Count `json:"input_tokens"`
	InputTokensDetails *struct {
		// CachedTokens is the part of input_tokens read from the prompt
		// cache.
		CachedTokens payload.Count `json:"cached_tokens"`
	} `json:"input_tokens_details"`
	OutputTokens payload.Count `json:"output_tokens"`
	TotalTokens  payload.Count `json:"total_tokens"`
}

// take reads t, the usage object at "usage", into f.
func (t *tokenUsage) take(f *payload.Figures) {
	if t == nil {
		return
	}
	f.Take("input_tokens", "usage.input_tokens", t.InputTokens)
	if d := t.InputTokensDetails; d != nil {
		f.Take("cached_input_tokens", "usage.input_tokens_details.cached_tokens", d.CachedTokens)
	}
	f.Take("output_tokens", "usage.output_tokens", t.OutputTokens)
	f.Take("total_tokens", "usage.total_tokens", t.TotalTokens)
}

// header is what every object has: its type, id and status.
type header struct {
	object, id, status string
}

// observation checks h and starts the observation of an object of kind whose
// "object" field, when present, is object.
func (h header) observation(kind tracker.Kind, object string, status func(string) tracker.Status) (tracker.Observation, error) {
	if h.object != "" && h.object != object {
		return tracker.Observation{}, &providers.PayloadError{Field: "object", Msg: fmt.Sprintf("want %q for kind %s, got %q", object, kind, h.object)}
	}
	if err := payload.CheckExternalID("id", h.id); err != nil {
		return tracker.Observation{}, err
	}
	return tracker.Observation{ExternalID: h.id, Kind: kind, Status: status(h.status), ProviderStatus: h.status}, nil
}

type batchObject struct {
	Object string `json:"object"`
	ID     string `json:"id"`
	Status string `json:"status"`
	// Model is the model the batch's requests ran on; in batch objects
	// since 2025, absent from older ones and from some compatible APIs.
	Model        string `json:"model"`
	OutputFileID string `json:"output_file_id"`
	ErrorFileID  string `json:"error_file_id"`
	Errors       *struct {
		Data []apiError `json:"data"`
		// The top-level code and message are not in OpenAI's schema; some
		// compatible providers (and OpenAI's own guide) put them there.
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"errors"`
	RequestCounts *struct {
		Total     payload.Count `json:"total"`
		Completed payload.Count `json:"completed"`
		Failed    payload.Count `json:"failed"`
	} `json:"request_counts"`
	Usage *tokenUsage `json:"usage"`
	// The time of each end, in unix seconds; the one matching the status
	// is the end's.
	CompletedAt json.RawMessage `json:"completed_at"`
	FailedAt    json.RawMessage `json:"failed_at"`
	ExpiredAt   json.RawMessage `json:"expired_at"`
	CancelledAt json.RawMessage `json:"cancelled_at"`
}

func batchObservation(obj []byte) (tracker.Observation, error) {
	var b batchObject
	if err := payload.Unmarshal(obj, &b); err != nil {
		return tracker.Observation{}, err
	}
	obs, err := header{b.Object, b.ID, b.Status}.observation(tracker.KindBatch, "batch", BatchStatus)
	if err != nil {
		return tracker.Observation{}, err
	}
	var f payload.Figures
	d := details{}
	payload.SetModel(d, b.Model)
	d.set("output_file_id", b.OutputFileID)
	d.set("error_file_id", b.ErrorFileID)
	if e := b.Errors; e != nil {
		first := apiError{Code: e.Code, Message: e.Message}
		if len(e.Data) > 0 {
			first = e.Data[0]
		}
		// A quota error among line errors is why the batch failed.
		if i := slices.IndexFunc(e.Data, func(e apiError) bool { return quotaCode(e.Code) }); i >= 0 {
			first = e.Data[i]
		}
		d.setError(first)
	}
	if c := b.RequestCounts; c != nil {
		total, totalOK := f.Take("requests_total", "request_counts.total", c.Total)
		f.Take("requests_completed", "request_counts.completed", c.Completed)
		failed, failedOK := f.Take("requests_failed", "request_counts.failed", c.Failed)
		if b.Status == "completed" && totalOK && failedOK {
			switch {
			case total > 0 && failed >= total:
				d.set(tracker.DetailRequestFailure, tracker.RequestFailureTotal)
			case failed > 0 && failed < total:
				d.set(tracker.DetailRequestFailure, tracker.RequestFailurePartial)
			}
		}
	}
	b.Usage.take(&f)
	f.Observe(&obs)
	obs.Details = d.result()
	switch obs.Status {
	case tracker.StatusSucceeded:
		obs.EndedAt = unixTime(b.CompletedAt)
	case tracker.StatusFailed:
		obs.EndedAt = unixTime(b.FailedAt)
	case tracker.StatusExpired:
		obs.EndedAt = unixTime(b.ExpiredAt)
	case tracker.StatusCancelled:
		obs.EndedAt = unixTime(b.CancelledAt)
	}
	return obs, nil
}

// unixTime reads a time given in whole unix seconds; nil when raw is
// absent, null or anything else: an end time only refines a grace period,
// so a malformed one is not worth refusing the object for.
func unixTime(raw json.RawMessage) *time.Time {
	n, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil || n <= 0 || n > maxUnixSeconds {
		return nil
	}
	t := time.Unix(n, 0).UTC()
	return &t
}

// maxUnixSeconds is the last second of year 9999, past which no end time
// is believed.
const maxUnixSeconds = 253402300799

type fineTuningObject struct {
	Object string `json:"object"`
	ID     string `json:"id"`
	Status string `json:"status"`
	// Model is the base model being fine-tuned.
	Model          string        `json:"model"`
	FineTunedModel string        `json:"fine_tuned_model"`
	TrainedTokens  payload.Count `json:"trained_tokens"`
	Error          *apiError     `json:"error"`
	// FinishedAt is when the job ended, in unix seconds.
	FinishedAt json.RawMessage `json:"finished_at"`
}

func fineTuningObservation(obj []byte) (tracker.Observation, error) {
	var f fineTuningObject
	if err := payload.Unmarshal(obj, &f); err != nil {
		return tracker.Observation{}, err
	}
	obs, err := header{f.Object, f.ID, f.Status}.observation(tracker.KindFineTuning, "fine_tuning.job", FineTuningStatus)
	if err != nil {
		return tracker.Observation{}, err
	}
	d := details{}
	payload.SetModel(d, f.Model)
	d.set("fine_tuned_model", f.FineTunedModel)
	if f.Error != nil {
		d.setError(*f.Error)
	}
	var figures payload.Figures
	figures.Take("trained_tokens", "trained_tokens", f.TrainedTokens)
	figures.Observe(&obs)
	obs.Details = d.result()
	if obs.Status.Terminal() {
		obs.EndedAt = unixTime(f.FinishedAt)
	}
	return obs, nil
}

type responseObject struct {
	Object            string    `json:"object"`
	ID                string    `json:"id"`
	Status            string    `json:"status"`
	Model             string    `json:"model"`
	Error             *apiError `json:"error"`
	IncompleteDetails *struct {
		Reason string `json:"reason"`
	} `json:"incomplete_details"`
	Usage *tokenUsage `json:"usage"`
}

func responseObservation(obj []byte) (tracker.Observation, error) {
	var r responseObject
	if err := payload.Unmarshal(obj, &r); err != nil {
		return tracker.Observation{}, err
	}
	obs, err := header{r.Object, r.ID, r.Status}.observation(tracker.KindResponse, "response", ResponseStatus)
	if err != nil {
		return tracker.Observation{}, err
	}
	d := details{}
	payload.SetModel(d, r.Model)
	if r.Error != nil {
		d.setError(*r.Error)
	}
	if r.IncompleteDetails != nil {
		d.set("incomplete_reason", r.IncompleteDetails.Reason)
	}
	var f payload.Figures
	r.Usage.take(&f)
	f.Observe(&obs)
	obs.Details = d.result()
	return obs, nil
}

// evalRunObject is an eval run (openai-python's RunRetrieveResponse, "object":
// "eval.run"): its counts of output items and its token usage per model.
type evalRunObject struct {
	Object string `json:"object"`
	ID     string `json:"id"`
	Status string `json:"status"`
	// Model is the model evaluated, when the run's data source names one.
	Model        string    `json:"model"`
	Error        *apiError `json:"error"`
	ReportURL    string    `json:"report_url"`
	ResultCounts *struct {
		Total   payload.Count `json:"total"`
		Passed  payload.Count `json:"passed"`
		Failed  payload.Count `json:"failed"`
		Errored payload.Count `json:"errored"`
	} `json:"result_counts"`
	PerModelUsage []struct {
		PromptTokens     payload.Count `json:"prompt_tokens"`
		CompletionTokens payload.Count `json:"completion_tokens"`
		TotalTokens      payload.Count `json:"total_tokens"`
		CachedTokens     payload.Count `json:"cached_tokens"`
	} `json:"per_model_usage"`
}

// evalRunObservation maps an eval run: result_counts' total, passed and
// failed plus errored are requests_total, requests_completed and
// requests_failed; per_model_usage's prompt, cached, completion and total
// tokens, summed over the models, are input_tokens, cached_input_tokens,
// output_tokens and total_tokens.
// A completed run whose items errored (were not answered, unlike items that
// failed their grading) is a partial or total request failure.
func evalRunObservation(obj []byte) (tracker.Observation, error) {
	var r evalRunObject
	if err := payload.Unmarshal(obj, &r); err != nil {
		return tracker.Observation{}, err
	}
	obs, err := header{r.Object, r.ID, r.Status}.observation(tracker.KindEvalRun, "eval.run", EvalRunStatus)
	if err != nil {
		return tracker.Observation{}, err
	}
	d := details{}
	payload.SetModel(d, r.Model)
	if r.Error != nil {
		d.setError(*r.Error)
	}
	d.set("report_url", r.ReportURL)
	var f payload.Figures
	if c := r.ResultCounts; c != nil {
		total, totalOK := f.Take("requests_total", "result_counts.total", c.Total)
		f.Take("requests_completed", "result_counts.passed", c.Passed)
		_, failedOK := f.TakeSum("requests_failed", payload.Part{Path: "result_counts.failed", Count: c.Failed}, payload.Part{Path: "result_counts.errored", Count: c.Errored})
		if r.Status == "completed" && totalOK && failedOK {
			// errored is a count: the sum took it.
			errored, _ := f.Read("requests_failed", "result_counts.errored", c.Errored)
			d.set(tracker.DetailRequestFailure, payload.RequestFailure(total, errored))
		}
	}
	tokens := map[string][]payload.Part{}
	for i, u := range r.PerModelUsage {
		at := fmt.Sprintf("per_model_usage[%d].", i)
		tokens["input_tokens"] = append(tokens["input_tokens"], payload.Part{Path: at + "prompt_tokens", Count: u.PromptTokens})
		tokens["cached_input_tokens"] = append(tokens["cached_input_tokens"], payload.Part{Path: at + "cached_tokens", Count: u.CachedTokens})
		tokens["output_tokens"] = append(tokens["output_tokens"], payload.Part{Path: at + "completion_tokens", Count: u.CompletionTokens})
		tokens["total_tokens"] = append(tokens["total_tokens"], payload.Part{Path: at + "total_tokens", Count: u.TotalTokens})
	}
	for _, name := range []string{"input_tokens", "cached_input_tokens", "output_tokens", "total_tokens"} {
		f.TakeSum(name, tokens[name]...)
	}
	f.Observe(&obs)
	obs.Details = d.result()
	return obs, nil
}

// details collects an observation's details, leaving out empty values.
type details map[string]string

func (d details) set(key, value string) {
	if value != "" {
		d[key] = value
	}
}

// setError records e: its message and code, and, when the code is a quota
// one (quotaCode), tracker.FailureCauseQuota.
func (d details) setError(e apiError) {
	d.set("error_message", e.Message)
	d.set("error_code", e.Code)
	if quotaCode(e.Code) {
		d.set(tracker.DetailFailureCause, tracker.FailureCauseQuota)
	}
}

// quotaCode reports whether an OpenAI error code says a quota or rate limit
// stopped the job, for OpenAI and every provider that answers with its
// objects (Azure OpenAI, Groq, MythicDot): token_limit_exceeded (a batch
// refused for the organization's, or Azure deployment's, enqueued token
// limit for its model), rate_limit_exceeded (a response's
// ResponseError code) and insufficient_quota (the account is out of credit,
// the code of OpenAI's 429 "You exceeded your current quota").
func quotaCode(code string) bool {
	switch code {
	case "token_limit_exceeded", "rate_limit_exceeded", "insufficient_quota":
		return true
	}
	return false
}

// result is d, or nil when empty.
func (d details) result() map[string]string {
	if len(d) == 0 {
		return nil
	}
	return d
}
