package bedrock_test

import (
	"maps"
	"testing"

	"github.com/jobwatch/jobwatch/providers/bedrock"
	"github.com/jobwatch/jobwatch/providers/providertest"
	"github.com/jobwatch/jobwatch/tracker"
)

// Whatever the body, a model invocation job maps to a valid observation or
// to a *providers.PayloadError (providertest.CheckObservation). A
// PartiallyCompleted job is flagged even when it reports no failed records,
// which CheckObservation does not expect: that flag is checked here, apart.
// error_message is only on a job that ended.
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
		checked := obs
		if obs.ProviderStatus == "PartiallyCompleted" && (obs.Usage == nil || obs.Usage.RequestsFailed == 0) {
			if obs.Details[tracker.DetailRequestFailure] != tracker.RequestFailurePartial {
				t.Fatalf("PartiallyCompleted without failed records not flagged partial: %+v", obs)
			}
			checked.Details = maps.Clone(obs.Details)
			delete(checked.Details, tracker.DetailRequestFailure)
		}
		if !providertest.CheckObservation(t, tracker.KindBatch, checked, err, bedrock.Status, "") {
			return
		}
		if _, ok := obs.Details["error_message"]; ok && !obs.Status.Terminal() {
			t.Fatalf("error_message on %+v", obs)
		}
	})
}
