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
