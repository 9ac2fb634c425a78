package tracker

import (
	"encoding/json"
	"slices"
	"strconv"
)

// TypeUsageDropped is the history event that notes the usage figures of an
// observation jobwatch refused (see DroppedFigure). It follows the
// observation's own event and changes nothing; its payload is
// {"dropped": [DroppedFigure, ...]}.
const TypeUsageDropped = "usage.dropped"

// UsageFields name Usage's figures as its JSON (and the generic provider's
// usage config) spells them, in field order.
var UsageFields = []string{"input_tokens", "cached_input_tokens", "output_tokens", "total_tokens", "trained_tokens", "requests_total", "requests_completed", "requests_failed"}

// Figure points at the figure of u named name (one of UsageFields); nil for
// any other name.
func (u *Usage) Figure(name string) *int64 {
	switch name {
	case "input_tokens":
		return &u.InputTokens
	case "cached_input_tokens":
		return &u.CachedInputTokens
	case "output_tokens":
		return &u.OutputTokens
	case "total_tokens":
		return &u.TotalTokens
	case "trained_tokens":
		return &u.TrainedTokens
	case "requests_total":
		return &u.RequestsTotal
	case "requests_completed":
		return &u.RequestsCompleted
	case "requests_failed":
		return &u.RequestsFailed
	}
	return nil
}

// DroppedFigure is a usage figure a provider reported that cannot be a
// count: negative, not an integer, or beyond int64. It is never stored in
// the job or added to the usage totals; a TypeUsageDropped event in the
// job's history says what it was and why it was dropped.
type DroppedFigure struct {
	// Field is the figure's name, one of UsageFields.
	Field string `json:"field"`
	// Path is where the provider's payload held it (usage.total_tokens);
	// empty when the figure came from no payload of the provider's.
	Path string `json:"path,omitempty"`
	// Value is the figure as reported (JSON number text).
	Value string `json:"value"`
	// Reason says why it was dropped.
	Reason string `json:"reason"`
}

// Reasons a figure is dropped.
const (
	DropNegative   = "negative"
	DropNotInteger = "not an integer"
	DropTooLarge   = "beyond the largest count (9223372036854775807)"
)

// dropNegativeUsage moves o's negative usage figures to o.DroppedUsage,
// without touching the caller's Usage or DroppedUsage (o is Observe's copy).
func dropNegativeUsage(o *Observation) {
	if o.Usage == nil {
		return
	}
	u := *o.Usage
	dropped := slices.Clone(o.DroppedUsage)
	for _, name := range UsageFields {
		if f := u.Figure(name); *f < 0 {
			dropped = append(dropped, DroppedFigure{Field: name, Value: strconv.FormatInt(*f, 10), Reason: DropNegative})
			*f = 0
		}
	}
	o.Usage, o.DroppedUsage = &u, dropped
	if u.IsZero() {
		o.Usage = nil
	}
}

// usageDroppedNote is the TypeUsageDropped observation that follows o in
// its job's history, or nil when o dropped no figure. A webhook's note takes
// an event id derived from the event's, so that a redelivery dedupes both.
func usageDroppedNote(o *Observation) *Observation {
	if len(o.DroppedUsage) == 0 {
		return nil
	}
	// Strings only: Marshal cannot fail.
	payload, _ := json.Marshal(struct {
		Dropped []DroppedFigure `json:"dropped"`
	}{o.DroppedUsage})
	note := &Observation{Provider: o.Provider, ExternalID: o.ExternalID, Kind: o.Kind, Source: o.Source,
		Type: TypeUsageDropped, OccurredAt: o.OccurredAt, Payload: payload}
	if o.EventID != "" {
		note.EventID = o.EventID + "#" + TypeUsageDropped
	}
	return note
}
