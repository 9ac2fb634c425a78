package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/storage"
	"github.com/jobwatch/jobwatch/storage/storagetest"
	"github.com/jobwatch/jobwatch/tracker"
)

// The README's worked example, on the real daemon: a price entry, a batch
// finishing with usage, its cost on the job, in /v1/usage, in `jobwatch
// usage`, in the Slack message, a cost threshold firing once; and a batch
// held in finalizing raising job.stuck once.
func TestCostAndStuckWorkedExample(t *testing.T) {
	t.Parallel()
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/batches/batch_cost":
			fmt.Fprint(w, `{"id":"batch_cost","object":"batch","status":"completed","model":"gpt-4o-mini-2024-07-18",`+
				`"request_counts":{"total":1000,"completed":1000,"failed":0},"completed_at":`+fmt.Sprint(time.Now().Unix())+`,`+
				`"usage":{"input_tokens":2000000,"input_tokens_details":{"cached_tokens":500000},"output_tokens":1000000,"total_tokens":3000000}}`)
		case "/batches/batch_tiny":
			fmt.Fprint(w, `{"id":"batch_tiny","object":"batch","status":"completed",`+
				`"request_counts":{"total":1,"completed":1,"failed":0},"usage":{"input_tokens":1000,"output_tokens":0,"total_tokens":1000}}`)
		case "/batches/batch_slow":
			fmt.Fprint(w, `{"id":"batch_slow","object":"batch","status":"finalizing","model":"gpt-4o-mini-2024-07-18",`+
				`"request_counts":{"total":1000,"completed":1000,"failed":0}}`)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(api.Close)
	slack := &slackStandIn{}
	slackSrv := httptest.NewServer(slack)
	t.Cleanup(slackSrv.Close)
	path, url := writeConfig(t, storagetest.Config(t, storage.DriverSQLite), alertConfig(fmt.Sprintf(`
[sweep]
schedule = "@every 1s"

[[providers]]
name = "openai"
type = "openai"
base_url = %q
api_key = "sk-test"
[providers.poll]
stale_after = "1s"
[providers.stuck_after.batch]
finalizing = "2s"

[costs]
currency = "USD"

[[prices]]
provider = "openai"
model = "gpt-4o-mini*"
kind = "batch"
input_per_million = 0.075
cached_input_per_million = 0.0375
output_per_million = 0.30

[[thresholds]]
name = "daily-spend"
metric = "cost"
window = "day"
limit = 0.40
levels = [1.0]

[[notifiers]]
name = "ops-slack"
type = "slack"
webhook_url = %q

[[routes]]
events = ["job.*", "usage.threshold"]
notifiers = ["ops-slack"]
`, api.URL, slackSrv.URL+"/services/T0/B0/XYZ")))
	startDaemon(t, path, url)
	ctx := context.Background()
	client := tracker.NewClient(url)

	// 1.5M input at 0.075, 0.5M cached at 0.0375, 1M output at 0.30 per
	// million: 0.1125 + 0.01875 + 0.30 = 0.43125 USD.
	job, err := trackAndPoll(t, url, "openai", tracker.KindBatch, "batch_cost")
	if err != nil {
		t.Fatal(err)
	}
	if c := job.Cost; !c.Known() || c.Nanos != 431_250_000 || c.Currency != "USD" || c.Price == nil || c.Price.Model != "gpt-4o-mini*" {
		t.Fatalf("job cost = %+v, want 0.43125 USD priced by gpt-4o-mini*", c)
	}
	totals, err := client.Usage(ctx, "day", "openai")
	if err != nil || len(totals) != 1 || totals[0].Model != "gpt-4o-mini-2024-07-18" || totals[0].Cost != 0.43125 || totals[0].Currency != "USD" {
		t.Fatalf("usage = %+v, %v; want 0.43125 USD for gpt-4o-mini-2024-07-18", totals, err)
	}
	code, out, stderr := runCLI("usage", "--provider", "openai", "--server", url)
	if code != 0 || !strings.Contains(out, "gpt-4o-mini-2024-07-18") || !strings.Contains(out, "0.43 USD") {
		t.Fatalf("jobwatch usage: exit %d\n%s%s", code, out, stderr)
	}
	eventually(t, 5*time.Second, "slack gets the end and the threshold", func() bool { return len(slack.got()) >= 2 })
	texts := strings.Join(slack.got(), "\n---\n")
	for _, want := range []string{"cost: 0.43 USD", "cost threshold daily-spend at 100%: 0.43 USD of 0.40 USD this day"} {
		if !strings.Contains(texts, want) {
			t.Errorf("slack messages lack %q:\n%s", want, texts)
		}
	}

	// A batch stuck in finalizing: job.stuck once, however many sweeps
	// poll it after.
	if _, _, err := client.Track(ctx, tracker.TrackRequest{Provider: "openai", Kind: tracker.KindBatch, ExternalID: "batch_slow"}); err != nil {
		t.Fatal(err)
	}
	stuck := func() (n int) {
		for _, m := range slack.got() {
			if strings.Contains(m, "batch_slow is stuck") {
				n++
			}
		}
		return n
	}
	eventually(t, 15*time.Second, "job.stuck reaches slack", func() bool { return stuck() > 0 })
	time.Sleep(3 * time.Second) // three more sweeps
	if n := stuck(); n != 1 {
		t.Fatalf("%d job.stuck messages, want 1:\n%s", n, strings.Join(slack.got(), "\n---\n"))
	}
	job, err = client.Job(ctx, "openai", "batch_slow")
	if err != nil || job.StuckStatus != "finalizing" || job.Status.Terminal() {
		t.Fatalf("batch_slow = %+v, %v; want live, stuck in finalizing", job, err)
	}

	// A batch whose object names no model, registered with one.
	for _, args := range [][]string{{"track", "--provider", "openai", "--kind", "batch", "--model", "gpt-4o-mini", "batch_tiny"}, {"poll", "--provider", "openai", "batch_tiny"}} {
		if code, _, stderr := runCLI(append(args, "--server", url)...); code != 0 {
			t.Fatalf("jobwatch %s: exit %d: %s", args[0], code, stderr)
		}
	}
	if job, err := client.Job(ctx, "openai", "batch_tiny"); err != nil || job.Details[tracker.DetailModel] != "gpt-4o-mini" || !job.Cost.Known() || job.Cost.Nanos != 75_000 {
		t.Fatalf("batch_tiny = %+v, %v; want priced at 0.000075 USD on its registered model", job, err)
	}
	// Metrics: the cost counter by model, and the usage gauge summing a
	// provider's models.
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`jobwatch_cost_total{currency="USD",model="gpt-4o-mini-2024-07-18",provider="openai"} 0.43125`,
		`jobwatch_cost_total{currency="USD",model="gpt-4o-mini",provider="openai"} 7.5e-05`,
		`jobwatch_usage{metric="cost",provider="openai",window="day"} 0.431325`,
		`jobwatch_usage{metric="jobs",provider="openai",window="day"} 2`,
	} {
		if resp.StatusCode != 200 || !strings.Contains(string(body), want) {
			t.Errorf("/metrics (%d) lacks %s", resp.StatusCode, want)
		}
	}
	for _, m := range slack.got() {
		t.Logf("slack:\n%s", m)
	}
	t.Logf("jobwatch usage:\n%s", out)
}
