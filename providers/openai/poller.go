package openai

import (
	"net/http"

	"github.com/jobwatch/jobwatch/providers"
	"github.com/jobwatch/jobwatch/tracker"
)

// DefaultBaseURL is OpenAI's API root; the object paths follow it.
const DefaultBaseURL = "https://api.openai.com/v1"

// objectPaths are where a job of each polled kind is read, below the base
// URL. Eval runs are not polled: their path needs the eval's id, which a job
// does not carry.
var objectPaths = map[tracker.Kind]string{
	tracker.KindBatch:      "/batches/",
	tracker.KindFineTuning: "/fine_tuning/jobs/",
	tracker.KindResponse:   "/responses/",
}

// Poller asks OpenAI's API, or any OpenAI-compatible one (MythicDot's), about
// batches, fine-tuning jobs and background responses: GET {base}/batches/{id},
// /fine_tuning/jobs/{id} or /responses/{id}, mapped by ObjectObservation. It
// is safe for concurrent use.
type Poller struct {
	*providers.PathPoller
}

// NewPoller returns a poller of the API at baseURL (DefaultBaseURL when
// empty; "/v1" included, as OpenAI's SDKs spell it) that authenticates with
// apiKey as a bearer token and sends its requests through client.
func NewPoller(baseURL, apiKey string, client providers.PollClient) *Poller {
	if baseURL == "" {
		baseURL = DefaultBaseURL
	}
	kinds := make(map[tracker.Kind]providers.KindPath, len(objectPaths))
	for kind, path := range objectPaths {
		kinds[kind] = providers.KindPath{Path: path, Observe: func(body []byte) (tracker.Observation, error) {
			return ObjectObservation(kind, body)
		}}
	}
	return &Poller{providers.NewPathPoller(baseURL, http.Header{"Authorization": {"Bearer " + apiKey}}, client, kinds)}
}
