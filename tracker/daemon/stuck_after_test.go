package daemon_test

import (
	"maps"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/tracker"
	"github.com/jobwatch/jobwatch/tracker/config"
	"github.com/jobwatch/jobwatch/tracker/daemon"
)

// openaiStuckAfter configures one OpenAI provider with a stuck_after of
// its own for batches, over its type's defaults.
const openaiStuckAfter = `
[[providers]]
name = "openai"
type = "openai"
api_key = "k"
[providers.stuck_after.batch]
finalizing = "3h"
`

// rulesOf is the tracker's rules of the config text.
func rulesOf(tb testing.TB, text string) func(string, tracker.Kind) tracker.Rules {
	tb.Helper()
	cfg, err := config.Parse(text)
	if err != nil {
		tb.Fatal(err)
	}
	return daemon.TrackerOptions(cfg).Rules
}

// The tracker's rules carry each provider's stuck_after of the job's kind:
// the type's defaults with the configured ones over them.
func TestRulesCarryStuckAfter(t *testing.T) {
	t.Parallel()
	rules := rulesOf(t, openaiStuckAfter)
	want := map[string]time.Duration{"validating": time.Hour, "finalizing": 3 * time.Hour, "cancelling": time.Hour}
	if got := rules("openai", tracker.KindBatch).StuckAfter; !maps.Equal(got, want) {
		t.Errorf("openai batch stuck_after %v, want %v", got, want)
	}
	if got := rules("unconfigured", tracker.KindBatch).StuckAfter; got != nil {
		t.Errorf("an unconfigured provider's stuck_after %v, want none", got)
	}
	// The rules are built once per provider and kind: asked again, and
	// for another kind, each is its own.
	if got := rules("openai", tracker.KindBatch).StuckAfter; !maps.Equal(got, want) {
		t.Errorf("openai batch stuck_after asked again %v, want %v", got, want)
	}
	if got := rules("openai", tracker.KindResponse).StuckAfter; maps.Equal(got, want) {
		t.Errorf("openai response stuck_after %v, the batch's", got)
	}
}

// BenchmarkRules is the rules' look-up that every poll and every applied
// observation makes.
func BenchmarkRules(b *testing.B) {
	rules := rulesOf(b, openaiStuckAfter)
	b.ReportAllocs()
	for b.Loop() {
		rules("openai", tracker.KindBatch)
	}
}
