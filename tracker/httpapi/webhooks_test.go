package httpapi_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/jobwatch/jobwatch/providers/mythicdot"
	"github.com/jobwatch/jobwatch/providers/signature"
	"github.com/jobwatch/jobwatch/storage"
	"github.com/jobwatch/jobwatch/storage/storagetest"
	"github.com/jobwatch/jobwatch/tracker"
	"github.com/jobwatch/jobwatch/tracker/httpapi"
	"github.com/jobwatch/jobwatch/tracker/ingest"
)

// The daemon's webhook ingest, mounted on the API as the daemon mounts it,
// answers as openapi.yaml says, every outcome of a delivery included.
func TestWebhookAnswersConform(t *testing.T) {
	t.Parallel()
	const secret = "mythic-secret"
	verifier, err := signature.New(signature.Config{Scheme: signature.SchemeHMACSHA256Hex, Secrets: []string{secret}, SignatureHeader: "X-MythicDot-Signature"})
	if err != nil {
		t.Fatal(err)
	}
	tr := tracker.New(storagetest.Open(t, storage.DriverSQLite), tracker.Options{})
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	api := httpapi.New(httpapi.Options{Tracker: tr, MaxBodyBytes: 4096, Logger: log})
	hooks := ingest.New(ingest.Options{Tracker: tr, MaxBodyBytes: 4096, Logger: log, Providers: []ingest.Provider{
		{Name: "mythicdot", Adopt: true, Parser: mythicdot.WebhookParser{}, Verifier: verifier},
		{Name: "limited", Adopt: true, Parser: mythicdot.WebhookParser{}, Verifier: verifier, Limiter: rate.NewLimiter(rate.Every(time.Hour), 1)},
	}})
	api.Handle("/webhooks/{name}", hooks.ServeHTTP, false)
	srv := newServer(t, api)

	event := `{"id":"evt_1","type":"batch.completed","created":1706140800,"data":{"object":{"id":"batch_1","status":"completed"}}}`
	sign := func(body string) string {
		m := hmac.New(sha256.New, []byte(secret))
		m.Write([]byte(body))
		return hex.EncodeToString(m.Sum(nil))
	}
	for _, tt := range []struct {
		name, method, provider, body, signature string
		code                                    int
		contains                                string
	}{
		{"accepted", "POST", "mythicdot", event, sign(event), 200, `"accepted"`},
		{"duplicate", "POST", "mythicdot", event, sign(event), 200, `"duplicate"`},
		{"bad signature", "POST", "mythicdot", event, sign("other"), 401, "signature"},
		{"not JSON", "POST", "mythicdot", "{not json", sign("{not json"), 400, ""},
		{"too large", "POST", "mythicdot", strings.Repeat(" ", 5000) + event, "00", 413, ""},
		{"unknown provider", "POST", "nobody", event, sign(event), 404, ""},
		{"not a POST", "GET", "mythicdot", "", "", 405, "POST"},
		{"within the rate", "POST", "limited", strings.Replace(event, "evt_1", "evt_2", 1), sign(strings.Replace(event, "evt_1", "evt_2", 1)), 200, `"accepted"`},
		{"over the rate", "POST", "limited", event, sign(event), 429, ""},
	} {
		req, err := http.NewRequest(tt.method, srv.URL+"/webhooks/"+tt.provider, strings.NewReader(tt.body))
		if err != nil {
			t.Fatal(err)
		}
		if tt.signature != "" {
			req.Header.Set("X-MythicDot-Signature", tt.signature)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.code || !strings.Contains(string(b), tt.contains) {
			t.Errorf("%s: %d %s, want %d containing %q", tt.name, resp.StatusCode, b, tt.code, tt.contains)
		}
	}
}
