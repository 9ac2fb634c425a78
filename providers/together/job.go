// Package together polls Together AI's batch and fine-tuning APIs. Together
// sends no webhooks: its jobs are only ever learnt about by asking.
package together

import (
	"github.com/jobwatch/jobwatch/providers/payload"
	"github.com/jobwatch/jobwatch/tracker"
)

// BatchStatus normalizes a batch's status (GET /v1/batches/{id}), as
// together-python's BatchJobStatus spells it: VALIDATING is pending;
// IN_PROGRESS and a cancellation under way running. The SDK spells the
// latter CANCELING, which jobwatch's reference notes leave out; CANCELLING,
// spelt like CANCELLED, is accepted too. Unknown words are "" (no
// normalized equivalent): never guessed terminal.
func BatchStatus(s string) tracker.Status {
	switch s {
	case "VALIDATING":
		return tracker.StatusPending
	case "IN_PROGRESS", "CANCELING", "CANCELLING":
		return tracker.StatusRunning
	case "COMPLETED":
		return tracker.StatusSucceeded
	case "FAILED":
		return tracker.StatusFailed
	case "EXPIRED":
		return tracker.StatusExpired
	case "CANCELLED":
		return tracker.StatusCancelled
	}
	return ""
}

// FineTuningStatus normalizes a fine-tuning job's status (GET
// /v1/fine-tunes/{id}), as together-python's FinetuneJobStatus spells it:
// pending and queued are pending; running, compressing and uploading the
// model, and cancel_requested running; error is failed. Unknown words are
// "".
func FineTuningStatus(s string) tracker.Status {
	switch s {
	case "pending", "queued":
		return tracker.StatusPending
	case "running", "compressing", "uploading", "cancel_requested":
		return tracker.StatusRunning
	case "completed":
		return tracker.StatusSucceeded
	case "error":
		return tracker.StatusFailed
	case "cancelled":
		return tracker.StatusCancelled
	}
	return ""
}

// batchJob is what GET /v1/batches/{id} answers, in the part read here.
// Together reports a progress percentage but no request counts.
type batchJob struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	// ModelID is the model the batch's requests run on
	// ("meta-llama/Llama-3.3-70B-Instruct-Turbo": the "/" is the name's).
	ModelID      string `json:"model_id"`
	OutputFileID string `json:"output_file_id"`
	ErrorFileID  string `json:"error_file_id"`
	Error        string `json:"error"`
}

// BatchObservation maps a batch, as GET /v1/batches/{id} returns it, to an
// observation: ExternalID, Kind batch, Status (BatchStatus), ProviderStatus
// (status verbatim) and Details. Usage is nil: Together counts no requests.
// OccurredAt is left zero: a poll's time is the caller's. A malformed body
// is a *providers.PayloadError.
//
// Details keys: model (tracker.DetailModel: model_id), output_file_id (kept
// on an EXPIRED batch too: its partial output), error_file_id,
// error_message (the batch's error). A COMPLETED
// batch with an error_file_id may have failed requests, but without counts
// jobwatch cannot tell how many, so request_failure is not set: the
// error_file_id is the sign.
func BatchObservation(body []byte) (tracker.Observation, error) {
	var b batchJob
	if err := payload.Unmarshal(body, &b); err != nil {
		return tracker.Observation{}, err
	}
	if err := payload.CheckJob("id", b.ID, "status", b.Status); err != nil {
		return tracker.Observation{}, err
	}
	obs := tracker.Observation{ExternalID: b.ID, Kind: tracker.KindBatch, Status: BatchStatus(b.Status), ProviderStatus: b.Status}
	obs.Details = details(tracker.DetailModel, payload.ModelName(b.ModelID),
		"output_file_id", b.OutputFileID, "error_file_id", b.ErrorFileID, "error_message", b.Error)
	return obs, nil
}

// fineTuneEvent is one of a fine-tuning job's events.
type fineTuneEvent struct {
	Type    string `json:"type"`
	Level   string `json:"level"`
	Message string `json:"message"`
}

// fineTuneJob is what GET /v1/fine-tunes/{id} answers, in the part read
// here. The fine-tuned model's name is model_output_name on the wire
// (together-python reads it as output_name): both are accepted.
type fineTuneJob struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	// Model is the base model being fine-tuned.
	Model           string          `json:"model"`
	ModelOutputName string          `json:"model_output_name"`
	OutputName      string          `json:"output_name"`
	TokenCount      payload.Count   `json:"token_count"`
	Events          []fineTuneEvent `json:"events"`
}

// FineTuningObservation maps a fine-tuning job, as GET /v1/fine-tunes/{id}
// returns it, to an observation: ExternalID, Kind fine_tuning, Status
// (FineTuningStatus), ProviderStatus, Usage (TrainedTokens from
// token_count; a figure that is no count is left out and noted in
// DroppedUsage) and Details: model (tracker.DetailModel: the base model),
// output_name (the fine-tuned model) and, on an error, error_message (the message of the last JOB_ERROR or error-level
// event). A malformed body is a *providers.PayloadError.
func FineTuningObservation(body []byte) (tracker.Observation, error) {
	var j fineTuneJob
	if err := payload.Unmarshal(body, &j); err != nil {
		return tracker.Observation{}, err
	}
	if err := payload.CheckJob("id", j.ID, "status", j.Status); err != nil {
		return tracker.Observation{}, err
	}
	obs := tracker.Observation{ExternalID: j.ID, Kind: tracker.KindFineTuning, Status: FineTuningStatus(j.Status), ProviderStatus: j.Status}
	var f payload.Figures
	f.Take("trained_tokens", "token_count", j.TokenCount)
	f.Observe(&obs)
	name := j.ModelOutputName
	if name == "" {
		name = j.OutputName
	}
	var errMsg string
	if obs.Status == tracker.StatusFailed {
		for _, e := range j.Events {
			if e.Message != "" && (e.Type == "JOB_ERROR" || e.Level == "error" || e.Level == "Error") {
				errMsg = e.Message
			}
		}
	}
	obs.Details = details(tracker.DetailModel, payload.ModelName(j.Model), "output_name", name, "error_message", errMsg)
	return obs, nil
}

// details returns the details of key, value pairs whose value is not
// empty; nil when there are none.
func details(kv ...string) map[string]string {
	var d map[string]string
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			if d == nil {
				d = map[string]string{}
			}
			d[kv[i]] = kv[i+1]
		}
	}
	return d
}
