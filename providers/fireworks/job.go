// Package fireworks polls Fireworks AI's batch inference jobs. Fireworks
// sends no webhooks: its jobs are only ever learnt about by asking.
package fireworks

import (
	"strings"

	"github.com/jobwatch/jobwatch/providers"
	"github.com/jobwatch/jobwatch/providers/payload"
	"github.com/jobwatch/jobwatch/tracker"
)

// BatchStatus normalizes a batch inference job's state (GET
// /v1/accounts/{account}/batchInferenceJobs/{id}), a JOB_STATE_ word of the
// JobState enum Fireworks shares with its training jobs.
//
// Creating, validating, pending, re-queueing and creating the input
// dataset are pending; running, writing results, cancelling and deleting
// running. COMPLETED is succeeded and so is EARLY_STOPPED (in the shared
// enum, a job its own stopping rule ended: its output is what there is);
// DELETED is cancelled (no result will come). IDLE and PAUSED are no end
// and have no normalized equivalent: "", like unknown words (and
// JOB_STATE_UNSPECIFIED), so the job keeps its status.
func BatchStatus(s string) tracker.Status {
	switch s {
	case "JOB_STATE_CREATING", "JOB_STATE_VALIDATING", "JOB_STATE_PENDING", "JOB_STATE_RE_QUEUEING", "JOB_STATE_CREATING_INPUT_DATASET":
		return tracker.StatusPending
	case "JOB_STATE_RUNNING", "JOB_STATE_WRITING_RESULTS", "JOB_STATE_CANCELLING", "JOB_STATE_DELETING":
		return tracker.StatusRunning
	case "JOB_STATE_COMPLETED", "JOB_STATE_EARLY_STOPPED":
		return tracker.StatusSucceeded
	case "JOB_STATE_FAILED":
		return tracker.StatusFailed
	case "JOB_STATE_EXPIRED":
		return tracker.StatusExpired
	case "JOB_STATE_CANCELLED", "JOB_STATE_DELETED":
		return tracker.StatusCancelled
	}
	return ""
}

// batchJob is what GET .../batchInferenceJobs/{id} answers, in the part
// read here. Its counts follow protobuf's JSON mapping (int64s may come as
// strings): ProtoCount reads both.
type batchJob struct {
	Name  string `json:"name"`
	State string `json:"state"`
	// Model is the model's resource name
	// ("accounts/fireworks/models/llama-v3p1-8b-instruct").
	Model  string `json:"model"`
	Status *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"status"`
	OutputDatasetID string `json:"outputDatasetId"`
	JobProgress     *struct {
		TotalInputRequests            payload.ProtoCount `json:"totalInputRequests"`
		SuccessfullyProcessedRequests payload.ProtoCount `json:"successfullyProcessedRequests"`
		FailedRequests                payload.ProtoCount `json:"failedRequests"`
		InputTokens                   payload.ProtoCount `json:"inputTokens"`
		OutputTokens                  payload.ProtoCount `json:"outputTokens"`
		// CachedInputTokenCount is the part of inputTokens served from
		// Fireworks' prompt cache.
		CachedInputTokenCount payload.ProtoCount `json:"cachedInputTokenCount"`
	} `json:"jobProgress"`
}

// jobsSegment is what precedes a job's id in its resource name,
// accounts/{account}/batchInferenceJobs/{id}.
const jobsSegment = "/batchInferenceJobs/"

// BatchObservation maps a batch inference job, as GET
// /v1/accounts/{account}/batchInferenceJobs/{id} returns it, to an
// observation: ExternalID (the id that ends the job's name), Kind batch,
// Status (BatchStatus), ProviderStatus (state verbatim), Usage and
// Details. Usage is jobProgress's: RequestsTotal totalInputRequests,
// RequestsCompleted successfullyProcessedRequests, RequestsFailed
// failedRequests, InputTokens, CachedInputTokens (cachedInputTokenCount)
// and OutputTokens; a figure that is no count
// is left out and noted in DroppedUsage. OccurredAt is left zero: a poll's
// time is the caller's. A malformed body is a *providers.PayloadError.
//
// Details keys: model (tracker.DetailModel: the last segment of the model's
// resource name, payload.ModelName), output_dataset_id (kept on an expired
// job too: its partial output), error_message and error_code (the job's
// status, when it holds a message), failure_cause
// (tracker.FailureCauseQuota when its code is RESOURCE_EXHAUSTED:
// payload.RPCFailureCause), request_failure (a succeeded job with failed requests:
// tracker.RequestFailurePartial or tracker.RequestFailureTotal).
func BatchObservation(body []byte) (tracker.Observation, error) {
	var j batchJob
	if err := payload.Unmarshal(body, &j); err != nil {
		return tracker.Observation{}, err
	}
	_, id, ok := strings.Cut(j.Name, jobsSegment)
	if !ok || !strings.HasPrefix(j.Name, "accounts/") {
		return tracker.Observation{}, &providers.PayloadError{Field: "name", Msg: "want accounts/{account}/batchInferenceJobs/{id}, got " + payload.Clip(j.Name)}
	}
	if err := payload.CheckJob("name", id, "state", j.State); err != nil {
		return tracker.Observation{}, err
	}
	obs := tracker.Observation{ExternalID: id, Kind: tracker.KindBatch, Status: BatchStatus(j.State), ProviderStatus: j.State}
	d := map[string]string{}
	payload.SetModel(d, j.Model)
	if j.OutputDatasetID != "" {
		d["output_dataset_id"] = j.OutputDatasetID
	}
	if s := j.Status; s != nil && s.Message != "" {
		d["error_message"] = s.Message
		if s.Code != "" && s.Code != "OK" {
			d["error_code"] = s.Code
		}
		payload.SetDetail(d, tracker.DetailFailureCause, payload.RPCFailureCause(s.Code, ""))
	}
	var f payload.Figures
	if p := j.JobProgress; p != nil {
		total, totalOK := f.Take("requests_total", "jobProgress.totalInputRequests", p.TotalInputRequests.Count)
		f.Take("requests_completed", "jobProgress.successfullyProcessedRequests", p.SuccessfullyProcessedRequests.Count)
		failed, failedOK := f.Take("requests_failed", "jobProgress.failedRequests", p.FailedRequests.Count)
		f.Take("input_tokens", "jobProgress.inputTokens", p.InputTokens.Count)
		f.Take("cached_input_tokens", "jobProgress.cachedInputTokenCount", p.CachedInputTokenCount.Count)
		f.Take("output_tokens", "jobProgress.outputTokens", p.OutputTokens.Count)
		if obs.Status == tracker.StatusSucceeded && totalOK && failedOK {
			if rf := payload.RequestFailure(total, failed); rf != "" {
				d[tracker.DetailRequestFailure] = rf
			}
		}
	}
	f.Observe(&obs)
	if len(d) > 0 {
		obs.Details = d
	}
	return obs, nil
}
