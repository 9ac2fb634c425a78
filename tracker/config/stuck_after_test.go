package config_test

import (
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/tracker"
	"github.com/jobwatch/jobwatch/tracker/config"
)

// stuck_after is the type's defaults with the provider's
// [providers.stuck_after.<kind>] over them; "0s" turns a default off.
func TestStuckAfter(t *testing.T) {
	t.Parallel()
	c, err := config.Parse(`
[[providers]]
name = "openai"
type = "openai"
api_key = "k"
[providers.stuck_after.batch]
finalizing = "4h"
validating = "0s"
in_progress = "30h"
[[providers]]
name = "gemini"
type = "gemini"
api_key = "k"
[[providers]]
name = "mistral"
type = "mistral"
api_key = "k"
[[providers]]
name = "azure"
type = "azure-openai"
base_url = "https://my-resource.openai.azure.com"
api_key = "k"
[[providers]]
name = "mythicdot"
type = "mythicdot"
base_url = "https://api.mythicdot.ai/v1"
api_key = "k"
[[providers]]
name = "mythicdot-eu"
type = "mythicdot"
base_url = "https://eu.api.mythicdot.ai/v1"
api_key = "k"
[providers.stuck_after.fine_tuning]
queued = "24h"
`)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		p    config.Provider
		kind tracker.Kind
		want map[string]time.Duration
	}{
		{c.Providers[0], tracker.KindBatch, map[string]time.Duration{"finalizing": 4 * time.Hour, "validating": 0, "cancelling": time.Hour, "in_progress": 30 * time.Hour}},
		{c.Providers[0], tracker.KindFineTuning, map[string]time.Duration{"queued": 12 * time.Hour}},
		{c.Providers[1], tracker.KindBatch, map[string]time.Duration{"BATCH_STATE_PENDING": 24 * time.Hour}},
		{c.Providers[2], tracker.KindBatch, nil},
		{c.Providers[3], tracker.KindBatch, map[string]time.Duration{"validating": time.Hour, "finalizing": 2 * time.Hour, "cancelling": time.Hour}},
		{c.Providers[3], tracker.KindFineTuning, nil},
		{c.Providers[4], tracker.KindBatch, map[string]time.Duration{"validating": time.Hour, "finalizing": 2 * time.Hour, "cancelling": time.Hour}},
		{c.Providers[4], tracker.KindFineTuning, map[string]time.Duration{"queued": 12 * time.Hour}},
		// Over the defaults it shares with openai, leaving openai's as they are.
		{c.Providers[5], tracker.KindFineTuning, map[string]time.Duration{"queued": 24 * time.Hour}},
		{c.Providers[0], tracker.KindFineTuning, map[string]time.Duration{"queued": 12 * time.Hour}},
	} {
		if got := tt.p.StuckAfterFor(tt.kind); !maps.Equal(got, tt.want) {
			t.Errorf("%s %s: stuck_after %v, want %v", tt.p.Name, tt.kind, got, tt.want)
		}
	}
	_, err = config.Parse(`
[[providers]]
name = "openai"
type = "openai"
api_key = "k"
[providers.stuck_after.batch]
finalizing = "-1h"
`)
	if err == nil || !strings.Contains(err.Error(), "stuck_after.batch.finalizing") {
		t.Errorf("negative stuck_after: error %v", err)
	}
}
