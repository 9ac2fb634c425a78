package daemon

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// certCheckInterval is how often, at most, a listener's certificate files
// are looked at for a change: once per handshake past it. A variable for
// the tests.
var certCheckInterval = 2 * time.Second

// certReloader serves a listener's certificate from its PEM files, read
// again when either file's modification time or size changes (cert-manager
// and other rotators replace them in place), so that new handshakes get the
// new certificate while open connections carry on. A pair that fails to
// load is logged and the one in use kept.
type certReloader struct {
	certFile, keyFile string
	log               *slog.Logger
	// every is how often, at most, the files are looked at.
	every time.Duration

	mu      sync.Mutex
	cert    *tls.Certificate
	stamps  [2]fileStamp
	checked time.Time
}

// fileStamp is what tells that a file changed.
type fileStamp struct {
	mod  time.Time
	size int64
}

// newCertReloader loads the pair, failing when it cannot.
func newCertReloader(certFile, keyFile string, every time.Duration, log *slog.Logger) (*certReloader, error) {
	c := &certReloader{certFile: certFile, keyFile: keyFile, every: every, log: log}
	stamps, err := c.stat()
	if err != nil {
		return nil, err
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("load TLS certificate %s and key %s: %w", certFile, keyFile, err)
	}
	c.cert, c.stamps, c.checked = &cert, stamps, time.Now()
	return c, nil
}

// stat reads the files' stamps.
func (c *certReloader) stat() ([2]fileStamp, error) {
	var out [2]fileStamp
	for i, name := range []string{c.certFile, c.keyFile} {
		fi, err := os.Stat(name)
		if err != nil {
			return out, fmt.Errorf("read TLS file: %w", err)
		}
		out[i] = fileStamp{mod: fi.ModTime(), size: fi.Size()}
	}
	return out, nil
}

// GetCertificate is tls.Config.GetCertificate: the current certificate,
// read again first when the files changed since it was.
func (c *certReloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if time.Since(c.checked) >= c.every {
		c.checked = time.Now()
		c.reload()
	}
	return c.cert, nil
}

// reload loads the pair when a file changed. A pair that does not load
// (a rotator midway between the two files) is logged once per change of
// the files, and tried again at their next change.
func (c *certReloader) reload() {
	stamps, err := c.stat()
	if err != nil {
		c.log.Warn("TLS certificate files unreadable; serving the certificate in use", "cert_file", c.certFile, "error", err)
		return
	}
	if stamps == c.stamps {
		return
	}
	c.stamps = stamps
	cert, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		c.log.Error("TLS certificate files changed but do not load; serving the certificate in use", "cert_file", c.certFile, "key_file", c.keyFile, "error", err)
		return
	}
	c.cert = &cert
	attrs := []any{"cert_file", c.certFile}
	if cert.Leaf != nil {
		attrs = append(attrs, "not_after", cert.Leaf.NotAfter)
	}
	c.log.Info("TLS certificate reloaded", attrs...)
}
