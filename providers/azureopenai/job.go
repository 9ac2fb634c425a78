// Package azureopenai polls Azure OpenAI's batch and fine-tuning APIs
// (type azure-openai). Azure answers with OpenAI's objects, so their mapping
// is providers/openai's; what is Azure's own is where they are read (below
// the resource endpoint, with an api-key header), a few status words of
// Azure's earlier API versions, and how often a batch may be polled. Azure
// OpenAI sends no webhooks: its jobs are only ever learnt about by asking.
package azureopenai

import (
	"github.com/jobwatch/jobwatch/providers/openai"
	"github.com/jobwatch/jobwatch/tracker"
)

// BatchStatus normalizes a batch's status (GET /openai/v1/batches/{id}):
// Azure's batch statuses are OpenAI's (validating, failed, in_progress,
// finalizing, completed, expired, cancelling, cancelled, per Azure's
// "Get a batch" reference), normalized by openai.BatchStatus. Unknown words
// are "": never guessed terminal.
func BatchStatus(s string) tracker.Status {
	return openai.BatchStatus(s)
}

// FineTuningStatus normalizes a fine-tuning job's status (GET
// /openai/v1/fine_tuning/jobs/{id}). The v1 API answers with OpenAI's words
// (openai.FineTuningStatus); Azure's earlier API versions, whose jobs the v1
// API still serves, also said "created" and "pending" for a job not yet
// started (pending here), and Azure's legacy fine-tunes spelled "canceled"
// with one l: every spelling seen is accepted. A paused, pausing or resuming
// job, and any other word, is "" (no normalized equivalent): never guessed
// terminal.
func FineTuningStatus(s string) tracker.Status {
	switch s {
	case "created", "pending":
		return tracker.StatusPending
	case "canceled":
		return tracker.StatusCancelled
	}
	return openai.FineTuningStatus(s)
}

// BatchObservation maps a batch, as GET /openai/v1/batches/{id} answers it,
// to an observation: openai.ObjectObservation's, with its details (output
// and error files, an expired batch's partial output included, the first
// error's message and code, request_failure for a completed batch with
// failed requests) and request counts and token usage as reported.
func BatchObservation(body []byte) (tracker.Observation, error) {
	return openai.ObjectObservation(tracker.KindBatch, body)
}

// FineTuningObservation maps a fine-tuning job, as GET
// /openai/v1/fine_tuning/jobs/{id} answers it, to an observation:
// openai.ObjectObservation's (fine_tuned_model, the error's message and
// code, trained_tokens), with Azure's own status words normalized by
// FineTuningStatus.
func FineTuningObservation(body []byte) (tracker.Observation, error) {
	obs, err := openai.ObjectObservation(tracker.KindFineTuning, body)
	if err == nil && obs.Status == "" {
		obs.Status = FineTuningStatus(obs.ProviderStatus)
	}
	return obs, err
}
