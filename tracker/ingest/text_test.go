package ingest_test

import (
	"context"
	"crypto/rand"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/storage/storagetest"
	"github.com/jobwatch/jobwatch/tracker"
)

// TestUnstorableStringsAre400 : a signed event whose strings no backend can
// store alike (a NUL in any of them, an event id too long for the unique
// index) is a 400 naming the field on SQLite and PostgreSQL alike, not a
// 503 the provider would retry for days; it changes nothing, and its
// rejection is still logged. So is a forged request with NULs in its body
// and its URL.
func TestUnstorableStringsAre400(t *testing.T) {
	t.Parallel()
	for _, driver := range storagetest.Backends {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			e := setup(t, driver)
			ctx := context.Background()
			now := time.Now()
			// Random, so that PostgreSQL cannot compress it into its index.
			var long strings.Builder
			for long.Len() < 16<<10 {
				long.WriteString(rand.Text())
			}
			mythic := func(id, status, outputFile string) []byte {
				return []byte(`{"id":"` + id + `","type":"batch.completed","created":1706140800,"data":{"object":{"id":"batch_nul","status":"` + status +
					`","request_counts":{"total":1,"completed":1,"failed":0},"output_file_id":"` + outputFile + `"}}}`)
			}
			tests := []struct {
				name, provider string
				body           []byte
				field          string
			}{
				{"NUL in the event id", "openai", openaiEvent("evt_\x00", "batch.completed", "batch_nul", now), "event_id"},
				{"NUL in the event type", "openai", openaiEvent("evt_t", "batch.\x00completed", "batch_nul", now), "type"},
				{"NUL in the job id", "openai", openaiEvent("evt_j", "batch.completed", "batch_\x00", now), "id"},
				{"16 KB event id", "openai", openaiEvent("evt_"+long.String(), "batch.completed", "batch_nul", now), "event_id: longer than 1024 bytes"},
				{"NUL in the provider status", "mythicdot", mythic("evt_s", "compl\\u0000eted", "file_1"), "provider_status"},
				{"NUL in a details value", "mythicdot", mythic("evt_d", "completed", "file_\\u0000"), "details.output_file_id"},
			}
			for _, tt := range tests {
				body := tt.body
				if tt.provider == "openai" {
					// openaiEvent's %q wrote the NUL as \x00, not JSON.
					body = []byte(strings.ReplaceAll(string(body), `\x00`, `\u0000`))
				}
				var h http.Header
				switch tt.provider {
				case "openai":
					h = signOpenAI(t, "wh_nul", body, now)
				case "mythicdot":
					h = http.Header{"X-Mythicdot-Signature": {hexHMAC(mythicSecret, body)}}
				}
				code, resp := e.post(t, tt.provider, h, body)
				if code != 400 || !strings.Contains(resp, tt.field) {
					t.Errorf("%s: %d %s, want 400 naming %s", tt.name, code, resp, tt.field)
				}
			}
			if page, err := e.tr.List(ctx, tracker.Filter{}); err != nil || len(page.Jobs) != 0 {
				t.Errorf("jobs after refused events: %+v, %v; want none", page.Jobs, err)
			}
			ds, err := e.store.ListDeliveries(ctx, tracker.DeliveryFilter{Outcome: tracker.OutcomeMalformed, Limit: 100})
			if err != nil || len(ds) != len(tests) {
				t.Errorf("%d malformed deliveries logged, %v; want %d", len(ds), err, len(tests))
			}

			// Forged: NULs in the body and the provider's name.
			if code, _ := e.post(t, "openai", nil, []byte("{\x00\"id\":\"evt\"}")); code != 401 {
				t.Errorf("forged body with a NUL: %d, want 401", code)
			}
			if code, _ := e.post(t, "no%00body", nil, []byte("x")); code != 404 {
				t.Errorf("provider name with a NUL: %d, want 404", code)
			}
			for _, o := range []tracker.Outcome{tracker.OutcomeBadSignature, tracker.OutcomeUnknownProvider} {
				if ds, err := e.store.ListDeliveries(ctx, tracker.DeliveryFilter{Outcome: o, Limit: 10}); err != nil || len(ds) != 1 || strings.Contains(ds[0].Excerpt+ds[0].Provider, "\x00") {
					t.Errorf("%s deliveries logged: %+v, %v; want the one, without its NUL", o, ds, err)
				}
			}
		})
	}
}
