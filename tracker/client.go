package tracker

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Client calls a running daemon's HTTP API. It has the same method shape as
// Tracker, so code written against API works with either.
type Client struct {
	base  string
	token string
	hc    *http.Client
}

var _ API = (*Client)(nil)

// ClientOption configures a Client.
type ClientOption func(*Client)

// WithToken sends the daemon's API token as a bearer token.
func WithToken(token string) ClientOption { return func(c *Client) { c.token = token } }

// WithHTTPClient replaces the default http.Client (30 s timeout).
func WithHTTPClient(hc *http.Client) ClientOption { return func(c *Client) { c.hc = hc } }

// NewClient returns a client of the daemon at baseURL (http://127.0.0.1:8080).
func NewClient(baseURL string, opts ...ClientOption) *Client {
	c := &Client{base: strings.TrimRight(baseURL, "/"), hc: &http.Client{Timeout: 30 * time.Second}}
	for _, o := range opts {
		o(c)
	}
	return c
}

// APIError is an error answer from the daemon; see Unwrap for the errors
// it stands for.
type APIError struct {
	StatusCode int
	Message    string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("jobwatch API: %d: %s", e.StatusCode, e.Message)
}

// Unwrap maps 404 to ErrNotFound, and a 409 saying a job has ended or is
// untracked to ErrJobEnded or ErrJobUntracked.
func (e *APIError) Unwrap() error {
	switch e.StatusCode {
	case http.StatusNotFound:
		return ErrNotFound
	case http.StatusConflict:
		for _, err := range []error{ErrJobEnded, ErrJobUntracked} {
			if e.Message == err.Error() {
				return err
			}
		}
	}
	return nil
}

// Track registers a job with the daemon; created is true on 201. A request
// the daemon would refuse is a *ValidationError, as from Tracker.Track, and
// is not sent.
func (c *Client) Track(ctx context.Context, req TrackRequest) (Job, bool, error) {
	if err := req.Validate(); err != nil {
		return Job{}, false, err
	}
	var job Job
	code, err := c.do(ctx, http.MethodPost, "/v1/jobs", req, &job)
	if err != nil {
		return Job{}, false, fmt.Errorf("track %s job %s: %w", req.Provider, req.ExternalID, err)
	}
	return job, code == http.StatusCreated, nil
}

// Job fetches one job with its history.
func (c *Client) Job(ctx context.Context, provider, externalID string) (Job, error) {
	var job Job
	path := "/v1/jobs/" + url.PathEscape(provider) + "/" + url.PathEscape(externalID)
	if _, err := c.do(ctx, http.MethodGet, path, nil, &job); err != nil {
		return Job{}, fmt.Errorf("get %s job %s: %w", provider, externalID, err)
	}
	return job, nil
}

// Poll asks the daemon to poll one job now and returns it as it is after.
func (c *Client) Poll(ctx context.Context, provider, externalID string) (Job, error) {
	var job Job
	path := "/v1/jobs/" + url.PathEscape(provider) + "/" + url.PathEscape(externalID) + "/poll"
	if _, err := c.do(ctx, http.MethodPost, path, nil, &job); err != nil {
		return Job{}, fmt.Errorf("poll %s job %s: %w", provider, externalID, err)
	}
	return job, nil
}

// Resolve ends a job by hand with a terminal status and a reason, as
// Tracker.Resolve does, and returns it with its history. Bad input is
// refused before any request (ValidateResolve). A job that has
// ended or is untracked is an *APIError that unwraps to ErrJobEnded or
// ErrJobUntracked.
func (c *Client) Resolve(ctx context.Context, provider, externalID string, status Status, reason string) (Job, error) {
	if err := ValidateResolve(status, reason); err != nil {
		return Job{}, err
	}
	var job Job
	path := "/v1/jobs/" + url.PathEscape(provider) + "/" + url.PathEscape(externalID) + "/resolve"
	in := struct {
		Status Status `json:"status"`
		Reason string `json:"reason"`
	}{status, reason}
	if _, err := c.do(ctx, http.MethodPost, path, in, &job); err != nil {
		return Job{}, fmt.Errorf("resolve %s job %s: %w", provider, externalID, err)
	}
	return job, nil
}

// Untrack stops tracking a job, or with purge deletes it with its history
// and alerts, as Tracker.Untrack does.
func (c *Client) Untrack(ctx context.Context, provider, externalID string, purge bool) error {
	path := "/v1/jobs/" + url.PathEscape(provider) + "/" + url.PathEscape(externalID)
	if purge {
		path += "?purge=true"
	}
	if _, err := c.do(ctx, http.MethodDelete, path, nil, nil); err != nil {
		return fmt.Errorf("untrack %s job %s: %w", provider, externalID, err)
	}
	return nil
}

// Deliveries lists the newest webhook deliveries matching f.
func (c *Client) Deliveries(ctx context.Context, f DeliveryFilter) ([]Delivery, error) {
	q := url.Values{}
	if f.Provider != "" {
		q.Set("provider", f.Provider)
	}
	if f.Outcome != "" {
		q.Set("outcome", string(f.Outcome))
	}
	if f.Limit != 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	var out struct {
		Deliveries []Delivery `json:"deliveries"`
	}
	if _, err := c.do(ctx, http.MethodGet, "/v1/deliveries?"+q.Encode(), nil, &out); err != nil {
		return nil, fmt.Errorf("list deliveries: %w", err)
	}
	return out.Deliveries, nil
}

// Alerts lists the newest alerts of the outbox in a state ("" for any).
func (c *Client) Alerts(ctx context.Context, state AlertState, limit int) ([]OutboxAlert, error) {
	q := url.Values{}
	if state != "" {
		q.Set("state", string(state))
	}
	if limit != 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var out struct {
		Alerts []OutboxAlert `json:"alerts"`
	}
	if _, err := c.do(ctx, http.MethodGet, "/v1/alerts?"+q.Encode(), nil, &out); err != nil {
		return nil, fmt.Errorf("list alerts: %w", err)
	}
	return out.Alerts, nil
}

// RetryAlert makes a dead alert pending again.
func (c *Client) RetryAlert(ctx context.Context, id string) error {
	var out map[string]string
	if _, err := c.do(ctx, http.MethodPost, "/v1/alerts/"+url.PathEscape(id)+"/retry", nil, &out); err != nil {
		return fmt.Errorf("retry alert %s: %w", id, err)
	}
	return nil
}

// Usage returns the usage totals of the current window (hour, day, month).
func (c *Client) Usage(ctx context.Context, window, provider string) ([]UsageTotal, error) {
	q := url.Values{"window": {window}}
	if provider != "" {
		q.Set("provider", provider)
	}
	var out struct {
		Usage []UsageTotal `json:"usage"`
	}
	if _, err := c.do(ctx, http.MethodGet, "/v1/usage?"+q.Encode(), nil, &out); err != nil {
		return nil, fmt.Errorf("get usage: %w", err)
	}
	return out.Usage, nil
}

// List fetches one page of jobs.
func (c *Client) List(ctx context.Context, f Filter) (Page, error) {
	q := url.Values{}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	set("provider", f.Provider)
	set("kind", string(f.Kind))
	set("status", string(f.Status))
	set("cursor", f.Cursor)
	set("q", f.Query)
	if f.Limit != 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	for k, v := range f.Labels {
		q.Add("label", k+"="+v)
	}
	var page Page
	if _, err := c.do(ctx, http.MethodGet, "/v1/jobs?"+q.Encode(), nil, &page); err != nil {
		return Page{}, fmt.Errorf("list jobs: %w", err)
	}
	return page, nil
}

func (c *Client) do(ctx context.Context, method, path string, in, out any) (int, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return 0, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return 0, err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return resp.StatusCode, fmt.Errorf("read answer: %w", err)
	}
	if resp.StatusCode >= 300 {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(b, &e) != nil || e.Error == "" {
			e.Error = http.StatusText(resp.StatusCode)
		}
		return resp.StatusCode, &APIError{StatusCode: resp.StatusCode, Message: e.Error}
	}
	if out == nil {
		return resp.StatusCode, nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return resp.StatusCode, fmt.Errorf("decode answer: %w", err)
	}
	return resp.StatusCode, nil
}
