package generic_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/providers"
	"github.com/jobwatch/jobwatch/providers/generic"
	"github.com/jobwatch/jobwatch/tracker"
)

// Seed corpora live in testdata/fuzz/FuzzParseEvent/, made from the generic
// task API seed (002). Each input goes through two fixed configs: the batch
// event's (paths for every field) and the task's (derived event id).

func FuzzParseEvent(f *testing.F) {
	batch, task := mustNew(f, batchConfig()), mustNew(f, taskConfig())
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, c := range []struct {
			name string
			cfg  generic.Config
			p    *generic.Parser
		}{{"batch", batchConfig(), batch}, {"task", taskConfig(), task}} {
			obs, err := c.p.ParseEvent(body)
			checkFuzzResult(t, c.name, c.cfg, obs, err)
			if err == nil && (obs.EventID == "" || c.cfg.EventID == "" && !strings.HasPrefix(obs.EventID, "generic_")) {
				t.Fatalf("%s: EventID %q", c.name, obs.EventID)
			}
			obj, objErr := c.p.ParseObject(body)
			checkFuzzResult(t, c.name, c.cfg, obj, objErr)
			if objErr == nil && (obj.EventID != "" || obj.Type != "" || !obj.OccurredAt.IsZero()) {
				t.Fatalf("%s: ParseObject filled event fields: %+v", c.name, obj)
			}
		}
	})
}

// checkFuzzResult fails the test unless a parse with cfg either failed with a
// *providers.PayloadError or returned an observation the tracker can take.
func checkFuzzResult(t *testing.T, name string, cfg generic.Config, obs tracker.Observation, err error) {
	t.Helper()
	if err != nil {
		var pe *providers.PayloadError
		if !errors.As(err, &pe) || pe.Msg == "" {
			t.Fatalf("%s: error %v (%T) is not a *providers.PayloadError with a message", name, err, err)
		}
		return
	}
	if obs.ExternalID == "" && obs.Status == "" && obs.ProviderStatus == "" && obs.Usage == nil {
		return // a provider event: it names no job
	}
	if err := tracker.ValidateExternalID(obs.ExternalID); err != nil {
		t.Fatalf("%s: ExternalID %q: %v", name, obs.ExternalID, err)
	}
	if obs.ProviderStatus == "" || obs.Status != cfg.StatusMap[obs.ProviderStatus] {
		t.Fatalf("%s: Status %q for %q", name, obs.Status, obs.ProviderStatus)
	}
	if want := cfg.Kind; want == "" && obs.Kind != tracker.KindBatch || want != "" && obs.Kind != want {
		t.Fatalf("%s: Kind %q", name, obs.Kind)
	}
	if obs.OccurredAt.Location() != time.UTC {
		t.Fatalf("%s: OccurredAt %v is not in UTC", name, obs.OccurredAt)
	}
	if u := obs.Usage; u != nil && (u.IsZero() || u.InputTokens < 0 || u.OutputTokens < 0 || u.TotalTokens < 0 ||
		u.TrainedTokens < 0 || u.RequestsTotal < 0 || u.RequestsCompleted < 0 || u.RequestsFailed < 0) {
		t.Fatalf("%s: Usage %+v", name, *u)
	}
	if obs.Details != nil || obs.PollNow || obs.Provider != "" || obs.Source != "" || obs.Payload != nil {
		t.Fatalf("%s: observation %+v", name, obs)
	}
}
