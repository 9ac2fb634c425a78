package mythicdot

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/jobwatch/jobwatch/providers"
	"github.com/jobwatch/jobwatch/providers/openai"
	"github.com/jobwatch/jobwatch/providers/signature"
)

// Type describes MythicDot to providers/registry: hex HMAC-SHA256 in
// X-MythicDot-Signature, the event id in the body's id, whole objects in
// its events, and an OpenAI-compatible API polled at the configured
// base_url (there is no default).
var Type = providers.Type{
	Name:            "mythicdot",
	StuckAfter:      StuckAfter,
	Scheme:          signature.SchemeHMACSHA256Hex,
	SignatureHeader: "X-MythicDot-Signature",
	EventTypes:      EventTypes,
	NewParser:       func(providers.Settings) (providers.Parser, error) { return WebhookParser{}, nil },
	NewPoller: func(s providers.Settings, client providers.PollClient) (providers.Poller, error) {
		return openai.NewCompatiblePoller(s.BaseURL, s.APIKey, client), nil
	},
	SampleEvent: sampleEvent,
}

// StuckAfter are MythicDot's default stuck_after: OpenAI's
// (openai.StuckAfter: a batch validating 1h, finalizing 2h, cancelling 1h, a
// fine-tuning job queued 12h). Its jobs are OpenAI's objects with OpenAI's
// status words, served by an OpenAI-compatible API, and it documents no
// queue or finalizing times of its own, so a user expects the limits they
// know from OpenAI. The statuses its webhooks carry are ends, or a
// fine-tune's created (queued); a job is only seen in the others by polling.
var StuckAfter = openai.StuckAfter

// sampleEvent is an event carrying the whole object, as MythicDot sends it:
// a batch with request counts and an output file, a fine-tuning job (with
// its model and trained tokens once it succeeded), or a usage threshold.
func sampleEvent(_ providers.Settings, typ, jobID, eventID string, now time.Time) ([]byte, error) {
	status := typ[strings.LastIndex(typ, ".")+1:]
	obj := map[string]any{"id": jobID, "status": status}
	switch {
	case strings.HasPrefix(typ, "batch."):
		obj["object"] = "batch"
		obj["request_counts"] = map[string]int{"total": 100, "completed": 98, "failed": 2}
		obj["output_file_id"] = "file_test_output"
	case strings.HasPrefix(typ, "fine_tuning.job."):
		obj["object"] = "fine_tuning.job"
		if status == "created" {
			obj["status"] = "queued"
		}
		if status == "succeeded" {
			obj["fine_tuned_model"] = "ft:gpt-4o-mini:jobwatch-test"
			obj["trained_tokens"] = 123456
		}
	default:
		obj = map[string]any{"metric": "tokens", "threshold": 0.8, "current": 800000, "limit": 1000000}
	}
	return json.Marshal(map[string]any{"id": eventID, "type": typ, "created": now.Unix(), "data": map[string]any{"object": obj}})
}
