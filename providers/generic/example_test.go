package generic_test

import (
	"fmt"

	"github.com/jobwatch/jobwatch/providers/generic"
	"github.com/jobwatch/jobwatch/tracker"
)

// A provider nobody wrote code for, described by configuration alone.
func ExampleNew() {
	p, err := generic.New(generic.Config{
		EventID:    "id",
		EventType:  "type",
		JobID:      "data.batch_id",
		Status:     "data.status",
		OccurredAt: "created_at",
		StatusMap:  map[string]tracker.Status{"completed": tracker.StatusSucceeded, "failed": tracker.StatusFailed},
		Usage:      map[string]string{"requests_total": "data.total_requests", "requests_failed": "data.failed"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	obs, err := p.ParseEvent([]byte(`{"id":"evt_def456","type":"batch.completed","created_at":"2025-01-15T12:45:00Z",
		"data":{"batch_id":"batch_abc123","status":"completed","total_requests":1000,"completed":995,"failed":5}}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(obs.EventID, obs.Type, obs.ExternalID, obs.Kind, obs.Status, obs.ProviderStatus, obs.OccurredAt)
	fmt.Printf("%+v\n", *obs.Usage)
	// Output:
	// evt_def456 batch.completed batch_abc123 batch succeeded completed 2025-01-15 12:45:00 +0000 UTC
	// {InputTokens:0 CachedInputTokens:0 OutputTokens:0 TotalTokens:0 TrainedTokens:0 RequestsTotal:1000 RequestsCompleted:0 RequestsFailed:5}
}

// Configuration errors name the key, one per line.
func ExampleNew_errors() {
	_, err := generic.New(generic.Config{
		Status:    "status",
		StatusMap: map[string]tracker.Status{"done": "finished"},
		Usage:     map[string]string{"tokens": "usage.tokens"},
	})
	fmt.Println(err)
	// Output:
	// job_id: required
	// status_map.done: "finished" is not a status (want pending, running, succeeded, failed, cancelled or expired)
	// usage.tokens: unknown usage field (want input_tokens, cached_input_tokens, output_tokens, total_tokens, trained_tokens, requests_total, requests_completed, requests_failed)
}
