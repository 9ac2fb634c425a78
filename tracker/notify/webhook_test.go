package notify_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/jobwatch/jobwatch/tracker"
	"github.com/jobwatch/jobwatch/tracker/notify"
)

// newWebhookSecret returns a fresh Standard Webhooks secret.
func newWebhookSecret(t *testing.T) string {
	t.Helper()
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	return "whsec_" + base64.StdEncoding.EncodeToString(key)
}

// delivery is what a webhookReceiver got: the verification's outcome, the
// headers and the decoded alert.
type delivery struct {
	verifyErr error
	header    http.Header
	alert     tracker.Alert
}

// newWebhookReceiver is a receiver that verifies each delivery with the
// independent Standard Webhooks library and secret, answers 401 when that
// fails and 204 when it passes, and reports every delivery.
func newWebhookReceiver(t *testing.T, secret string) (*httptest.Server, <-chan delivery) {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan delivery, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		d := delivery{verifyErr: wh.Verify(body, r.Header), header: r.Header.Clone()}
		if d.verifyErr == nil {
			if err := json.Unmarshal(body, &d.alert); err != nil {
				d.verifyErr = fmt.Errorf("decode alert: %w", err)
			}
		}
		got <- d
		if d.verifyErr != nil {
			http.Error(w, "invalid signature", http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	return srv, got
}

func newWebhook(t *testing.T, url, secret string) *notify.Webhook {
	t.Helper()
	n, err := notify.NewWebhook(notify.WebhookConfig{URL: url, Secret: secret, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("NewWebhook: %v", err)
	}
	return n
}

func TestWebhookDeliversSignedAlert(t *testing.T) {
	t.Parallel()
	secret := newWebhookSecret(t)
	srv, got := newWebhookReceiver(t, secret)
	a := failedBatch()
	a.Data = json.RawMessage(`{"raw":"provider payload"}`)

	if err := newWebhook(t, srv.URL+"/hooks/jobwatch?token=TOKEN123", secret).Notify(context.Background(), a); err != nil {
		t.Fatalf("Notify: %v", err)
	}
	d := <-got
	if d.verifyErr != nil {
		t.Fatalf("receiver: %v", d.verifyErr)
	}
	if id := d.header.Get("webhook-id"); id != a.ID {
		t.Errorf("webhook-id = %q, want the alert's id %q", id, a.ID)
	}
	if ct := d.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	if !reflect.DeepEqual(d.alert, a) {
		t.Errorf("decoded alert differs:\n got %+v\nwant %+v", d.alert, a)
	}
}

func TestWebhookWrongSecretFailsVerification(t *testing.T) {
	t.Parallel()
	// The receiver holds a different secret: verification must fail, which
	// shows the receiver really checks the signature.
	srv, got := newWebhookReceiver(t, newWebhookSecret(t))
	err := newWebhook(t, srv.URL, newWebhookSecret(t)).Notify(context.Background(), failedBatch())
	if d := <-got; !errors.Is(d.verifyErr, standardwebhooks.ErrNoMatchingSignature) {
		t.Fatalf("receiver verification = %v, want ErrNoMatchingSignature", d.verifyErr)
	}
	if e := notifyError(t, err); !e.Permanent {
		t.Errorf("a 401 is not permanent: %v", err)
	}
	if !strings.Contains(err.Error(), "send webhook alert alrt_12: POST "+srv.URL+"/<redacted>: 401 Unauthorized") {
		t.Errorf("error = %q", err)
	}
}

func TestWebhookClassifiesFailuresWithoutRevealingTheURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		code       int
		retryAfter string
		permanent  bool
		wantAfter  time.Duration
	}{
		{code: http.StatusTooManyRequests, retryAfter: "7", wantAfter: 7 * time.Second},
		{code: http.StatusBadGateway},
		{code: http.StatusGone, permanent: true},
		{code: http.StatusUnprocessableEntity, permanent: true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.code), func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tt.retryAfter != "" {
					w.Header().Set("Retry-After", tt.retryAfter)
				}
				http.Error(w, "no: "+r.URL.RequestURI(), tt.code)
			}))
			t.Cleanup(srv.Close)
			secret := newWebhookSecret(t)
			err := newWebhook(t, srv.URL+"/in/PATHSECRET?token=TOKEN123", secret).Notify(context.Background(), failedBatch())
			e := notifyError(t, err)
			if e.Permanent != tt.permanent || e.RetryAfter != tt.wantAfter {
				t.Errorf("Permanent = %v, RetryAfter = %v; want %v, %v (%v)", e.Permanent, e.RetryAfter, tt.permanent, tt.wantAfter, err)
			}
			assertNoSecret(t, err, "TOKEN123", "PATHSECRET", secret, strings.TrimPrefix(secret, "whsec_"))
		})
	}
}

func TestWebhookAlertWithoutIDIsPermanent(t *testing.T) {
	t.Parallel()
	srv, _ := newWebhookReceiver(t, newWebhookSecret(t))
	a := failedBatch()
	a.ID = ""
	err := newWebhook(t, srv.URL, newWebhookSecret(t)).Notify(context.Background(), a)
	if e := notifyError(t, err); !e.Permanent {
		t.Errorf("want permanent: %v", err)
	}
}

func TestNewWebhookValidates(t *testing.T) {
	t.Parallel()
	good := newWebhookSecret(t)
	const url = "https://example.com/hooks?token=TOKEN123"
	tests := []struct {
		cfg  notify.WebhookConfig
		want string
	}{
		{notify.WebhookConfig{Secret: good}, "url: required"},
		{notify.WebhookConfig{URL: "example.com/hooks?token=TOKEN123", Secret: good}, "url: must be an https or http URL"},
		{notify.WebhookConfig{URL: url}, "secret: required"},
		{notify.WebhookConfig{URL: url, Secret: "plainSECRETvalue"}, `secret: must start with "whsec_"`},
		{notify.WebhookConfig{URL: url, Secret: "whsec_not*base64SECRET"}, "secret: "},
		{notify.WebhookConfig{URL: url, Secret: "whsec_" + base64.StdEncoding.EncodeToString([]byte("shortSECRET"))}, "secret: "},
		{notify.WebhookConfig{URL: url, Secret: good, Timeout: -1}, "timeout: must not be negative"},
	}
	for _, tt := range tests {
		_, err := notify.NewWebhook(tt.cfg)
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("NewWebhook(%v) = %v, want an error starting %q", tt.cfg, err, tt.want)
		}
		assertNoSecret(t, err, "TOKEN123", "SECRET", good)
	}
	cfg := notify.WebhookConfig{URL: url, Secret: good}
	for _, s := range []string{fmt.Sprint(cfg), fmt.Sprintf("%#v", cfg)} {
		if strings.Contains(s, "TOKEN123") || strings.Contains(s, good) {
			t.Errorf("config printed as %q", s)
		}
	}
}
