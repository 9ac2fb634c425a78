package notify_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/tracker/notify"
	"github.com/jobwatch/jobwatch/tracker/notify/notifytest"
)

func newEmail(t *testing.T, cfg notify.EmailConfig) *notify.Email {
	t.Helper()
	n, err := notify.NewEmail(cfg)
	if err != nil {
		t.Fatalf("NewEmail: %v", err)
	}
	return n
}

func TestEmailStartTLSRequiredDelivers(t *testing.T) {
	t.Parallel()
	srv := notifytest.NewSMTPServer(t, notifytest.SMTPOptions{StartTLS: true, RequireAuth: true})
	a := failedBatch()
	if err := newEmail(t, srv.Config("required")).Notify(context.Background(), a); err != nil {
		t.Fatalf("Notify: %v", err)
	}
	got := srv.Received()
	if len(got) != 1 {
		t.Fatalf("server got %d messages, want 1", len(got))
	}
	m := got[0]
	if !m.TLS {
		t.Error("message was not sent over TLS")
	}
	if m.From != "alerts@example.com" || len(m.To) != 1 || m.To[0] != "oncall@example.com" {
		t.Errorf("envelope from %q to %q", m.From, m.To)
	}
	msg, err := mail.ReadMessage(bytes.NewReader(m.Data))
	if err != nil {
		t.Fatalf("parse message: %v\n%s", err, m.Data)
	}
	dec := new(mime.WordDecoder)
	header := func(name string) string {
		v, err := dec.DecodeHeader(msg.Header.Get(name))
		if err != nil {
			t.Errorf("decode %s: %v", name, err)
		}
		return v
	}
	for name, want := range map[string]string{
		"Subject":                   notify.Subject(a),
		"From":                      `"jobwatch" <alerts@example.com>`,
		"To":                        "<oncall@example.com>",
		notify.AlertIDHeader:        a.ID,
		"Message-Id":                "<jobwatch.alrt_12@example.com>",
		"Auto-Submitted":            "auto-generated",
		"Content-Type":              "text/plain; charset=UTF-8",
		"Content-Transfer-Encoding": "quoted-printable",
	} {
		if got := header(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	body, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(string(body), "\r\n", "\n")
	if strings.TrimRight(text, "\n") != notify.Text(a) {
		t.Errorf("body =\n%s\nwant\n%s", text, notify.Text(a))
	}
	if !strings.HasPrefix(text, "openai batch failed\n") {
		t.Errorf("body starts %q, want the headline in plain text", strings.SplitN(text, "\n", 2)[0])
	}
}

func TestEmailStartTLSRequiredWithoutServerSupportIsPermanent(t *testing.T) {
	t.Parallel()
	// Decision: a server that does not offer STARTTLS when it is required
	// is a configuration mismatch; retrying will not make it offer it, and
	// the error says why at once instead of after the outbox gives up.
	srv := notifytest.NewSMTPServer(t, notifytest.SMTPOptions{})
	err := newEmail(t, srv.Config("required")).Notify(context.Background(), failedBatch())
	e := notifyError(t, err)
	if !e.Permanent {
		t.Errorf("want permanent: %v", err)
	}
	if !strings.Contains(err.Error(), "STARTTLS") {
		t.Errorf("error %q does not mention STARTTLS", err)
	}
	if n := len(srv.Received()); n != 0 {
		t.Errorf("server got %d messages over a connection that should have been refused", n)
	}
}

func TestEmailUntrustedCertificateIsPermanent(t *testing.T) {
	t.Parallel()
	srv := notifytest.NewSMTPServer(t, notifytest.SMTPOptions{StartTLS: true, RequireAuth: true})
	cfg := srv.Config("required")
	cfg.TLSConfig = nil // system roots do not know the test certificate
	err := newEmail(t, cfg).Notify(context.Background(), failedBatch())
	if e := notifyError(t, err); !e.Permanent {
		t.Errorf("want permanent: %v", err)
	}
	if srv.AuthAttempts() != 0 {
		t.Error("credentials were sent to an untrusted server")
	}
}

// An internal relay whose certificate a private CA issued, for a name that
// is not the address dialled: tls_ca_file and tls_server_name.
func TestEmailTrustsAPrivateCA(t *testing.T) {
	t.Parallel()
	ca := notifytest.NewCA(t)
	cert := ca.Issue(t, "relay.internal.test")
	srv := notifytest.NewSMTPServer(t, notifytest.SMTPOptions{StartTLS: true, RequireAuth: true, Certificate: &cert})
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, ca.PEM, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name              string
		caFile, tlsServer string
		wantErr           string // "": delivered
	}{
		{"system roots", "", "relay.internal.test", "certificate signed by unknown authority"},
		{"the CA, the address's name", caFile, "", "for 127.0.0.1"},
		{"the CA and the certificate's name", caFile, "relay.internal.test", ""},
	} {
		cfg := srv.Config("required")
		cfg.TLSCAFile, cfg.TLSServerName = tt.caFile, tt.tlsServer
		err := newEmail(t, cfg).Notify(context.Background(), failedBatch())
		if tt.wantErr == "" {
			if err != nil {
				t.Errorf("%s: Notify: %v", tt.name, err)
			}
			continue
		}
		if e := notifyError(t, err); !e.Permanent || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%s: error %v, want a permanent one saying %q", tt.name, err, tt.wantErr)
		}
	}
	if got := srv.Received(); len(got) != 1 || !got[0].TLS {
		t.Fatalf("server got %+v, want the one message over TLS", got)
	}
	if n := srv.AuthAttempts(); n != 1 {
		t.Errorf("%d AUTH exchanges, want 1: credentials go only to the trusted server", n)
	}
}

func TestEmailOpportunisticWithoutTLS(t *testing.T) {
	t.Parallel()
	srv := notifytest.NewSMTPServer(t, notifytest.SMTPOptions{})
	cfg := srv.Config("opportunistic")
	cfg.Username, cfg.Password = "", ""
	if err := newEmail(t, cfg).Notify(context.Background(), failedBatch()); err != nil {
		t.Fatalf("Notify: %v", err)
	}
	got := srv.Received()
	if len(got) != 1 || got[0].TLS {
		t.Fatalf("got %+v, want one message in clear", got)
	}
}

func TestEmailOpportunisticUpgradesWhenOffered(t *testing.T) {
	t.Parallel()
	srv := notifytest.NewSMTPServer(t, notifytest.SMTPOptions{StartTLS: true, RequireAuth: true})
	if err := newEmail(t, srv.Config("opportunistic")).Notify(context.Background(), failedBatch()); err != nil {
		t.Fatalf("Notify: %v", err)
	}
	if got := srv.Received(); len(got) != 1 || !got[0].TLS {
		t.Fatalf("got %+v, want one message over TLS", got)
	}
}

func TestEmailNeverSendsPasswordInClear(t *testing.T) {
	t.Parallel()
	// The server offers AUTH PLAIN without TLS; the notifier must refuse
	// rather than send the password in clear.
	srv := notifytest.NewSMTPServer(t, notifytest.SMTPOptions{InsecureAuth: true, RequireAuth: true})
	err := newEmail(t, srv.Config("opportunistic")).Notify(context.Background(), failedBatch())
	if e := notifyError(t, err); !e.Permanent {
		t.Errorf("want permanent: %v", err)
	}
	if n := srv.AuthAttempts(); n != 0 {
		t.Errorf("AUTH was attempted %d times over a connection in clear", n)
	}
}

func TestEmailClassifiesFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		change    func(*notify.EmailConfig)
		permanent bool
		want      string
	}{
		{
			name:      "550 rejected recipient",
			change:    func(c *notify.EmailConfig) { c.To = []string{"oncall@example.com", notifytest.RejectedRcpt} },
			permanent: true, want: "550",
		},
		{
			name:   "451 temporary failure",
			change: func(c *notify.EmailConfig) { c.To = []string{notifytest.TempfailRcpt} },
			want:   "451",
		},
		{
			name:      "wrong password",
			change:    func(c *notify.EmailConfig) { c.Password = "wrong-" + notifytest.Password },
			permanent: true, want: "535",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := notifytest.NewSMTPServer(t, notifytest.SMTPOptions{StartTLS: true, RequireAuth: true})
			cfg := srv.Config("required")
			tt.change(&cfg)
			err := newEmail(t, cfg).Notify(context.Background(), failedBatch())
			t.Logf("error: %v", err)
			e := notifyError(t, err)
			if e.Permanent != tt.permanent {
				t.Errorf("Permanent = %v, want %v: %v", e.Permanent, tt.permanent, err)
			}
			if !strings.HasPrefix(err.Error(), "send email alert alrt_12: ") || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %q, want it to mention %s", err, tt.want)
			}
			assertNoSecret(t, err, notifytest.Password)
			if n := len(srv.Received()); n != 0 {
				t.Errorf("server accepted %d messages", n)
			}
		})
	}
}

func TestEmailServerDownIsRetryable(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close() // nothing listens there any more
	n := newEmail(t, notify.EmailConfig{
		Host: "127.0.0.1", Port: port, Username: notifytest.User, Password: notifytest.Password,
		From: "alerts@example.com", To: []string{"oncall@example.com"}, Timeout: 2 * time.Second,
	})
	err = n.Notify(context.Background(), failedBatch())
	if e := notifyError(t, err); e.Permanent {
		t.Errorf("want retryable: %v", err)
	}
	assertNoSecret(t, err, notifytest.Password)
}

func TestNewEmailValidates(t *testing.T) {
	t.Parallel()
	base := func() notify.EmailConfig {
		return notify.EmailConfig{
			Host: "smtp.example.com", Username: "u", Password: notifytest.Password,
			From: "alerts@example.com", To: []string{"oncall@example.com"},
		}
	}
	missing, notPEM := filepath.Join(t.TempDir(), "missing.pem"), filepath.Join(t.TempDir(), "key.txt")
	if err := os.WriteFile(notPEM, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		change func(*notify.EmailConfig)
		want   string
	}{
		{func(c *notify.EmailConfig) { c.Host = "" }, "smtp_host: required"},
		{func(c *notify.EmailConfig) { c.Host = "smtp.example.com:587" }, `smtp_host: "smtp.example.com:587" is not a host name (the port goes in smtp_port)`},
		{func(c *notify.EmailConfig) { c.Port = 70000 }, "smtp_port: must be between 1 and 65535, got 70000"},
		{func(c *notify.EmailConfig) { c.Port = -1 }, "smtp_port: must be between 1 and 65535, got -1"},
		{func(c *notify.EmailConfig) { c.StartTLS = "x" }, `starttls: "x" is not one of required, opportunistic, none`},
		{func(c *notify.EmailConfig) { c.Username = "" }, "password: set without username"},
		{func(c *notify.EmailConfig) { c.From = "" }, "from: required"},
		{func(c *notify.EmailConfig) { c.From = "not an address" }, `from: "not an address" is not an email address`},
		{func(c *notify.EmailConfig) { c.To = nil }, "to: at least one recipient"},
		{func(c *notify.EmailConfig) { c.To = []string{"a@example.com", "bogus"} }, `to[1]: "bogus" is not an email address`},
		{func(c *notify.EmailConfig) { c.Timeout = -time.Second }, "timeout: must not be negative, got -1s"},
		{func(c *notify.EmailConfig) { c.TLSCAFile = missing }, "tls_ca_file: open " + missing + ": no such file or directory"},
		{func(c *notify.EmailConfig) { c.TLSCAFile = notPEM }, "tls_ca_file: " + notPEM + " holds no PEM certificate"},
		{func(c *notify.EmailConfig) { c.TLSServerName = "relay:25" }, `tls_server_name: "relay:25" is not a host name`},
		{func(c *notify.EmailConfig) { c.StartTLS, c.TLSServerName = "none", "relay" }, `tls_ca_file, tls_server_name: set, but starttls is "none"`},
	}
	for _, tt := range tests {
		cfg := base()
		tt.change(&cfg)
		_, err := notify.NewEmail(cfg)
		if err == nil || err.Error() != tt.want {
			t.Errorf("NewEmail(%v) = %v, want %q", cfg, err, tt.want)
		}
	}
	if _, err := notify.NewEmail(base()); err != nil {
		t.Errorf("NewEmail(valid) = %v", err)
	}
	cfg := base()
	for _, s := range []string{fmt.Sprint(cfg), fmt.Sprintf("%#v", cfg), fmt.Sprintf("%+v", cfg)} {
		if strings.Contains(s, notifytest.Password) {
			t.Errorf("config printed with its password: %s", s)
		}
	}
}

func TestEmailRespectsContext(t *testing.T) {
	t.Parallel()
	srv := notifytest.NewSMTPServer(t, notifytest.SMTPOptions{StartTLS: true, RequireAuth: true})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := newEmail(t, srv.Config("required")).Notify(ctx, failedBatch())
	if e := notifyError(t, err); e.Permanent || !errors.Is(err, context.Canceled) {
		t.Errorf("want a retryable error wrapping context.Canceled: %v", err)
	}
}
