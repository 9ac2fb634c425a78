package tracker

import (
	"testing"
	"time"
)

func BenchmarkTransition(b *testing.B) {
	t0 := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	job := Job{Status: StatusRunning, ProviderStatus: "in_progress", LastObservedAt: &t0, Details: map[string]string{"output_file_id": "file-1"}}
	obs := Observation{Source: SourcePoll, Status: StatusSucceeded, ProviderStatus: "completed", OccurredAt: t0.Add(time.Minute),
		Usage: &Usage{RequestsTotal: 10, RequestsCompleted: 10, TotalTokens: 500}, Details: map[string]string{"output_file_id": "file-1"}}
	rules := Rules{StaleAfter: 10 * time.Minute, MaxPollInterval: time.Hour}
	b.ReportAllocs()
	for b.Loop() {
		Transition(job, obs, t0.Add(time.Hour), rules)
	}
}
