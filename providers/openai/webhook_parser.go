// Package openai parses OpenAI's webhook events and maps the API objects
// OpenAI returns (batches, fine-tuning jobs, responses) to observations.
// OpenAI's events are thin: they name the job and its outcome, and the details
// come from a GET of the object, which ObjectObservation maps. Providers that
// embed OpenAI's objects in their own webhooks (mythicdot) reuse that mapping.
package openai

import (
	"encoding/json"
	"strings"

	"github.com/jobwatch/jobwatch/providers"
	"github.com/jobwatch/jobwatch/providers/payload"
	"github.com/jobwatch/jobwatch/tracker"
)

// WebhookParser parses OpenAI webhook events:
//
//	{"id":"evt_…","object":"event","created_at":1719168000,"type":"batch.completed","data":{"id":"batch_…"}}
//
// Job events (batch.*, fine_tuning.job.*, response.*, eval.run.*: the
// outcomes OpenAI sends) give the job's kind and normalized status, the
// event type's last word as ProviderStatus ("canceled" for
// eval.run.canceled) and PollNow, since the details must be fetched. Any
// other type (realtime.call.incoming, types added later) is a provider event:
// ExternalID "", recorded, not rejected.
//
// id and type are required for every event; created_at and data.id for job
// events. The zero value is ready to use and safe for concurrent use.
type WebhookParser struct{}

var _ providers.Parser = WebhookParser{}

// EventTypes are the event types OpenAI sends, as its webhook documentation
// lists them: the job events below and realtime.call.incoming, a provider
// event. OpenAI adds types over time; those are recorded as provider events.
var EventTypes = []string{
	"batch.completed", "batch.failed", "batch.expired", "batch.cancelled",
	"fine_tuning.job.succeeded", "fine_tuning.job.failed", "fine_tuning.job.cancelled",
	"response.completed", "response.failed", "response.cancelled", "response.incomplete",
	"eval.run.succeeded", "eval.run.failed", "eval.run.canceled",
	"realtime.call.incoming",
}

// jobEvent is what a job event type means.
type jobEvent struct {
	kind   tracker.Kind
	status tracker.Status
}

// jobEvents are the event types about a job. Each status is what the kind's
// status function gives for the type's last word (a test holds them to it),
// except eval runs, which have no published status list.
var jobEvents = map[string]jobEvent{
	"batch.completed":           {tracker.KindBatch, tracker.StatusSucceeded},
	"batch.failed":              {tracker.KindBatch, tracker.StatusFailed},
	"batch.expired":             {tracker.KindBatch, tracker.StatusExpired},
	"batch.cancelled":           {tracker.KindBatch, tracker.StatusCancelled},
	"fine_tuning.job.succeeded": {tracker.KindFineTuning, tracker.StatusSucceeded},
	"fine_tuning.job.failed":    {tracker.KindFineTuning, tracker.StatusFailed},
	"fine_tuning.job.cancelled": {tracker.KindFineTuning, tracker.StatusCancelled},
	"response.completed":        {tracker.KindResponse, tracker.StatusSucceeded},
	"response.failed":           {tracker.KindResponse, tracker.StatusFailed},
	"response.cancelled":        {tracker.KindResponse, tracker.StatusCancelled},
	"response.incomplete":       {tracker.KindResponse, tracker.StatusFailed},
	"eval.run.succeeded":        {tracker.KindEvalRun, tracker.StatusSucceeded},
	"eval.run.failed":           {tracker.KindEvalRun, tracker.StatusFailed},
	"eval.run.canceled":         {tracker.KindEvalRun, tracker.StatusCancelled},
}

type event struct {
	ID        string          `json:"id"`
	Type      string          `json:"type"`
	CreatedAt *int64          `json:"created_at"`
	Data      json.RawMessage `json:"data"`
}

// ParseEvent implements providers.Parser.
func (WebhookParser) ParseEvent(body []byte) (tracker.Observation, error) {
	var ev event
	if err := payload.Unmarshal(body, &ev); err != nil {
		return tracker.Observation{}, err
	}
	at, err := payload.Envelope(ev.ID, ev.Type, "created_at", ev.CreatedAt)
	if err != nil {
		return tracker.Observation{}, err
	}
	obs := tracker.Observation{EventID: ev.ID, Type: ev.Type, OccurredAt: at}
	job, ok := jobEvents[ev.Type]
	if !ok {
		return obs, nil
	}
	if ev.CreatedAt == nil {
		return tracker.Observation{}, &providers.PayloadError{Field: "created_at", Msg: "required"}
	}
	var data struct {
		ID string `json:"id"`
	}
	if len(ev.Data) > 0 {
		if err := payload.Nest("data", payload.Unmarshal(ev.Data, &data)); err != nil {
			return tracker.Observation{}, err
		}
	}
	if err := payload.CheckExternalID("data.id", data.ID); err != nil {
		return tracker.Observation{}, err
	}
	obs.ExternalID, obs.Kind, obs.Status = data.ID, job.kind, job.status
	obs.ProviderStatus = ev.Type[strings.LastIndexByte(ev.Type, '.')+1:]
	obs.PollNow = true
	return obs, nil
}
