package dispatch_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/storage/storagetest"
	"github.com/jobwatch/jobwatch/tracker"
	"github.com/jobwatch/jobwatch/tracker/config"
	"github.com/jobwatch/jobwatch/tracker/dispatch"
	"github.com/jobwatch/jobwatch/tracker/notify"
)

// BenchmarkDispatch measures delivering the outbox: each round raises 500
// alerts (one per job ended, not measured) and dispatches them to a signed
// webhook notifier (at its default concurrency) whose httptest receiver reads each and answers 200,
// claim after claim until none is left; alerts/s is the rate of that.
func BenchmarkDispatch(b *testing.B) {
	const perRound = 500
	for _, driver := range storagetest.Backends {
		b.Run(driver, func(b *testing.B) {
			s := storagetest.Open(b, driver)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
			}))
			b.Cleanup(srv.Close)
			n, err := notify.NewWebhook(notify.WebhookConfig{URL: srv.URL, Secret: secret, Timeout: 5 * time.Second})
			if err != nil {
				b.Fatal(err)
			}
			d := dispatch.New(dispatch.Options{Store: s, Notifiers: map[string]notify.Notifier{"hook": n},
				Concurrency: map[string]int{"hook": config.DefaultConcurrency[config.NotifierWebhook]}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			tr := tracker.New(s, tracker.Options{Alerting: &tracker.Alerting{Routes: []tracker.Route{{Events: []string{"job.*"}, Notifiers: []string{"hook"}}}}})
			ctx := context.Background()
			jobs, sent := 0, 0
			for b.Loop() {
				b.StopTimer()
				items := make([]tracker.ApplyItem, perRound)
				for i := range items {
					jobs++
					items[i] = tracker.ApplyItem{Adopt: true, Observation: &tracker.Observation{Provider: "openai", ExternalID: fmt.Sprint("batch_", jobs),
						Kind: tracker.KindBatch, Status: tracker.StatusFailed, Source: tracker.SourceWebhook, EventID: fmt.Sprint("evt_", jobs), OccurredAt: time.Now()}}
				}
				if _, err := tr.Observe(ctx, items...); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				for {
					got, err := d.Dispatch(ctx, "hook")
					if err != nil {
						b.Fatal(err)
					}
					if got == 0 {
						break
					}
					sent += got
				}
			}
			if sent != jobs {
				b.Fatalf("%d alerts claimed for %d jobs ended", sent, jobs)
			}
			b.ReportMetric(float64(sent)/b.Elapsed().Seconds(), "alerts/s")
		})
	}
}
