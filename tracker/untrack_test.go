package tracker

import (
	"slices"
	"testing"
	"time"
)

// An untracked job raises nothing: not the end alert held for its
// enrichment poll when it is untracked, nor any observation after.
func TestUntrackRaisesNothing(t *testing.T) {
	t.Parallel()
	k := JobKey{"openai", "b1"}
	ended := running("b1", 7, nil)
	ended.Status = StatusSucceeded
	held := planNow.Add(time.Minute)
	ended.AlertHeldUntil, ended.NextPollAt = &held, &planNow
	alerting := &Alerting{Routes: []Route{{Events: []string{"*"}, Notifiers: []string{"ops"}}}}
	untrack := ApplyItem{Observation: &Observation{Provider: "openai", ExternalID: "b1", Source: SourceAPI, Type: TypeJobUntracked, OccurredAt: planNow}}
	poll := ApplyItem{Observation: &Observation{Provider: "openai", ExternalID: "b1", Status: StatusSucceeded, Source: SourcePoll,
		Usage: &Usage{RequestsTotal: 4, RequestsFailed: 2}, Details: map[string]string{DetailRequestFailure: "partial"}, OccurredAt: planNow}}
	lost := ApplyItem{Observation: &Observation{Provider: "openai", ExternalID: "b1", Source: SourceSweep, Type: TypeJobLost, OccurredAt: planNow}}
	pl := plan(planParams(alerting, untrack, poll, lost), map[JobKey]*Job{k: ended}, nil)

	if len(pl.Alerts) != 0 {
		t.Errorf("alerts = %+v, want none", pl.Alerts)
	}
	effects := []Effect{pl.Results[0].Effect, pl.Results[1].Effect, pl.Results[2].Effect}
	if !slices.Equal(effects, []Effect{EffectApplied, EffectRecorded, EffectRecorded}) {
		t.Errorf("effects = %v, want the untracking applied and the rest recorded", effects)
	}
	j := pl.Jobs[k]
	if j.UntrackedAt == nil || !j.UntrackedAt.Equal(planNow) || j.NextPollAt != nil || j.AlertHeldUntil != nil || j.Usage.RequestsTotal != 0 {
		t.Errorf("job = untracked %v, next poll %v, held %v, usage %+v; want untracked now, not due, nothing held, the poll's figures not taken",
			j.UntrackedAt, j.NextPollAt, j.AlertHeldUntil, j.Usage)
	}
}
