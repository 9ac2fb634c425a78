// Package llmtune parses LLMTune's webhook events: training (fine-tuning) job
// outcomes, plus deployment and usage events that concern no job.
package llmtune

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/jobwatch/jobwatch/providers"
	"github.com/jobwatch/jobwatch/providers/payload"
	"github.com/jobwatch/jobwatch/tracker"
)

// WebhookParser parses LLMTune webhook events:
//
//	{"event":"training.completed","data":{"jobId":"…","status":"completed","metrics":{"totalTokens":3250000},"createdAt":"…","completedAt":"…"},"deliveredAt":"2025-11-08T14:22:31Z"}
//
// training.started, training.completed and training.failed are fine-tuning
// job events (training.failed with data.status "cancelled" or "canceled" is a
// cancellation); ProviderStatus is data.status, else the event's last word.
// Every other event (model.deployed, deployment.*, usage.threshold_reached,
// events added later) is a provider event: ExternalID "", recorded, not
// rejected, whatever its data holds.
//
// LLMTune sends no event id, so EventID is derived from the event name and
// the compacted data, leaving out deliveredAt, which a retry may change:
// "llmtune_" and the first 32 hex digits of SHA-256(event "\n" data).
//
// OccurredAt is data.completedAt for completed and failed jobs, else
// data.createdAt, else deliveredAt (provider events: deliveredAt); all RFC
// 3339. Details: fine_tuned_model (data.artifact), base_model
// (data.baseModel verbatim) and model (tracker.DetailModel: the base model
// being trained, through payload.ModelName). The event is complete, so PollNow is false. event is required for
// every event, data.jobId for training events. The zero value is ready to use
// and safe for concurrent use.
type WebhookParser struct{}

var _ providers.Parser = WebhookParser{}

// EventTypes are the event types LLMTune sends, as its webhook
// documentation lists them: training (job) events, and provider events.
var EventTypes = []string{
	"training.started", "training.completed", "training.failed",
	"model.deployed", "deployment.created", "deployment.paused", "deployment.deleted",
	"usage.threshold_reached",
}

// trainingEvents are the event types about a job, with the job's status.
var trainingEvents = map[string]tracker.Status{
	"training.started":   tracker.StatusRunning,
	"training.completed": tracker.StatusSucceeded,
	"training.failed":    tracker.StatusFailed,
}

type event struct {
	Event       string          `json:"event"`
	Data        json.RawMessage `json:"data"`
	DeliveredAt string          `json:"deliveredAt"`
}

type training struct {
	JobID     string `json:"jobId"`
	Status    string `json:"status"`
	BaseModel string `json:"baseModel"`
	Artifact  string `json:"artifact"`
	Metrics   *struct {
		TotalTokens payload.Count `json:"totalTokens"`
		Tokens      payload.Count `json:"tokens"`
	} `json:"metrics"`
	CreatedAt   string `json:"createdAt"`
	CompletedAt string `json:"completedAt"`
}

// ParseEvent implements providers.Parser.
func (WebhookParser) ParseEvent(body []byte) (tracker.Observation, error) {
	var ev event
	if err := payload.Unmarshal(body, &ev); err != nil {
		return tracker.Observation{}, err
	}
	if ev.Event == "" {
		return tracker.Observation{}, &providers.PayloadError{Field: "event", Msg: "required"}
	}
	obs := tracker.Observation{EventID: eventID(ev), Type: ev.Event}
	status, isTraining := trainingEvents[ev.Event]
	if !isTraining {
		at, err := optionalTime("deliveredAt", ev.DeliveredAt)
		if err != nil {
			return tracker.Observation{}, err
		}
		obs.OccurredAt = at
		return obs, nil
	}

	var d training
	if len(ev.Data) > 0 {
		if err := payload.Nest("data", payload.Unmarshal(ev.Data, &d)); err != nil {
			return tracker.Observation{}, err
		}
	}
	if err := payload.CheckExternalID("data.jobId", d.JobID); err != nil {
		return tracker.Observation{}, err
	}
	word := ev.Event[strings.LastIndexByte(ev.Event, '.')+1:]
	if ev.Event == "training.failed" && (d.Status == "cancelled" || d.Status == "canceled") {
		status = tracker.StatusCancelled
	}
	field, at := "deliveredAt", ev.DeliveredAt
	switch {
	case d.CompletedAt != "" && (word == "completed" || word == "failed"):
		field, at = "data.completedAt", d.CompletedAt
	case d.CreatedAt != "":
		field, at = "data.createdAt", d.CreatedAt
	}
	occurredAt, err := optionalTime(field, at)
	if err != nil {
		return tracker.Observation{}, err
	}

	obs.ExternalID, obs.Kind, obs.Status, obs.OccurredAt = d.JobID, tracker.KindFineTuning, status, occurredAt
	obs.ProviderStatus = word
	if d.Status != "" {
		obs.ProviderStatus = d.Status
	}
	if m := d.Metrics; m != nil {
		tokens, path := m.TotalTokens, "data.metrics.totalTokens"
		if tokens.IsZero() {
			tokens, path = m.Tokens, "data.metrics.tokens"
		}
		var f payload.Figures
		f.Take("trained_tokens", path, tokens)
		f.Observe(&obs)
	}
	details := map[string]string{}
	payload.SetDetail(details, "fine_tuned_model", d.Artifact)
	payload.SetDetail(details, "base_model", d.BaseModel)
	payload.SetModel(details, d.BaseModel)
	if len(details) > 0 {
		obs.Details = details
	}
	return obs, nil
}

// eventID derives the event's id from its name and its compacted data, not
// from deliveredAt: a retry may carry a new deliveredAt for the same event.
func eventID(ev event) string {
	return payload.EventTypeID("llmtune_", ev.Event, ev.Data)
}

// optionalTime parses the RFC 3339 time at field; empty is the zero time.
func optionalTime(field, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	return payload.ParseTime(field, s)
}
