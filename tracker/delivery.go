package tracker

import "time"

// Outcome is what became of one webhook delivery.
type Outcome string

// Delivery outcomes, as the delivery log and metrics name them.
const (
	// OutcomeAccepted: verified, parsed and applied to its job.
	OutcomeAccepted Outcome = "accepted"
	// OutcomeDuplicate: an event id seen before; nothing changed.
	OutcomeDuplicate Outcome = "duplicate"
	// OutcomeRecorded: verified and stored, but about no tracked job (a
	// provider event, an unknown event type, or an unknown job the
	// provider's policy does not adopt), or changing nothing: older than
	// the job's newest observation, or conflicting with its end.
	OutcomeRecorded Outcome = "recorded"
	// OutcomeBadSignature: missing or wrong signature, or a timestamp outside
	// the tolerance (401).
	OutcomeBadSignature Outcome = "bad_signature"
	// OutcomeMalformed: signed, but not JSON or missing a required field (400).
	OutcomeMalformed Outcome = "malformed"
	// OutcomeTooLarge: body over the size limit (413).
	OutcomeTooLarge Outcome = "too_large"
	// OutcomeRateLimited: over the provider's ingest rate (429).
	OutcomeRateLimited Outcome = "rate_limited"
	// OutcomeUnknownProvider: no provider of that name is configured (404).
	OutcomeUnknownProvider Outcome = "unknown_provider"
	// OutcomeBadMethod: not a POST (405).
	OutcomeBadMethod Outcome = "bad_method"
)

// Outcomes lists every delivery outcome, the accepted ones first.
var Outcomes = []Outcome{OutcomeAccepted, OutcomeDuplicate, OutcomeRecorded, OutcomeBadSignature, OutcomeMalformed,
	OutcomeTooLarge, OutcomeRateLimited, OutcomeUnknownProvider, OutcomeBadMethod}

// Rejected reports whether the delivery was turned away unprocessed.
func (o Outcome) Rejected() bool {
	switch o {
	case OutcomeAccepted, OutcomeDuplicate, OutcomeRecorded:
		return false
	}
	return true
}

// DeliveryOutcome is the outcome of a webhook delivery whose observation
// had result r: duplicate for an event seen before, accepted when it was
// applied to its job, and recorded when it was only stored: about no
// tracked job, or changing nothing (older than the job's newest, or
// conflicting with its end).
func (r Result) DeliveryOutcome() Outcome {
	switch {
	case r.Duplicate:
		return OutcomeDuplicate
	case r.Job == nil || r.Effect != EffectApplied:
		return OutcomeRecorded
	}
	return OutcomeAccepted
}

// Delivery is one request to /webhooks/{provider} as the delivery log keeps
// it. A rejected delivery's body is untrusted: only Excerpt, a few hundred
// bytes of it, is kept.
type Delivery struct {
	ID         int64     `json:"id"`
	Provider   string    `json:"provider"`
	ReceivedAt time.Time `json:"received_at"`
	Outcome    Outcome   `json:"outcome"`
	StatusCode int       `json:"status_code"`
	// Reason says why a delivery was rejected.
	Reason    string `json:"reason,omitempty"`
	EventID   string `json:"event_id,omitempty"`
	EventType string `json:"event_type,omitempty"`
	// JobID is the provider's id of the job the event is about.
	JobID   string `json:"job_id,omitempty"`
	Excerpt string `json:"excerpt,omitempty"`
}

// MaxExcerptBytes is how much of a rejected body the delivery log keeps.
const MaxExcerptBytes = 256

// DeliveryFilter selects deliveries for Store.ListDeliveries; zero fields
// match everything.
type DeliveryFilter struct {
	Provider string
	Outcome  Outcome
	Limit    int
}
