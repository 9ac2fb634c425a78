package openai

import (
	"net/http"

	"github.com/jobwatch/jobwatch/providers"
	"github.com/jobwatch/jobwatch/tracker"
)

// DefaultBaseURL is OpenAI's API root; the object paths follow it.
const DefaultBaseURL = "https://api.openai.com/v1"

// objectPaths are where a job of each kind OpenAI-compatible APIs serve is
// read, below the base URL.
var objectPaths = map[tracker.Kind]string{
	tracker.KindBatch:      "/batches/",
	tracker.KindFineTuning: "/fine_tuning/jobs/",
	tracker.KindResponse:   "/responses/",
}

// evalRunPath is where OpenAI serves an eval run: below its eval,
// /evals/{eval_id}/runs/{run_id}; the eval id is the job's ParentID.
var evalRunPath = providers.KindPath{
	Path: "/evals/", Under: "/runs/", Parent: "eval id",
	Observe: func(body []byte) (tracker.Observation, error) { return ObjectObservation(tracker.KindEvalRun, body) },
}

// Poller asks OpenAI's API, or any OpenAI-compatible one (MythicDot's), about
// batches, fine-tuning jobs and background responses: GET {base}/batches/{id},
// /fine_tuning/jobs/{id} or /responses/{id}, and, on OpenAI's, eval runs:
// GET {base}/evals/{parent_id}/runs/{id}; all mapped by ObjectObservation.
// It is safe for concurrent use.
type Poller struct {
	*providers.PathPoller
}

// NewPoller returns a poller of OpenAI's API at baseURL (DefaultBaseURL
// when empty; "/v1" included, as OpenAI's SDKs spell it) that authenticates
// with apiKey as a bearer token and sends its requests through client. It
// polls eval runs too: those registered with their eval id as parent_id.
func NewPoller(baseURL, apiKey string, client providers.PollClient) *Poller {
	return newPoller(baseURL, apiKey, client, true)
}

// NewCompatiblePoller is NewPoller for an OpenAI-compatible API (MythicDot's)
// that serves batches, fine-tuning jobs and responses but no evals.
func NewCompatiblePoller(baseURL, apiKey string, client providers.PollClient) *Poller {
	return newPoller(baseURL, apiKey, client, false)
}

func newPoller(baseURL, apiKey string, client providers.PollClient, evals bool) *Poller {
	if baseURL == "" {
		baseURL = DefaultBaseURL
	}
	kinds := make(map[tracker.Kind]providers.KindPath, len(objectPaths)+1)
	for kind, path := range objectPaths {
		kinds[kind] = providers.KindPath{Path: path, Observe: func(body []byte) (tracker.Observation, error) {
			return ObjectObservation(kind, body)
		}}
	}
	if evals {
		kinds[tracker.KindEvalRun] = evalRunPath
	}
	return &Poller{providers.NewPathPoller(baseURL, http.Header{"Authorization": {"Bearer " + apiKey}}, client, kinds)}
}
