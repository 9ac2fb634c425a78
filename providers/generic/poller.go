package generic

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"reflect"
	"strings"

	"github.com/jobwatch/jobwatch/providers"
	"github.com/jobwatch/jobwatch/tracker"
)

// idPlaceholder marks where a job's id goes in a Poller's URL template.
const idPlaceholder = "{id}"

// Poller asks a configured provider's API about its jobs, of any kind: one
// URL template, one set of headers, answers mapped by a Parser. It is safe
// for concurrent use.
type Poller struct {
	urlTemplate string
	headers     http.Header
	parser      *Parser
	client      providers.PollClient
}

var _ providers.Poller = (*Poller)(nil)

// NewPoller returns a poller that GETs urlTemplate with every "{id}"
// replaced by the job's id (path-escaped), sends headers as given (they may
// hold credentials: they are never logged or quoted in errors), maps the
// answer with parser.ParseObject and sends its requests through client.
// The template must be an http or https URL holding "{id}". Errors never
// quote the template, which may hold a secret.
func NewPoller(urlTemplate string, headers http.Header, parser *Parser, client providers.PollClient) (*Poller, error) {
	switch {
	case !strings.Contains(urlTemplate, idPlaceholder):
		return nil, errors.New("generic poller: the URL template has no " + idPlaceholder)
	case parser == nil || client == nil || reflect.ValueOf(client).Kind() == reflect.Pointer && reflect.ValueOf(client).IsNil():
		return nil, errors.New("generic poller: a parser and a client are required")
	}
	u, err := url.Parse(strings.ReplaceAll(urlTemplate, idPlaceholder, "id"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("generic poller: the URL template is not an http or https URL")
	}
	return &Poller{urlTemplate: urlTemplate, headers: headers.Clone(), parser: parser, client: client}, nil
}

// Polls implements providers.Poller: every kind, the API being the
// provider's one.
func (p *Poller) Polls(tracker.Kind) bool { return true }

// Poll implements providers.Poller: GET the template's URL for the job,
// mapped by the parser's ParseObject.
func (p *Poller) Poll(ctx context.Context, job tracker.Job) (tracker.Observation, error) {
	u := strings.ReplaceAll(p.urlTemplate, idPlaceholder, url.PathEscape(job.ExternalID))
	return p.client.Poll(ctx, job, u, p.headers, p.parser.ParseObject)
}
