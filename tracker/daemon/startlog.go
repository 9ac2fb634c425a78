package daemon

import (
	"log/slog"

	"github.com/jobwatch/jobwatch/tracker/config"
)

// logProviders logs, at start, each configured provider and whether its
// webhooks and its polls are on, saying why when one is off: the first
// thing to check when a provider's jobs do not move.
func logProviders(log *slog.Logger, cfg config.Config) {
	if len(cfg.Providers) == 0 {
		log.Info("no providers configured: nothing is polled, and /webhooks/{name} answers 404")
		return
	}
	for _, p := range cfg.Providers {
		log.Info("provider "+p.Name+": "+webhookState(p)+", "+pollState(p),
			"provider", p.Name, "type", p.Type, "webhooks", p.WebhooksOn(), "polling", p.Polls())
	}
}

// webhookState says whether POST /webhooks/{name} takes the provider's events.
func webhookState(p config.Provider) string {
	t, _ := p.ProviderType()
	switch {
	case p.Webhook == nil && t.NewParser == nil:
		return "webhooks off (" + t.Name + " sends none)"
	case p.Webhook == nil:
		return "webhooks off (no [providers.webhook] table)"
	case p.Webhook.InsecureSkipVerify:
		return "webhooks on, signatures NOT verified (insecure_skip_verify)"
	case !p.WebhooksOn():
		return "webhooks off (no secret)"
	}
	return "webhooks on"
}

// pollState says whether sweeps poll the provider's API.
func pollState(p config.Provider) string {
	t, _ := p.ProviderType()
	switch {
	case p.Polls():
		return "polling on"
	case t.NewPoller == nil:
		return "polling off (" + t.Name + " has no polling API)"
	case t.Mapped:
		return "polling off (no poll.url)"
	}
	return "polling off (no api_key)"
}
