// Package notifytest runs a real SMTP server (github.com/emersion/go-smtp)
// on a loopback port for tests of email alerts: it can offer STARTTLS with a
// self-signed certificate or one a test CA issued, require AUTH PLAIN, and
// reject recipients.
package notifytest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/jobwatch/jobwatch/tracker/notify"
)

const (
	User     = "jobwatch"
	Password = "s3cret-Pa55word"
	// RejectedRcpt is refused with 550, TempfailRcpt with 451.
	RejectedRcpt = "gone@example.com"
	TempfailRcpt = "busy@example.com"
)

// SMTPOptions shape a test SMTP server.
type SMTPOptions struct {
	// startTLS offers STARTTLS with a self-signed certificate.
	StartTLS bool
	// requireAuth refuses MAIL FROM before a successful AUTH PLAIN.
	RequireAuth bool
	// insecureAuth offers AUTH on a connection that is not encrypted.
	InsecureAuth bool
	// Certificate, with StartTLS, is the server's certificate instead of a
	// self-signed one (Config then trusts the system's roots only).
	Certificate *tls.Certificate
}

// SMTPServer is a real SMTP server (github.com/emersion/go-smtp) on a
// loopback port that keeps the messages it accepts.
type SMTPServer struct {
	host, port string
	// roots trusts the server's certificate, when it has one.
	roots *x509.CertPool

	mu        sync.Mutex
	messages  []Mail
	authTries int
}

// Mail is one accepted message.
type Mail struct {
	From string
	To   []string
	Data []byte
	TLS  bool
}

func NewSMTPServer(t *testing.T, opts SMTPOptions) *SMTPServer {
	t.Helper()
	s := &SMTPServer{}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{srv: s, opts: opts, conn: c}, nil
	}))
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = opts.InsecureAuth
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	if opts.StartTLS {
		var cert tls.Certificate
		if opts.Certificate != nil {
			cert = *opts.Certificate
		} else {
			cert, s.roots = localCert(t)
		}
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.host, s.port, _ = net.SplitHostPort(l.Addr().String())
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return s
}

// config is an EmailConfig for this server with the right credentials and
// trust, from alerts@example.com to oncall@example.com.
func (s *SMTPServer) Config(startTLS string) notify.EmailConfig {
	port, _ := strconv.Atoi(s.port)
	cfg := notify.EmailConfig{
		Host: s.host, Port: port, StartTLS: startTLS,
		Username: User, Password: Password,
		From: "jobwatch <alerts@example.com>", To: []string{"oncall@example.com"},
		Timeout: 5 * time.Second,
	}
	if s.roots != nil {
		cfg.TLSConfig = &tls.Config{RootCAs: s.roots}
	}
	return cfg
}

// authAttempts counts the AUTH PLAIN exchanges the server has seen.
func (s *SMTPServer) AuthAttempts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.authTries
}

func (s *SMTPServer) Received() []Mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Mail(nil), s.messages...)
}

// session is one SMTP connection's state.
type session struct {
	srv    *SMTPServer
	opts   SMTPOptions
	conn   *smtp.Conn
	authed bool
	from   string
	to     []string
}

func (s *session) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *session) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		s.srv.mu.Lock()
		s.srv.authTries++
		s.srv.mu.Unlock()
		if username != User || password != Password {
			return smtp.ErrAuthFailed
		}
		s.authed = true
		return nil
	}), nil
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if s.opts.RequireAuth && !s.authed {
		return smtp.ErrAuthRequired
	}
	s.from = from
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	switch to {
	case RejectedRcpt:
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "mailbox unavailable"}
	case TempfailRcpt:
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
	}
	s.to = append(s.to, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	_, isTLS := s.conn.TLSConnectionState()
	s.srv.mu.Lock()
	defer s.srv.mu.Unlock()
	s.srv.messages = append(s.srv.messages, Mail{From: s.from, To: s.to, Data: data, TLS: isTLS})
	return nil
}

func (s *session) Reset() { s.from, s.to = "", nil }

func (s *session) Logout() error { return nil }

// localCert makes a certificate for 127.0.0.1 and localhost, issued by a
// CA of its own, and a pool that trusts that CA.
func localCert(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	ca := NewCA(t)
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	return ca.Issue(t, "127.0.0.1", "localhost"), pool
}

// CA is a test certificate authority, as an organisation's private CA that
// its internal mail relay's certificate chains to.
type CA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	// PEM is the CA's certificate, PEM-encoded, as a tls_ca_file holds it.
	PEM []byte
}

// NewCA makes a CA valid for the next hour.
func NewCA(t *testing.T) *CA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "jobwatch test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &CA{cert: cert, key: key, PEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// Issue makes a server certificate for the names (host names or IP
// addresses), signed by the CA.
func (ca *CA) Issue(t *testing.T, names ...string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: names[0]},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}
