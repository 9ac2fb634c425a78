// Package providers holds what every AI provider type shares: Type, the
// description a provider type gives of itself (providers/<type>, listed in
// providers/registry), the Parser of its webhooks and the Poller of its
// API, with their errors. How webhooks are signed is providers/signature;
// the JSON handling parsers share is providers/payload.
package providers

import (
	"context"
	"fmt"

	"github.com/jobwatch/jobwatch/tracker"
)

// Parser turns a webhook body whose signature has been verified into the
// observation it carries.
//
// The returned observation has ExternalID empty for events about no job
// (provider events such as usage.threshold.reached, and event types the
// parser does not know: those are recorded, never rejected); Status empty
// when the provider's status has no normalized equivalent (the job keeps its
// status, ProviderStatus is kept verbatim); OccurredAt zero when the payload
// carries no time. A usage figure that is no count (negative, fractional,
// beyond int64) is left out of Usage and listed in DroppedUsage, never an
// error (see payload.Figures). The caller fills Provider, Source and Payload.
type Parser interface {
	ParseEvent(body []byte) (tracker.Observation, error)
}

// PayloadError is a body that is not JSON or lacks a field the event type
// requires. Field is the JSON path of the offending field, empty when the
// whole body is at fault.
type PayloadError struct {
	Field string
	Msg   string
}

func (e *PayloadError) Error() string {
	if e.Field == "" {
		return e.Msg
	}
	return fmt.Sprintf("%s: %s", e.Field, e.Msg)
}

// Poller asks a provider's API about one job: the safety net for webhooks
// that never came, and the enrichment of thin ones.
type Poller interface {
	// Poll fetches the job's current state. The observation carries what the
	// provider says (ExternalID, Status, ProviderStatus, Usage, Details) and
	// Payload, the answer's body; the caller fills Provider, Source and
	// OccurredAt. A failure is a *PollError.
	Poll(ctx context.Context, job tracker.Job) (tracker.Observation, error)
	// Polls reports whether the provider's API can be asked about jobs of
	// this kind.
	Polls(kind tracker.Kind) bool
}

// PollErrorClass says what a failed poll means for the job and the provider.
type PollErrorClass string

// Classes of poll failures.
const (
	// PollNotFound: the provider does not know the job (404).
	PollNotFound PollErrorClass = "not_found"
	// PollAuth: the provider refused our credentials (401, 403); every job
	// of the provider is affected.
	PollAuth PollErrorClass = "auth"
	// PollTransient: a connection error, a timeout, 429 or 5xx that
	// outlasted the retries; try again later.
	PollTransient PollErrorClass = "transient"
	// PollInvalid: any other 4xx, or an answer that could not be parsed.
	PollInvalid PollErrorClass = "invalid"
)

// PollError is a failed poll. Its message never holds a credential or a URL
// with its query.
type PollError struct {
	Class PollErrorClass
	// StatusCode is the provider's last HTTP status, 0 when none came.
	StatusCode int
	Err        error
}

func (e *PollError) Error() string {
	if e.StatusCode != 0 {
		return fmt.Sprintf("%s (HTTP %d): %v", e.Class, e.StatusCode, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.Class, e.Err)
}

func (e *PollError) Unwrap() error { return e.Err }
