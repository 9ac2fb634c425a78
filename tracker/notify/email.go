package notify

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/mail"
	"net/textproto"
	"os"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
	gosmtp "github.com/wneessen/go-mail/smtp"

	"github.com/jobwatch/jobwatch/tracker"
)

// Defaults of EmailConfig's zero fields.
const (
	// DefaultSMTPPort is the submission port, where STARTTLS is the norm.
	DefaultSMTPPort = 587
	// DefaultEmailTimeout bounds the connection and each SMTP command.
	DefaultEmailTimeout = 15 * time.Second
)

// STARTTLS policies, EmailConfig.StartTLS's values.
const (
	// StartTLSRequired refuses to send unless the server offers STARTTLS and
	// the upgrade succeeds with a trusted certificate.
	StartTLSRequired = "required"
	// StartTLSOpportunistic upgrades when the server offers STARTTLS and
	// sends in clear otherwise.
	StartTLSOpportunistic = "opportunistic"
	// StartTLSNone never upgrades.
	StartTLSNone = "none"
)

// AlertIDHeader carries the alert's ID in every email, for filters and for
// finding the alert again.
const AlertIDHeader = "X-Jobwatch-Alert-Id"

// EmailConfig configures an email notifier that submits alerts to an SMTP
// server.
type EmailConfig struct {
	// Host is the SMTP server's host name (also the name its certificate
	// must carry).
	Host string
	// Port is the server's port. 0 means DefaultSMTPPort (587). The
	// connection starts in clear: implicit TLS (port 465) is not supported.
	Port int
	// StartTLS is the STARTTLS policy: "required" (the default when empty),
	// "opportunistic" or "none".
	StartTLS string
	// Username, when set, authenticates with SMTP AUTH, the mechanism
	// discovered from what the server offers (SCRAM, CRAM-MD5, PLAIN,
	// LOGIN). PLAIN and LOGIN are used only over TLS, so a password is
	// never sent in clear.
	Username string
	// Password goes with Username. It appears in no error or log line.
	Password string
	// From is the sender address, optionally with a name
	// ("jobwatch <alerts@example.com>").
	From string
	// To are the recipients, at least one.
	To []string
	// Timeout bounds the connection and each SMTP command. 0 means
	// DefaultEmailTimeout (15s).
	Timeout time.Duration
	// TLSCAFile is a PEM file of the CA certificates the server's
	// certificate must chain to, instead of the system's roots: a private
	// CA of an internal relay. Read once, by NewEmail.
	TLSCAFile string
	// TLSServerName is the name the server's certificate must carry.
	// Empty means Host.
	TLSServerName string
	// TLSConfig lets tests trust a test server's certificate; nil = system
	// roots. TLSCAFile and TLSServerName, when set, replace its RootCAs and
	// ServerName; its ServerName defaults to Host.
	TLSConfig *tls.Config
}

// String formats the config with the password redacted.
func (c EmailConfig) String() string {
	pw := `""`
	if c.Password != "" {
		pw = redacted
	}
	return fmt.Sprintf("{Host:%q Port:%d StartTLS:%q Username:%q Password:%s From:%q To:%q Timeout:%s TLSCAFile:%q TLSServerName:%q}",
		c.Host, c.Port, c.StartTLS, c.Username, pw, c.From, c.To, c.Timeout, c.TLSCAFile, c.TLSServerName)
}

// GoString is String for the %#v verb.
func (c EmailConfig) GoString() string { return "notify.EmailConfig" + c.String() }

// LogValue is String for log/slog.
func (c EmailConfig) LogValue() slog.Value { return slog.StringValue(c.String()) }

// Email sends each alert as a plain-text email: Subject as the subject, Text
// as the body, the alert's ID in the X-Jobwatch-Alert-Id header and in the
// Message-ID.
type Email struct {
	opts     []gomail.Option
	host     string
	from     string
	fromHost string
	to       []string
	redact   redactor
}

var _ Notifier = (*Email)(nil)

// NewEmail validates cfg and returns its notifier. Errors name the field
// (smtp_host, smtp_port, starttls, username, password, from, to, timeout,
// tls_ca_file, tls_server_name) and never hold the password.
func NewEmail(cfg EmailConfig) (*Email, error) {
	if cfg.Host == "" {
		return nil, errors.New("smtp_host: required")
	}
	if net.ParseIP(cfg.Host) == nil && strings.ContainsAny(cfg.Host, "/:@ \t\r\n") {
		return nil, fmt.Errorf("smtp_host: %q is not a host name (the port goes in smtp_port)", cfg.Host)
	}
	port := cfg.Port
	if port == 0 {
		port = DefaultSMTPPort
	}
	if port < 1 || port > 65535 {
		return nil, fmt.Errorf("smtp_port: must be between 1 and 65535, got %d", cfg.Port)
	}
	var policy gomail.TLSPolicy
	switch cfg.StartTLS {
	case "", StartTLSRequired:
		policy = gomail.TLSMandatory
	case StartTLSOpportunistic:
		policy = gomail.TLSOpportunistic
	case StartTLSNone:
		policy = gomail.NoTLS
	default:
		return nil, fmt.Errorf("starttls: %q is not one of required, opportunistic, none", cfg.StartTLS)
	}
	if cfg.Password != "" && cfg.Username == "" {
		return nil, errors.New("password: set without username")
	}
	if cfg.Timeout < 0 {
		return nil, fmt.Errorf("timeout: must not be negative, got %s", cfg.Timeout)
	}
	timeout := cfg.Timeout
	if timeout == 0 {
		timeout = DefaultEmailTimeout
	}
	from, err := mail.ParseAddress(cfg.From)
	switch {
	case cfg.From == "":
		return nil, errors.New("from: required")
	case err != nil:
		return nil, fmt.Errorf("from: %q is not an email address", cfg.From)
	}
	if len(cfg.To) == 0 {
		return nil, errors.New("to: at least one recipient")
	}
	for i, to := range cfg.To {
		if _, err := mail.ParseAddress(to); err != nil {
			return nil, fmt.Errorf("to[%d]: %q is not an email address", i, to)
		}
	}

	var tlsConfig *tls.Config
	if cfg.TLSConfig != nil {
		tlsConfig = cfg.TLSConfig.Clone()
	} else {
		tlsConfig = &tls.Config{}
	}
	if policy == gomail.NoTLS && (cfg.TLSCAFile != "" || cfg.TLSServerName != "") {
		return nil, errors.New(`tls_ca_file, tls_server_name: set, but starttls is "none"`)
	}
	if cfg.TLSCAFile != "" {
		roots, err := readCAFile(cfg.TLSCAFile)
		if err != nil {
			return nil, fmt.Errorf("tls_ca_file: %w", err)
		}
		tlsConfig.RootCAs = roots
	}
	if cfg.TLSServerName != "" {
		if strings.ContainsAny(cfg.TLSServerName, "/:@ \t\r\n") {
			return nil, fmt.Errorf("tls_server_name: %q is not a host name", cfg.TLSServerName)
		}
		tlsConfig.ServerName = cfg.TLSServerName
	}
	if tlsConfig.ServerName == "" {
		tlsConfig.ServerName = cfg.Host
	}
	if tlsConfig.MinVersion == 0 {
		tlsConfig.MinVersion = tls.VersionTLS12
	}
	opts := []gomail.Option{
		gomail.WithPort(port),
		gomail.WithTimeout(timeout),
		gomail.WithTLSPolicy(policy),
		gomail.WithTLSConfig(tlsConfig),
	}
	if cfg.Username != "" {
		opts = append(opts,
			gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(cfg.Username),
			gomail.WithPassword(cfg.Password))
	}
	e := &Email{
		opts:     opts,
		host:     cfg.Host,
		from:     cfg.From,
		fromHost: from.Address[strings.LastIndexByte(from.Address, '@')+1:],
		to:       append([]string(nil), cfg.To...),
		redact:   newRedactor(cfg.Password),
	}
	// The same options build a client on every Notify; try them once now.
	if _, err := e.client(); err != nil {
		return nil, fmt.Errorf("smtp: %w", e.redact.error(err))
	}
	if _, err := e.message(tracker.Alert{ID: "check"}); err != nil {
		return nil, fmt.Errorf("from/to: %w", err)
	}
	return e, nil
}

// readCAFile reads a PEM file of CA certificates into a pool.
func readCAFile(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	return roots, nil
}

// client returns a new go-mail client: one per delivery, so that deliveries
// share no connection state.
func (e *Email) client() (*gomail.Client, error) {
	return gomail.NewClient(e.host, e.opts...)
}

// String names the notifier without its password.
func (e *Email) String() string {
	return fmt.Sprintf("email via %s to %s", e.host, strings.Join(e.to, ", "))
}

// message builds the email for a.
func (e *Email) message(a tracker.Alert) (*gomail.Msg, error) {
	m := gomail.NewMsg()
	if err := m.From(e.from); err != nil {
		return nil, err
	}
	if err := m.To(e.to...); err != nil {
		return nil, err
	}
	m.Subject(Subject(a))
	m.SetDate()
	m.SetUserAgent(userAgent)
	// RFC 3834: no vacation auto-replies to alerts.
	m.SetGenHeader(gomail.Header("Auto-Submitted"), "auto-generated")
	if a.ID != "" {
		m.SetGenHeader(gomail.Header(AlertIDHeader), oneLine(a.ID, 200))
		// The same on every retry, so a receiving system can dedupe.
		m.SetMessageIDWithValue("jobwatch." + messageIDPart(a.ID) + "@" + e.fromHost)
	} else {
		m.SetMessageID()
	}
	m.SetBodyString(gomail.TypeTextPlain, Text(a))
	return m, nil
}

// messageIDPart keeps an alert ID's characters that a Message-ID's left part
// allows unquoted (letters, digits and a few symbols); others become '-'.
func messageIDPart(id string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', strings.ContainsRune("!#$%&'*+-/=?^_`{|}~.", r):
			return r
		}
		return '-'
	}, id)
}

// Notify submits a to the SMTP server. Connection failures, timeouts and
// SMTP 4xx answers are retryable; SMTP 5xx answers (a rejected recipient
// or sender, refused credentials) and what the configuration cannot do
// with this server (STARTTLS required but not offered, an untrusted
// certificate, no usable AUTH mechanism) are permanent.
func (e *Email) Notify(ctx context.Context, a tracker.Alert) error {
	fail := func(permanent bool, err error) error {
		return &Error{Permanent: permanent, Err: fmt.Errorf("send email alert %s: %w", a.ID, e.redact.error(err))}
	}
	m, err := e.message(a)
	if err != nil {
		return fail(true, fmt.Errorf("build message: %w", err))
	}
	c, err := e.client()
	if err != nil {
		return fail(true, err)
	}
	if err := c.DialAndSendWithContext(ctx, m); err != nil {
		if errors.Is(err, gomail.ErrNoSupportedAuthDiscovered) {
			err = fmt.Errorf("%w (PLAIN and LOGIN are used only over TLS)", err)
		}
		return fail(smtpPermanent(err), err)
	}
	return nil
}

// smtpPermanent classifies a go-mail failure: an SMTP reply by its code (5xx
// permanent, 4xx not), a server that cannot do what the configuration asks
// permanent, anything else (connection lost, timeout) retryable.
func smtpPermanent(err error) bool {
	var se *gomail.SendError
	if errors.As(err, &se) {
		switch code := se.ErrorCode(); {
		case code >= 500:
			return true
		case code >= 400:
			return false
		}
		switch se.Reason {
		case gomail.ErrGetSender, gomail.ErrGetRcpts, gomail.ErrNoUnencoded:
			return true
		}
		// No reply code: the connection failed mid-transaction.
		return false
	}
	var te *textproto.Error
	if errors.As(err, &te) {
		return te.Code >= 500
	}
	if certError(err) ||
		errors.Is(err, gomail.ErrNoSupportedAuthDiscovered) ||
		errors.Is(err, gosmtp.ErrUnencrypted) ||
		errors.Is(err, gosmtp.ErrWrongHostname) {
		return true
	}
	// go-mail reports these as bare strings: STARTTLS required but not
	// offered, no AUTH at all, or not the mechanism asked for.
	msg := err.Error()
	return strings.Contains(msg, "does not support STARTTLS") ||
		strings.Contains(msg, "does not support SMTP AUTH")
}
