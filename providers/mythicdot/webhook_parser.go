// Package mythicdot parses MythicDot's webhook events. MythicDot's events are
// fat: data.object is the job as OpenAI's API returns it, so the mapping is
// openai.ObjectObservation's.
package mythicdot

import (
	"encoding/json"
	"strings"

	"github.com/jobwatch/jobwatch/providers"
	"github.com/jobwatch/jobwatch/providers/openai"
	"github.com/jobwatch/jobwatch/providers/payload"
	"github.com/jobwatch/jobwatch/tracker"
)

// WebhookParser parses MythicDot webhook events:
//
//	{"id":"evt_…","type":"batch.completed","created":1706140800,"data":{"object":{"id":"batch_…","status":"completed",…}}}
//
// batch.<word> events map data.object as an OpenAI batch and
// fine_tuning.job.<word> events as an OpenAI fine-tuning job, with
// openai.ObjectObservation. When the object has no status, the event type's
// last word stands for it, read the way OpenAI's status words are
// ("completed" is succeeded), and "created" is pending. The object carries
// the details, so PollNow is false. Any other type (usage.threshold.reached,
// types added later) is a provider event: ExternalID "", recorded, not
// rejected, whatever its data holds.
//
// id and type are required for every event; created and data.object (with
// its id) for job events. The zero value is ready to use and safe for
// concurrent use.
type WebhookParser struct{}

var _ providers.Parser = WebhookParser{}

// EventTypes are the event types MythicDot sends, as its webhook
// documentation lists them: job events, and usage.threshold.reached, a
// provider event.
var EventTypes = []string{
	"batch.completed", "batch.failed",
	"fine_tuning.job.created", "fine_tuning.job.succeeded", "fine_tuning.job.failed",
	"usage.threshold.reached",
}

// jobKinds maps an event type prefix to the kind of the object it carries and
// that kind's status words.
var jobKinds = []struct {
	prefix string
	kind   tracker.Kind
	status func(string) tracker.Status
}{
	{"batch.", tracker.KindBatch, openai.BatchStatus},
	{"fine_tuning.job.", tracker.KindFineTuning, openai.FineTuningStatus},
}

type event struct {
	ID      string          `json:"id"`
	Type    string          `json:"type"`
	Created *int64          `json:"created"`
	Data    json.RawMessage `json:"data"`
}

// ParseEvent implements providers.Parser.
func (WebhookParser) ParseEvent(body []byte) (tracker.Observation, error) {
	var ev event
	if err := payload.Unmarshal(body, &ev); err != nil {
		return tracker.Observation{}, err
	}
	occurredAt, err := payload.Envelope(ev.ID, ev.Type, "created", ev.Created)
	if err != nil {
		return tracker.Observation{}, err
	}
	for _, k := range jobKinds {
		// One word after the prefix: the job's own events, not those of
		// objects under it (fine_tuning.job.checkpoint.created, say).
		word, ok := strings.CutPrefix(ev.Type, k.prefix)
		if !ok || word == "" || strings.Contains(word, ".") {
			continue
		}
		if ev.Created == nil {
			return tracker.Observation{}, &providers.PayloadError{Field: "created", Msg: "required"}
		}
		obj, err := object(ev.Data)
		if err != nil {
			return tracker.Observation{}, err
		}
		obs, err := openai.ObjectObservation(k.kind, obj)
		if err != nil {
			return tracker.Observation{}, payload.Nest("data.object", err)
		}
		for i := range obs.DroppedUsage {
			obs.DroppedUsage[i].Path = "data.object." + obs.DroppedUsage[i].Path
		}
		if obs.ProviderStatus == "" {
			obs.ProviderStatus, obs.Status = word, k.status(word)
			if word == "created" {
				obs.Status = tracker.StatusPending
			}
		}
		obs.EventID, obs.Type, obs.OccurredAt = ev.ID, ev.Type, occurredAt
		return obs, nil
	}
	return tracker.Observation{EventID: ev.ID, Type: ev.Type, OccurredAt: occurredAt}, nil
}

// object returns data.object of a job event.
func object(data json.RawMessage) (json.RawMessage, error) {
	var d struct {
		Object json.RawMessage `json:"object"`
	}
	if len(data) > 0 {
		if err := payload.Nest("data", payload.Unmarshal(data, &d)); err != nil {
			return nil, err
		}
	}
	if len(d.Object) == 0 || string(d.Object) == "null" {
		return nil, &providers.PayloadError{Field: "data.object", Msg: "required"}
	}
	return d.Object, nil
}
