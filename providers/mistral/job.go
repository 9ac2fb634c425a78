// Package mistral polls Mistral's batch and fine-tuning APIs. Mistral sends
// no webhooks: its jobs are only ever learnt about by asking.
package mistral

import (
	"fmt"

	"github.com/jobwatch/jobwatch/providers"
	"github.com/jobwatch/jobwatch/providers/payload"
	"github.com/jobwatch/jobwatch/tracker"
)

// BatchStatus normalizes a batch job's status (GET /v1/batch/jobs/{id}). A
// batch whose cancellation was asked for is still running until it is
// CANCELLED; TIMEOUT_EXCEEDED is a batch that outlived its timeout (24 h by
// default): expired. Unknown words are "" (no normalized equivalent): never
// guessed terminal.
func BatchStatus(s string) tracker.Status {
	switch s {
	case "QUEUED":
		return tracker.StatusPending
	case "RUNNING", "CANCELLATION_REQUESTED":
		return tracker.StatusRunning
	case "SUCCESS":
		return tracker.StatusSucceeded
	case "FAILED":
		return tracker.StatusFailed
	case "TIMEOUT_EXCEEDED":
		return tracker.StatusExpired
	case "CANCELLED":
		return tracker.StatusCancelled
	}
	return ""
}

// FineTuningStatus normalizes a fine-tuning job's status (GET
// /v1/fine_tuning/jobs/{id}): queued and validating its files is pending; a
// job that failed its validation failed. Unknown words are "".
func FineTuningStatus(s string) tracker.Status {
	switch s {
	case "QUEUED", "VALIDATING", "VALIDATED":
		return tracker.StatusPending
	case "STARTED", "RUNNING", "CANCELLATION_REQUESTED":
		return tracker.StatusRunning
	case "SUCCESS":
		return tracker.StatusSucceeded
	case "FAILED", "FAILED_VALIDATION":
		return tracker.StatusFailed
	case "CANCELLED":
		return tracker.StatusCancelled
	}
	return ""
}

// batchJob is what GET /v1/batch/jobs/{id} answers, in the part read here.
type batchJob struct {
	ID     string `json:"id"`
	Object string `json:"object"`
	Status string `json:"status"`
	// Model is the model the batch's requests run on; null for a batch
	// run by an agent (agent_id).
	Model             string        `json:"model"`
	TotalRequests     payload.Count `json:"total_requests"`
	SucceededRequests payload.Count `json:"succeeded_requests"`
	FailedRequests    payload.Count `json:"failed_requests"`
	OutputFile        *string       `json:"output_file"`
	ErrorFile         *string       `json:"error_file"`
}

// BatchObservation maps a batch job, as GET /v1/batch/jobs/{id} returns it,
// to an observation: ExternalID, Kind batch, Status (BatchStatus),
// ProviderStatus (status verbatim), Usage and Details. Usage counts requests
// (Mistral reports no token totals): RequestsTotal is total_requests,
// RequestsCompleted succeeded_requests (completed_requests also counts the
// failed ones), RequestsFailed failed_requests; a figure that is no count is
// left out and noted in DroppedUsage. OccurredAt is left zero: a poll's time
// is the caller's. A malformed body is a *providers.PayloadError.
//
// Details keys: model (tracker.DetailModel), output_file_id, error_file_id
// (Mistral's output_file and error_file); request_failure (a SUCCESS batch with failed requests:
// tracker.RequestFailureTotal when every request failed, else
// tracker.RequestFailurePartial).
func BatchObservation(body []byte) (tracker.Observation, error) {
	var b batchJob
	if err := payload.Unmarshal(body, &b); err != nil {
		return tracker.Observation{}, err
	}
	obs, err := observation(b.Object, "batch", b.ID, b.Status, tracker.KindBatch, BatchStatus)
	if err != nil {
		return tracker.Observation{}, err
	}
	d := map[string]string{}
	payload.SetModel(d, b.Model)
	setDetail(d, "output_file_id", b.OutputFile)
	setDetail(d, "error_file_id", b.ErrorFile)
	var f payload.Figures
	total, totalOK := f.Take("requests_total", "total_requests", b.TotalRequests)
	f.Take("requests_completed", "succeeded_requests", b.SucceededRequests)
	failed, failedOK := f.Take("requests_failed", "failed_requests", b.FailedRequests)
	if rf := payload.RequestFailure(total, failed); b.Status == "SUCCESS" && totalOK && failedOK && rf != "" {
		d[tracker.DetailRequestFailure] = rf
	}
	f.Observe(&obs)
	if len(d) > 0 {
		obs.Details = d
	}
	return obs, nil
}

// fineTuningJob is what GET /v1/fine_tuning/jobs/{id} answers, in the part
// read here.
type fineTuningJob struct {
	ID     string `json:"id"`
	Object string `json:"object"`
	Status string `json:"status"`
	// Model is the base model being fine-tuned.
	Model          string        `json:"model"`
	FineTunedModel *string       `json:"fine_tuned_model"`
	TrainedTokens  payload.Count `json:"trained_tokens"`
}

// FineTuningObservation maps a fine-tuning job, as GET
// /v1/fine_tuning/jobs/{id} returns it, to an observation: ExternalID, Kind
// fine_tuning, Status (FineTuningStatus), ProviderStatus, Usage
// (TrainedTokens from trained_tokens) and Details (model, the base model:
// tracker.DetailModel; fine_tuned_model). A malformed body is a
// *providers.PayloadError.
func FineTuningObservation(body []byte) (tracker.Observation, error) {
	var j fineTuningJob
	if err := payload.Unmarshal(body, &j); err != nil {
		return tracker.Observation{}, err
	}
	obs, err := observation(j.Object, "job", j.ID, j.Status, tracker.KindFineTuning, FineTuningStatus)
	if err != nil {
		return tracker.Observation{}, err
	}
	d := map[string]string{}
	payload.SetModel(d, j.Model)
	setDetail(d, "fine_tuned_model", j.FineTunedModel)
	var f payload.Figures
	f.Take("trained_tokens", "trained_tokens", j.TrainedTokens)
	f.Observe(&obs)
	if len(d) > 0 {
		obs.Details = d
	}
	return obs, nil
}

// observation checks the fields every Mistral job object has (object, when
// present, is want; id is a job id; status is present) and returns the
// observation they make.
func observation(object, want, id, status string, kind tracker.Kind, normalize func(string) tracker.Status) (tracker.Observation, error) {
	if object != "" && object != want {
		return tracker.Observation{}, &providers.PayloadError{Field: "object", Msg: fmt.Sprintf("want %q, got %q", want, object)}
	}
	if err := payload.CheckExternalID("id", id); err != nil {
		return tracker.Observation{}, err
	}
	if status == "" {
		return tracker.Observation{}, &providers.PayloadError{Field: "status", Msg: "required"}
	}
	return tracker.Observation{ExternalID: id, Kind: kind, Status: normalize(status), ProviderStatus: status}, nil
}

// setDetail sets d[key] to *v when v is neither null nor empty.
func setDetail(d map[string]string, key string, v *string) {
	if v != nil && *v != "" {
		d[key] = *v
	}
}
