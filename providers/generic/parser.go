// Package generic parses the webhooks and polled objects of a provider nobody
// wrote code for, from configuration alone: field paths say where the job id,
// the status, the model, the event's id, type and time and the usage figures
// are, and a status map says what the provider's status words mean.
package generic

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jobwatch/jobwatch/providers"
	"github.com/jobwatch/jobwatch/providers/payload"
	"github.com/jobwatch/jobwatch/tracker"
)

// Config maps a provider's JSON to an observation by field paths: the
// mapping every Mapped provider type's settings hold.
type Config = providers.Mapping

// Parser is a providers.Parser built from a Config. It holds no mutable state
// and is safe for concurrent use.
type Parser struct {
	cfg Config
	// usage is Config.Usage in tracker.UsageFields order: name, path pairs.
	usage [][2]string
}

var _ providers.Parser = (*Parser)(nil)

// New checks cfg and returns its parser. The error joins one error per bad
// key, each naming the key as config spells it ("job_id: required",
// "status_map.done: \"finished\" is not a status ...").
func New(cfg Config) (*Parser, error) {
	if cfg.Kind == "" {
		cfg.Kind = tracker.KindBatch
	}
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{key}, args...)...))
	}
	if err := tracker.ValidateKind(cfg.Kind); err != nil {
		errs = append(errs, err)
	}
	for _, p := range []struct {
		key, path string
		required  bool
	}{
		{"event_id", cfg.EventID, false},
		{"event_type", cfg.EventType, false},
		{"job_id", cfg.JobID, true},
		{"status", cfg.Status, true},
		{"occurred_at", cfg.OccurredAt, false},
		{"model", cfg.Model, false},
	} {
		switch {
		case p.path == "" && p.required:
			bad(p.key, "required")
		case p.path != "" && !validPath(p.path):
			bad(p.key, "%q is not a path (dot-separated object keys, none empty)", p.path)
		}
	}
	for word, s := range cfg.StatusMap {
		if !s.Valid() || s == tracker.StatusLost {
			bad("status_map."+word, "%q is not a status (want pending, running, succeeded, failed, cancelled or expired)", s)
		}
	}
	for name, path := range cfg.Usage {
		switch {
		case !slices.Contains(tracker.UsageFields, name):
			bad("usage."+name, "unknown usage field (want %s)", strings.Join(tracker.UsageFields, ", "))
		case !validPath(path):
			bad("usage."+name, "%q is not a path (dot-separated object keys, none empty)", path)
		}
	}
	if len(errs) > 0 {
		// Map iteration is unordered; keep the report stable.
		slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
		return nil, errors.Join(errs...)
	}
	p := &Parser{}
	for _, name := range tracker.UsageFields {
		if path, ok := cfg.Usage[name]; ok {
			p.usage = append(p.usage, [2]string{name, path})
		}
	}
	// The caller keeps its maps; later changes to them must not reach us.
	cfg.StatusMap, cfg.Usage = maps.Clone(cfg.StatusMap), nil
	p.cfg = cfg
	return p, nil
}

func validPath(path string) bool {
	return path != "" && !slices.Contains(strings.Split(path, "."), "")
}

// ParseEvent implements providers.Parser. An event with a job id at the
// configured path must carry a status too; one with none (a usage warning,
// say) is a provider event, recorded with its id, type and time. Details
// hold only the model (tracker.DetailModel), when Config.Model is set and the
// event names one; PollNow is false (the event carries the status).
func (p *Parser) ParseEvent(body []byte) (tracker.Observation, error) {
	v, err := decode(body)
	if err != nil {
		return tracker.Observation{}, err
	}
	var eventID string
	if p.cfg.EventID != "" {
		if eventID, err = idAt(v, p.cfg.EventID); err != nil {
			return tracker.Observation{}, err
		}
	} else {
		var compact bytes.Buffer
		compact.Grow(len(body))
		// body is valid JSON (decode checked), so Compact cannot fail.
		_ = json.Compact(&compact, body)
		eventID = payload.DerivedEventID("generic_", compact.Bytes())
	}
	var typ string
	if p.cfg.EventType != "" {
		if typ, err = stringAt(v, p.cfg.EventType); err != nil {
			return tracker.Observation{}, err
		}
	}
	// An event that names no job (a usage warning, say) is a provider
	// event: recorded, not rejected.
	obs := tracker.Observation{}
	if lookupNonNull(v, p.cfg.JobID) != nil {
		if obs, err = p.observe(v); err != nil {
			return tracker.Observation{}, err
		}
	}
	if p.cfg.OccurredAt != "" {
		if obs.OccurredAt, err = timeAt(v, p.cfg.OccurredAt); err != nil {
			return tracker.Observation{}, err
		}
	}
	obs.EventID, obs.Type = eventID, typ
	return obs, nil
}

// ParseObject is ParseEvent's mapping for a polled object (the answer to a GET
// of the job): job id, status, model, usage and kind, with no event id or type, and
// OccurredAt left zero (a poll's time is the caller's).
func (p *Parser) ParseObject(body []byte) (tracker.Observation, error) {
	v, err := decode(body)
	if err != nil {
		return tracker.Observation{}, err
	}
	return p.observe(v)
}

// observe reads what an event and a polled object have in common.
func (p *Parser) observe(v any) (tracker.Observation, error) {
	id, err := idAt(v, p.cfg.JobID)
	if err != nil {
		return tracker.Observation{}, err
	}
	if err := payload.CheckExternalID(p.cfg.JobID, id); err != nil {
		return tracker.Observation{}, err
	}
	word, err := stringAt(v, p.cfg.Status)
	if err != nil {
		return tracker.Observation{}, err
	}
	if word == "" {
		return tracker.Observation{}, &providers.PayloadError{Field: p.cfg.Status, Msg: "required"}
	}
	obs := tracker.Observation{
		ExternalID:     id,
		Kind:           p.cfg.Kind,
		Status:         p.cfg.StatusMap[word],
		ProviderStatus: word,
	}
	if p.cfg.Model != "" {
		model, err := stringAt(v, p.cfg.Model)
		if err != nil {
			return tracker.Observation{}, err
		}
		if model = payload.ModelName(model); model != "" {
			obs.Details = map[string]string{tracker.DetailModel: model}
		}
	}
	var figures payload.Figures
	for _, f := range p.usage {
		name, path := f[0], f[1]
		switch n := lookupNonNull(v, path).(type) {
		case nil:
		case json.Number:
			figures.Take(name, path, payload.NumberCount(n))
		default:
			return tracker.Observation{}, wrongType(path, "a number", n)
		}
	}
	figures.Observe(&obs)
	return obs, nil
}

// decode parses body into any, numbers as json.Number.
func decode(body []byte) (any, error) {
	if !json.Valid(body) {
		return nil, &providers.PayloadError{Msg: "malformed JSON"}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, &providers.PayloadError{Msg: "malformed JSON"}
	}
	if _, ok := v.(map[string]any); !ok {
		return nil, &providers.PayloadError{Msg: "want a JSON object"}
	}
	return v, nil
}

// lookupNonNull is payload.Lookup with absent and null alike: nil.
func lookupNonNull(v any, path string) any {
	val, _ := payload.Lookup(v, path)
	return val
}

// stringAt returns the string at path, "" when absent or null.
func stringAt(v any, path string) (string, error) {
	switch s := lookupNonNull(v, path).(type) {
	case nil:
		return "", nil
	case string:
		return s, nil
	default:
		return "", wrongType(path, "a string", s)
	}
}

// idAt returns the id at path: a non-empty string, or an integer number as
// its decimal string.
func idAt(v any, path string) (string, error) {
	switch id := lookupNonNull(v, path).(type) {
	case nil:
	case string:
		if id != "" {
			return id, nil
		}
	case json.Number:
		if s, ok := integerString(id); ok {
			return s, nil
		}
		return "", wrongType(path, "a string or an integer", id)
	default:
		return "", wrongType(path, "a string or an integer", id)
	}
	return "", &providers.PayloadError{Field: path, Msg: "required"}
}

// timeAt returns the time at path, zero when absent: an RFC 3339 string or
// unix seconds, fractions allowed.
func timeAt(v any, path string) (time.Time, error) {
	switch at := lookupNonNull(v, path).(type) {
	case nil:
		return time.Time{}, nil
	case string:
		return payload.ParseTime(path, at)
	case json.Number:
		return payload.NumberTime(path, at)
	default:
		return time.Time{}, wrongType(path, "an RFC 3339 string or unix seconds", at)
	}
}

// maxExactFloat is the largest integer a float64 holds exactly.
const maxExactFloat = 1 << 53

// integerString formats an integer JSON number as a decimal string: "1e3" is
// "1000"; an integer literal too long for int64 is kept as written. ok is
// false for a number with a fraction.
func integerString(n json.Number) (string, bool) {
	s := n.String()
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return strconv.FormatInt(i, 10), true
	}
	if digits := strings.TrimPrefix(s, "-"); digits != "" && strings.Trim(digits, "0123456789") == "" {
		return s, true
	}
	f, err := n.Float64()
	if err != nil || f != math.Trunc(f) || math.Abs(f) > maxExactFloat {
		return "", false
	}
	return strconv.FormatInt(int64(f), 10), true
}

// wrongType is the error for a value of the wrong JSON type at path.
func wrongType(path, want string, got any) error {
	var kind string
	switch got := got.(type) {
	case string:
		kind = "string"
	case json.Number:
		kind = "number " + payload.Clip(got.String())
	case bool:
		kind = "boolean"
	case map[string]any:
		kind = "object"
	case []any:
		kind = "array"
	default:
		kind = fmt.Sprintf("%T", got)
	}
	return &providers.PayloadError{Field: path, Msg: fmt.Sprintf("want %s, got %s", want, kind)}
}
