package together

import (
	"net/http"

	"github.com/jobwatch/jobwatch/providers"
	"github.com/jobwatch/jobwatch/tracker"
)

// DefaultBaseURL is Together's API root, "/v1" included; the job paths
// follow it. Together also serves it as https://api.together.ai/v1.
const DefaultBaseURL = "https://api.together.xyz/v1"

// Type describes Together to providers/registry: no webhooks, batch and
// fine-tuning jobs polled at DefaultBaseURL with a bearer api_key.
var Type = providers.Type{
	Name:           "together",
	DefaultBaseURL: DefaultBaseURL,
	NewPoller: func(s providers.Settings, client providers.PollClient) (providers.Poller, error) {
		return NewPoller(s.BaseURL, s.APIKey, client), nil
	},
}

// Poller asks Together's API about batches (GET {base}/batches/{id}, mapped
// by BatchObservation) and fine-tuning jobs (GET {base}/fine-tunes/{id},
// mapped by FineTuningObservation). It is safe for concurrent use.
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
		tracker.KindBatch:      {Path: "/batches/", Observe: BatchObservation},
		tracker.KindFineTuning: {Path: "/fine-tunes/", Observe: FineTuningObservation},
	})}
}
