package providers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"golang.org/x/oauth2"

	"github.com/jobwatch/jobwatch/tracker"
)

// TokenTimeout bounds one request for an OAuth2 access token, so that a
// token endpoint that never answers does not hold polls forever.
const TokenTimeout = 30 * time.Second

// TokenContext is the context an OAuth2 token source of a poller fetches
// its tokens with: a client of its own, bounded by TokenTimeout, that does
// not follow redirects.
func TokenContext() context.Context {
	return context.WithValue(context.Background(), oauth2.HTTPClient, &http.Client{
		Timeout:       TokenTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	})
}

// BearerHeader is the Authorization header of a poll of job by provider,
// with an access token from tokens. A token that cannot be had (the token
// endpoint refused the credentials, or could not be reached) is a PollAuth
// failure, as a 401 is: the sweep backs off the whole provider. The error
// tells neither the token endpoint's answer body nor the credentials.
func BearerHeader(tokens oauth2.TokenSource, provider string, job tracker.Job) (http.Header, error) {
	tok, err := tokens.Token()
	if err != nil {
		return nil, &PollError{Class: PollAuth,
			Err: fmt.Errorf("poll %s %s %s: get an access token: %w", provider, job.Kind, job.ExternalID, tokenError(err))}
	}
	return http.Header{"Authorization": {"Bearer " + tok.AccessToken}}, nil
}

// tokenError is err, a failure to get a token, told without the token
// endpoint's answer body (it may echo the credentials or a signed
// assertion).
func tokenError(err error) error {
	if re, ok := errors.AsType[*oauth2.RetrieveError](err); ok {
		msg := "the token endpoint refused"
		if re.Response != nil {
			msg = "the token endpoint answered " + re.Response.Status
		}
		if re.ErrorCode != "" {
			msg += " (" + re.ErrorCode + ")"
		}
		return errors.New(msg)
	}
	return err
}
