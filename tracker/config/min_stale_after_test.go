package config_test

import (
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/tracker"
	"github.com/jobwatch/jobwatch/tracker/config"
)

// A provider whose type tolerates polls no more often than its
// MinStaleAfter (azure-openai: 2m) is never polled sooner, even when the
// sweep's stale_after is shorter; its own longer settings are kept, and
// other types keep the sweep's.
func TestStaleAfterRespectsTheTypesFloor(t *testing.T) {
	t.Parallel()
	c, err := config.Parse(`
[sweep]
stale_after = "30s"
[[providers]]
name = "azure"
type = "azure-openai"
base_url = "https://my-resource.openai.azure.com"
api_key = "k"
[providers.poll.stale_after_by_kind]
fine_tuning = "15m"
[[providers]]
name = "mistral"
type = "mistral"
api_key = "k"
`)
	if err != nil {
		t.Fatal(err)
	}
	azure, mistral := c.Providers[0], c.Providers[1]
	for _, tt := range []struct {
		p    config.Provider
		kind tracker.Kind
		want time.Duration
	}{
		{azure, tracker.KindBatch, 2 * time.Minute},
		{azure, tracker.KindFineTuning, 15 * time.Minute},
		{mistral, tracker.KindBatch, 30 * time.Second},
	} {
		if got := tt.p.StaleAfterFor(tt.kind, c.Sweep); got != tt.want {
			t.Errorf("%s %s: stale after %s, want %s", tt.p.Name, tt.kind, got, tt.want)
		}
	}
}
