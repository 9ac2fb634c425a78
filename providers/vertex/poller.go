package vertex

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"sync"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"

	"github.com/jobwatch/jobwatch/providers"
	"github.com/jobwatch/jobwatch/tracker"
)

// Scope is the OAuth2 scope the poller's access tokens are asked for.
const Scope = "https://www.googleapis.com/auth/cloud-platform"

// DefaultBaseURL is the regional Vertex AI API root of location, "/v1"
// included ("https://us-central1-aiplatform.googleapis.com/v1"); the global
// location's is "https://aiplatform.googleapis.com/v1".
func DefaultBaseURL(location string) string {
	if location == "global" {
		return "https://aiplatform.googleapis.com/v1"
	}
	return "https://" + location + "-aiplatform.googleapis.com/v1"
}

// Poller asks Vertex AI about batch prediction jobs: GET
// {base}/projects/{project}/locations/{location}/batchPredictionJobs/{id},
// mapped by BatchObservation, with a bearer access token from its token
// source. It is safe for concurrent use: concurrent polls share one token
// and one refresh.
type Poller struct {
	provider string
	path     *providers.PathPoller
	tokens   oauth2.TokenSource
}

var _ providers.Poller = (*Poller)(nil)

// NewPoller returns a poller of the batch prediction jobs of project in
// location at baseURL (DefaultBaseURL(location) when empty), named provider
// in errors, that sends its requests through client with access tokens from
// tokens. tokens is made reusable (oauth2.ReuseTokenSource): a token is
// refreshed once, shortly before it expires, whatever the number of polls.
func NewPoller(provider, baseURL, project, location string, tokens oauth2.TokenSource, client providers.PollClient) *Poller {
	if baseURL == "" {
		baseURL = DefaultBaseURL(location)
	}
	jobs := "/projects/" + url.PathEscape(project) + "/locations/" + url.PathEscape(location) + "/batchPredictionJobs/"
	return &Poller{
		provider: provider,
		path: providers.NewPathPoller(baseURL, nil, client, map[tracker.Kind]providers.KindPath{
			tracker.KindBatch: {Path: jobs, Observe: BatchObservation},
		}),
		tokens: oauth2.ReuseTokenSource(nil, tokens),
	}
}

// Polls implements providers.Poller: batch jobs only.
func (p *Poller) Polls(kind tracker.Kind) bool { return p.path.Polls(kind) }

// Poll implements providers.Poller. A token that cannot be had (the token
// endpoint refused the key, or could not be reached) is a PollAuth failure,
// as a 401 is: the sweep backs off the whole provider.
func (p *Poller) Poll(ctx context.Context, job tracker.Job) (tracker.Observation, error) {
	if !p.Polls(job.Kind) {
		return p.path.PollWithHeaders(ctx, job, nil)
	}
	headers, err := providers.BearerHeader(p.tokens, p.provider, job)
	if err != nil {
		return tracker.Observation{}, err
	}
	return p.path.PollWithHeaders(ctx, job, headers)
}

// TokenSource returns the access tokens of the service-account JSON key at
// credentialsFile, or of Google application default credentials when it is
// "", for Scope. The key file is read now, a fault in it is an error; the
// default credentials are looked for at the first token (and again after a
// failed look), so that a host without them fails its polls as PollAuth.
// Tokens are fetched with a client of its own, bounded by providers.TokenTimeout.
func TokenSource(credentialsFile string) (oauth2.TokenSource, error) {
	ctx := providers.TokenContext()
	if credentialsFile == "" {
		return &defaultCredentials{ctx: ctx}, nil
	}
	key, err := os.ReadFile(credentialsFile)
	if err != nil {
		return nil, fmt.Errorf("read the service-account key: %w", err)
	}
	creds, err := google.CredentialsFromJSONWithType(ctx, key, google.ServiceAccount, Scope)
	if err != nil {
		return nil, fmt.Errorf("load the service-account key %s: %w", credentialsFile, err)
	}
	return creds.TokenSource, nil
}

// defaultCredentials is the token source of Google application default
// credentials, found at its first token.
type defaultCredentials struct {
	ctx context.Context

	mu     sync.Mutex
	tokens oauth2.TokenSource // nil until found
}

// Token implements oauth2.TokenSource.
func (d *defaultCredentials) Token() (*oauth2.Token, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.tokens == nil {
		creds, err := google.FindDefaultCredentials(d.ctx, Scope)
		if err != nil {
			return nil, fmt.Errorf("find Google application default credentials: %w", err)
		}
		d.tokens = creds.TokenSource
	}
	return d.tokens.Token()
}
