package azureopenai

import (
	"net/http"
	"strings"

	"github.com/jobwatch/jobwatch/providers"
	"github.com/jobwatch/jobwatch/tracker"
)

// apiPath is the v1 API's root below a resource endpoint; the v1 API takes
// no api-version.
const apiPath = "/openai/v1"

// Poller asks an Azure OpenAI resource about batches (GET
// {endpoint}/openai/v1/batches/{id}, mapped by BatchObservation) and
// fine-tuning jobs (GET {endpoint}/openai/v1/fine_tuning/jobs/{id}, mapped by
// FineTuningObservation). It is safe for concurrent use.
type Poller struct {
	*providers.PathPoller
}

// NewPoller returns a poller of the resource at endpoint
// ("https://RESOURCE.openai.azure.com"; one that already ends in
// /openai/v1 is taken as well) that authenticates with apiKey in the api-key
// header and sends its requests through client.
func NewPoller(endpoint, apiKey string, client providers.PollClient) *Poller {
	base := strings.TrimSuffix(strings.TrimRight(endpoint, "/"), apiPath) + apiPath
	return &Poller{providers.NewPathPoller(base, http.Header{"Api-Key": {apiKey}}, client, map[tracker.Kind]providers.KindPath{
		tracker.KindBatch:      {Path: "/batches/", Observe: BatchObservation},
		tracker.KindFineTuning: {Path: "/fine_tuning/jobs/", Observe: FineTuningObservation},
	})}
}
