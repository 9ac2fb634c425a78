package llmtune

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/jobwatch/jobwatch/providers"
	"github.com/jobwatch/jobwatch/providers/signature"
)

// Type describes LLMTune to providers/registry: hex HMAC-SHA256 in
// X-LLMTune-Signature, event ids derived from the content, and no API
// jobwatch polls: its fine-tuning jobs are resolved by webhook.
var Type = providers.Type{
	Name:            "llmtune",
	Scheme:          signature.SchemeHMACSHA256Hex,
	SignatureHeader: "X-LLMTune-Signature",
	EventTypes:      EventTypes,
	NewParser:       func(providers.Settings) (providers.Parser, error) { return WebhookParser{}, nil },
	SampleEvent:     sampleEvent,
}

// sampleEvent is a training event as LLMTune sends it, with metrics; its
// payloads carry no event id, so eventID is unused.
func sampleEvent(_ providers.Settings, typ, jobID, _ string, now time.Time) ([]byte, error) {
	status := typ[strings.LastIndex(typ, ".")+1:]
	data := map[string]any{"jobId": jobID, "baseModel": "meta-llama/Llama-3.3-70B-Instruct", "trainingMethod": "sft", "status": status,
		"metrics": map[string]any{"loss": 1.12, "evalLoss": 1.02, "totalTokens": 3250000}, "createdAt": now.Add(-time.Hour).Format(time.RFC3339)}
	if status != "started" {
		data["completedAt"] = now.Format(time.RFC3339)
	}
	return json.Marshal(map[string]any{"event": typ, "data": data, "deliveredAt": now.Format(time.RFC3339)})
}
