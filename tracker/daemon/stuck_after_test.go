package daemon_test

import (
	"maps"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/tracker"
	"github.com/jobwatch/jobwatch/tracker/config"
	"github.com/jobwatch/jobwatch/tracker/daemon"
)

// The tracker's rules carry each provider's stuck_after of the job's kind:
// the type's defaults with the configured ones over them.
func TestRulesCarryStuckAfter(t *testing.T) {
	t.Parallel()
	cfg, err := config.Parse(`
[[providers]]
name = "openai"
type = "openai"
api_key = "k"
[providers.stuck_after.batch]
finalizing = "3h"
`)
	if err != nil {
		t.Fatal(err)
	}
	rules := daemon.TrackerOptions(cfg).Rules
	want := map[string]time.Duration{"validating": time.Hour, "finalizing": 3 * time.Hour, "cancelling": time.Hour}
	if got := rules("openai", tracker.KindBatch).StuckAfter; !maps.Equal(got, want) {
		t.Errorf("openai batch stuck_after %v, want %v", got, want)
	}
	if got := rules("unconfigured", tracker.KindBatch).StuckAfter; got != nil {
		t.Errorf("an unconfigured provider's stuck_after %v, want none", got)
	}
}
