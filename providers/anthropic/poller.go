package anthropic

import (
	"net/http"

	"github.com/jobwatch/jobwatch/providers"
	"github.com/jobwatch/jobwatch/tracker"
)

// DefaultBaseURL is Anthropic's API root, without the version path.
const DefaultBaseURL = "https://api.anthropic.com"

// APIVersion is the anthropic-version header every request carries: the
// version whose Message Batches object BatchObservation reads.
const APIVersion = "2023-06-01"

// Poller asks Anthropic's API about message batches, the only kind of job it
// has: GET {base}/v1/messages/batches/{id}, mapped by BatchObservation. It
// is safe for concurrent use.
type Poller struct {
	*providers.PathPoller
}

// NewPoller returns a poller of the API at baseURL (DefaultBaseURL when
// empty) that authenticates with apiKey (the x-api-key header) and sends
// its requests through client.
func NewPoller(baseURL, apiKey string, client providers.PollClient) *Poller {
	if baseURL == "" {
		baseURL = DefaultBaseURL
	}
	headers := http.Header{"X-Api-Key": {apiKey}, "Anthropic-Version": {APIVersion}}
	return &Poller{providers.NewPathPoller(baseURL, headers, client, map[tracker.Kind]providers.KindPath{
		tracker.KindBatch: {Path: "/v1/messages/batches/", Observe: BatchObservation},
	})}
}
