package daemon

import (
	"fmt"
	"log/slog"

	"golang.org/x/time/rate"

	"github.com/jobwatch/jobwatch/providers"
	"github.com/jobwatch/jobwatch/providers/generic"
	"github.com/jobwatch/jobwatch/providers/llmtune"
	"github.com/jobwatch/jobwatch/providers/mythicdot"
	"github.com/jobwatch/jobwatch/providers/openai"
	"github.com/jobwatch/jobwatch/providers/signature"
	"github.com/jobwatch/jobwatch/tracker/config"
	"github.com/jobwatch/jobwatch/tracker/ingest"
)

// Parser returns the webhook payload parser of a provider's type.
func Parser(p config.Provider) (providers.Parser, error) {
	switch p.Type {
	case config.TypeOpenAI:
		return openai.WebhookParser{}, nil
	case config.TypeMythicDot:
		return mythicdot.WebhookParser{}, nil
	case config.TypeLLMTune:
		return llmtune.WebhookParser{}, nil
	case config.TypeGeneric:
		return generic.New(p.Generic.GenericConfig())
	}
	return nil, fmt.Errorf("provider %s: no webhook parser for type %q", p.Name, p.Type)
}

// webhookProviders builds the ingest endpoints of every provider with a
// [providers.webhook] table.
func webhookProviders(cfg config.Config, log *slog.Logger) ([]ingest.Provider, error) {
	var out []ingest.Provider
	for _, p := range cfg.Providers {
		w := p.Webhook
		if w == nil {
			continue
		}
		parser, err := Parser(p)
		if err != nil {
			return nil, err
		}
		ip := ingest.Provider{Name: p.Name, Parser: parser, Adopt: w.UnknownJobs == config.UnknownJobsAdopt}
		if w.InsecureSkipVerify {
			log.Warn("webhook signatures are NOT verified for this provider: anyone who can reach /webhooks/"+p.Name+" can change its jobs (insecure_skip_verify = true)", "provider", p.Name)
		} else if ip.Verifier, err = signature.New(w.SignatureConfig()); err != nil {
			return nil, fmt.Errorf("provider %s webhook: %w", p.Name, err)
		}
		if w.RateLimit > 0 {
			ip.Limiter = rate.NewLimiter(rate.Limit(w.RateLimit), w.Burst)
		}
		out = append(out, ip)
	}
	return out, nil
}
