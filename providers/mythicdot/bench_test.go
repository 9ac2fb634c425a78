package mythicdot_test

import (
	"testing"

	"github.com/jobwatch/jobwatch/providers/mythicdot"
)

// BenchmarkParseEvent measures the batch.completed payload of MythicDot's
// documentation.
func BenchmarkParseEvent(b *testing.B) {
	body := []byte(seedBatchCompleted)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := (mythicdot.WebhookParser{}).ParseEvent(body); err != nil {
			b.Fatal(err)
		}
	}
}
