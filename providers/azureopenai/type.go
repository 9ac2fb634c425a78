package azureopenai

import (
	"time"

	"github.com/jobwatch/jobwatch/providers"
)

// MinStaleAfter is the least stale_after of an azure-openai provider's
// jobs: Azure asks for at least 60 s between two polls of one batch, and the
// sweep spreads poll intervals by up to 10% either way, so twice that keeps
// every interval above it.
const MinStaleAfter = 2 * time.Minute

// Type describes Azure OpenAI to providers/registry: no webhooks, batch and
// fine-tuning jobs polled below the resource endpoint, which base_url must
// give (there is no default), never more often than MinStaleAfter, with the
// api-key header or, when the Entra ID keys are set, a Microsoft Entra ID
// bearer token (EntraTokenSource).
var Type = providers.Type{
	Name:          "azure-openai",
	MinStaleAfter: MinStaleAfter,
	EntraID:       true,
	NewPoller: func(s providers.Settings, client providers.PollClient) (providers.Poller, error) {
		if s.ClientID != "" {
			tokens := EntraTokenSource(s.TenantID, s.ClientID, s.ClientSecret, s.TokenURL)
			return NewEntraPoller(s.Name, s.BaseURL, tokens, client), nil
		}
		return NewPoller(s.BaseURL, s.APIKey, client), nil
	},
}
