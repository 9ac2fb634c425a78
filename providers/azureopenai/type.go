package azureopenai

import (
	"time"

	"github.com/jobwatch/jobwatch/providers"
	"github.com/jobwatch/jobwatch/providers/openai"
	"github.com/jobwatch/jobwatch/tracker"
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
	StuckAfter:    StuckAfter,
	EntraID:       true,
	NewPoller: func(s providers.Settings, client providers.PollClient) (providers.Poller, error) {
		if s.ClientID != "" {
			tokens := EntraTokenSource(s.TenantID, s.ClientID, s.ClientSecret, s.TokenURL)
			return NewEntraPoller(s.Name, s.BaseURL, tokens, client), nil
		}
		return NewPoller(s.BaseURL, s.APIKey, client), nil
	},
}

// StuckAfter are Azure OpenAI's default stuck_after: its batches go through
// OpenAI's statuses, so a batch validating, finalizing or cancelling much
// longer than OpenAI's limits (openai.StuckAfter) is held up at Azure too.
// Fine-tuning jobs have none: Azure's also pass through its earlier API
// versions' words (created, pending), and no limit is known for any of them.
var StuckAfter = map[tracker.Kind]map[string]time.Duration{
	tracker.KindBatch: openai.StuckAfter[tracker.KindBatch],
}
