package gemini

import (
	"encoding/json"
	"strings"

	"github.com/jobwatch/jobwatch/providers"
	"github.com/jobwatch/jobwatch/providers/payload"
	"github.com/jobwatch/jobwatch/tracker"
)

// EventTypes are the event types the Gemini API's webhooks send. Google's
// pages disagree on the batch success event: batch.succeeded (REST
// reference, the JS SDK's Webhook.subscribed_events) and batch.completed
// (the webhooks guide's sample): both are accepted. interaction.* and
// video.generated are about no batch: provider events.
var EventTypes = []string{
	"batch.succeeded", "batch.completed", "batch.failed", "batch.expired", "batch.cancelled",
	"interaction.requires_action", "interaction.completed", "interaction.failed", "interaction.cancelled",
	"video.generated",
}

// batchEvents are the event types about a batch and the status each names.
var batchEvents = map[string]tracker.Status{
	"batch.succeeded": tracker.StatusSucceeded,
	"batch.completed": tracker.StatusSucceeded,
	"batch.failed":    tracker.StatusFailed,
	"batch.expired":   tracker.StatusExpired,
	"batch.cancelled": tracker.StatusCancelled,
}

// batchNameFields are where an event's data may name its batch, in the
// order they are tried. Google documents no schema for the data of a
// project webhook's event beyond "the job's id": each spelling seen in
// Google's samples and SDK types is accepted, as a resource name
// ("batches/abc") or a bare id.
var batchNameFields = []string{"name", "batch", "batch_name", "batchName", "id", "batch_id", "batchId"}

// WebhookParser parses the Gemini API's project (static) webhook events,
// Standard Webhooks envelopes:
//
//	{"id":"evt_…","type":"batch.succeeded","timestamp":"2026-06-01T12:00:00Z","data":{"name":"batches/abc"}}
//
// Batch events (batchEvents) give the batch's id (found at the first of
// data's batchNameFields present, else at the top level's name), Kind
// batch, the status the event type names, the type's last word as
// ProviderStatus, and PollNow: events are thin, the poll that follows
// decides the details (request counts, output) and its word is final,
// as for OpenAI's thin events. Any other type is a provider event:
// ExternalID "", recorded, not rejected.
//
// type is required. The event id is the body's id, else one derived from
// the type and the compacted data ("gemini_…"), so that a redelivery
// dedupes. The time is timestamp or create_time (RFC 3339), zero when
// absent. The zero value is ready to use and safe for concurrent use.
type WebhookParser struct{}

var _ providers.Parser = WebhookParser{}

// event is a webhook's body, in the part read here.
type event struct {
	ID         string          `json:"id"`
	Type       string          `json:"type"`
	Timestamp  string          `json:"timestamp"`
	CreateTime string          `json:"create_time"`
	Name       string          `json:"name"`
	Data       json.RawMessage `json:"data"`
}

// ParseEvent implements providers.Parser.
func (WebhookParser) ParseEvent(body []byte) (tracker.Observation, error) {
	var ev event
	if err := payload.Unmarshal(body, &ev); err != nil {
		return tracker.Observation{}, err
	}
	if ev.Type == "" {
		return tracker.Observation{}, &providers.PayloadError{Field: "type", Msg: "required"}
	}
	obs := tracker.Observation{EventID: ev.ID, Type: ev.Type}
	for _, t := range []struct{ field, value string }{{"timestamp", ev.Timestamp}, {"create_time", ev.CreateTime}} {
		if t.value != "" {
			at, err := payload.ParseTime(t.field, t.value)
			if err != nil {
				return tracker.Observation{}, err
			}
			obs.OccurredAt = at
			break
		}
	}
	var data map[string]json.RawMessage
	if len(ev.Data) > 0 && string(ev.Data) != "null" {
		if err := payload.Nest("data", payload.Unmarshal(ev.Data, &data)); err != nil {
			return tracker.Observation{}, err
		}
	}
	if obs.EventID == "" {
		obs.EventID = payload.EventTypeID("gemini_", ev.Type, ev.Data)
	}
	status, ok := batchEvents[ev.Type]
	if !ok {
		return obs, nil
	}
	field, name := "name", ev.Name
	for _, f := range batchNameFields {
		if raw, ok := data[f]; ok && string(raw) != "null" {
			field = "data." + f
			if err := payload.Nest(field, payload.Unmarshal(raw, &name)); err != nil {
				return tracker.Observation{}, err
			}
			break
		}
	}
	if err := payload.CheckExternalID(field, BatchID(name)); err != nil {
		return tracker.Observation{}, err
	}
	obs.ExternalID, obs.Kind, obs.Status = BatchID(name), tracker.KindBatch, status
	obs.ProviderStatus = ev.Type[strings.LastIndexByte(ev.Type, '.')+1:]
	obs.PollNow = true
	return obs, nil
}
