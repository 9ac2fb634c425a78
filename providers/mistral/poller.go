package mistral

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/jobwatch/jobwatch/providers"
	"github.com/jobwatch/jobwatch/tracker"
)

// DefaultBaseURL is Mistral's API root, "/v1" included; the job paths
// follow it.
const DefaultBaseURL = "https://api.mistral.ai/v1"

// jobs are where a job of each polled kind is read, below the base URL, and
// how its answer is mapped.
var jobs = map[tracker.Kind]struct {
	path    string
	observe func([]byte) (tracker.Observation, error)
}{
	tracker.KindBatch:      {"/batch/jobs/", BatchObservation},
	tracker.KindFineTuning: {"/fine_tuning/jobs/", FineTuningObservation},
}

// Poller asks Mistral's API about batch and fine-tuning jobs. It is safe for
// concurrent use.
type Poller struct {
	baseURL string
	headers http.Header
	client  providers.PollClient
}

var _ providers.Poller = (*Poller)(nil)

// NewPoller returns a poller of the API at baseURL (DefaultBaseURL when
// empty) that authenticates with apiKey as a bearer token and sends its
// requests through client.
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

// Polls implements providers.Poller: batches and fine-tuning jobs.
func (p *Poller) Polls(kind tracker.Kind) bool {
	_, ok := jobs[kind]
	return ok
}

// Poll implements providers.Poller: GET {base}/batch/jobs/{id} or
// /fine_tuning/jobs/{id}, mapped by BatchObservation or
// FineTuningObservation.
func (p *Poller) Poll(ctx context.Context, job tracker.Job) (tracker.Observation, error) {
	j, ok := jobs[job.Kind]
	if !ok {
		// An empty URL: the client answers that the kind is not polled.
		return p.client.Poll(ctx, job, "", p.headers, nil)
	}
	return p.client.Poll(ctx, job, p.baseURL+j.path+url.PathEscape(job.ExternalID), p.headers, j.observe)
}
