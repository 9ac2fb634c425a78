package config

import (
	"fmt"
	"slices"
	"strings"

	"github.com/jobwatch/jobwatch/providers/llmtune"
	"github.com/jobwatch/jobwatch/providers/mythicdot"
	"github.com/jobwatch/jobwatch/providers/openai"
	"github.com/jobwatch/jobwatch/tracker"
)

// EventTypes returns the event types a provider of type typ sends, and
// whether jobwatch knows them: a generic provider's are whatever its payloads
// hold at the configured event_type path (known false); anthropic sends none.
func EventTypes(typ string) (types []string, known bool) {
	switch typ {
	case TypeOpenAI:
		return openai.EventTypes, true
	case TypeMythicDot:
		return mythicdot.EventTypes, true
	case TypeLLMTune:
		return llmtune.EventTypes, true
	case TypeAnthropic:
		return nil, true
	}
	return nil, false
}

// routeEventKnown reports whether e, a route's event that is not a pattern,
// names an alert jobwatch can raise: one of tracker.JobwatchAlertTypes, or
// an event type of a provider type (provider events are alerts under their
// own type). With a generic provider configured, whose types jobwatch cannot
// know, any name outside jobwatch's own job.* alerts is taken.
func (c *Config) routeEventKnown(e string) bool {
	if slices.Contains(tracker.JobwatchAlertTypes, e) {
		return true
	}
	for _, typ := range ProviderTypes {
		if types, _ := EventTypes(typ); slices.Contains(types, e) {
			return true
		}
	}
	return !strings.HasPrefix(e, "job.") && slices.ContainsFunc(c.Providers, func(p Provider) bool { return p.Type == TypeGeneric })
}

// alertTypesHelp lists what a route's events may name.
func alertTypesHelp() string {
	parts := []string{"jobwatch raises " + strings.Join(tracker.JobwatchAlertTypes, ", ")}
	for _, typ := range ProviderTypes {
		if types, _ := EventTypes(typ); len(types) > 0 {
			parts = append(parts, fmt.Sprintf("%s sends %s", typ, strings.Join(types, ", ")))
		}
	}
	return strings.Join(parts, "; ") + "; or a pattern ending in *"
}
