package openai_test

import (
	"testing"

	"github.com/jobwatch/jobwatch/providers/openai"
	"github.com/jobwatch/jobwatch/tracker"
)

// BenchmarkParseEvent measures one thin batch.completed event, as OpenAI
// sends it.
func BenchmarkParseEvent(b *testing.B) {
	body := []byte(`{"id":"evt_685343a1381c819085d44c354e1b330e","object":"event","created_at":1750287018,"type":"batch.completed","data":{"id":"batch_abc123"}}`)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := (openai.WebhookParser{}).ParseEvent(body); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkObjectObservation measures the mapping of OpenAI's example objects
// (what a poll of each kind returns).
func BenchmarkObjectObservation(b *testing.B) {
	for _, bm := range []struct {
		kind tracker.Kind
		file string
	}{
		{tracker.KindBatch, "batch_completed.json"},
		{tracker.KindFineTuning, "fine_tuning_succeeded.json"},
		{tracker.KindResponse, "response_completed.json"},
	} {
		b.Run(string(bm.kind), func(b *testing.B) {
			obj := readTestdata(b, bm.file)
			b.ReportAllocs()
			b.SetBytes(int64(len(obj)))
			for b.Loop() {
				if _, err := openai.ObjectObservation(bm.kind, obj); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
