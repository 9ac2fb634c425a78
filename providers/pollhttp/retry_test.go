package pollhttp

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	t.Parallel()
	answer := func(code int, h http.Header) *http.Response { return &http.Response{StatusCode: code, Header: h} }
	tests := []struct {
		name     string
		maxWait  time.Duration
		attempt  int
		resp     *http.Response
		min, max time.Duration
	}{
		{"first step", time.Minute, 0, answer(500, http.Header{}), 375 * time.Millisecond, 500 * time.Millisecond},
		{"fourth step", time.Minute, 3, answer(502, http.Header{}), 3 * time.Second, 4 * time.Second},
		{"connection error", time.Minute, 1, nil, 750 * time.Millisecond, time.Second},
		{"capped step", 300 * time.Millisecond, 5, answer(500, http.Header{}), 225 * time.Millisecond, 300 * time.Millisecond},
		{"no overflow", time.Minute, 200, answer(500, http.Header{}), 45 * time.Second, time.Minute},
		{"Retry-After on 429", time.Minute, 0, answer(429, http.Header{"Retry-After": {"7"}}), 7 * time.Second, 7 * time.Second},
		{"Retry-After on 500", time.Minute, 0, answer(500, http.Header{"Retry-After": {"7"}}), 7 * time.Second, 7 * time.Second},
		{"Retry-After capped", 300 * time.Millisecond, 0, answer(429, http.Header{"Retry-After": {"30"}}), 300 * time.Millisecond, 300 * time.Millisecond},
		{"retry-after-ms capped", time.Second, 0, answer(503, http.Header{"Retry-After-Ms": {"90000"}}), time.Second, time.Second},
	}
	for _, tt := range tests {
		for range 20 {
			if got := backoff(minRetryWait, tt.maxWait, tt.attempt, tt.resp); got < tt.min || got > tt.max {
				t.Errorf("%s: backoff = %v, want within [%v, %v]", tt.name, got, tt.min, tt.max)
				break
			}
		}
	}
}

func TestCheckRetry(t *testing.T) {
	t.Parallel()
	live := context.Background()
	done, cancel := context.WithCancel(live)
	cancel()
	connErr := &url.Error{Op: "Get", URL: "http://h/p", Err: errors.New("connection refused")}
	tests := []struct {
		name      string
		ctx       context.Context
		code      int // 0: no answer, connErr
		retry     bool
		wantError bool
	}{
		{"200", live, 200, false, false},
		{"400", live, 400, false, false},
		{"401", live, 401, false, false},
		{"404", live, 404, false, false},
		{"429", live, 429, true, true},
		{"500", live, 500, true, true},
		{"501", live, 501, true, true},
		{"503", live, 503, true, true},
		{"connection error", live, 0, true, true},
		{"429, ctx done", done, 429, false, true},
		{"connection error, ctx done", done, 0, false, true},
		{"404, ctx done", done, 404, false, false},
	}
	for _, tt := range tests {
		var resp *http.Response
		var err error
		if tt.code == 0 {
			err = connErr
		} else {
			resp = &http.Response{StatusCode: tt.code, Status: http.StatusText(tt.code)}
		}
		retry, reason := checkRetry(tt.ctx, resp, err)
		if retry != tt.retry || (reason != nil) != tt.wantError {
			t.Errorf("%s: checkRetry = %v, %v; want retry %v, an error %v", tt.name, retry, reason, tt.retry, tt.wantError)
		}
	}
}

func TestRedactText(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		`Get "https://api.example.com/v1/batches/b?api_key=SECRET": EOF`: `Get "https://api.example.com/v1/batches/b": EOF`,
		"GET http://user:pw@127.0.0.1:8080/p?a=1#frag (status: 503)":     "GET http://127.0.0.1:8080/p (status: 503)",
		"no url here": "no url here",
		"two: http://a/x?k=1 and https://b/y?k=2":                            "two: http://a/x and https://b/y",
		"escaped path http://h/v1/batches/a%20b?token=t":                     "escaped path http://h/v1/batches/a%20b",
		"unparsable http://[::1/x?secret=1 stays out":                        "unparsable <url> stays out",
		"scheme only mailto://x":                                             "scheme only mailto://x",
		"GET https://api.openai.com/v1/fine_tuning/jobs/ftjob-abc?after=x&y": "GET https://api.openai.com/v1/fine_tuning/jobs/ftjob-abc",
	}
	for in, want := range tests {
		if got := redactText(in); got != want {
			t.Errorf("redactText(%q) = %q, want %q", in, got, want)
		}
	}
}
