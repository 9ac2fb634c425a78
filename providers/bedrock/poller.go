package bedrock

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/jobwatch/jobwatch/providers"
	"github.com/jobwatch/jobwatch/tracker"
)

// Service is the name requests are signed for (SigV4's service).
const Service = "bedrock"

// emptyPayloadHash is the SHA-256 of an empty body, hex: a GET's payload
// hash in its signature.
const emptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// credentialsTimeout bounds one retrieval of credentials (an SSO, STS or
// IMDS call), so that an endpoint that never answers does not hold polls
// forever.
const credentialsTimeout = 30 * time.Second

// DefaultBaseURL is Bedrock's control-plane endpoint in region
// ("https://bedrock.us-east-1.amazonaws.com").
func DefaultBaseURL(region string) string {
	return "https://bedrock." + region + ".amazonaws.com"
}

// Poller asks Bedrock about model invocation jobs: GET
// {base}/model-invocation-job/{id}, mapped by JobObservation, signed with
// SigV4 for Service in its region. It is safe for concurrent use: its
// credentials are cached (aws.CredentialsCache), so concurrent polls share
// one retrieval, refreshed before the credentials expire.
type Poller struct {
	provider string
	region   string
	path     *providers.PathPoller
	creds    aws.CredentialsProvider
	signer   *v4.Signer
}

var _ providers.Poller = (*Poller)(nil)

// NewPoller returns a poller of the model invocation jobs of region at
// baseURL (DefaultBaseURL(region) when empty), named provider in errors,
// that sends its requests through client signed with credentials from
// creds. creds is cached (aws.NewCredentialsCache) unless it already is.
func NewPoller(provider, baseURL, region string, creds aws.CredentialsProvider, client providers.PollClient) *Poller {
	if baseURL == "" {
		baseURL = DefaultBaseURL(region)
	}
	if _, ok := creds.(*aws.CredentialsCache); !ok {
		creds = aws.NewCredentialsCache(creds)
	}
	return &Poller{
		provider: provider,
		region:   region,
		path: providers.NewPathPoller(baseURL, nil, client, map[tracker.Kind]providers.KindPath{
			tracker.KindBatch: {Path: "/model-invocation-job/", Observe: JobObservation},
		}),
		creds:  creds,
		signer: v4.NewSigner(),
	}
}

// Polls implements providers.Poller: batch jobs only.
func (p *Poller) Polls(kind tracker.Kind) bool { return p.path.Polls(kind) }

// Poll implements providers.Poller. Credentials that cannot be had (none
// found, or their source refused) are a PollAuth failure, as a 403 is: the
// sweep backs off the whole provider.
func (p *Poller) Poll(ctx context.Context, job tracker.Job) (tracker.Observation, error) {
	u, err := p.path.URL(job)
	if err != nil || u == "" {
		return p.path.PollWithHeaders(ctx, job, nil)
	}
	headers, err := p.sign(ctx, u)
	if err != nil {
		return tracker.Observation{}, &providers.PollError{Class: providers.PollAuth,
			Err: fmt.Errorf("poll %s %s %s: %w", p.provider, job.Kind, job.ExternalID, err)}
	}
	return p.path.PollWithHeaders(ctx, job, headers)
}

// sign returns the headers of a signed GET of u as pollhttp sends it (its
// Accept header included, which is signed): Accept, X-Amz-Date,
// X-Amz-Security-Token for temporary credentials, and Authorization. AWS
// accepts the signature for five minutes: more than a poll's rate-limit
// wait, pause and retries take within pollhttp's default timeout (the sweep
// calls Poll only once a concurrency slot is free).
func (p *Poller) sign(ctx context.Context, u string) (http.Header, error) {
	cctx, cancel := context.WithTimeout(ctx, credentialsTimeout)
	defer cancel()
	creds, err := p.creds.Retrieve(cctx)
	if err != nil {
		return nil, fmt.Errorf("get AWS credentials: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("sign the request: cannot build it")
	}
	req.Header.Set("Accept", "application/json")
	if err := p.signer.SignHTTP(ctx, creds, req, emptyPayloadHash, Service, p.region, time.Now()); err != nil {
		return nil, fmt.Errorf("sign the request: %w", err)
	}
	return req.Header, nil
}

// DefaultCredentials returns the credentials of the AWS SDK's standard
// chain (environment, shared config and credentials files with AWS_PROFILE,
// SSO, web identity, container and EC2 instance roles), cached by the SDK.
// The chain is looked through at the first poll, so a host without
// credentials fails its polls as PollAuth.
func DefaultCredentials(ctx context.Context) (aws.CredentialsProvider, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("load the AWS configuration: %w", err)
	}
	return cfg.Credentials, nil
}
