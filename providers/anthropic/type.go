package anthropic

import "github.com/jobwatch/jobwatch/providers"

// Type describes Anthropic to providers/registry: no webhooks, message
// batches polled at DefaultBaseURL with the x-api-key header.
var Type = providers.Type{
	Name:           "anthropic",
	DefaultBaseURL: DefaultBaseURL,
	NewPoller: func(s providers.Settings, client providers.PollClient) (providers.Poller, error) {
		return NewPoller(s.BaseURL, s.APIKey, client), nil
	},
}
