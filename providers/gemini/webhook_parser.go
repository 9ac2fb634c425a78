package gemini

import (
	"bytes"
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
// order they are tried. The payload is documented loosely: data.id is "the
// resource id" in the guides' samples (Standard Webhooks' shape: type,
// version, timestamp, data); other spellings seen in samples are accepted
// too, each as a resource name ("batches/abc") or a bare id.
var batchNameFields = []string{"id", "name", "batch", "batch_name", "batchName", "batch_id", "batchId"}

// eventDetails are the data fields a batch event's observation keeps, by
// their detail key: the pointer to the results of a success, the error of
// a failure (the poll that follows adds the batch's own).
var eventDetails = map[string]string{
	"output_file_uri": "output_file_uri",
	"file_name":       "responses_file",
	"error_message":   "error_message",
	"error_code":      "error_code",
}

// WebhookParser parses the Gemini API's project (static) webhook events,
// Standard Webhooks envelopes:
//
//	{"type":"batch.succeeded","version":"v1","timestamp":"2026-06-01T12:00:00Z","data":{"id":"batches/abc","output_file_uri":"…"}}
//
// Batch events (batchEvents) give the batch's id (found at the first of
// data's batchNameFields present, else at the top level's name), Kind
// batch, the status the event type names, the type's last word as
// ProviderStatus, the data's output and error fields (eventDetails) and
// PollNow: events are thin, the poll that follows decides the details
// (request counts, output) and its word is final, as for OpenAI's thin
// events. Any other type is a provider event:
// ExternalID "", recorded, not rejected.
//
// type is required. The event id is the body's id where one is given;
// Standard Webhooks put it in the webhook-id header only, so it is usually
// derived from the type and the compacted data ("gemini_…"): a redelivery
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
	for field, key := range eventDetails {
		if v := scalar(data[field]); v != "" {
			if obs.Details == nil {
				obs.Details = map[string]string{}
			}
			obs.Details[key] = v
		}
	}
	return obs, nil
}

// scalar is a JSON string's text or a JSON number as written; "" for
// anything else (absent, null, an object): a detail the event need not
// carry is kept only when it reads plainly.
func scalar(raw json.RawMessage) string {
	var v any
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if len(raw) == 0 || d.Decode(&v) != nil {
		return ""
	}
	switch v := v.(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	}
	return ""
}
