package tracker

import (
	"encoding/json"
	"maps"
	"time"
)

// Observation is one thing learned about a job, from any source. Every change
// to a job goes through Tracker.Observe with one of these.
type Observation struct {
	Provider   string
	ExternalID string
	// Kind is used when the observation creates the job (an adopted webhook);
	// it never changes an existing job's kind.
	Kind Kind
	// Status is the normalized status the provider reported; empty when the
	// provider's word has no normalized equivalent (the job keeps its status).
	Status Status
	// ProviderStatus is the provider's own word for it, kept verbatim.
	ProviderStatus string
	// Usage, when not nil, replaces the job's figures field by field (only the
	// non-zero ones: providers report absolute totals).
	Usage *Usage
	// Details are merged into the job's details.
	Details map[string]string
	// OccurredAt is when the observation was true: the provider's event time
	// for webhooks, the time of the answer for polls.
	OccurredAt time.Time
	Source     Source
	// EventID dedupes: a second observation with the same provider and event
	// id is a no-op. Empty when the source has none (polls).
	EventID string
	// Type is the event type as the provider named it (batch.completed).
	Type string
	// Payload is the body as received, stored in the job's history.
	Payload json.RawMessage
	// PollNow makes the job due for a poll at once: the observation is thin
	// (status only) and the details must be fetched.
	PollNow bool
}

// Rules are the configured parameters of Transition.
type Rules struct {
	// StaleAfter is how long a non-terminal job may go unheard before it is
	// due for a poll.
	StaleAfter time.Duration
}

// Transition is the pure rule by which an observation changes a job. It
// returns the job as it should be stored and what the observation did:
//
//   - a terminal status never goes back to a non-terminal one;
//   - a terminal observation of a job that is not yet terminal always
//     applies, even if it is older than the job's last observation (an end
//     state is absorbing, so it was true then and is true now);
//   - any other observation older than the job's last one is recorded only;
//   - a terminal observation disagreeing with the job's terminal status is
//     recorded only; an agreeing one enriches the job (usage, details).
//
// An observation without a normalized status (an unknown provider status)
// leaves a live job's status as it is and records the provider's word.
// Whatever the effect, the job has been heard from at now.
func Transition(job Job, obs Observation, now time.Time, rules Rules) (Job, Effect) {
	job.LastHeardAt = now
	if obs.Status == "" && !job.Status.Terminal() {
		obs.Status = job.Status
	}
	effect := effectOf(job, obs)
	if effect != EffectApplied {
		return job, effect
	}
	wasTerminal := job.Status.Terminal()
	job.Status = obs.Status
	if obs.ProviderStatus != "" {
		job.ProviderStatus = obs.ProviderStatus
	}
	if obs.Usage != nil {
		job.Usage = mergeUsage(job.Usage, *obs.Usage)
	}
	if len(obs.Details) > 0 {
		d := maps.Clone(job.Details)
		if d == nil {
			d = make(map[string]string, len(obs.Details))
		}
		maps.Copy(d, obs.Details)
		job.Details = d
	}
	if job.LastObservedAt == nil || obs.OccurredAt.After(*job.LastObservedAt) {
		t := obs.OccurredAt
		job.LastObservedAt = &t
	}
	job.UpdatedAt = now
	switch {
	case job.Status.Terminal():
		if !wasTerminal {
			t := now
			job.ResolvedAt, job.ResolvedBy = &t, obs.Source
		}
		job.NextPollAt = nil
		if obs.PollNow {
			// An end state learnt from a thin event still wants its details.
			t := now
			job.NextPollAt = &t
		}
	case obs.PollNow:
		t := now
		job.NextPollAt = &t
	default:
		t := now.Add(rules.StaleAfter)
		job.NextPollAt = &t
	}
	return job, effect
}

func effectOf(job Job, obs Observation) Effect {
	older := job.LastObservedAt != nil && obs.OccurredAt.Before(*job.LastObservedAt)
	switch {
	case job.Status.Terminal() && obs.Status != job.Status:
		return EffectConflict
	case obs.Status.Terminal() && !job.Status.Terminal():
		return EffectApplied
	case older:
		return EffectStale
	}
	return EffectApplied
}

func mergeUsage(old, u Usage) Usage {
	pick := func(o, n int64) int64 {
		if n != 0 {
			return n
		}
		return o
	}
	return Usage{
		InputTokens:       pick(old.InputTokens, u.InputTokens),
		OutputTokens:      pick(old.OutputTokens, u.OutputTokens),
		TotalTokens:       pick(old.TotalTokens, u.TotalTokens),
		TrainedTokens:     pick(old.TrainedTokens, u.TrainedTokens),
		RequestsTotal:     pick(old.RequestsTotal, u.RequestsTotal),
		RequestsCompleted: pick(old.RequestsCompleted, u.RequestsCompleted),
		RequestsFailed:    pick(old.RequestsFailed, u.RequestsFailed),
	}
}
