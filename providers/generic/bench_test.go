package generic_test

import "testing"

// BenchmarkParseEvent measures the seed's batch event under a config with a
// path for every field.
func BenchmarkParseEvent(b *testing.B) {
	p := mustNew(b, batchConfig())
	body := []byte(seedBatchEvent)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := p.ParseEvent(body); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseEventDerivedID measures the seed's task, whose event id is a
// SHA-256 of the compacted body.
func BenchmarkParseEventDerivedID(b *testing.B) {
	p := mustNew(b, taskConfig())
	body := []byte(seedTask)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := p.ParseEvent(body); err != nil {
			b.Fatal(err)
		}
	}
}
