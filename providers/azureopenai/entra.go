package azureopenai

import (
	"context"
	"net/url"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/jobwatch/jobwatch/providers"
	"github.com/jobwatch/jobwatch/tracker"
)

// EntraScope is the OAuth2 scope of the Microsoft Entra ID access tokens
// polls send: Azure AI services (Azure OpenAI among them).
const EntraScope = "https://cognitiveservices.azure.com/.default"

// EntraTokenURL is the Microsoft Entra ID token endpoint of tenantID in the
// public cloud (https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token);
// a sovereign cloud's is set with token_url.
func EntraTokenURL(tenantID string) string {
	return "https://login.microsoftonline.com/" + url.PathEscape(tenantID) + "/oauth2/v2.0/token"
}

// EntraTokenSource returns the access tokens of an application (clientID,
// clientSecret) registered in Microsoft Entra ID, got by the OAuth2
// client-credentials flow at tokenURL (EntraTokenURL(tenantID) when empty)
// for EntraScope. The tokens are reused until shortly before they expire
// (oauth2's expiry delta), and concurrent callers share one refresh. They
// are fetched with providers.TokenContext's client.
func EntraTokenSource(tenantID, clientID, clientSecret, tokenURL string) oauth2.TokenSource {
	if tokenURL == "" {
		tokenURL = EntraTokenURL(tenantID)
	}
	cfg := &clientcredentials.Config{
		ClientID:     clientID,
		ClientSecret: clientSecret,
		TokenURL:     tokenURL,
		Scopes:       []string{EntraScope},
		// Entra ID takes the client's credentials as form fields.
		AuthStyle: oauth2.AuthStyleInParams,
	}
	return cfg.TokenSource(providers.TokenContext())
}

// entraPoller is a Poller that authenticates with a Microsoft Entra ID
// bearer token from tokens rather than the api-key header.
type entraPoller struct {
	*Poller
	provider string
	tokens   oauth2.TokenSource
}

// Poll implements providers.Poller. A token that cannot be had is a
// PollAuth failure (providers.BearerHeader).
func (p *entraPoller) Poll(ctx context.Context, job tracker.Job) (tracker.Observation, error) {
	if !p.Polls(job.Kind) {
		return p.PollWithHeaders(ctx, job, nil)
	}
	headers, err := providers.BearerHeader(p.tokens, p.provider, job)
	if err != nil {
		return tracker.Observation{}, err
	}
	return p.PollWithHeaders(ctx, job, headers)
}

// NewEntraPoller returns a poller of the resource at endpoint (as
// NewPoller's), named provider in errors, that authenticates with
// "Authorization: Bearer" access tokens from tokens (EntraTokenSource) and
// sends its requests through client. It is safe for concurrent use as long
// as tokens is (EntraTokenSource's is).
func NewEntraPoller(provider, endpoint string, tokens oauth2.TokenSource, client providers.PollClient) providers.Poller {
	return &entraPoller{Poller: NewPoller(endpoint, "", client), provider: provider, tokens: tokens}
}
