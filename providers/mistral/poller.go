package mistral

import (
	"net/http"

	"github.com/jobwatch/jobwatch/providers"
	"github.com/jobwatch/jobwatch/tracker"
)

// DefaultBaseURL is Mistral's API root, "/v1" included; the job paths
// follow it.
const DefaultBaseURL = "https://api.mistral.ai/v1"

// Poller asks Mistral's API about batch jobs (GET {base}/batch/jobs/{id},
// mapped by BatchObservation) and fine-tuning jobs (GET
// {base}/fine_tuning/jobs/{id}, mapped by FineTuningObservation). It is
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
		tracker.KindBatch:      {Path: "/batch/jobs/", Observe: BatchObservation},
		tracker.KindFineTuning: {Path: "/fine_tuning/jobs/", Observe: FineTuningObservation},
	})}
}
