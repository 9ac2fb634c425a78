package daemon_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/jobwatch/jobwatch/storage"
	"github.com/jobwatch/jobwatch/tracker/internal/logtest"
)

// runDaemon starts a daemon of the config text (listening on a free port,
// over a fresh SQLite database, with more [server] keys in server) and
// returns its URL, its log and a function that stops it and waits for Run
// to return.
func runDaemon(t *testing.T, server, text string) (url string, logs *logtest.Buffer, stop func()) {
	t.Helper()
	d := startDaemon(t, storage.DriverSQLite, server, text)
	return d.url, d.logs, func() { d.stop(t) }
}

// The start log says, for each provider, whether webhooks and polls are on
// and why not.
func TestStartLogListsProviders(t *testing.T) {
	t.Parallel()
	_, logs, stop := runDaemon(t, "", `
[[providers]]
name = "openai"
type = "openai"
[providers.webhook]
secrets = ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]

[[providers]]
name = "claude"
type = "anthropic"
api_key = "sk-ant-secret-key"

[[providers]]
name = "tune"
type = "llmtune"
[providers.webhook]
secrets = ["llm-secret"]

[[providers]]
name = "tasks"
type = "generic"
[providers.webhook]
insecure_skip_verify = true
[providers.generic]
job_id = "data.id"
status = "data.status"

[[providers]]
name = "mirror"
type = "openai"
api_key = "sk-secret-key"
`)
	stop()
	out := logs.String()
	for _, want := range []string{
		"provider openai: webhooks on, polling off (no api_key)",
		"provider claude: webhooks off (anthropic sends none), polling on",
		"provider tune: webhooks on, polling off (llmtune has no polling API)",
		"provider tasks: webhooks on, signatures NOT verified (insecure_skip_verify), polling off (no poll.url)",
		"provider mirror: webhooks off (no [providers.webhook] table), polling on",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("start log lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "sk-") || strings.Contains(out, "whsec_") || strings.Contains(out, "llm-secret") {
		t.Errorf("start log holds a secret:\n%s", out)
	}
}

func TestStartLogWithoutProviders(t *testing.T) {
	t.Parallel()
	_, logs, stop := runDaemon(t, "", "")
	stop()
	if !strings.Contains(logs.String(), "no providers configured") {
		t.Errorf("start log without providers:\n%s", logs)
	}
}

// server.max_header_bytes caps the request headers (64 KiB by default, not
// net/http's 1 MiB).
func TestMaxHeaderBytes(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		server   string
		header   int
		wantCode int
	}{
		{"", 32 << 10, 200},
		{"", 100 << 10, 431},
		{"max_header_bytes = 200000", 100 << 10, 200},
	} {
		url, _, stop := runDaemon(t, tt.server, "")
		req, _ := http.NewRequest("GET", url+"/healthz", nil)
		req.Header.Set("X-Padding", strings.Repeat("a", tt.header))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%q, %d-byte header: %v", tt.server, tt.header, err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.wantCode {
			t.Errorf("%q, %d-byte header: %d, want %d", tt.server, tt.header, resp.StatusCode, tt.wantCode)
		}
		stop()
	}
}
