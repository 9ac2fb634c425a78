package main

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/storage"
	"github.com/jobwatch/jobwatch/storage/storagetest"
)

// SIGHUP reloads the config file: a rotated webhook secret takes over at
// once, the old one refused and the new one accepted, without a restart.
// A file that does not load is refused with its errors logged, and the
// running config keeps serving.
func TestSIGHUPReloadsTheConfig(t *testing.T) {
	t.Parallel()
	path, url := writeConfig(t, storagetest.Config(t, storage.DriverSQLite), `
[[providers]]
name = "mythicdot"
type = "mythicdot"
[providers.webhook]
secrets = ["secret-one"]
`)
	// The reload is logged at info.
	rewrite := func(from, to string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(strings.Replace(mustRead(t, path), from, to, 1)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	rewrite(`level = "warn"`, `level = "info"`)
	d := startDaemon(t, path, url)
	deliver := func(secret string, n int) int {
		t.Helper()
		body := []byte(fmt.Sprintf(`{"id":"evt_%d","type":"batch.completed","created":1706140800,"data":{"object":{"id":"batch_%d","status":"completed"}}}`, n, n))
		req, err := http.NewRequest(http.MethodPost, url+"/webhooks/mythicdot", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-MythicDot-Signature", hexHMAC(secret, body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("delivery %d: %v; logs:\n%s", n, err, d.logs)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	hangup := func(logged string) {
		t.Helper()
		before := strings.Count(d.logs.String(), logged)
		if err := d.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		eventually(t, 10*time.Second, "the log says "+logged, func() bool { return strings.Count(d.logs.String(), logged) > before })
	}

	if code := deliver("secret-one", 1); code != http.StatusOK {
		t.Fatalf("signed with the first secret: %d, want 200", code)
	}
	rewrite("secret-one", "secret-two")
	hangup("config reloaded")
	if code := deliver("secret-one", 2); code != http.StatusUnauthorized {
		t.Errorf("signed with the rotated-out secret: %d, want 401", code)
	}
	if code := deliver("secret-two", 3); code != http.StatusOK {
		t.Errorf("signed with the new secret: %d, want 200", code)
	}

	// A misspelt table, and a secret that must not take over with it.
	rewrite("secret-two", "secret-three")
	rewrite("[storage]", "[sever]\nlisten = \"x\"\n[storage]")
	hangup("config reload refused")
	if out := d.logs.String(); !strings.Contains(out, "sever: unknown key") {
		t.Errorf("the refusal does not say why:\n%s", out)
	}
	if code := deliver("secret-three", 4); code != http.StatusUnauthorized {
		t.Errorf("signed with the secret of the refused file: %d, want 401", code)
	}
	if code := deliver("secret-two", 5); code != http.StatusOK {
		t.Errorf("signed with the running secret after a refused reload: %d, want 200", code)
	}
	if d.cmd.ProcessState != nil {
		t.Fatalf("the daemon exited; logs:\n%s", d.logs)
	}
	if out := d.logs.String(); strings.Contains(out, "secret-") {
		t.Errorf("the log holds a secret:\n%s", out)
	}
}
