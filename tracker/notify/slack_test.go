package notify_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/tracker/notify"
)

// slackSecretPath is the secret part of a Slack webhook URL in these tests.
const slackSecretPath = "/services/T000/B000/SECRETXYZ"

// slackReceiver is an httptest stand-in for Slack's incoming webhooks that
// answers each attempt with answer(n), n counting from 1, and records the
// requests it got.
type slackReceiver struct {
	srv      *httptest.Server
	attempts atomic.Int32
	bodies   chan []byte
}

func newSlackReceiver(t *testing.T, answer func(n int, w http.ResponseWriter, r *http.Request)) *slackReceiver {
	t.Helper()
	s := &slackReceiver{bodies: make(chan []byte, 10)}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := int(s.attempts.Add(1))
		body, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPost || r.URL.Path != slackSecretPath ||
			r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "bad request to the stand-in", http.StatusTeapot)
			return
		}
		s.bodies <- body
		answer(n, w, r)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

// url is the secret webhook URL.
func (s *slackReceiver) url() string { return s.srv.URL + slackSecretPath }

func newSlack(t *testing.T, url string) *notify.Slack {
	t.Helper()
	n, err := notify.NewSlack(notify.SlackConfig{WebhookURL: url, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("NewSlack: %v", err)
	}
	return n
}

// notifyError asserts err is an *notify.Error and returns it.
func notifyError(t *testing.T, err error) *notify.Error {
	t.Helper()
	var e *notify.Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %T %v, want *notify.Error", err, err)
	}
	return e
}

// assertNoSecret fails when err's message, or any error it wraps, holds one
// of secrets.
func assertNoSecret(t *testing.T, err error, secrets ...string) {
	t.Helper()
	for e := err; e != nil; e = errors.Unwrap(e) {
		for _, s := range secrets {
			if strings.Contains(e.Error(), s) || strings.Contains(fmt.Sprintf("%+v", e), s) {
				t.Errorf("error reveals %q: %s", s, e.Error())
			}
		}
	}
}

func TestSlackDelivers(t *testing.T) {
	t.Parallel()
	recv := newSlackReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "ok")
	})
	a := failedBatch()
	a.Job.Labels["owner"] = "<!channel> & co"
	if err := newSlack(t, recv.url()).Notify(context.Background(), a); err != nil {
		t.Fatalf("Notify: %v", err)
	}
	var msg struct {
		Text string `json:"text"`
	}
	if err := json.Unmarshal(<-recv.bodies, &msg); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"*openai batch failed*\n", "\njob: batch_abc\n", "owner=&lt;!channel&gt; &amp; co"} {
		if !strings.Contains(msg.Text, want) {
			t.Errorf("text lacks %q:\n%s", want, msg.Text)
		}
	}
}

func TestSlackRetriesServerErrorsWithinTheCall(t *testing.T) {
	t.Parallel()
	recv := newSlackReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n <= 2 {
			http.Error(w, "internal_error", http.StatusInternalServerError)
			return
		}
		_, _ = io.WriteString(w, "ok")
	})
	if err := newSlack(t, recv.url()).Notify(context.Background(), failedBatch()); err != nil {
		t.Fatalf("Notify: %v", err)
	}
	if n := recv.attempts.Load(); n != 3 {
		t.Errorf("attempts = %d, want 3 (two 500s, then ok)", n)
	}
}

func TestSlackClassifiesFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		answer       func(w http.ResponseWriter, r *http.Request)
		permanent    bool
		retryAfter   time.Duration
		attempts     int32
		wantInErrMsg string
	}{
		{
			name: "429 with Retry-After seconds",
			answer: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Retry-After", "7")
				http.Error(w, "rate_limited", http.StatusTooManyRequests)
			},
			retryAfter: 7 * time.Second, attempts: 1, wantInErrMsg: "429 Too Many Requests: rate_limited",
		},
		{
			name: "429 with Retry-After date",
			answer: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Retry-After", time.Now().Add(2*time.Minute).UTC().Format(http.TimeFormat))
				w.WriteHeader(http.StatusTooManyRequests)
			},
			retryAfter: 2 * time.Minute, attempts: 1, wantInErrMsg: "429",
		},
		{
			name: "429 asking for days",
			answer: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Retry-After", "864000")
				w.WriteHeader(http.StatusTooManyRequests)
			},
			retryAfter: notify.MaxRetryAfter, attempts: 1, wantInErrMsg: "429",
		},
		{
			name: "400",
			answer: func(w http.ResponseWriter, r *http.Request) {
				http.Error(w, "invalid_payload", http.StatusBadRequest)
			},
			permanent: true, attempts: 1, wantInErrMsg: "400 Bad Request: invalid_payload",
		},
		{
			name: "404 echoing the path",
			answer: func(w http.ResponseWriter, r *http.Request) {
				http.Error(w, "no_service at "+r.URL.Path+" ("+r.URL.String()+")", http.StatusNotFound)
			},
			permanent: true, attempts: 1, wantInErrMsg: "404 Not Found: no_service at <redacted>",
		},
		{
			name: "redirect",
			answer: func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, "https://elsewhere.example/"+r.URL.Path, http.StatusFound)
			},
			permanent: true, attempts: 1, wantInErrMsg: "302 Found (redirects are not followed)",
		},
		{
			name: "408",
			answer: func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusRequestTimeout)
			},
			attempts: 3, wantInErrMsg: "408 Request Timeout",
		},
		{
			name: "500 to the end",
			answer: func(w http.ResponseWriter, r *http.Request) {
				http.Error(w, "internal_error", http.StatusInternalServerError)
			},
			attempts: 3, wantInErrMsg: "500 Internal Server Error: internal_error",
		},
		{
			name: "503 with Retry-After",
			answer: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Retry-After", "30")
				w.WriteHeader(http.StatusServiceUnavailable)
			},
			retryAfter: 30 * time.Second, attempts: 1, wantInErrMsg: "503",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			recv := newSlackReceiver(t, func(_ int, w http.ResponseWriter, r *http.Request) { tt.answer(w, r) })
			err := newSlack(t, recv.url()).Notify(context.Background(), failedBatch())
			e := notifyError(t, err)
			if e.Permanent != tt.permanent {
				t.Errorf("Permanent = %v, want %v (%v)", e.Permanent, tt.permanent, err)
			}
			// A date has second precision and the clock moves: allow a little.
			if d := e.RetryAfter - tt.retryAfter; d < -2*time.Second || d > 0 || (tt.retryAfter == 0) != (e.RetryAfter == 0) {
				t.Errorf("RetryAfter = %v, want %v", e.RetryAfter, tt.retryAfter)
			}
			if n := recv.attempts.Load(); n != tt.attempts {
				t.Errorf("attempts = %d, want %d", n, tt.attempts)
			}
			wantPrefix := "send slack alert alrt_12: POST " + recv.srv.URL + "/<redacted>: "
			if msg := err.Error(); !strings.HasPrefix(msg, wantPrefix) || !strings.Contains(msg, tt.wantInErrMsg) {
				t.Errorf("error = %q, want it to start %q and hold %q", msg, wantPrefix, tt.wantInErrMsg)
			}
			// The outbox logs the alert's attempts beside this error: a
			// count of the call's own requests would read as another.
			if msg := err.Error(); strings.Contains(msg, "attempt") {
				t.Errorf("error = %q, counts the call's requests", msg)
			}
			assertNoSecret(t, err, "SECRETXYZ", "/services/")
		})
	}
}

func TestSlackErrorKeepsTheURLsSchemeAndHost(t *testing.T) {
	t.Parallel()
	recv := newSlackReceiver(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no_service: http://"+r.Host+r.URL.Path, http.StatusNotFound)
	})
	err := newSlack(t, recv.url()).Notify(context.Background(), failedBatch())
	if want := "404 Not Found: no_service: " + recv.srv.URL + "/<redacted>"; err == nil || !strings.HasSuffix(err.Error(), want) {
		t.Errorf("error = %v, want it to end %q", err, want)
	}
	assertNoSecret(t, err, "SECRETXYZ", "/services/")
}

func TestSlackConnectionFailureIsRetryable(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL + slackSecretPath
	srv.Close() // nothing listens there any more

	err := newSlack(t, url).Notify(context.Background(), failedBatch())
	e := notifyError(t, err)
	if e.Permanent || e.RetryAfter != 0 {
		t.Errorf("Permanent = %v, RetryAfter = %v; want a plain retryable error: %v", e.Permanent, e.RetryAfter, err)
	}
	if !strings.HasPrefix(err.Error(), "send slack alert alrt_12: POST "+srv.URL+"/<redacted>: ") {
		t.Errorf("error = %q", err)
	}
	assertNoSecret(t, err, "SECRETXYZ", "/services/")
}

func TestSlackTimeoutIsRetryable(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	recv := newSlackReceiver(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	t.Cleanup(func() { close(release) })
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err := newSlack(t, recv.url()).Notify(ctx, failedBatch())
	e := notifyError(t, err)
	if e.Permanent {
		t.Errorf("Permanent = true, want retryable: %v", err)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v does not wrap context.DeadlineExceeded", err)
	}
	assertNoSecret(t, err, "SECRETXYZ", "/services/")
}

func TestNewSlackValidates(t *testing.T) {
	t.Parallel()
	tests := []struct {
		cfg  notify.SlackConfig
		want string
	}{
		{notify.SlackConfig{}, "webhook_url: required"},
		{notify.SlackConfig{WebhookURL: "hooks.slack.com/services/T0/B0/SECRETXYZ"}, "webhook_url: must be an https or http URL"},
		{notify.SlackConfig{WebhookURL: "ftp://hooks.slack.com/services/T0/B0/SECRETXYZ"}, "webhook_url: must be an https or http URL"},
		{notify.SlackConfig{WebhookURL: "https://hooks.slack.com/services/%zzSECRETXYZ"}, "webhook_url: not a valid URL"},
		{notify.SlackConfig{WebhookURL: "https://hooks.slack.com/services/ SECRETXYZ"}, "webhook_url: not a valid URL: it has a space or control character"},
		{notify.SlackConfig{WebhookURL: "https:///services/SECRETXYZ"}, "webhook_url: no host in the URL"},
		{notify.SlackConfig{WebhookURL: "https://hooks.slack.com/services/SECRETXYZ", Timeout: -time.Second}, "timeout: must not be negative, got -1s"},
	}
	for _, tt := range tests {
		_, err := notify.NewSlack(tt.cfg)
		if err == nil || err.Error() != tt.want {
			t.Errorf("NewSlack(%v) = %v, want %q", tt.cfg, err, tt.want)
		}
		assertNoSecret(t, err, "SECRETXYZ")
	}
}

func TestSlackConfigPrintsRedacted(t *testing.T) {
	t.Parallel()
	cfg := notify.SlackConfig{WebhookURL: "https://hooks.slack.com" + slackSecretPath}
	n, err := notify.NewSlack(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{fmt.Sprint(cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg), fmt.Sprint(n)} {
		if strings.Contains(s, "SECRETXYZ") || !strings.Contains(s, "https://hooks.slack.com/<redacted>") {
			t.Errorf("printed as %q", s)
		}
	}
}
