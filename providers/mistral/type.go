package mistral

import "github.com/jobwatch/jobwatch/providers"

// Type describes Mistral to providers/registry: no webhooks, batch and
// fine-tuning jobs polled at DefaultBaseURL with a bearer api_key.
var Type = providers.Type{
	Name:           "mistral",
	DefaultBaseURL: DefaultBaseURL,
	NewPoller: func(s providers.Settings, client providers.PollClient) (providers.Poller, error) {
		return NewPoller(s.BaseURL, s.APIKey, client), nil
	},
}
