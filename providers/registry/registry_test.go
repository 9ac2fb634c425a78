package registry_test

import (
	"slices"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/providers"
	"github.com/jobwatch/jobwatch/providers/pollhttp"
	"github.com/jobwatch/jobwatch/providers/registry"
	"github.com/jobwatch/jobwatch/providers/signature"
	"github.com/jobwatch/jobwatch/tracker"
)

func TestLookup(t *testing.T) {
	t.Parallel()
	names := registry.Names()
	if len(names) != len(registry.Types()) {
		t.Fatalf("%d names for %d types", len(names), len(registry.Types()))
	}
	for i, name := range names {
		if err := tracker.ValidateProvider(name); err != nil {
			t.Errorf("type %q: %v", name, err)
		}
		if slices.Contains(names[:i], name) {
			t.Errorf("type %q is listed twice", name)
		}
		if typ, ok := registry.Lookup(name); !ok || typ.Name != name {
			t.Errorf("Lookup(%q) = %q, %v", name, typ.Name, ok)
		}
	}
	if _, ok := registry.Lookup("opneai"); ok {
		t.Error("Lookup found a type that does not exist")
	}
}

// Each type's description holds together: a type sends webhooks or is
// polled; one that sends webhooks has samples of them, a scheme that
// verifies its signatures (unless configured), and event types only when
// they are known; one that is polled gets a poller from its settings.
func TestTypesAreWhole(t *testing.T) {
	t.Parallel()
	client := pollhttp.New(pollhttp.Config{Provider: "test"})
	for _, typ := range registry.Types() {
		if typ.NewParser == nil && typ.NewPoller == nil {
			t.Errorf("%s neither sends webhooks nor is polled", typ.Name)
		}
		if (typ.NewParser == nil) != (typ.SampleEvent == nil) {
			t.Errorf("%s: a parser without sample events or the reverse", typ.Name)
		}
		if typ.NewParser == nil && (typ.Scheme != "" || len(typ.EventTypes) > 0) {
			t.Errorf("%s sends no webhooks but has a scheme or event types", typ.Name)
		}
		if typ.Mapped && (typ.Scheme != "" || len(typ.EventTypes) > 0 || typ.Validate == nil) {
			t.Errorf("%s is configured by field paths but has a default scheme or event types, or no Validate", typ.Name)
		}
		if typ.NewParser != nil && !typ.Mapped {
			if len(typ.EventTypes) == 0 {
				t.Errorf("%s sends webhooks of no known type", typ.Name)
			}
			if _, err := signature.New(signature.Config{Scheme: typ.Scheme, SignatureHeader: typ.SignatureHeader, Secrets: []string{"whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}}); err != nil {
				t.Errorf("%s: its default scheme does not verify: %v", typ.Name, err)
			}
		}
		if typ.NewPoller != nil && !typ.Mapped {
			// Settings as a valid config gives them: with an account for
			// the types whose paths name one.
			s := providers.Settings{Name: typ.Name, BaseURL: typ.DefaultBaseURL, APIKey: "key", Account: "test-account"}
			if s.BaseURL == "" {
				s.BaseURL = "https://api.example.com/v1"
			}
			poller, err := typ.NewPoller(s, client)
			if err != nil || poller == nil || !slices.ContainsFunc([]tracker.Kind{tracker.KindBatch, tracker.KindFineTuning}, poller.Polls) {
				t.Errorf("%s: poller %v, %v; want one that polls batches or fine-tuning jobs", typ.Name, poller, err)
			}
		}
	}
}

// Every sample event of a type, as send-test-event posts it, is one its own
// parser takes: about the job it names, or about no job for provider events.
func TestSampleEventsParse(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	for _, typ := range registry.Types() {
		if typ.NewParser == nil || typ.Mapped {
			continue
		}
		parser, err := typ.NewParser(providers.Settings{Name: typ.Name})
		if err != nil {
			t.Fatalf("%s: %v", typ.Name, err)
		}
		aboutJob := 0
		for _, et := range typ.EventTypes {
			body, err := typ.SampleEvent(providers.Settings{Name: typ.Name}, et, "job_sample", "evt_sample", now)
			if err != nil {
				t.Errorf("%s %s: %v", typ.Name, et, err)
				continue
			}
			obs, err := parser.ParseEvent(body)
			if err != nil {
				t.Errorf("%s %s: the sample %s does not parse: %v", typ.Name, et, body, err)
				continue
			}
			switch obs.ExternalID {
			case "job_sample":
				aboutJob++
			case "": // a provider event, about no job
			default:
				t.Errorf("%s %s: the sample is about job %q, want job_sample", typ.Name, et, obs.ExternalID)
			}
		}
		if aboutJob == 0 {
			t.Errorf("%s: no sample event is about a job", typ.Name)
		}
	}
}
