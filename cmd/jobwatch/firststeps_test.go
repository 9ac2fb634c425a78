package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/providers/signature"
	"github.com/jobwatch/jobwatch/tracker"
)

// The README's first steps on a fresh machine with no environment: serve
// config.example.toml as it is (but for its port and database file),
// register an OpenAI job. A misspelt provider is refused, over HTTP and
// straight into the database, naming the configured one; /webhooks/openai
// refuses deliveries, signed or not, until its secret is set.
func TestExampleConfigFirstSteps(t *testing.T) {
	t.Setenv("OPENAI_API_KEY", "")
	t.Setenv("OPENAI_WEBHOOK_SECRET", "")
	b, err := os.ReadFile("../../config.example.toml")
	if err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	text := string(b)
	for old, repl := range map[string]string{`listen = "127.0.0.1:8080"`: `listen = "` + addr + `"`, `dsn = "jobwatch.db"`: `dsn = "` + filepath.Join(t.TempDir(), "jobwatch.db") + `"`} {
		if !strings.Contains(text, old) {
			t.Fatalf("config.example.toml has no %s", old)
		}
		text = strings.Replace(text, old, repl, 1)
	}
	path := filepath.Join(t.TempDir(), "jobwatch.toml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	url := "http://" + addr
	d := startDaemon(t, path, url)
	ctx := context.Background()

	var stdout, stderr bytes.Buffer
	if code := run(ctx, []string{"track", "--provider", "openai", "--kind", "batch", "batch_abc123", "--label", "team=search", "--server", url}, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "tracked openai batch job batch_abc123") {
		t.Fatalf("track openai: exit %d, %q %q", code, stdout.String(), stderr.String())
	}
	for _, target := range [][]string{{"--server", url}, {"--config", path}} {
		stdout.Reset()
		stderr.Reset()
		code := run(ctx, append([]string{"track", "--provider", "opneai", "--kind", "batch", "batch_abc123"}, target...), &stdout, &stderr)
		if want := `provider: "opneai" is not configured (configured: openai)`; code != 1 || !strings.Contains(stderr.String(), want) {
			t.Errorf("track opneai %s: exit %d, %q %q; want exit 1 with %q", target[0], code, stdout.String(), stderr.String(), want)
		}
	}

	body := []byte(`{"id":"evt_1","object":"event","created_at":` + strconv.FormatInt(time.Now().Unix(), 10) + `,"type":"batch.completed","data":{"id":"batch_abc123"}}`)
	signer, err := signature.NewSigner(signature.Config{Scheme: signature.SchemeStandardWebhooks, Secrets: []string{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, signed := range []bool{false, true} {
		req, _ := http.NewRequest(http.MethodPost, url+"/webhooks/openai", bytes.NewReader(body))
		if signed {
			signer.Sign(req.Header, "msg_1", body, time.Now())
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		answer, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 401 || !strings.Contains(string(answer), "no signing secret is configured for this provider, so its webhooks are off") {
			t.Errorf("webhook (signed %v) = %d %s, want 401 saying webhooks are off", signed, resp.StatusCode, answer)
		}
	}
	job, err := tracker.NewClient(url).Job(ctx, "openai", "batch_abc123")
	if err != nil || job.Status != tracker.StatusPending || len(job.History) != 0 {
		t.Errorf("job after refused webhooks = %+v, %v; want pending, no history", job, err)
	}
	if !strings.Contains(d.logs.String(), "webhooks are off for this provider") {
		t.Errorf("no warning that openai's webhooks are off in the logs:\n%s", d.logs)
	}
}
