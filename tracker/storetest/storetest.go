// Package storetest is the conformance suite every tracker.Store
// implementation must pass: a backend's tests call Exercise with a way to
// open its stores, and every case runs against them through the
// tracker.Store interface alone.
//
// It is for tests, not part of the library's surface: only _test.go files
// import it.
package storetest

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/tracker"
)

// OpenStore opens a store on one database, migrated and ready, and closes
// it when t ends. Called again, it opens another store on the same
// database, as another replica of the daemon would.
type OpenStore func(t *testing.T) tracker.Store

// Exercise runs every case of the suite as a parallel subtest of t.
// newDatabase is called once per case: it creates a fresh, empty database
// (removed when t ends, or the case skipped when the backend is not
// available) and returns how to open stores on it. Most cases open one
// store; those about replicas open several on the one database.
func Exercise(t *testing.T, newDatabase func(t *testing.T) OpenStore) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.run(t, newDatabase(t))
		})
	}
}

// cases are the suite's cases, by subtest name.
var cases = []struct {
	name string
	run  func(t *testing.T, open OpenStore)
}{
	{"TrackIsIdempotent", trackIsIdempotent},
	{"TrackConcurrentDuplicates", trackConcurrentDuplicates},
	{"ListFiltersAndPages", listFiltersAndPages},
	{"ObserveConcurrentDuplicateEvents", observeConcurrentDuplicateEvents},
	{"ObserveOutOfOrder", observeOutOfOrder},
	{"ObserveUnknownJobPolicies", observeUnknownJobPolicies},
	{"ApplyBatchKeepsOrderPerJob", applyBatchKeepsOrderPerJob},
	{"ApplyBatchToSeveralTrackedJobs", applyBatchToSeveralTrackedJobs},
	{"GroupCommitUnderConcurrency", groupCommitUnderConcurrency},
	{"BatchWriteKeepsPayloadBytes", batchWriteKeepsPayloadBytes},
	{"DeliveryLog", deliveryLog},
	{"PruneDeliveriesWalksTheLog", pruneDeliveriesWalksTheLog},
	{"TrimDeliveriesKeepsTheNewest", trimDeliveriesKeepsTheNewest},
	{"ClaimDueLeases", claimDueLeases},
	{"ClaimDueWriteEndsLease", claimDueWriteEndsLease},
	{"ParentIDRoundTrips", parentIDRoundTrips},
	{"ClaimDueConcurrentClaimersNeverShare", claimDueConcurrentClaimersNeverShare},
	{"RescheduleLeavesFinishedJobsAlone", rescheduleLeavesFinishedJobsAlone},
	{"AlertsAreEnqueuedWithTheirChange", alertsAreEnqueuedWithTheirChange},
	{"UsageCountedOnceAndThresholdsAlertOncePerLevel", usageCountedOnceAndThresholdsAlertOncePerLevel},
	{"OneBatchFinishingManyJobs", oneBatchFinishingManyJobs},
	{"ThresholdCrossingsAcrossReplicas", thresholdCrossingsAcrossReplicas},
	{"CostIsCountedOnce", costIsCountedOnce},
	{"CostAcrossReplicas", costAcrossReplicas},
	{"ProjectedCostWarnsBeforeItIsSpent", projectedCostWarnsBeforeItIsSpent},
	{"OutboxLifecycle", outboxLifecycle},
	{"FinishAlertsRecordsEachOutcome", finishAlertsRecordsEachOutcome},
	{"ClaimAlertsKeepsASubjectsOrder", claimAlertsKeepsASubjectsOrder},
	{"ConcurrentAlertClaimsNeverSplitASubject", concurrentAlertClaimsNeverSplitASubject},
	{"ConsoleSummaries", consoleSummaries},
	{"ResolveEndsAJobByHand", resolveEndsAJobByHand},
	{"UntrackStopsPollsAndAlerts", untrackStopsPollsAndAlerts},
	{"PurgeDeletesJobHistoryAndAlerts", purgeDeletesJobHistoryAndAlerts},
	{"ListQueryMatchesIDSubstring", listQueryMatchesIDSubstring},
	{"PruneJobsDeletesEndedJobsInChunks", pruneJobsDeletesEndedJobsInChunks},
}

// newTracker is a tracker over s whose jobs go stale after 10 minutes.
func newTracker(s tracker.Store) *tracker.Tracker {
	return tracker.New(s, tracker.Options{StaleAfter: 10 * time.Minute})
}

// observation is a webhook event of provider mythicdot, with event id
// eventID, saying that batch id was at status at the time at; it adopts
// the job when it is not tracked.
func observation(id, eventID string, status tracker.Status, at time.Time) tracker.ApplyItem {
	return tracker.ApplyItem{Adopt: true, Observation: &tracker.Observation{
		Provider: "mythicdot", ExternalID: id, Kind: tracker.KindBatch, Status: status, ProviderStatus: string(status),
		OccurredAt: at, Source: tracker.SourceWebhook, EventID: eventID, Type: "batch." + string(status),
		Payload: json.RawMessage(fmt.Sprintf(`{"id":%q}`, eventID)),
	}}
}
