package generic

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/jobwatch/jobwatch/providers"
)

// Type describes the generic provider to providers/registry: everything is
// configured, by field paths and a status map ([providers.generic]), a poll
// URL and headers ([providers.poll]) and a signature scheme that has no
// default.
var Type = providers.Type{
	Name:   "generic",
	Mapped: true,
	Validate: func(s providers.Settings, bad func(table string, err error)) {
		if s.Mapping != nil {
			if _, err := New(*s.Mapping); err != nil {
				bad("generic", err)
			}
		}
		if s.PollMapping != nil {
			if _, err := New(*s.PollMapping); err != nil {
				bad("poll", err)
			}
		}
	},
	NewParser: func(s providers.Settings) (providers.Parser, error) { return New(*s.Mapping) },
	NewPoller: func(s providers.Settings, client providers.PollClient) (providers.Poller, error) {
		parser, err := New(*s.PollMapping)
		if err != nil {
			return nil, err
		}
		return NewPoller(s.PollURL, s.PollHeaders, parser, client)
	},
	SampleEvent: sampleEvent,
}

// sampleEvent is an event holding, at the configured paths, the event id
// and type, the job id, the type's last word as the status and now.
func sampleEvent(s providers.Settings, typ, jobID, eventID string, now time.Time) ([]byte, error) {
	m := s.Mapping
	status := typ[strings.LastIndex(typ, ".")+1:]
	v := map[string]any{}
	for path, val := range map[string]any{m.EventID: eventID, m.EventType: typ, m.JobID: jobID, m.Status: status, m.OccurredAt: now.Format(time.RFC3339)} {
		if path != "" {
			setPath(v, path, val)
		}
	}
	return json.Marshal(v)
}

// setPath sets a dot-separated path in nested maps.
func setPath(m map[string]any, path string, val any) {
	keys := strings.Split(path, ".")
	for _, k := range keys[:len(keys)-1] {
		next, ok := m[k].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[k] = next
		}
		m = next
	}
	m[keys[len(keys)-1]] = val
}
