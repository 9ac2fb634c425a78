package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/storage"
	"github.com/jobwatch/jobwatch/storage/storagetest"
	"github.com/jobwatch/jobwatch/tracker"
	"github.com/jobwatch/jobwatch/tracker/httpapi"
)

// Jobs priced at their end, their usage totals by model, and the alerts of
// their ends and of the thresholds they cross are answered as openapi.yaml
// says: the answers that the other tests, without prices or alerts, never
// carry.
func TestCostsAndAlertsConform(t *testing.T) {
	t.Parallel()
	store := storagetest.Open(t, storage.DriverSQLite)
	tr := tracker.New(store, tracker.Options{Alerting: &tracker.Alerting{
		Routes: []tracker.Route{{Events: []string{"*"}, Notifiers: []string{"ops"}}},
		Prices: &tracker.Prices{Currency: "USD", Entries: []tracker.Price{{Provider: "openai", Model: "gpt-4o-mini*", Input: 0.15, Output: 0.6}}},
		Thresholds: []tracker.Threshold{
			{Name: "tokens", Metric: "tokens", Window: "day", Limit: 100, Levels: []float64{1}},
			{Name: "spend", Metric: tracker.MetricCost, Window: "month", Limit: 1, Currency: "USD", Levels: []float64{1}},
		},
	}})
	ctx := context.Background()
	for _, id := range []string{"batch_priced", "batch_unpriced"} {
		model := "gpt-4o-mini-2024-07-18"
		if id == "batch_unpriced" {
			model = "o3"
		}
		if _, err := tr.Observe(ctx, tracker.ApplyItem{Adopt: true, Observation: &tracker.Observation{
			Provider: "openai", ExternalID: id, Kind: tracker.KindBatch, Status: tracker.StatusSucceeded, ProviderStatus: "completed",
			Usage:   &tracker.Usage{InputTokens: 1_000_000, OutputTokens: 500_000, TotalTokens: 1_500_000},
			Details: map[string]string{tracker.DetailModel: model}, Source: tracker.SourceWebhook, EventID: "evt_" + id, OccurredAt: time.Now(),
		}}); err != nil {
			t.Fatal(err)
		}
	}
	srv := newServer(t, httpapi.New(httpapi.Options{Tracker: tr, MaxBodyBytes: 4096, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}))
	if code, body := do(t, "POST", srv.URL+"/v1/jobs", "", `{"provider":"openai","kind":"batch","id":"batch_hand"}`); code != 201 {
		t.Fatalf("track: %d %s", code, body)
	}
	for _, tt := range []struct{ method, path, body, contains string }{
		{"GET", "/v1/jobs/openai/batch_priced", "", `"cost":{"amount":0.45`},
		{"GET", "/v1/jobs/openai/batch_unpriced", "", `"unknown":"no price for openai batch model o3"`},
		{"GET", "/v1/jobs?status=succeeded", "", `"cost":`},
		{"POST", "/v1/jobs/openai/batch_hand/resolve", `{"status":"failed","reason":"never started"}`, `"resolved_by":"api"`},
		{"GET", "/v1/usage?window=month", "", `"model":"gpt-4o-mini-2024-07-18"`},
		{"GET", "/v1/alerts", "", `"threshold":`},
		{"GET", "/v1/alerts?state=pending&limit=2", "", `"alert":`},
	} {
		code, body := do(t, tt.method, srv.URL+tt.path, "", tt.body)
		if code != 200 || !strings.Contains(body, tt.contains) {
			t.Errorf("%s %s: %d %s, want 200 containing %s", tt.method, tt.path, code, body, tt.contains)
		}
	}
	var out struct{ Alerts []tracker.OutboxAlert }
	_, body := do(t, "GET", srv.URL+"/v1/alerts", "", "")
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		t.Fatal(err)
	}
	types := map[string]bool{}
	for _, a := range out.Alerts {
		types[a.Alert.Type] = true
	}
	for _, want := range []string{tracker.AlertJobSucceeded, tracker.AlertJobFailed, tracker.AlertUsageThreshold} {
		if !types[want] {
			t.Errorf("alerts %v lack %s", types, want)
		}
	}
}
