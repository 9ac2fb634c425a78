package openai

import (
	"encoding/json"
	"time"

	"github.com/jobwatch/jobwatch/providers"
	"github.com/jobwatch/jobwatch/providers/signature"
	"github.com/jobwatch/jobwatch/tracker"
)

// Type describes OpenAI to providers/registry: Standard Webhooks signatures,
// the event id in the body's id, thin events, and batches, fine-tuning jobs
// and background responses polled at DefaultBaseURL.
var Type = providers.Type{
	Name:           "openai",
	DefaultBaseURL: DefaultBaseURL,
	StuckAfter:     StuckAfter,
	Scheme:         signature.SchemeStandardWebhooks,
	EventTypes:     EventTypes,
	NewParser:      func(providers.Settings) (providers.Parser, error) { return WebhookParser{}, nil },
	NewPoller: func(s providers.Settings, client providers.PollClient) (providers.Poller, error) {
		return NewPoller(s.BaseURL, s.APIKey, client), nil
	},
	SampleEvent: sampleEvent,
}

// sampleEvent is a thin event as OpenAI sends it: the job's id only.
func sampleEvent(_ providers.Settings, typ, jobID, eventID string, now time.Time) ([]byte, error) {
	return json.Marshal(map[string]any{"id": eventID, "object": "event", "created_at": now.Unix(), "type": typ, "data": map[string]any{"id": jobID}})
}

// StuckAfter are OpenAI's default stuck_after: a batch validating,
// finalizing or cancelling, or a fine-tuning job queued, much longer than
// these is held up at OpenAI.
var StuckAfter = map[tracker.Kind]map[string]time.Duration{
	tracker.KindBatch:      {"validating": time.Hour, "finalizing": 2 * time.Hour, "cancelling": time.Hour},
	tracker.KindFineTuning: {"queued": 12 * time.Hour},
}
