package providers

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/jobwatch/jobwatch/tracker"
)

// PathPoller is the poller of an API that serves each polled kind of job at
// a path of its own below one base URL, {base}{path}{id}, with the same
// headers on every request: OpenAI's, Anthropic's and Mistral's pollers are
// one each. It is safe for concurrent use.
type PathPoller struct {
	baseURL string
	headers http.Header
	client  PollClient
	kinds   map[tracker.Kind]KindPath
}

var _ Poller = (*PathPoller)(nil)

// KindPath is where the API serves jobs of one kind and how its answer reads.
type KindPath struct {
	// Path follows the base URL; the job's id, path-escaped, follows it
	// ("/batches/").
	Path string
	// Observe maps the answer's body to an observation, as Poller.Poll
	// returns it.
	Observe func(body []byte) (tracker.Observation, error)
	// Under, when set, files jobs of the kind below their parent object:
	// the job is at {base}{Path}{parent id}{Under}{id} ("/evals/", then
	// "/runs/"), the parent id being the job's ParentID, given at
	// registration. A job without one cannot be polled: PollInvalid.
	Under string
	// Parent names the parent id in that error ("eval id").
	Parent string
}

// NewPathPoller returns a poller of the API at baseURL (a trailing "/" is
// dropped) that sends headers (they may hold credentials: they are never
// logged or quoted in errors) with each request through client, and polls
// the kinds of job kinds holds.
func NewPathPoller(baseURL string, headers http.Header, client PollClient, kinds map[tracker.Kind]KindPath) *PathPoller {
	return &PathPoller{baseURL: strings.TrimRight(baseURL, "/"), headers: headers, client: client, kinds: kinds}
}

// Polls implements Poller: the kinds the poller was given.
func (p *PathPoller) Polls(kind tracker.Kind) bool {
	_, ok := p.kinds[kind]
	return ok
}

// Poll implements Poller: GET {base}{path}{id} of the job's kind (or
// {base}{path}{parent id}{under}{id}), mapped by that kind's Observe.
func (p *PathPoller) Poll(ctx context.Context, job tracker.Job) (tracker.Observation, error) {
	return p.PollWithHeaders(ctx, job, p.headers)
}

// PollWithHeaders is Poll sending headers instead of the poller's own: for
// an API whose credential changes between polls (an OAuth2 access token
// that is refreshed), which the caller puts in headers for each poll.
func (p *PathPoller) PollWithHeaders(ctx context.Context, job tracker.Job, headers http.Header) (tracker.Observation, error) {
	u, err := p.URL(job)
	if err != nil {
		return tracker.Observation{}, err
	}
	// An empty URL (a kind not polled): the client answers so.
	return p.client.Poll(ctx, job, u, headers, p.kinds[job.Kind].Observe)
}

// URL is the URL Poll GETs for job, {base}{path}{id} (or {base}{path}{parent
// id}{under}{id}); "" when the poller does not poll jobs of its kind. A job
// whose kind's URL names a parent it was registered without is a
// *PollError of class PollInvalid. URL is for an API whose requests are
// signed over their URL (AWS Signature Version 4), which the caller signs
// before PollWithHeaders.
func (p *PathPoller) URL(job tracker.Job) (string, error) {
	k, ok := p.kinds[job.Kind]
	if !ok {
		return "", nil
	}
	at := p.baseURL + k.Path
	if k.Under != "" {
		if job.ParentID == "" {
			return "", &PollError{Class: PollInvalid, Err: fmt.Errorf("poll %s %s %s: the job was registered without its %s (parent_id): register it again with one", job.Provider, job.Kind, job.ExternalID, k.Parent)}
		}
		at += url.PathEscape(job.ParentID) + k.Under
	}
	return at + url.PathEscape(job.ExternalID), nil
}
