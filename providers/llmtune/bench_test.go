package llmtune_test

import (
	"testing"

	"github.com/jobwatch/jobwatch/providers/llmtune"
)

// BenchmarkParseEvent measures the training.completed payload of LLMTune's
// documentation (the event id is a SHA-256 of its data).
func BenchmarkParseEvent(b *testing.B) {
	body := []byte(seedTrainingEvent)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := (llmtune.WebhookParser{}).ParseEvent(body); err != nil {
			b.Fatal(err)
		}
	}
}
