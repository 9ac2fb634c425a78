package tracker

import (
	"context"
	"encoding/json"
	"fmt"
)

// MaxReasonLen is the longest reason Resolve takes, in bytes.
const MaxReasonLen = 1024

// Resolve ends a job by hand with a terminal status, for the reason a
// person gives: a job its provider will never report on, a batch cancelled
// outside the provider's API. It is an observation like any other (Source
// SourceAPI, Type TypeJobResolved, the status and reason in its payload),
// so the job's history records it, ResolvedBy is "api", its usage is
// counted and the alert of its end raised exactly as for an end a provider
// reports.
//
// A status that is not terminal is an error wrapping ErrNotTerminal, a
// reason that cannot be stored a *ValidationError (ValidateResolve); an
// unknown job, ErrNotFound. A job that has ended already, or is untracked,
// is left as it is and returned with an error wrapping ErrJobEnded or
// ErrJobUntracked.
func (t *Tracker) Resolve(ctx context.Context, provider, id string, status Status, reason string) (Job, error) {
	if err := ValidateResolve(status, reason); err != nil {
		return Job{}, err
	}
	job, err := t.store.GetJob(ctx, provider, id)
	if err != nil {
		return Job{}, fmt.Errorf("resolve %s job %s: %w", provider, id, err)
	}
	if err := actionable(job); err != nil {
		return job, fmt.Errorf("resolve %s job %s: %w", provider, id, err)
	}
	payload, err := json.Marshal(struct {
		Status Status `json:"status"`
		Reason string `json:"reason,omitempty"`
	}{status, reason})
	if err != nil {
		return Job{}, fmt.Errorf("resolve %s job %s: encode payload: %w", provider, id, err)
	}
	res, err := t.Observe(ctx, ApplyItem{Observation: &Observation{
		Provider: provider, ExternalID: id, Status: status, OccurredAt: t.now(),
		Source: SourceAPI, Type: TypeJobResolved, Payload: payload,
	}})
	if err != nil {
		return Job{}, fmt.Errorf("resolve %s job %s: %w", provider, id, err)
	}
	r := res[0]
	if r.Job == nil {
		// Purged between the read and the write.
		return Job{}, fmt.Errorf("resolve %s job %s: %w", provider, id, ErrNotFound)
	}
	if r.Effect != EffectApplied || r.Previous.Terminal() {
		// Ended or untracked by someone else meanwhile; the attempt is in
		// its history.
		before := *r.Job
		before.Status = r.Previous
		if err := actionable(before); err != nil {
			return *r.Job, fmt.Errorf("resolve %s job %s: %w", provider, id, err)
		}
	}
	return t.Job(ctx, provider, id)
}

// ValidateResolve checks what Resolve takes, so that a client can refuse
// bad input before it sends a request: a terminal status (else an error
// wrapping ErrNotTerminal, saying "status: ...") and a reason every backend
// stores (else a *ValidationError).
func ValidateResolve(status Status, reason string) error {
	if !status.Terminal() {
		return fmt.Errorf("status: %q is %w (succeeded, failed, cancelled or expired)", status, ErrNotTerminal)
	}
	if len(reason) > MaxReasonLen || !validLabel(reason) {
		return &ValidationError{"reason", fmt.Sprintf("must be UTF-8 without NUL bytes, at most %d bytes", MaxReasonLen)}
	}
	return nil
}

// actionable says why a person can no longer act on job: it has ended
// (ErrJobEnded) or is untracked (ErrJobUntracked); nil when they can.
func actionable(job Job) error {
	switch {
	case job.UntrackedAt != nil:
		return ErrJobUntracked
	case job.Status.Terminal():
		return ErrJobEnded
	}
	return nil
}

// Untrack stops tracking a job: it is never polled again, awaits no
// webhook and raises no alert. It stays readable with its history, which
// records the untracking (TypeJobUntracked) and, from then on, every
// webhook about it, each changing nothing (EffectRecorded). Alerts already
// in the outbox are still delivered. Untracking an untracked job does
// nothing.
//
// With purge, the job, its history and every alert about it in the outbox
// are deleted instead; a webhook about it later finds no job, as for any
// job never registered.
//
// An unknown job is ErrNotFound.
func (t *Tracker) Untrack(ctx context.Context, provider, id string, purge bool) error {
	if purge {
		if err := t.store.DeleteJob(ctx, provider, id); err != nil {
			return fmt.Errorf("purge %s job %s: %w", provider, id, err)
		}
		return nil
	}
	job, err := t.store.GetJob(ctx, provider, id)
	if err != nil {
		return fmt.Errorf("untrack %s job %s: %w", provider, id, err)
	}
	if job.UntrackedAt != nil {
		return nil
	}
	res, err := t.Observe(ctx, ApplyItem{Observation: &Observation{
		Provider: provider, ExternalID: id, OccurredAt: t.now(), Source: SourceAPI, Type: TypeJobUntracked,
	}})
	if err != nil {
		return fmt.Errorf("untrack %s job %s: %w", provider, id, err)
	}
	if res[0].Job == nil {
		return fmt.Errorf("untrack %s job %s: %w", provider, id, ErrNotFound)
	}
	return nil
}
