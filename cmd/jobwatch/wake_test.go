package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/providers/signature"
	"github.com/jobwatch/jobwatch/storage"
	"github.com/jobwatch/jobwatch/storage/storagetest"
	"github.com/jobwatch/jobwatch/tracker"
)

// The daemon polls a thin webhook's job at once, with its sweeps an hour
// apart: its end is enriched and alerted without waiting for a sweep.
func TestThinWebhookIsPolledWithoutASweep(t *testing.T) {
	t.Parallel()
	var polls atomic.Int32
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/batches/batch_thin" {
			http.NotFound(w, r)
			return
		}
		polls.Add(1)
		fmt.Fprint(w, `{"id":"batch_thin","object":"batch","status":"completed","request_counts":{"total":10,"completed":10,"failed":0},`+
			`"usage":{"input_tokens":100,"output_tokens":50,"total_tokens":150}}`)
	}))
	t.Cleanup(api.Close)
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	path, url := writeConfig(t, storagetest.Config(t, storage.DriverSQLite), fmt.Sprintf(`
[sweep]
schedule = "@every 1h"

[[providers]]
name = "openai"
type = "openai"
base_url = %q
api_key = "sk-test"
[providers.webhook]
secrets = [%q]
`, api.URL, secret))
	startDaemon(t, path, url)
	ctx := context.Background()
	client := tracker.NewClient(url)
	if _, _, err := client.Track(ctx, tracker.TrackRequest{Provider: "openai", Kind: tracker.KindBatch, ExternalID: "batch_thin"}); err != nil {
		t.Fatal(err)
	}

	body := []byte(`{"id":"evt_thin","object":"event","created_at":` + strconv.FormatInt(time.Now().Unix(), 10) + `,"type":"batch.completed","data":{"id":"batch_thin"}}`)
	signer, err := signature.NewSigner(signature.Config{Scheme: signature.SchemeStandardWebhooks, Secrets: []string{secret}})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, url+"/webhooks/openai", bytes.NewReader(body))
	if err := signer.Sign(req.Header, "msg_thin", body, time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("webhook answered %d", resp.StatusCode)
	}
	eventually(t, 30*time.Second, "the thin end enriched by a poll", func() bool {
		j, err := client.Job(ctx, "openai", "batch_thin")
		return err == nil && j.Usage.RequestsCompleted == 10
	})
	if n := polls.Load(); n != 1 {
		t.Errorf("polled %d times, want once", n)
	}
}
