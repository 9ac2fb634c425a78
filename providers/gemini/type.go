package gemini

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/jobwatch/jobwatch/providers"
	"github.com/jobwatch/jobwatch/providers/signature"
	"github.com/jobwatch/jobwatch/tracker"
)

// Type describes the Gemini API to providers/registry: project webhooks
// signed the Standard Webhooks way, thin events, and batches polled at
// DefaultBaseURL with the api_key in x-goog-api-key.
var Type = providers.Type{
	Name:           "gemini",
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

// StuckAfter are the Gemini API's default stuck_after: a batch pending for
// a day has not been picked up.
var StuckAfter = map[tracker.Kind]map[string]time.Duration{
	tracker.KindBatch: {"BATCH_STATE_PENDING": 24 * time.Hour},
}

// sampleEvent is a thin event as the Gemini API sends it, Standard Webhooks'
// shape: a batch event names the batch by its resource name
// ("batches/{id}"), with its output file when it succeeded and an error when
// it failed; any other event names its own resource by jobID. The event id
// goes in the webhook-id header only, as Google sends it: the parser derives
// the body's.
func sampleEvent(_ providers.Settings, typ, jobID, _ string, now time.Time) ([]byte, error) {
	data := map[string]any{"id": jobID}
	if strings.HasPrefix(typ, "batch.") {
		data["id"] = namePrefix + BatchID(jobID)
		switch typ {
		case "batch.succeeded", "batch.completed":
			data["output_file_uri"] = "files/batch-" + BatchID(jobID)
		case "batch.failed":
			data["error_code"], data["error_message"] = 3, "Request payload size exceeds the limit"
		}
	}
	return json.Marshal(map[string]any{"type": typ, "version": "v1", "timestamp": now.UTC().Format(time.RFC3339), "data": data})
}
