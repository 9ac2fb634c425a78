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
	AlertJobStuck          = TypeJobStuck
	AlertJobPartialFailure = "job.partial_failure"
	AlertUsageThreshold    = "usage.threshold"
	// AlertWebhooksSilent: a provider's webhooks stopped arriving; the last
	// Alerting.SilentAfter ends of its jobs were learned by poll, with no
	// webhook within the grace. Raised once per silence.
	AlertWebhooksSilent = "provider.webhooks_silent"
	// AlertWebhooksResumed: a webhook arrived from a provider whose
	// webhooks were silent, ending the silence.
	AlertWebhooksResumed = "provider.webhooks_resumed"
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
	// UsageUnknown is set on the alert of an end whose figures (tokens,
	// request counts, files) the provider had not reported when the alert
	// went out: the enrichment poll did not apply within the enrich wait.
	UsageUnknown bool `json:"usage_unknown,omitempty"`
	// Silence is set on provider.webhooks_silent and
	// provider.webhooks_resumed alerts.
	Silence *WebhookSilence `json:"silence,omitempty"`
	// Summary is one line a person can read.
	Summary string `json:"summary"`
}

// AlertSubject is what an alert is about, as far as the order of delivery
// goes: a notifier delivers the alerts of one subject in the order they
// were raised.
type AlertSubject struct {
	Provider string
	// JobExternalID is the job's id at Provider; "" for an alert about no
	// job, whose subject is then its provider ("" for a threshold over
	// every provider).
	JobExternalID string
}

// Subject is what a is about: its job, or else its provider.
func (a Alert) Subject() AlertSubject {
	s := AlertSubject{Provider: a.Provider}
	if a.Job != nil {
		s.JobExternalID = a.Job.ExternalID
	}
	return s
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
	// Limit and Value are in the metric's unit: nanos of Currency for
	// cost.
	Limit int64 `json:"limit"`
	// Value is the usage in the window when the level was crossed; for a
	// projected cost threshold, with Projected included.
	Value int64 `json:"value"`
	// Currency is the unit of a cost threshold.
	Currency string `json:"currency,omitempty"`
	// Projected is the part of Value that running jobs are projected to
	// cost (Threshold.Projected); 0 when the level was crossed by cost
	// already spent.
	Projected int64 `json:"projected,omitempty"`
	// Level is the fraction of Limit crossed (0.8, 1.0).
	Level float64 `json:"level"`
}

// WebhookSilence is what provider.webhooks_silent and
// provider.webhooks_resumed say of a provider's webhooks.
type WebhookSilence struct {
	// Missed is how many job ends in a row were learned by poll with no
	// webhook within the grace.
	Missed int `json:"missed"`
	// Since is when the silence was declared.
	Since time.Time `json:"since"`
}

// JobwatchAlertTypes are the alert types jobwatch raises itself, as routes
// name them; providers' events add their own types. Config checks route
// events against it, so a type added here is routable at once.
var JobwatchAlertTypes = []string{
	AlertJobSucceeded, AlertJobFailed, AlertJobCancelled, AlertJobExpired, AlertJobPartialFailure,
	AlertJobLost, AlertJobStuck, AlertUsageThreshold, AlertWebhooksSilent, AlertWebhooksResumed, TypeProviderAuthFailed,
}
