package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/storage"
	"github.com/jobwatch/jobwatch/storage/storagetest"
	"github.com/jobwatch/jobwatch/tracker"
)

// A provider's impossible figures never reach /v1/usage: Prism answering a
// poll with total_tokens -96087485, and a webhook whose figures are beyond
// int64 or a fraction, apply without them, each with a usage.dropped note
// in the job's history naming them.
func TestImpossibleUsageFiguresAreDroppedNotSummed(t *testing.T) {
	t.Parallel()
	prism := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/batches/batch_neg" || r.Header.Get("Authorization") != "Bearer sk-prism" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, `{"id":"batch_neg","object":"batch","status":"completed","request_counts":{"total":10,"completed":10,"failed":0},`+
			`"usage":{"input_tokens":1500,"output_tokens":700,"total_tokens":-96087485}}`)
	}))
	t.Cleanup(prism.Close)
	path, url := writeConfig(t, storagetest.Config(t, storage.DriverSQLite), alertConfig(fmt.Sprintf(`
[[providers]]
name = "prism"
type = "openai"
base_url = %q
api_key = "sk-prism"

[[notifiers]]
name = "log"
type = "log"
[[routes]]
events = ["*"]
notifiers = ["log"]
`, prism.URL)))
	startDaemon(t, path, url)
	ctx := context.Background()
	client := tracker.NewClient(url)
	if _, _, err := client.Track(ctx, tracker.TrackRequest{Provider: "prism", Kind: tracker.KindBatch, ExternalID: "batch_neg"}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Poll(ctx, "prism", "batch_neg"); err != nil {
		t.Fatal(err)
	}
	postMythic(t, url, []byte(fmt.Sprintf(`{"id":"evt_m1","type":"batch.completed","created":%d,"data":{"object":{"id":"batch_m","status":"completed",`+
		`"request_counts":{"total":4,"completed":4,"failed":0},"usage":{"input_tokens":1e30,"output_tokens":2.5,"total_tokens":40}}}}`, time.Now().Unix())))

	for _, tt := range []struct {
		provider, id string
		usage        tracker.Usage
		dropped      []string
	}{
		{"prism", "batch_neg", tracker.Usage{InputTokens: 1500, OutputTokens: 700, RequestsTotal: 10, RequestsCompleted: 10},
			[]string{`"field":"total_tokens","path":"usage.total_tokens","value":"-96087485","reason":"negative"`}},
		{"mythicdot", "batch_m", tracker.Usage{TotalTokens: 40, RequestsTotal: 4, RequestsCompleted: 4},
			[]string{`"field":"input_tokens","path":"data.object.usage.input_tokens","value":"1e30"`, `"field":"output_tokens","path":"data.object.usage.output_tokens","value":"2.5","reason":"not an integer"`}},
	} {
		job, err := client.Job(ctx, tt.provider, tt.id)
		if err != nil {
			t.Fatal(err)
		}
		if job.Status != tracker.StatusSucceeded || job.Usage != tt.usage {
			t.Errorf("%s job: %s with usage %+v, want succeeded with %+v", tt.provider, job.Status, job.Usage, tt.usage)
		}
		last := job.History[len(job.History)-1]
		for _, d := range tt.dropped {
			if last.Type != tracker.TypeUsageDropped || !strings.Contains(string(last.Payload), d) {
				t.Errorf("%s job's last history event = %s %s, want usage.dropped with %s", tt.provider, last.Type, last.Payload, d)
			}
		}
	}
	totals, err := client.Usage(ctx, "day", "")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]map[string]int64{
		"prism":     {"input_tokens": 1500, "output_tokens": 700, "total_tokens": 0, "tokens": 0, "requests": 10},
		"mythicdot": {"input_tokens": 0, "output_tokens": 0, "total_tokens": 40, "tokens": 40, "requests": 4},
	}
	if len(totals) != 2 {
		t.Fatalf("usage = %+v, want prism's and mythicdot's", totals)
	}
	for _, u := range totals {
		for metric, v := range want[u.Provider] {
			if u.Metrics[metric] != v {
				t.Errorf("%s usage %s = %d, want %d", u.Provider, metric, u.Metrics[metric], v)
			}
		}
	}
}
