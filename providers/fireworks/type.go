package fireworks

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/jobwatch/jobwatch/providers"
	"github.com/jobwatch/jobwatch/tracker"
)

// DefaultBaseURL is Fireworks' API root, without "/v1": the job paths,
// /v1/accounts/{account}/batchInferenceJobs/{id}, follow it.
const DefaultBaseURL = "https://api.fireworks.ai"

// Type describes Fireworks to providers/registry: no webhooks, batch
// inference jobs polled at DefaultBaseURL with a bearer api_key, below the
// account the provider's account key names (required).
var Type = providers.Type{
	Name:           "fireworks",
	DefaultBaseURL: DefaultBaseURL,
	Validate: func(s providers.Settings, bad func(table string, err error)) {
		if err := checkAccount(s.Account); err != nil {
			bad("", err)
		}
	},
	NewPoller: func(s providers.Settings, client providers.PollClient) (providers.Poller, error) {
		if err := checkAccount(s.Account); err != nil {
			return nil, err
		}
		return NewPoller(s.BaseURL, s.Account, s.APIKey, client), nil
	},
}

// checkAccount checks a Fireworks account id, as the config's account key
// holds it: required, and one path segment.
func checkAccount(account string) error {
	switch {
	case account == "":
		return errors.New("account: required: the Fireworks account id the job paths name (accounts/{account}/batchInferenceJobs/{id})")
	case url.PathEscape(account) != account || account == "." || account == "..":
		return errors.New("account: must be an account id (letters, digits, '-'), not a path")
	}
	return nil
}

// Poller asks Fireworks' API about batch inference jobs of one account (GET
// {base}/v1/accounts/{account}/batchInferenceJobs/{id}, mapped by
// BatchObservation). It is safe for concurrent use.
type Poller struct {
	*providers.PathPoller
}

// NewPoller returns a poller of the jobs of account at the API at baseURL
// (DefaultBaseURL when empty) that authenticates with apiKey as a bearer
// token and sends its requests through client.
func NewPoller(baseURL, account, apiKey string, client providers.PollClient) *Poller {
	if baseURL == "" {
		baseURL = DefaultBaseURL
	}
	base := strings.TrimRight(baseURL, "/") + "/v1/accounts/" + url.PathEscape(account)
	return &Poller{providers.NewPathPoller(base, http.Header{"Authorization": {"Bearer " + apiKey}}, client, map[tracker.Kind]providers.KindPath{
		tracker.KindBatch: {Path: jobsSegment, Observe: BatchObservation},
	})}
}
