package pollhttp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/jobwatch/jobwatch/providers"
	"github.com/jobwatch/jobwatch/tracker"
)

// Poll is the body of every providers.Poller: it GETs url with headers,
// parses the answer with parse and checks that it is about job. The
// observation has Payload set to the answer's body; Provider, Source and
// OccurredAt are left to the caller. An empty url means the poller does not
// poll jobs of job's kind.
//
// A failure is a *providers.PollError whose Err starts with the action,
// "poll <provider> <kind> <id>: ...": Get's classes; PollInvalid for a job id
// that cannot be polled, an answer parse rejects, or one about another job.
func (c *Client) Poll(ctx context.Context, job tracker.Job, url string, headers http.Header, parse func(body []byte) (tracker.Observation, error)) (tracker.Observation, error) {
	action := fmt.Sprintf("poll %s %s %s", c.provider, job.Kind, job.ExternalID)
	invalid := func(err error) error {
		return &providers.PollError{Class: providers.PollInvalid, Err: fmt.Errorf("%s: %w", action, err)}
	}
	if err := tracker.ValidateExternalID(job.ExternalID); err != nil {
		return tracker.Observation{}, invalid(err)
	}
	if job.ExternalID == "." || job.ExternalID == ".." {
		return tracker.Observation{}, invalid(errors.New("id: a path step, not an id"))
	}
	if url == "" {
		return tracker.Observation{}, invalid(fmt.Errorf("the %s API has no endpoint for kind %s", c.provider, job.Kind))
	}
	body, err := c.Get(ctx, url, headers)
	if err != nil {
		if pe, ok := errors.AsType[*providers.PollError](err); ok {
			wrapped := *pe
			wrapped.Err = fmt.Errorf("%s: %w", action, pe.Err)
			return tracker.Observation{}, &wrapped
		}
		return tracker.Observation{}, &providers.PollError{Class: providers.PollTransient, Err: fmt.Errorf("%s: %w", action, err)}
	}
	obs, err := parse(body)
	if err != nil {
		return tracker.Observation{}, invalid(fmt.Errorf("answer: %w", err))
	}
	if obs.ExternalID != job.ExternalID {
		return tracker.Observation{}, invalid(fmt.Errorf("answer is about %q", obs.ExternalID))
	}
	obs.Payload = json.RawMessage(body)
	return obs, nil
}

var _ providers.PollClient = (*Client)(nil)
