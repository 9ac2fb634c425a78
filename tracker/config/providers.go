package config

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/jobwatch/jobwatch/providers"
	"github.com/jobwatch/jobwatch/providers/registry"
	"github.com/jobwatch/jobwatch/providers/signature"
	"github.com/jobwatch/jobwatch/tracker"
)

// Provider is one [[providers]] entry.
type Provider struct {
	// Name is the provider's name in jobs and in the webhook URL
	// (/webhooks/{name}).
	Name string `toml:"name"`
	// Type says which provider's code speaks for it: a type in
	// providers/registry.
	Type string `toml:"type"`
	// Webhook configures POST /webhooks/{name}; nil: no webhook endpoint.
	Webhook *Webhook `toml:"webhook"`
	// Generic maps a generic provider's JSON by field paths.
	Generic *Generic `toml:"generic"`
	// BaseURL is the provider API's base URL. Default: the type's
	// (providers.Type.DefaultBaseURL); required to poll a type without one.
	BaseURL string `toml:"base_url"`
	// APIKey, when set, turns polling on (it is sent in headers only).
	APIKey Secret `toml:"api_key"`
	// Account is the provider account a type's API paths name (fireworks:
	// /v1/accounts/{account}/...); the type's Validate says whether it is
	// required.
	Account string `toml:"account"`
	// Poll tunes polling; nil: the defaults.
	Poll *Poll `toml:"poll"`
	// Project and Location are the Google Cloud project and region of a
	// vertex provider's jobs.
	Project  string `toml:"project"`
	Location string `toml:"location"`
	// CredentialsFile is the path of a vertex provider's service-account
	// JSON key; empty: Google application default credentials.
	CredentialsFile string `toml:"credentials_file"`
	// Region is the AWS region of a bedrock provider's jobs.
	Region string `toml:"region"`
	// TenantID, ClientID and ClientSecret are a Microsoft Entra ID
	// application whose bearer tokens an azure-openai provider polls with
	// instead of api_key: all three or none.
	TenantID     string `toml:"tenant_id"`
	ClientID     string `toml:"client_id"`
	ClientSecret Secret `toml:"client_secret"`
	// TokenURL is the Entra ID token endpoint (a sovereign cloud's). Default:
	// https://login.microsoftonline.com/{tenant_id}/oauth2/v2.0/token.
	TokenURL string `toml:"token_url"`
	// StuckAfter is, by kind and provider status, how long a live job may
	// stay in that status before it is stuck ([providers.stuck_after.batch]
	// finalizing = "4h"); it overrides the type's defaults
	// (providers.Type.StuckAfter), and "0s" turns one off.
	StuckAfter map[string]map[string]Duration `toml:"stuck_after"`
}

// StuckAfterFor is the provider's stuck_after of its jobs of a kind, by
// provider status: its type's defaults with the configured ones over them;
// nil when there are none.
func (p *Provider) StuckAfterFor(kind tracker.Kind) map[string]time.Duration {
	t, _ := p.ProviderType()
	var out map[string]time.Duration
	set := func(status string, d time.Duration) {
		if out == nil {
			out = map[string]time.Duration{}
		}
		out[status] = d
	}
	for status, d := range t.StuckAfter[kind] {
		set(status, d)
	}
	for status, d := range p.StuckAfter[string(kind)] {
		set(status, d.D())
	}
	return out
}

// Webhook configures how a provider's webhooks are verified and applied.
type Webhook struct {
	// Scheme is standard-webhooks, hmac-sha256-hex or timestamped-hmac.
	// Default: the provider type's own (providers.Type.Scheme); required
	// for a type without one (generic).
	Scheme string `toml:"scheme"`
	// Secrets are the signing secrets; a signature matching any is accepted.
	// Empty ones are dropped; with none the endpoint refuses every delivery
	// (see Provider.WebhooksOn).
	Secrets []Secret `toml:"secrets"`
	// Tolerance is how far a signed timestamp may be from now, either way.
	// Default 5m.
	Tolerance Duration `toml:"tolerance"`
	// SignatureHeader carries the signature (hmac schemes). Default: the
	// provider type's (providers.Type.SignatureHeader);
	// timestamped-hmac without timestamp_header reads Stripe-Signature.
	SignatureHeader string `toml:"signature_header"`
	// TimestampHeader carries the timestamp (timestamped-hmac with a
	// separate header, e.g. X-OpenAI-Timestamp).
	TimestampHeader string `toml:"timestamp_header"`
	// UnknownJobs is what an event about an untracked job does: "adopt"
	// (create the job, the default) or "record" (store the delivery only).
	UnknownJobs string `toml:"unknown_jobs"`
	// InsecureSkipVerify accepts unsigned webhooks. A warning is logged at
	// every start. Never use it on an endpoint reachable from outside.
	InsecureSkipVerify bool `toml:"insecure_skip_verify"`
	// RateLimit caps accepted requests per second (429 above it); 0: none.
	RateLimit float64 `toml:"rate_limit"`
	// Burst is how many requests may arrive at once above RateLimit.
	// Default: RateLimit rounded up, at least 1.
	Burst int `toml:"burst"`
	// Grace is how long after a job's end (the provider's end time, else the
	// poll's) its webhook may still arrive when a poll learned the end
	// first; past it, job.webhook_missed is recorded. Default 10m.
	Grace Duration `toml:"grace"`
	// SilentAfter is how many job ends in a row learned by poll with no
	// webhook raise provider.webhooks_silent. Default 3.
	SilentAfter int `toml:"silent_after"`
}

// Generic maps a provider's JSON to jobwatch's fields by dot paths
// ("data.batch_id").
type Generic struct {
	EventID    string `toml:"event_id"`
	EventType  string `toml:"event_type"`
	JobID      string `toml:"job_id"`
	Status     string `toml:"status"`
	OccurredAt string `toml:"occurred_at"`
	// Model is the path of the model the job runs on; optional.
	Model string `toml:"model"`
	// Kind is the kind of the provider's jobs. Default "batch".
	Kind string `toml:"kind"`
	// StatusMap maps the provider's status words to normalized statuses.
	StatusMap map[string]string `toml:"status_map"`
	// Usage maps usage fields (input_tokens, total_tokens, requests_failed,
	// ...) to paths of numbers.
	Usage map[string]string `toml:"usage"`
}

// Unknown-job policies.
const (
	UnknownJobsAdopt  = "adopt"
	UnknownJobsRecord = "record"
)

// ProviderType returns the provider's type as providers/registry describes
// it; false for a type jobwatch has no code for (a config error).
func (p *Provider) ProviderType() (providers.Type, bool) {
	return registry.Lookup(p.Type)
}

// Settings are the provider's entry as its type's functions take them, its
// secrets revealed: to hand to those functions only.
func (p *Provider) Settings() providers.Settings {
	s := providers.Settings{Name: p.Name, BaseURL: p.BaseURL, APIKey: p.APIKey.Reveal(), Account: p.Account,
		Project: p.Project, Location: p.Location, CredentialsFile: p.CredentialsFile, Region: p.Region,
		TenantID: p.TenantID, ClientID: p.ClientID, ClientSecret: p.ClientSecret.Reveal(), TokenURL: p.TokenURL}
	if p.Generic != nil {
		m := p.Generic.GenericConfig()
		s.Mapping = &m
	}
	if poll := p.Poll; poll != nil {
		s.PollURL = poll.URL
		s.PollHeaders = http.Header{}
		for k, v := range poll.Headers {
			s.PollHeaders.Set(k, v.Reveal())
		}
		if p.Generic != nil {
			m := p.PollGenericConfig()
			s.PollMapping = &m
		}
	}
	return s
}

// entraKeys reports whether any of the provider's Microsoft Entra ID keys
// (tenant_id, client_id, client_secret) is set.
func (p *Provider) entraKeys() bool {
	return p.TenantID != "" || p.ClientID != "" || p.ClientSecret != ""
}

// hasPollKey reports whether the provider has a credential of the config's
// to poll with: api_key, or Microsoft Entra ID keys.
func (p *Provider) hasPollKey() bool {
	return p.APIKey != "" || p.entraKeys()
}

func (p *Provider) applyDefaults() {
	t, _ := p.ProviderType()
	setDefault(&p.BaseURL, t.DefaultBaseURL)
	if p.Poll == nil && (p.hasPollKey() || t.OwnCredentials) {
		p.Poll = &Poll{}
	}
	if p.Poll != nil {
		p.Poll.applyDefaults()
	}
	if w := p.Webhook; w != nil {
		// An empty secret is none: "${OPENAI_WEBHOOK_SECRET:-}" unset.
		w.Secrets = slices.DeleteFunc(w.Secrets, func(s Secret) bool { return s == "" })
		if t.Scheme != "" && w.Scheme == "" {
			w.Scheme = t.Scheme
			setDefault(&w.SignatureHeader, t.SignatureHeader)
		}
		setDefault(&w.UnknownJobs, UnknownJobsAdopt)
		setDefault(&w.Grace, Duration(10*time.Minute))
		setDefault(&w.SilentAfter, tracker.DefaultSilentAfter)
		if w.Burst == 0 && w.RateLimit > 0 {
			w.Burst = max(1, int(w.RateLimit+0.999))
		}
	}
}

// SignatureConfig is the webhook's scheme as package signature takes it.
func (w *Webhook) SignatureConfig() signature.Config {
	secrets := make([]string, len(w.Secrets))
	for i, s := range w.Secrets {
		secrets[i] = s.Reveal()
	}
	return signature.Config{
		Scheme:          w.Scheme,
		Secrets:         secrets,
		Tolerance:       w.Tolerance.D(),
		SignatureHeader: w.SignatureHeader,
		TimestampHeader: w.TimestampHeader,
	}
}

// GenericConfig is the field mapping as package generic takes it.
func (g *Generic) GenericConfig() providers.Mapping {
	c := providers.Mapping{
		EventID: g.EventID, EventType: g.EventType, JobID: g.JobID, Status: g.Status, OccurredAt: g.OccurredAt,
		Model: g.Model, Kind: tracker.Kind(g.Kind), Usage: g.Usage,
	}
	if g.StatusMap != nil {
		c.StatusMap = make(map[string]tracker.Status, len(g.StatusMap))
		for k, v := range g.StatusMap {
			c.StatusMap[k] = tracker.Status(v)
		}
	}
	return c
}

func (p *Provider) validate(key string, bad func(key, format string, args ...any)) {
	if err := tracker.ValidateProvider(p.Name); err != nil {
		bad(key+".name", "%q is not a provider name (lower-case letters, digits, '_', '-', '.'; at most 64)", p.Name)
	}
	t, typeOK := p.ProviderType()
	if !typeOK {
		bad(key+".type", "%q is not a provider type (want %s)", p.Type, strings.Join(registry.Names(), ", "))
	}
	for _, kind := range slices.Sorted(maps.Keys(p.StuckAfter)) {
		if tracker.ValidateKind(tracker.Kind(kind)) != nil {
			bad(key+".stuck_after."+kind, "%q is not a kind", kind)
		}
		for _, status := range slices.Sorted(maps.Keys(p.StuckAfter[kind])) {
			if p.StuckAfter[kind][status] < 0 {
				bad(key+".stuck_after."+kind+"."+status, "must not be negative (\"0s\" turns it off)")
			}
		}
	}
	switch {
	case t.Mapped && p.Generic == nil:
		bad(key+".generic", "required for type %s (the field paths of its JSON)", t.Name)
	case !t.Mapped && p.Generic != nil:
		bad(key+".generic", "only for a type configured by field paths (generic)")
	}
	if t.Validate != nil {
		t.Validate(p.Settings(), func(table string, err error) {
			if table == "" {
				reportPrefixed(key, err, bad)
				return
			}
			reportPrefixed(key+"."+table, err, bad)
		})
	}
	p.validatePolling(t, key, bad)
	w := p.Webhook
	if w == nil {
		return
	}
	wkey := key + ".webhook"
	if w.UnknownJobs != UnknownJobsAdopt && w.UnknownJobs != UnknownJobsRecord {
		bad(wkey+".unknown_jobs", "%q is not a policy (want adopt or record)", w.UnknownJobs)
	}
	if w.RateLimit < 0 || w.Burst < 0 {
		bad(wkey+".rate_limit", "must not be negative")
	}
	if w.Grace < 0 {
		bad(wkey+".grace", "must not be negative")
	}
	if w.SilentAfter < 1 || w.SilentAfter > 1000 {
		bad(wkey+".silent_after", "%d is out of range (1 to 1000)", w.SilentAfter)
	}
	if w.InsecureSkipVerify && len(w.Secrets) == 0 {
		return
	}
	sc := w.SignatureConfig()
	if len(sc.Secrets) == 0 {
		// Webhooks off until a secret is set (WebhooksOn); the rest of the
		// scheme must be right for that day, so check it with a stand-in.
		sc.Secrets = []string{schemeCheckSecret}
	}
	if _, err := signature.New(sc); err != nil {
		reportPrefixed(wkey, err, bad)
	}
}

// schemeCheckSecret is a secret every scheme accepts (standard-webhooks'
// whsec_ form of 24 bytes), to validate a scheme configured without one.
const schemeCheckSecret = "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

// WebhooksOn reports whether the provider's webhook endpoint accepts
// deliveries: it has a signing secret, or insecure_skip_verify. A
// [providers.webhook] table with no secret (or only empty ones, as an unset
// "${VAR:-}" gives) keeps its endpoint, which refuses every delivery until
// a secret is set.
func (p *Provider) WebhooksOn() bool {
	w := p.Webhook
	return w != nil && (len(w.Secrets) > 0 || w.InsecureSkipVerify)
}

// reportPrefixed reports each line of err under key; the errors of package
// signature and of a type's Validate already start with their own field
// name.
func reportPrefixed(key string, err error, bad func(key, format string, args ...any)) {
	var joined interface{ Unwrap() []error }
	errs := []error{err}
	if errors.As(err, &joined) {
		errs = joined.Unwrap()
	}
	for _, e := range errs {
		field, msg, ok := strings.Cut(e.Error(), ": ")
		if !ok {
			bad(key, "%s", e.Error())
			continue
		}
		bad(key+"."+field, "%s", msg)
	}
}

// Provider returns the provider entry of that name.
func (c *Config) Provider(name string) (*Provider, bool) {
	for i := range c.Providers {
		if c.Providers[i].Name == name {
			return &c.Providers[i], true
		}
	}
	return nil, false
}

func (c *Config) validateProviders(bad func(key, format string, args ...any)) {
	seen := map[string]bool{}
	for i := range c.Providers {
		p := &c.Providers[i]
		key := fmt.Sprintf("providers[%d]", i)
		p.validate(key, bad)
		if seen[p.Name] {
			bad(key+".name", "%q is used by an earlier provider", p.Name)
		}
		seen[p.Name] = true
	}
}
