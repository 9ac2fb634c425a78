package openai

import (
	"context"
	"net/http"
	"net/url"
	"strings"

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
// batches, fine-tuning jobs and background responses. It is safe for
// concurrent use.
type Poller struct {
	baseURL string
	headers http.Header
	client  providers.PollClient
}

var _ providers.Poller = (*Poller)(nil)

// NewPoller returns a poller of the API at baseURL (DefaultBaseURL when
// empty; "/v1" included, as OpenAI's SDKs spell it) that authenticates with
// apiKey as a bearer token and sends its requests through client.
func NewPoller(baseURL, apiKey string, client providers.PollClient) *Poller {
	if baseURL == "" {
		baseURL = DefaultBaseURL
	}
	return &Poller{
		baseURL: strings.TrimRight(baseURL, "/"),
		headers: http.Header{"Authorization": {"Bearer " + apiKey}},
		client:  client,
	}
}

// Polls implements providers.Poller: batches, fine-tuning jobs and responses.
func (p *Poller) Polls(kind tracker.Kind) bool {
	_, ok := objectPaths[kind]
	return ok
}

// Poll implements providers.Poller: GET {base}/batches/{id},
// /fine_tuning/jobs/{id} or /responses/{id}, mapped by ObjectObservation.
func (p *Poller) Poll(ctx context.Context, job tracker.Job) (tracker.Observation, error) {
	var u string
	if path, ok := objectPaths[job.Kind]; ok {
		u = p.baseURL + path + url.PathEscape(job.ExternalID)
	}
	return p.client.Poll(ctx, job, u, p.headers, func(body []byte) (tracker.Observation, error) {
		return ObjectObservation(job.Kind, body)
	})
}
