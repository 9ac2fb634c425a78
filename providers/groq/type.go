// Package groq polls Groq's batch API, an OpenAI-compatible one: its batch
// object is OpenAI's (the same statuses, request_counts and file ids), so
// it is mapped by openai.ObjectObservation. Groq sends no webhooks.
package groq

import (
	"net/http"

	"github.com/jobwatch/jobwatch/providers"
	"github.com/jobwatch/jobwatch/providers/openai"
	"github.com/jobwatch/jobwatch/tracker"
)

// DefaultBaseURL is Groq's OpenAI-compatible API root, "/openai/v1"
// included; the batch path follows it.
const DefaultBaseURL = "https://api.groq.com/openai/v1"

// Type describes Groq to providers/registry: no webhooks, batches polled at
// DefaultBaseURL with a bearer api_key.
var Type = providers.Type{
	Name:           "groq",
	DefaultBaseURL: DefaultBaseURL,
	NewPoller: func(s providers.Settings, client providers.PollClient) (providers.Poller, error) {
		return NewPoller(s.BaseURL, s.APIKey, client), nil
	},
}

// Poller asks Groq's API about batches (GET {base}/batches/{id}, mapped as
// an OpenAI batch: validating is pending; in_progress, finalizing and
// cancelling running; completed, failed, expired and cancelled the ends,
// with request_failure on a completed batch with failed requests). Groq
// runs no fine-tuning or background responses jobwatch could poll. It is
// safe for concurrent use.
type Poller struct {
	*providers.PathPoller
}

// NewPoller returns a poller of the API at baseURL (DefaultBaseURL when
// empty) that authenticates with apiKey as a bearer token and sends its
// requests through client.
func NewPoller(baseURL, apiKey string, client providers.PollClient) *Poller {
	if baseURL == "" {
		baseURL = DefaultBaseURL
	}
	return &Poller{providers.NewPathPoller(baseURL, http.Header{"Authorization": {"Bearer " + apiKey}}, client, map[tracker.Kind]providers.KindPath{
		tracker.KindBatch: {Path: "/batches/", Observe: BatchObservation},
	})}
}

// BatchObservation maps a batch, as GET {base}/batches/{id} returns it, to
// an observation: openai.ObjectObservation of a batch (Usage from
// request_counts, Details output_file_id, error_file_id, the first error's
// code and message, request_failure). A malformed body is a
// *providers.PayloadError.
func BatchObservation(body []byte) (tracker.Observation, error) {
	return openai.ObjectObservation(tracker.KindBatch, body)
}
