package providers

import (
	"context"
	"net/http"
	"time"

	"github.com/jobwatch/jobwatch/tracker"
)

// Type is one provider type, described once by its own package (openai.Type,
// anthropic.Type, ...) and listed in providers/registry: its name in the
// config's providers[].type, its defaults, and how its config is checked and
// its parser, poller and sample events are made. The config loader, the
// daemon and the command look a type up in the registry and never name one.
type Type struct {
	// Name is the type's name in providers[].type.
	Name string
	// DefaultBaseURL is the API a provider of this type polls when its
	// base_url is not set; "": base_url is required to poll.
	DefaultBaseURL string
	// MinStaleAfter is the least time the provider tolerates between two
	// polls of one job: a provider's stale_after (the first poll interval,
	// which later ones double) is never shorter, and a shorter one configured
	// for it is refused; 0: no floor.
	MinStaleAfter time.Duration
	// StuckAfter are the type's default stuck_after, by kind and provider
	// status: how long a live job may stay in that status before it is
	// stuck (job.stuck); a provider's [providers.stuck_after.<kind>]
	// overrides them. nil: none.
	StuckAfter map[tracker.Kind]map[string]time.Duration
	// Scheme and SignatureHeader are the webhook signature scheme (a
	// signature.Scheme* name) and header a [providers.webhook] table gets
	// when it sets no scheme; Scheme "": the table must set one.
	Scheme, SignatureHeader string
	// EventTypes are the webhook event types the provider sends, which
	// routes and send-test-event may name; nil for a type that sends none or
	// whose types are its configuration's (Mapped).
	EventTypes []string
	// Mapped is true for a type configured by field paths (generic): it
	// takes a [providers.generic] table and [providers.poll] url, headers
	// and paths, and its event types are whatever its payloads hold.
	Mapped bool
	// OwnCredentials is true for a type whose polls authenticate with
	// credentials of its own kind rather than api_key (vertex: Google
	// application default credentials or a service-account key file): a
	// provider of the type is polled whenever it is configured, and api_key
	// is refused.
	OwnCredentials bool
	// EntraID is true for a type whose polls may authenticate with a
	// Microsoft Entra ID application's client credentials (tenant_id,
	// client_id, client_secret) instead of api_key (azure-openai); the config
	// refuses those keys for other types.
	EntraID bool
	// Validate checks what only this type knows of a provider's settings,
	// reporting each fault with the config table it is in, below the
	// provider's entry ("generic", "poll"), and an error whose lines start
	// with the key in that table ("job_id: required"); table "" is the
	// provider's entry itself ("account: required"); nil: nothing to check.
	Validate func(s Settings, bad func(table string, err error))
	// NewParser returns the webhook parser of a provider; nil: the type
	// sends no webhooks (its jobs are polled).
	NewParser func(s Settings) (Parser, error)
	// NewPoller returns the poller of a provider, which sends its requests
	// through client; nil: jobwatch has no poller of the type's API (its
	// jobs are resolved by webhook).
	NewPoller func(s Settings, client PollClient) (Poller, error)
	// SampleEvent returns a realistic webhook body of event type typ about
	// the job jobID, with event id eventID (where the type's events carry
	// one) sent at now, as a provider dashboard's "Send Test Event" button
	// would send it; nil when NewParser is.
	SampleEvent func(s Settings, typ, jobID, eventID string, now time.Time) ([]byte, error)
}

// Settings are one configured provider as its type's functions take them:
// the config's [[providers]] entry with its defaults applied and its
// secrets revealed.
type Settings struct {
	// Name is the provider's name in jobs and in /webhooks/{name}.
	Name string
	// BaseURL is the API's base URL: the configured one, else the type's
	// DefaultBaseURL.
	BaseURL string
	// APIKey is the credential polls send; "" when polling is off (or, for
	// an EntraID type, when it polls with Entra ID tokens).
	APIKey string
	// Account is the provider account the type's API paths name (the
	// config's account key); "" when not set.
	Account string
	// Mapping is a Mapped type's [providers.generic] table; nil when absent.
	Mapping *Mapping
	// PollMapping maps a Mapped type's poll answers: Mapping with the paths
	// [providers.poll] overrides; nil without both tables.
	PollMapping *Mapping
	// PollURL is a Mapped type's job URL, with {id} for the job's id.
	PollURL string
	// PollHeaders are sent with a Mapped type's polls (they may hold
	// credentials).
	PollHeaders http.Header
	// Project and Location name a Google Cloud project and region (vertex:
	// where its batch prediction jobs run); "" for other types.
	Project, Location string
	// CredentialsFile is the path of a Google service-account JSON key
	// (vertex); "": application default credentials.
	CredentialsFile string
	// Region is the AWS region of a bedrock provider's jobs ("us-east-1");
	// "" for other types.
	Region string
	// TenantID, ClientID and ClientSecret are the Microsoft Entra ID
	// application whose access tokens an EntraID type's polls send; "" when
	// it polls with APIKey.
	TenantID, ClientID, ClientSecret string
	// TokenURL is the Entra ID token endpoint; "": the public cloud's for
	// TenantID.
	TokenURL string
}

// Mapping maps a provider's JSON to an observation by field paths:
// dot-separated object keys ("data.batch_id"). The toml tags are the config
// keys a Mapped type's errors name.
type Mapping struct {
	// EventID is the path of the event id; empty: derive one from the content
	// ("generic_" and a SHA-256 of the whole compacted body), so that a
	// redelivery of the same body dedupes.
	EventID string `toml:"event_id"`
	// EventType is the path of the event type; optional.
	EventType string `toml:"event_type"`
	// JobID is the path of the job id (a string, or an integer number);
	// required.
	JobID string `toml:"job_id"`
	// Status is the path of the provider's status word; required.
	Status string `toml:"status"`
	// OccurredAt is the path of the event time: an RFC 3339 string or a unix
	// seconds number; optional (a zero time when absent).
	OccurredAt string `toml:"occurred_at"`
	// Model is the path of the model the job runs on (a string; its
	// resource path, if any, is dropped: payload.ModelName); optional.
	Model string `toml:"model"`
	// Kind is the kind of jobs this provider runs; default "batch".
	Kind tracker.Kind `toml:"kind"`
	// StatusMap maps a provider status word to a normalized status. Unmapped
	// words are unknown: the observation's Status is empty (the job keeps its
	// status) and the word is kept verbatim as ProviderStatus.
	StatusMap map[string]tracker.Status `toml:"status_map"`
	// Usage maps a usage field name (input_tokens, cached_input_tokens,
	// output_tokens, total_tokens, trained_tokens, requests_total,
	// requests_completed, requests_failed: tracker.UsageFields) to the path of a
	// non-negative integer. An absent or null value leaves the figure out; a
	// number that is no count (negative, fractional, beyond int64) is left
	// out too, and noted in the observation's DroppedUsage.
	Usage map[string]string `toml:"usage"`
}

// PollClient sends a poller's requests: pollhttp.Client, with its retries,
// Retry-After, rate and concurrency limits. Poll GETs url with headers,
// parses the answer with parse and checks that it is about job; an empty url
// means the poller does not poll jobs of job's kind (see pollhttp.Client.Poll).
type PollClient interface {
	Poll(ctx context.Context, job tracker.Job, url string, headers http.Header, parse func(body []byte) (tracker.Observation, error)) (tracker.Observation, error)
}
