package config

import (
	"fmt"
	"slices"
	"strings"

	"github.com/jobwatch/jobwatch/providers/registry"
	"github.com/jobwatch/jobwatch/tracker"
)

// EventTypes returns the event types a provider of type typ sends, and
// whether jobwatch knows them: a type configured by field paths (generic)
// sends whatever its payloads hold at the configured event_type path (known
// false); a polled-only type (anthropic) sends none.
func EventTypes(typ string) (types []string, known bool) {
	t, ok := registry.Lookup(typ)
	if !ok || t.Mapped {
		return nil, false
	}
	return t.EventTypes, true
}

// routeEventKnown reports whether e, a route's event that is not a pattern,
// names an alert jobwatch can raise: one of tracker.JobwatchAlertTypes, or
// an event type of a provider type (provider events are alerts under their
// own type). With a provider configured by field paths, whose types jobwatch
// cannot know, any name outside jobwatch's own job.* alerts is taken.
func (c *Config) routeEventKnown(e string) bool {
	if slices.Contains(tracker.JobwatchAlertTypes, e) {
		return true
	}
	for _, t := range registry.Types() {
		if slices.Contains(t.EventTypes, e) {
			return true
		}
	}
	return !strings.HasPrefix(e, "job.") && slices.ContainsFunc(c.Providers, func(p Provider) bool {
		t, _ := p.ProviderType()
		return t.Mapped
	})
}

// alertTypesHelp lists what a route's events may name.
func alertTypesHelp() string {
	parts := []string{"jobwatch raises " + strings.Join(tracker.JobwatchAlertTypes, ", ")}
	for _, t := range registry.Types() {
		if len(t.EventTypes) > 0 {
			parts = append(parts, fmt.Sprintf("%s sends %s", t.Name, strings.Join(t.EventTypes, ", ")))
		}
	}
	return strings.Join(parts, "; ") + "; or a pattern ending in *"
}
