package daemon

import (
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/jobwatch/jobwatch/providers"
	"github.com/jobwatch/jobwatch/providers/pollhttp"
	"github.com/jobwatch/jobwatch/providers/signature"
	"github.com/jobwatch/jobwatch/tracker"
	"github.com/jobwatch/jobwatch/tracker/config"
	"github.com/jobwatch/jobwatch/tracker/ingest"
	"github.com/jobwatch/jobwatch/tracker/sweep"
)

// Parser returns the webhook payload parser of a provider's type.
func Parser(p config.Provider) (providers.Parser, error) {
	t, ok := p.ProviderType()
	if !ok || t.NewParser == nil {
		return nil, fmt.Errorf("provider %s: no webhook parser for type %q", p.Name, p.Type)
	}
	parser, err := t.NewParser(p.Settings())
	if err != nil {
		return nil, fmt.Errorf("provider %s: build webhook parser: %w", p.Name, err)
	}
	return parser, nil
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
		switch {
		case w.InsecureSkipVerify:
			log.Warn("webhook signatures are NOT verified for this provider: anyone who can reach /webhooks/"+p.Name+" can change its jobs (insecure_skip_verify = true)", "provider", p.Name)
		case !p.WebhooksOn():
			ip.Verifier = noSecret{}
			log.Warn("webhooks are off for this provider: no signing secret is configured, so /webhooks/"+p.Name+" refuses every delivery (401) until [providers.webhook] secrets holds one", "provider", p.Name)
		default:
			if ip.Verifier, err = signature.New(w.SignatureConfig()); err != nil {
				return nil, fmt.Errorf("provider %s webhook: %w", p.Name, err)
			}
		}
		if w.RateLimit > 0 {
			ip.Limiter = rate.NewLimiter(rate.Limit(w.RateLimit), w.Burst)
		}
		out = append(out, ip)
	}
	return out, nil
}

// noSecret is the verifier of a webhook endpoint with no signing secret:
// it refuses every delivery, signed or not, saying why.
type noSecret struct{}

func (noSecret) Verify(http.Header, []byte, time.Time) error {
	return errors.New("no signing secret is configured for this provider, so its webhooks are off: set one in its [providers.webhook] secrets")
}

// Poller returns the poller of a provider that is polled (config.Provider.Polls).
func Poller(p config.Provider, log *slog.Logger) (providers.Poller, error) {
	poll := p.Poll
	client := pollhttp.New(pollhttp.Config{
		Provider:     p.Name,
		RateLimit:    poll.RateLimit,
		Burst:        poll.Burst,
		Concurrency:  poll.Concurrency,
		MaxRetryWait: poll.MaxRetryWait.D(),
		Retries:      poll.Retries,
		Timeout:      poll.Timeout.D(),
		Logger:       log,
	})
	t, ok := p.ProviderType()
	if !ok || t.NewPoller == nil {
		return nil, fmt.Errorf("provider %s: type %q cannot be polled", p.Name, p.Type)
	}
	poller, err := t.NewPoller(p.Settings(), client)
	if err != nil {
		return nil, fmt.Errorf("provider %s: build poller: %w", p.Name, err)
	}
	return poller, nil
}

// sweepProviders describes every configured provider to the sweep.
func sweepProviders(cfg config.Config, log *slog.Logger) (map[string]sweep.Provider, error) {
	out := map[string]sweep.Provider{}
	for _, p := range cfg.Providers {
		var sp sweep.Provider
		if p.Polls() {
			poller, err := Poller(p, log)
			if err != nil {
				return nil, err
			}
			sp.Poller, sp.Concurrency = poller, p.Poll.Concurrency
		}
		out[p.Name] = sp
	}
	return out, nil
}

// TrackerOptions are the tracker's options from the config: the transition
// rules per provider and kind (a provider with webhooks on awaits the
// webhooks of the ends its polls learn; one that is polled holds the alerts
// of thin ends for the enrichment poll; one that is not makes no job due
// at a thin event), the alerting policy, and the
// configured providers, the only ones Track accepts.
func TrackerOptions(cfg config.Config) tracker.Options {
	byName := map[string]config.Provider{}
	for _, p := range cfg.Providers {
		byName[p.Name] = p
	}
	sw := cfg.Sweep
	rules := func(provider string, kind tracker.Kind) tracker.Rules {
		r := tracker.Rules{
			StaleAfter:       sw.StaleAfter.D(),
			MaxPollInterval:  sw.MaxPollInterval.D(),
			LostPollInterval: sw.LostPollInterval.D(),
			NotFoundLimit:    sw.NotFoundLimit,
			Jitter:           jitter,
		}
		if p, ok := byName[provider]; ok {
			r.StaleAfter = p.StaleAfterFor(kind, sw)
			r.StuckAfter = p.StuckAfterFor(kind)
			if p.WebhooksOn() {
				r.WebhookGrace = p.Webhook.Grace.D()
			}
			if p.Polls() {
				r.EnrichWait = cfg.Alerts.EnrichWait.D()
			} else {
				r.Unpolled = true
			}
		}
		return r
	}
	// The rules are asked for every poll and every applied observation;
	// a configured provider's are built once per kind (they hold a map
	// that would otherwise be built anew each time) and shared, read-only.
	var built sync.Map // ruleKey -> tracker.Rules
	return tracker.Options{Alerting: cfg.Alerting(), Providers: providerNames(cfg), Rules: func(provider string, kind tracker.Kind) tracker.Rules {
		if _, ok := byName[provider]; !ok {
			return rules(provider, kind)
		}
		k := ruleKey{provider, kind}
		if r, ok := built.Load(k); ok {
			return r.(tracker.Rules)
		}
		r := rules(provider, kind)
		built.Store(k, r)
		return r
	}}
}

// ruleKey names the rules of one provider's jobs of one kind.
type ruleKey struct {
	provider string
	kind     tracker.Kind
}

// jitter spreads a poll interval by up to ±10%, so that jobs registered
// together are not polled together forever.
func jitter(d time.Duration) time.Duration {
	return d + time.Duration((rand.Float64()*0.2-0.1)*float64(d))
}
