package bedrock_test

import (
	"errors"
	"testing"

	"github.com/jobwatch/jobwatch/providers"
	"github.com/jobwatch/jobwatch/providers/bedrock"
	"github.com/jobwatch/jobwatch/tracker"
)

// Whatever the body, a model invocation job maps to a valid observation or
// to a *providers.PayloadError; a status is normalized only when known
// (never guessed terminal), and request_failure only flags a succeeded job.
func FuzzJobObservation(f *testing.F) {
	for _, seed := range []string{
		`{"jobArn":"arn:aws:bedrock:us-east-1:123456789012:model-invocation-job/abc123def456","status":"InProgress"}`,
		`{"jobArn":"abc","status":"PartiallyCompleted","totalRecordCount":100,"successRecordCount":97,"errorRecordCount":3}`,
		`{"jobArn":"abc","status":"Failed","message":"bad input","errorRecordCount":-1}`,
		`{"jobArn":"abc","status":"Paused","successRecordCount":1e3,"processedRecordCount":1.5}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		obs, err := bedrock.JobObservation(body)
		if err != nil {
			if pe, ok := errors.AsType[*providers.PayloadError](err); !ok || pe.Msg == "" {
				t.Fatalf("error %v (%T) is not a *providers.PayloadError with a message", err, err)
			}
			return
		}
		if err := tracker.ValidateExternalID(obs.ExternalID); err != nil {
			t.Fatalf("ExternalID %q: %v", obs.ExternalID, err)
		}
		if obs.Kind != tracker.KindBatch || obs.ProviderStatus == "" || obs.Status != bedrock.Status(obs.ProviderStatus) || !obs.OccurredAt.IsZero() {
			t.Fatalf("observation %+v", obs)
		}
		for k, v := range obs.Details {
			if v == "" {
				t.Fatalf("Details[%q] is empty", k)
			}
		}
		if _, ok := obs.Details[tracker.DetailRequestFailure]; ok && obs.Status != tracker.StatusSucceeded {
			t.Fatalf("request_failure on %+v", obs)
		}
		if _, ok := obs.Details["error_message"]; ok && !obs.Status.Terminal() {
			t.Fatalf("error_message on %+v", obs)
		}
	})
}
