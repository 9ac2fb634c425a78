// Package providers holds what jobwatch knows of each AI provider: how its
// webhooks are signed (providers/signature), what its event payloads say
// (providers/<type>) and, for polling, how to ask its API about a job.
package providers

import (
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
// carries no time. The caller fills Provider, Source and Payload.
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
