package anthropic

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/jobwatch/jobwatch/providers"
	"github.com/jobwatch/jobwatch/tracker"
)

// DefaultBaseURL is Anthropic's API root, without the version path.
const DefaultBaseURL = "https://api.anthropic.com"

// APIVersion is the anthropic-version header every request carries: the
// version whose Message Batches object BatchObservation reads.
const APIVersion = "2023-06-01"

// Poller asks Anthropic's API about message batches, the only kind of job it
// has. It is safe for concurrent use.
type Poller struct {
	baseURL string
	headers http.Header
	client  providers.PollClient
}

var _ providers.Poller = (*Poller)(nil)

// NewPoller returns a poller of the API at baseURL (DefaultBaseURL when
// empty) that authenticates with apiKey (the x-api-key header) and sends
// its requests through client.
func NewPoller(baseURL, apiKey string, client providers.PollClient) *Poller {
	if baseURL == "" {
		baseURL = DefaultBaseURL
	}
	return &Poller{
		baseURL: strings.TrimRight(baseURL, "/"),
		headers: http.Header{"X-Api-Key": {apiKey}, "Anthropic-Version": {APIVersion}},
		client:  client,
	}
}

// Polls implements providers.Poller: batches only.
func (p *Poller) Polls(kind tracker.Kind) bool { return kind == tracker.KindBatch }

// Poll implements providers.Poller: GET {base}/v1/messages/batches/{id},
// mapped by BatchObservation.
func (p *Poller) Poll(ctx context.Context, job tracker.Job) (tracker.Observation, error) {
	var u string
	if p.Polls(job.Kind) {
		u = p.baseURL + "/v1/messages/batches/" + url.PathEscape(job.ExternalID)
	}
	return p.client.Poll(ctx, job, u, p.headers, BatchObservation)
}
