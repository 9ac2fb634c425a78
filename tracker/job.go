// Package tracker is the jobwatch library: the job model, the rules by which
// observations change a job, and the Tracker that applies them durably.
//
// An application that has just submitted a job registers it with Track, either
// in-process (a Tracker over the daemon's database) or against a running
// daemon through Client; both satisfy API.
package tracker

import (
	"encoding/json"
	"fmt"
	"regexp"
	"time"
)

// Status is a job's normalized status.
type Status string

// Normalized statuses. Succeeded, Failed, Cancelled and Expired are terminal.
// Lost means jobwatch gave up waiting; a later observation can still resolve it.
const (
	StatusPending   Status = "pending"
	StatusRunning   Status = "running"
	StatusSucceeded Status = "succeeded"
	StatusFailed    Status = "failed"
	StatusCancelled Status = "cancelled"
	StatusExpired   Status = "expired"
	StatusLost      Status = "lost"
)

// Statuses lists every normalized status, in lifecycle order.
var Statuses = []Status{StatusPending, StatusRunning, StatusSucceeded, StatusFailed, StatusCancelled, StatusExpired, StatusLost}

// Terminal reports whether s is an end state that no later observation leaves.
func (s Status) Terminal() bool {
	switch s {
	case StatusSucceeded, StatusFailed, StatusCancelled, StatusExpired:
		return true
	}
	return false
}

// Valid reports whether s is one of the normalized statuses.
func (s Status) Valid() bool {
	for _, v := range Statuses {
		if s == v {
			return true
		}
	}
	return false
}

// Kind is what sort of job a job is: one of the Kind constants or any other
// lower-case name.
type Kind string

// Well-known kinds.
const (
	KindBatch      Kind = "batch"
	KindFineTuning Kind = "fine_tuning"
	KindResponse   Kind = "response"
	KindEvalRun    Kind = "eval_run"
)

// Source says where an observation came from.
type Source string

// Observation sources.
const (
	SourceWebhook Source = "webhook"
	SourcePoll    Source = "poll"
	SourceAPI     Source = "api"
	// SourceSweep is jobwatch's own verdict: a job gone stale or lost.
	SourceSweep Source = "sweep"
)

// Event types jobwatch itself records in a job's history.
const (
	// TypeJobWebhookMissed: a poll learned that the job had ended, on a
	// provider with a webhook endpoint, and no webhook about that end arrived
	// within the provider's webhook grace. It is recorded in the job's
	// history, not alerted on: enough of them in a row raise
	// provider.webhooks_silent.
	TypeJobWebhookMissed = "job.webhook_missed"
	// TypeEnrichTimeout: the enrichment poll of a job whose end a thin
	// webhook announced did not apply within the enrich wait, so the end
	// alert held for it went out with what was known.
	TypeEnrichTimeout = "job.enrich_timeout"
	// TypeJobStuck: a live job stayed in one provider status past its
	// stuck_after (Rules.StuckAfter); alerted once per status.
	TypeJobStuck = "job.stuck"
	// TypeJobUnstuck: a stuck job's provider status changed. Recorded in
	// the job's history, not alerted on.
	TypeJobUnstuck = "job.unstuck"
	// TypeJobLost: jobwatch gave up waiting for the job.
	TypeJobLost = "job.lost"
	// TypePollNotFound: a poll was answered 404.
	TypePollNotFound = "poll.not_found"
	// TypeProviderAuthFailed: the provider refused our credentials.
	TypeProviderAuthFailed = "provider.auth_failed"
	// TypeJobResolved: a person ended the job by hand (Tracker.Resolve),
	// with a terminal status and a reason in the payload.
	TypeJobResolved = "job.resolved"
	// TypeJobUntracked: a person stopped tracking the job
	// (Tracker.Untrack): it is polled no more and raises no alert.
	TypeJobUntracked = "job.untracked"
)

// Usage is what a job reports it consumed. Counts are absolute totals as last
// reported by the provider, not increments.
type Usage struct {
	InputTokens int64 `json:"input_tokens,omitempty"`
	// CachedInputTokens is the part of InputTokens the provider served from
	// its prompt cache, billed at the cached-input price.
	CachedInputTokens int64 `json:"cached_input_tokens,omitempty"`
	OutputTokens      int64 `json:"output_tokens,omitempty"`
	TotalTokens       int64 `json:"total_tokens,omitempty"`
	TrainedTokens     int64 `json:"trained_tokens,omitempty"`
	RequestsTotal     int64 `json:"requests_total,omitempty"`
	RequestsCompleted int64 `json:"requests_completed,omitempty"`
	RequestsFailed    int64 `json:"requests_failed,omitempty"`
}

// IsZero reports whether u carries no figures.
func (u Usage) IsZero() bool { return u == Usage{} }

// Counted is what of a job was already added to the usage totals: its
// figures and its cost in nanos. Account adds only what goes beyond it.
type Counted struct {
	Usage
	CostNanos int64 `json:"cost_nanos,omitempty"`
}

// Job is one tracked provider job.
type Job struct {
	ID         int64  `json:"-"`
	Provider   string `json:"provider"`
	Kind       Kind   `json:"kind"`
	ExternalID string `json:"id"`
	// ParentID is the id of the object the provider files the job under,
	// when its API needs it to find the job: an OpenAI eval run's eval id.
	// It is set at registration (TrackRequest.ParentID) and never changes.
	ParentID       string            `json:"parent_id,omitempty"`
	Status         Status            `json:"status"`
	ProviderStatus string            `json:"provider_status,omitempty"`
	Labels         map[string]string `json:"labels,omitempty"`
	Metadata       json.RawMessage   `json:"metadata,omitempty"`
	Usage          Usage             `json:"usage"`
	// Details holds what the provider reported about the outcome: output and
	// error file ids, the fine-tuned model's name, an error message.
	Details   map[string]string `json:"details,omitempty"`
	CreatedAt time.Time         `json:"created_at"`
	UpdatedAt time.Time         `json:"updated_at"`
	// ResolvedAt and ResolvedBy are set when the job reaches a terminal status.
	ResolvedAt *time.Time `json:"resolved_at,omitempty"`
	ResolvedBy Source     `json:"resolved_by,omitempty"`
	// LastObservedAt is when the newest applied observation happened (the
	// provider's clock for webhooks, ours for polls); older observations never
	// overwrite a newer one.
	LastObservedAt *time.Time `json:"last_observed_at,omitempty"`
	// LastHeardAt is when jobwatch last heard anything about the job (our clock).
	LastHeardAt time.Time `json:"last_heard_at"`
	// NextPollAt is when the job is next due for a poll; nil once terminal.
	NextPollAt *time.Time `json:"next_poll_at,omitempty"`
	// QuietPolls counts the polls in a row that found nothing new; the poll
	// interval doubles with each.
	QuietPolls int `json:"quiet_polls,omitempty"`
	// NotFoundPolls counts the polls in a row answered 404.
	NotFoundPolls int `json:"not_found_polls,omitempty"`
	// WebhookAt is when the last webhook about the job arrived.
	WebhookAt *time.Time `json:"webhook_at,omitempty"`
	// WebhookDueBy is set while jobwatch waits for the webhook about an end
	// that a poll learned first: the provider's end time (or the poll's)
	// plus the provider's webhook grace. Past it, the webhook is missed
	// (TypeJobWebhookMissed); a webhook about the end clears it.
	WebhookDueBy *time.Time `json:"webhook_due_by,omitempty"`
	// AlertHeldUntil is set while the alert of the job's end waits for the
	// enrichment poll (a thin webhook announced the end without its
	// figures): the poll's answer sends it, or the sweep does at this time,
	// with what is known.
	AlertHeldUntil *time.Time `json:"alert_held_until,omitempty"`
	// StatusSince is when jobwatch first saw the job in its ProviderStatus;
	// nil while it has none.
	StatusSince *time.Time `json:"status_since,omitempty"`
	// StuckStatus is the provider status the job was found stuck in
	// (job.stuck); "" when it is not stuck. A change of provider status
	// clears it.
	StuckStatus string `json:"stuck_status,omitempty"`
	// UntrackedAt is when a person stopped tracking the job
	// (Tracker.Untrack); nil while it is tracked. An untracked job is never
	// polled again, and observations of it are recorded in its history
	// without changing it or raising an alert.
	UntrackedAt *time.Time `json:"untracked_at,omitempty"`
	// Cost is what the job's usage costs at the configured prices, set
	// once the job has ended and recomputed as later figures arrive; nil
	// when no prices are configured.
	Cost *Cost `json:"cost,omitempty"`
	// Counted is what of the job was already added to the usage totals.
	Counted Counted `json:"-"`
	// History is every observation applied to or recorded against the job,
	// oldest first. Only Tracker.Job fills it.
	History []Event `json:"history,omitempty"`
}

// Effect says what an observation did to its job.
type Effect string

// Effects of an observation.
const (
	// EffectApplied: the job was updated from the observation.
	EffectApplied Effect = "applied"
	// EffectStale: the observation is older than the job's newest, or a
	// verdict of jobwatch's that stopped being true before it applied;
	// recorded only.
	EffectStale Effect = "stale"
	// EffectConflict: a terminal observation disagreeing with the job's
	// terminal status, or a non-terminal one after the end; recorded only.
	EffectConflict Effect = "conflict"
	// EffectRecorded: stored without changing the job's status (a provider
	// event, an unknown job the provider's policy does not adopt, a 404
	// below the limit).
	EffectRecorded Effect = "recorded"
)

// Event is one entry of a job's history: an observation as received and what
// it did.
type Event struct {
	ID             int64           `json:"-"`
	Provider       string          `json:"provider"`
	JobID          *int64          `json:"-"`
	Source         Source          `json:"source"`
	EventID        string          `json:"event_id,omitempty"`
	Type           string          `json:"type,omitempty"`
	ProviderStatus string          `json:"provider_status,omitempty"`
	Status         Status          `json:"status,omitempty"`
	Effect         Effect          `json:"effect"`
	OccurredAt     time.Time       `json:"occurred_at"`
	RecordedAt     time.Time       `json:"recorded_at"`
	Payload        json.RawMessage `json:"payload,omitempty"`
}

// ValidationError is bad input to the tracker; Field names the offending field
// as the HTTP API spells it.
type ValidationError struct {
	Field string
	Msg   string
}

func (e *ValidationError) Error() string { return e.Field + ": " + e.Msg }

var (
	nameRe = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,63}$`)
	kindRe = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)
)

// MaxExternalIDLen is the longest external job id accepted, in bytes.
const MaxExternalIDLen = 256

// ValidateProvider checks a provider name: lower-case letters, digits, '_',
// '-' and '.', at most 64 bytes.
func ValidateProvider(p string) error {
	if !nameRe.MatchString(p) {
		return &ValidationError{"provider", fmt.Sprintf("%q is not a provider name (lower-case letters, digits, '_', '-', '.'; at most 64)", p)}
	}
	return nil
}

// ValidateKind checks a kind: a lower-case name such as batch or fine_tuning.
func ValidateKind(k Kind) error {
	if !kindRe.MatchString(string(k)) {
		return &ValidationError{"kind", fmt.Sprintf("%q is not a kind (a lower-case name such as batch, fine_tuning, response, eval_run)", k)}
	}
	return nil
}

// ValidateExternalID checks a provider's job id: non-empty, printable, no
// '/', at most MaxExternalIDLen bytes.
func ValidateExternalID(id string) error { return validateID("id", id) }

// validateID checks a provider's id given in field as ValidateExternalID
// does: non-empty, printable, no '/', at most MaxExternalIDLen bytes.
func validateID(field, id string) error {
	if id == "" {
		return &ValidationError{field, "required"}
	}
	if len(id) > MaxExternalIDLen {
		return &ValidationError{field, fmt.Sprintf("longer than %d bytes", MaxExternalIDLen)}
	}
	for _, r := range id {
		if r < 0x21 || r == 0x7f || r == '/' {
			return &ValidationError{field, "must be printable, without spaces or '/'"}
		}
	}
	return nil
}
