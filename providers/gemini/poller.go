package gemini

import (
	"net/http"

	"github.com/jobwatch/jobwatch/providers"
	"github.com/jobwatch/jobwatch/tracker"
)

// DefaultBaseURL is the Gemini API's root, "/v1beta" included; the batch
// path follows it.
const DefaultBaseURL = "https://generativelanguage.googleapis.com/v1beta"

// Poller asks the Gemini API about batches (GET {base}/batches/{id},
// batches.get, mapped by BatchObservation). It is safe for concurrent use.
type Poller struct {
	*providers.PathPoller
}

// NewPoller returns a poller of the API at baseURL (DefaultBaseURL when
// empty) that authenticates with apiKey in the x-goog-api-key header (never
// in the URL's key parameter, which logs would show) and sends its requests
// through client. A job's id is the batch's id, without "batches/".
func NewPoller(baseURL, apiKey string, client providers.PollClient) *Poller {
	if baseURL == "" {
		baseURL = DefaultBaseURL
	}
	return &Poller{providers.NewPathPoller(baseURL, http.Header{"X-Goog-Api-Key": {apiKey}}, client, map[tracker.Kind]providers.KindPath{
		tracker.KindBatch: {Path: "/" + namePrefix, Observe: BatchObservation},
	})}
}
