package vertex

import (
	"errors"
	"fmt"
	"regexp"

	"github.com/jobwatch/jobwatch/providers"
)

// location is a Google Cloud location as it goes in a host name
// ("us-central1", "europe-west4", "global").
var location = regexp.MustCompile(`^[a-z][a-z0-9-]*[a-z0-9]$`)

// project is a Google Cloud project id or number.
var project = regexp.MustCompile(`^[a-z0-9][a-z0-9.:-]*[a-z0-9]$`)

// Type describes Vertex AI to providers/registry: no webhooks, batch
// prediction jobs of one project and location polled with Google
// credentials (credentials_file, else application default credentials) at
// the location's regional API unless base_url is set.
var Type = providers.Type{
	Name:           "vertex",
	OwnCredentials: true,
	Validate: func(s providers.Settings, bad func(table string, err error)) {
		var errs []error
		if !project.MatchString(s.Project) {
			errs = append(errs, fmt.Errorf("project: %q is not a Google Cloud project id (required)", s.Project))
		}
		if !location.MatchString(s.Location) {
			errs = append(errs, fmt.Errorf("location: %q is not a Google Cloud location such as us-central1 (required)", s.Location))
		}
		if err := errors.Join(errs...); err != nil {
			bad("", err)
		}
	},
	NewPoller: func(s providers.Settings, client providers.PollClient) (providers.Poller, error) {
		tokens, err := TokenSource(s.CredentialsFile)
		if err != nil {
			return nil, err
		}
		return NewPoller(s.Name, s.BaseURL, s.Project, s.Location, tokens, client), nil
	},
}
