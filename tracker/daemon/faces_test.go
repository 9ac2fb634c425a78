package daemon_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/storage"
	"github.com/jobwatch/jobwatch/storage/storagetest"
	"github.com/jobwatch/jobwatch/tracker/config"
	"github.com/jobwatch/jobwatch/tracker/daemon"
)

// testCA signs the listeners' certificates of the tests.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "jobwatch test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool}
}

// issue writes a new key and a certificate for 127.0.0.1 of that serial
// number to certFile and keyFile, as a rotator replaces them.
func (ca *testCA) issue(t *testing.T, serial int64, certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "jobwatch"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))
	writeFile(t, certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func writeFile(t *testing.T, name string, b []byte) {
	t.Helper()
	if err := os.WriteFile(name, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// client is an HTTPS client trusting ca, with a connection of its own.
func (ca *testCA) client() *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.pool}}}
}

// serialOf gets url with c and returns the serial number of the
// certificate the connection was made with.
func serialOf(t *testing.T, c *http.Client, url string) int64 {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.TLS == nil {
		t.Fatalf("GET %s: %d, TLS %v", url, resp.StatusCode, resp.TLS != nil)
	}
	return resp.TLS.PeerCertificates[0].SerialNumber.Int64()
}

// The public listener serves HTTPS and picks up a rotated certificate for
// new connections while an open keep-alive connection carries on; a pair
// that does not load leaves the one in use.
func TestTLSCertificateRotation(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	ca.issue(t, 100, certFile, keyFile)
	d := startDaemon(t, storage.DriverSQLite, fmt.Sprintf("tls_cert_file = %q\ntls_key_file = %q\n", certFile, keyFile), "")
	url := strings.Replace(d.url, "http://", "https://", 1) + "/healthz"

	old := ca.client()
	if got := serialOf(t, old, url); got != 100 {
		t.Fatalf("first certificate: serial %d, want 100", got)
	}
	// Plain HTTP on a TLS listener gets no answer of the API.
	if resp, err := http.Get(d.url + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Errorf("plain HTTP on the TLS listener answered 200")
		}
	}

	ca.issue(t, 200, certFile, keyFile)
	deadline := time.Now().Add(5 * time.Second)
	for serialOf(t, ca.client(), url) != 200 {
		if time.Now().After(deadline) {
			t.Fatalf("a new connection still gets the old certificate 5s after the rotation; logs:\n%s", d.logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The open connection was not dropped: it still speaks with the
	// certificate it was made with.
	if got := serialOf(t, old, url); got != 100 {
		t.Errorf("the keep-alive connection now has serial %d: it was dropped and made again", got)
	}

	writeFile(t, certFile, []byte("-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n"))
	for !strings.Contains(d.logs.String(), "do not load") {
		if time.Now().After(deadline.Add(5 * time.Second)) {
			t.Fatalf("a broken certificate file was not reported; logs:\n%s", d.logs)
		}
		serialOf(t, ca.client(), url)
		time.Sleep(20 * time.Millisecond)
	}
	if got := serialOf(t, ca.client(), url); got != 200 {
		t.Errorf("after a broken rotation, serial %d, want the one in use (200)", got)
	}
}

// With server.admin_listen, the public listener serves the webhooks and
// health endpoints only and the admin listener the rest, /metrics behind
// its token; each listener with TLS or not.
func TestTwoFaces(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "admin.crt"), filepath.Join(dir, "admin.key")
	ca.issue(t, 7, certFile, keyFile)
	d := startDaemon(t, storage.DriverSQLite, fmt.Sprintf(`admin_listen = "127.0.0.1:0"
admin_tls_cert_file = %q
admin_tls_key_file = %q
metrics_token = "scrape-token"
`, certFile, keyFile), tasksProvider)
	if d.admin == "" {
		t.Fatal("no admin listener")
	}
	admin := strings.Replace(d.admin, "http://", "https://", 1)
	client := ca.client()
	status := func(method, url, token, body string) int {
		t.Helper()
		req, err := http.NewRequest(method, url, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, url, err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, c := range []struct {
		method, url, token, body string
		want                     int
	}{
		{"GET", d.url + "/healthz", "", "", 200},
		{"GET", d.url + "/readyz", "", "", 200},
		{"POST", d.url + "/webhooks/tasks", "", taskEvent("t1"), 200},
		{"GET", d.url + "/v1/jobs", "", "", 404},
		{"GET", d.url + "/metrics", "scrape-token", "", 404},
		{"GET", d.url + "/ui/", "", "", 404},
		{"GET", d.url + "/openapi.yaml", "", "", 404},
		{"GET", admin + "/ui/", "", "", 200},
		{"GET", admin + "/openapi.yaml", "", "", 200},
		{"GET", admin + "/v1/jobs/tasks/task_t1", "", "", 200},
		{"GET", admin + "/healthz", "", "", 200},
		{"POST", admin + "/webhooks/tasks", "", taskEvent("t2"), 404},
		{"GET", admin + "/metrics", "", "", 401},
		{"GET", admin + "/metrics", "scrape-token", "", 200},
	} {
		if got := status(c.method, c.url, c.token, c.body); got != c.want {
			t.Errorf("%s %s: %d, want %d", c.method, c.url, got, c.want)
		}
	}
	d.stopWithin(t)
	if out := d.logs.String(); !strings.Contains(out, "admin_listen="+admin) || !strings.Contains(out, " listen="+d.url) {
		t.Errorf("the start log does not name both listeners:\n%s", out)
	}
}

// A certificate pair that does not load stops the start, naming the key.
func TestTLSPairThatDoesNotLoad(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	writeFile(t, certFile, []byte("not a certificate"))
	writeFile(t, keyFile, []byte("not a key"))
	sc := storagetest.Config(t, storage.DriverSQLite)
	cfg, err := config.Parse(fmt.Sprintf("[server]\nlisten = \"127.0.0.1:0\"\nadmin_listen = \"127.0.0.1:0\"\nadmin_tls_cert_file = %q\nadmin_tls_key_file = %q\n[storage]\ndsn = %q\n", certFile, keyFile, sc.DSN))
	if err != nil {
		t.Fatal(err)
	}
	d, err := daemon.New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err == nil {
		d.Close()
		t.Fatal("the daemon started with a certificate that does not load")
	}
	if !strings.Contains(err.Error(), "server.admin_listen TLS") || !strings.Contains(err.Error(), certFile) {
		t.Errorf("error %q does not name the key and the file", err)
	}
}
