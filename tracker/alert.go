package tracker

import (
	"encoding/json"
	"time"
)

// Alert types jobwatch emits. Provider events (usage.threshold.reached,
// model.deployed, deployment.*, ...) keep the provider's own type.
const (
	AlertJobSucceeded      = "job.succeeded"
	AlertJobFailed         = "job.failed"
	AlertJobCancelled      = "job.cancelled"
	AlertJobExpired        = "job.expired"
	AlertJobLost           = TypeJobLost
	AlertJobStale          = TypeJobStale
	AlertJobPartialFailure = "job.partial_failure"
	AlertUsageThreshold    = "usage.threshold"
)

// Alert is one notification as every notifier receives it, and the JSON body
// of outbound webhooks.
type Alert struct {
	// ID identifies this alert to one notifier; it is the webhook-id of an
	// outbound webhook and stays the same across retries, so a receiver can
	// dedupe.
	ID string `json:"id"`
	// Type is what happened: job.failed, usage.threshold, model.deployed, ...
	Type string `json:"type"`
	// CreatedAt is when jobwatch raised the alert.
	CreatedAt time.Time `json:"created_at"`
	Provider  string    `json:"provider,omitempty"`
	// Job is the job the alert is about, as it was then (no history).
	Job *Job `json:"job,omitempty"`
	// Threshold is set on usage.threshold alerts.
	Threshold *ThresholdCrossing `json:"threshold,omitempty"`
	// Data is a provider event's payload as received.
	Data json.RawMessage `json:"data,omitempty"`
	// Summary is one line a person can read.
	Summary string `json:"summary"`
}

// ThresholdCrossing is a usage threshold's level reached in one window.
type ThresholdCrossing struct {
	Name     string `json:"name"`
	Metric   string `json:"metric"`
	Provider string `json:"provider,omitempty"`
	// Labels restrict the threshold to jobs carrying them.
	Labels map[string]string `json:"labels,omitempty"`
	// Window is hour, day or month (UTC); WindowStart its first instant.
	Window      string    `json:"window"`
	WindowStart time.Time `json:"window_start"`
	Limit       int64     `json:"limit"`
	// Value is the usage in the window when the level was crossed.
	Value int64 `json:"value"`
	// Level is the fraction of Limit crossed (0.8, 1.0).
	Level float64 `json:"level"`
}

// JobwatchAlertTypes are the alert types jobwatch raises itself, as routes
// name them; providers' events add their own types. Config checks route
// events against it, so a type added here is routable at once.
var JobwatchAlertTypes = []string{
	AlertJobSucceeded, AlertJobFailed, AlertJobCancelled, AlertJobExpired, AlertJobPartialFailure,
	AlertJobLost, AlertJobStale, AlertUsageThreshold, TypeProviderAuthFailed,
}
