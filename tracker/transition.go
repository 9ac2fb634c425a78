package tracker

import (
	"encoding/json"
	"fmt"
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
	// DroppedUsage are figures the provider reported that are no counts
	// (a fraction, a number beyond int64), left out of Usage by the parser;
	// Observe adds Usage's negative ones and notes them all in the job's
	// history (TypeUsageDropped).
	DroppedUsage []DroppedFigure
	// Details are merged into the job's details.
	Details map[string]string
	// OccurredAt is when the observation was true: the provider's event time
	// for webhooks, the time of the answer for polls.
	OccurredAt time.Time
	Source     Source
	// EventID dedupes: a second observation with the same provider and event
	// id is a no-op. Empty when the source has none (polls).
	EventID string
	// Type is the event type as the provider named it (batch.completed), or
	// one of jobwatch's own (TypeJobLost, TypeJobWebhookMissed,
	// TypeEnrichTimeout, TypePollNotFound).
	Type string
	// Payload is the body as received, stored in the job's history.
	Payload json.RawMessage
	// PollNow makes the job due for a poll at once: the observation is thin
	// (status only) and the details must be fetched.
	PollNow bool
	// EndedAt is the provider's own time of the job's end, when a poll's
	// answer gives one (a batch's completed_at); nil otherwise.
	EndedAt *time.Time
}

// Rules are the configured parameters of Transition.
type Rules struct {
	// StaleAfter is how long a non-terminal job may go unheard before it is
	// due for a poll, and the first poll interval.
	StaleAfter time.Duration
	// MaxPollInterval caps the poll interval as it doubles with each poll
	// that finds nothing new. Zero: StaleAfter (no backoff).
	MaxPollInterval time.Duration
	// LostPollInterval is how often a lost job is still polled.
	LostPollInterval time.Duration
	// NotFoundLimit is how many 404s in a row make a job lost. Zero: never.
	NotFoundLimit int
	// Jitter, when set, spreads a poll interval (it returns a duration near
	// its argument), so that jobs registered together are not polled together.
	Jitter func(time.Duration) time.Duration
	// WebhookGrace, for a provider with a webhook endpoint, is how long after
	// a job's end (the provider's end time, else the poll's) the webhook
	// about it may still arrive when a poll learned the end first; past it
	// the webhook is missed. Zero: the provider sends no webhooks, and none
	// is waited for.
	WebhookGrace time.Duration
	// EnrichWait is how long the alert of an end that a thin webhook
	// announced waits for the enrichment poll's figures. Zero: the alert is
	// raised at once (the job cannot be polled).
	EnrichWait time.Duration
	// StuckAfter is, by provider status, how long a live job may stay in
	// it before it is stuck (job.stuck); a status not in it never is.
	StuckAfter map[string]time.Duration
	// Unpolled says that no API can be asked about the job (its provider
	// has no poller configured): a thin observation (PollNow) then makes
	// nothing due, as no poll could fetch what it lacks, and a live job is
	// due only on its schedule (for the lost deadline).
	Unpolled bool
}

// Stuck is the pure rule of stuck jobs: a live job (not ended, not lost)
// that has been in its provider status since StatusSince for at least that
// status's Rules.StuckAfter, and was not yet found stuck in it. It returns
// how long the job has been in the status.
func Stuck(job Job, now time.Time, rules Rules) (time.Duration, bool) {
	if job.Status.Terminal() || job.Status == StatusLost || job.ProviderStatus == "" || job.StatusSince == nil || job.StuckStatus == job.ProviderStatus {
		return 0, false
	}
	limit, ok := rules.StuckAfter[job.ProviderStatus]
	if !ok || limit <= 0 {
		return 0, false
	}
	d := now.Sub(*job.StatusSince)
	return d, d >= limit
}

// PollInterval is the wait before the next poll of a job whose last quiet
// polls found nothing new: StaleAfter doubled per quiet poll, at most
// MaxPollInterval, jittered.
func (r Rules) PollInterval(quiet int) time.Duration {
	d := r.StaleAfter
	for range min(quiet, 32) {
		if d >= r.MaxPollInterval {
			break
		}
		d *= 2
	}
	d = min(d, max(r.MaxPollInterval, r.StaleAfter))
	if r.Jitter != nil {
		d = r.Jitter(d)
	}
	return d
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
//     recorded only; an agreeing one enriches the job (usage, details);
//   - an observation without a normalized status (an unknown provider
//     status) leaves a live job's status as it is and records the word;
//   - a lost job stays lost until a terminal observation resolves it.
//
// Scheduling: a live job is next due after Rules.PollInterval, which backs
// off while polls find nothing new and resets when anything changes; a lost
// job after LostPollInterval; a terminal one never, unless the observation
// is thin (PollNow) and the details must still be fetched, or it awaits
// something:
//
//   - a poll that ends a job of a provider with webhooks (Rules.WebhookGrace)
//     sets WebhookDueBy, the end's time plus the grace; a webhook with a
//     terminal status clears it, and past it the sweep records
//     job.webhook_missed;
//   - a thin webhook that ends a job that can be polled (Rules.EnrichWait)
//     sets AlertHeldUntil: the end's alert waits for the enrichment poll,
//     whose applied answer clears it, or for the sweep's job.enrich_timeout.
//
// jobwatch's own verdicts (SourceSweep: job.lost, job.webhook_missed,
// job.enrich_timeout) and 404s follow their own rules below. Every
// observation but jobwatch's own counts as hearing from the job.
//
// A person's job.untracked (SourceAPI) stops tracking the job: it is due
// for no poll and awaits nothing. Every observation of an untracked job
// after that is recorded only, changing nothing.
func Transition(job Job, obs Observation, now time.Time, rules Rules) (Job, Effect) {
	switch {
	case job.UntrackedAt != nil:
		return job, EffectRecorded
	case obs.Source == SourceAPI && obs.Type == TypeJobUntracked:
		return untrack(job, now), EffectApplied
	case obs.Source == SourceSweep:
		return sweepVerdict(job, obs, now, rules)
	case obs.Type == TypeUsageDropped:
		// A note about the observation before it, which did the applying.
		return job, EffectRecorded
	case obs.Type == TypePollNotFound:
		return notFound(job, now, rules)
	}
	job.LastHeardAt = now
	job.NotFoundPolls = 0
	if obs.Source == SourceWebhook {
		t := now
		job.WebhookAt = &t
		if obs.Status.Terminal() {
			// The webhook about the end: nothing is missed.
			job.WebhookDueBy = nil
		}
	}
	if (obs.Status == "" || job.Status == StatusLost) && !job.Status.Terminal() && !obs.Status.Terminal() {
		// An unknown provider status keeps the job's; so does any
		// non-terminal one of a lost job, which only an end resolves (else
		// it would flap between lost and running at every poll).
		obs.Status = job.Status
	}
	effect := effectOf(job, obs)
	if effect != EffectApplied {
		if obs.Source == SourcePoll {
			// The poll was answered: whatever it said, schedule the next
			// one. A held alert stays held until its time: this answer
			// brought no figures.
			job.QuietPolls++
			job.NextPollAt = nextPoll(job, false, now, rules)
		}
		return job, effect
	}
	before := job
	wasTerminal := job.Status.Terminal()
	job.Status = obs.Status
	if obs.ProviderStatus != "" && (obs.ProviderStatus != job.ProviderStatus || job.StatusSince == nil) {
		if obs.ProviderStatus != job.ProviderStatus {
			// A new status: any stuck verdict was about the old one.
			job.StuckStatus = ""
		}
		job.ProviderStatus = obs.ProviderStatus
		t := now
		job.StatusSince = &t
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
	if job.Status.Terminal() && !wasTerminal {
		t := now
		job.ResolvedAt, job.ResolvedBy = &t, obs.Source
		switch {
		case obs.Source == SourcePoll && rules.WebhookGrace > 0:
			// A poll learned the end first: its webhook is now awaited.
			end := now
			if obs.EndedAt != nil && obs.EndedAt.Before(now) {
				end = *obs.EndedAt
			}
			due := end.Add(rules.WebhookGrace)
			job.WebhookDueBy = &due
		case obs.PollNow && rules.EnrichWait > 0:
			// A thin end: its alert waits for the enrichment poll.
			until := now.Add(rules.EnrichWait)
			job.AlertHeldUntil = &until
		}
	} else if obs.Source == SourcePoll && wasTerminal {
		// The enrichment poll applied: the held alert goes out with it.
		job.AlertHeldUntil = nil
	}
	if obs.Source == SourcePoll && !changed(before, job) {
		job.QuietPolls++
	} else {
		job.QuietPolls = 0
	}
	job.NextPollAt = nextPoll(job, obs.PollNow, now, rules)
	return job, effect
}

// nextPoll is when job is next due. An ended job is due only for its
// enrichment poll, or when the webhook it awaits or its held alert is due.
func nextPoll(job Job, pollNow bool, now time.Time, rules Rules) *time.Time {
	var t time.Time
	switch {
	case pollNow && !rules.Unpolled:
		t = now
	case job.Status.Terminal():
		return earliest(job.WebhookDueBy, job.AlertHeldUntil)
	case job.Status == StatusLost:
		t = now.Add(rules.LostPollInterval)
	default:
		t = now.Add(rules.PollInterval(job.QuietPolls))
	}
	return &t
}

// earliest is the earlier of two optional times, nil when both are.
func earliest(a, b *time.Time) *time.Time {
	if a == nil || (b != nil && b.Before(*a)) {
		a = b
	}
	if a == nil {
		return nil
	}
	t := *a
	return &t
}

// changed reports whether an observation taught anything new about the job.
func changed(a, b Job) bool {
	return a.Status != b.Status || a.ProviderStatus != b.ProviderStatus || a.Usage != b.Usage || !maps.Equal(a.Details, b.Details)
}

// sweepVerdict applies jobwatch's own observations: job.lost makes a live
// job lost; job.webhook_missed ends the wait for an end's webhook, and
// job.enrich_timeout the hold of an end's alert; job.stuck marks a live
// job stuck in its provider status. A verdict that is no
// longer true (the webhook came, the poll applied, since the sweep claimed
// the job) is stale: recorded, changing nothing.
func sweepVerdict(job Job, obs Observation, now time.Time, rules Rules) (Job, Effect) {
	switch obs.Type {
	case TypeJobWebhookMissed:
		if job.WebhookDueBy == nil {
			return job, EffectStale
		}
		job.WebhookDueBy = nil
		job.NextPollAt = nextPoll(job, false, now, rules)
		return job, EffectApplied
	case TypeEnrichTimeout:
		if job.AlertHeldUntil == nil {
			return job, EffectStale
		}
		// The enrichment poll, if still pending, keeps its schedule: the
		// figures are still worth counting when they come.
		job.AlertHeldUntil = nil
		return job, EffectApplied
	case TypeJobStuck:
		// Stale when the job moved on (or was found stuck already) since
		// the sweep claimed it.
		if job.Status.Terminal() || job.Status == StatusLost || job.ProviderStatus != obs.ProviderStatus || job.StuckStatus == job.ProviderStatus {
			return job, EffectStale
		}
		job.StuckStatus = job.ProviderStatus
		return job, EffectApplied
	case TypeJobLost:
		if job.Status.Terminal() || job.Status == StatusLost {
			return job, EffectRecorded
		}
		return lose(job, obs.Details, now, rules), EffectApplied
	}
	return job, EffectRecorded
}

// untrack stops tracking job: no more polls, no webhook awaited, no held
// alert.
func untrack(job Job, now time.Time) Job {
	t := now
	job.UntrackedAt = &t
	job.UpdatedAt = now
	job.NextPollAt, job.WebhookDueBy, job.AlertHeldUntil = nil, nil, nil
	return job
}

// notFound counts a 404; at the limit a live job becomes lost.
func notFound(job Job, now time.Time, rules Rules) (Job, Effect) {
	job.NotFoundPolls++
	job.QuietPolls++
	if rules.NotFoundLimit > 0 && job.NotFoundPolls >= rules.NotFoundLimit && !job.Status.Terminal() && job.Status != StatusLost {
		reason := fmt.Sprintf("the provider answered 404 to %d polls in a row", job.NotFoundPolls)
		return lose(job, map[string]string{"lost_reason": reason}, now, rules), EffectApplied
	}
	job.NextPollAt = nextPoll(job, false, now, rules)
	return job, EffectRecorded
}

func lose(job Job, details map[string]string, now time.Time, rules Rules) Job {
	job.Status = StatusLost
	job.UpdatedAt = now
	if len(details) > 0 {
		d := maps.Clone(job.Details)
		if d == nil {
			d = map[string]string{}
		}
		maps.Copy(d, details)
		job.Details = d
	}
	job.NextPollAt = nextPoll(job, false, now, rules)
	return job
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

// mergeUsage is old with each non-zero figure of u in place of its own.
func mergeUsage(old, u Usage) Usage {
	for _, name := range UsageFields {
		if n := *u.Figure(name); n != 0 {
			*old.Figure(name) = n
		}
	}
	return old
}
