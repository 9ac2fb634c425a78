package gemini

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/jobwatch/jobwatch/providers"
	"github.com/jobwatch/jobwatch/providers/signature"
)

// Type describes the Gemini API to providers/registry: project webhooks
// signed the Standard Webhooks way, thin events, and batches polled at
// DefaultBaseURL with the api_key in x-goog-api-key.
var Type = providers.Type{
	Name:           "gemini",
	DefaultBaseURL: DefaultBaseURL,
	Scheme:         signature.SchemeStandardWebhooks,
	EventTypes:     EventTypes,
	NewParser:      func(providers.Settings) (providers.Parser, error) { return WebhookParser{}, nil },
	NewPoller: func(s providers.Settings, client providers.PollClient) (providers.Poller, error) {
		return NewPoller(s.BaseURL, s.APIKey, client), nil
	},
	SampleEvent: sampleEvent,
}

// sampleEvent is a thin event as the Gemini API sends it: a batch event
// names the batch by its resource name ("batches/{id}"); any other event
// names its own resource by jobID.
func sampleEvent(_ providers.Settings, typ, jobID, eventID string, now time.Time) ([]byte, error) {
	name := jobID
	if strings.HasPrefix(typ, "batch.") {
		name = namePrefix + BatchID(jobID)
	}
	return json.Marshal(map[string]any{"id": eventID, "type": typ, "timestamp": now.UTC().Format(time.RFC3339), "data": map[string]any{"name": name}})
}
