package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/storage"
)

// binary is the jobwatch command built once for the tests that run it as a
// child process.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "jobwatch-bin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "jobwatch")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build jobwatch: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func TestCheckConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name, file string
		code       int
		out        string
	}{
		{"example", "../../config.example.toml", 0, "config ok: listen 127.0.0.1:8080, storage sqlite"},
		{"misspelt key", write("typo.toml", "[storage]\ndrivr = \"sqlite\"\n"), 1, "storage.drivr: unknown key"},
		{"bad duration", write("dur.toml", "[server]\nwrite_timeout = \"5 mins\"\n"), 1, "server.write_timeout"},
		{"missing file", filepath.Join(dir, "nope.toml"), 1, "read config"},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), []string{"check-config", "--config", tt.file}, &stdout, &stderr)
		if code != tt.code || !strings.Contains(stdout.String()+stderr.String(), tt.out) {
			t.Errorf("%s: exit %d, out %q %q; want exit %d with %q", tt.name, code, stdout.String(), stderr.String(), tt.code, tt.out)
		}
	}
	var stderr bytes.Buffer
	if code := run(context.Background(), []string{"frobnicate"}, &bytes.Buffer{}, &stderr); code != 2 || !strings.Contains(stderr.String(), "unknown command") {
		t.Errorf("unknown command: exit %d, %q", code, stderr.String())
	}
}

// daemonProc is a jobwatch serve child process.
type daemonProc struct {
	cmd  *exec.Cmd
	url  string
	logs *logBuffer
}

// logBuffer is a daemon's log, readable while the daemon writes it.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// writeConfig writes a config for cfg listening on a free port.
func writeConfig(t *testing.T, cfg storage.Config, extra string) (path, url string) {
	t.Helper()
	addr := freeAddr(t)
	text := fmt.Sprintf("[server]\nlisten = %q\n[storage]\ndriver = %q\ndsn = %q\n[log]\nlevel = \"warn\"\n%s", addr, cfg.Driver, cfg.DSN, extra)
	path = filepath.Join(t.TempDir(), "jobwatch.toml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, "http://" + addr
}

func startDaemon(t *testing.T, configPath, url string) *daemonProc {
	t.Helper()
	d := &daemonProc{url: url, logs: &logBuffer{}}
	d.cmd = exec.Command(binary, "serve", "--config", configPath)
	d.cmd.Stderr = d.logs
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.cmd.Process.Kill(); d.cmd.Wait() })
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return d
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("daemon did not become ready; logs:\n%s", d.logs)
	return nil
}

// kill9 kills the daemon the way a crash would.
func (d *daemonProc) kill9(t *testing.T) {
	t.Helper()
	if err := d.cmd.Process.Signal(os.Kill); err != nil {
		t.Fatal(err)
	}
	d.cmd.Wait()
}
