// Package payload is the handling of provider JSON every provider's parser
// shares (decoding, error paths, job ids, times, usage figures, derived
// event ids), so that a body is judged, and its faults named, the same way
// whichever provider sent it.
package payload

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jobwatch/jobwatch/providers"
	"github.com/jobwatch/jobwatch/tracker"
)

// Unmarshal decodes a provider payload into v like json.Unmarshal and reports
// any failure as a *providers.PayloadError: Field "" and Msg "malformed JSON"
// for a body that is not JSON; the JSON path of the offending value for a
// value of the wrong type (Field "" when it is the whole body, an array say).
func Unmarshal(data []byte, v any) error {
	err := json.Unmarshal(data, v)
	if err == nil {
		return nil
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return &providers.PayloadError{Field: te.Field, Msg: fmt.Sprintf("want %s, got %s", typeName(te.Type), Clip(te.Value))}
	}
	return &providers.PayloadError{Msg: "malformed JSON"}
}

// Nest re-roots a *providers.PayloadError from a value decoded on its own (a
// nested object handed to another parser) under field, that value's path in
// the whole payload: "id" in the object at "data.object" becomes
// "data.object.id". Other errors, and nil, are returned as they are.
func Nest(field string, err error) error {
	var pe *providers.PayloadError
	if !errors.As(err, &pe) {
		return err
	}
	nested := *pe
	nested.Field = field
	if pe.Field != "" {
		nested.Field += "." + pe.Field
	}
	return &nested
}

// CheckExternalID returns nil if id, found at field, is a job id the tracker
// accepts (tracker.ValidateExternalID), else a *providers.PayloadError naming
// field: "required" when id is empty.
func CheckExternalID(field, id string) error {
	if err := tracker.ValidateExternalID(id); err != nil {
		var ve *tracker.ValidationError
		if errors.As(err, &ve) {
			return &providers.PayloadError{Field: field, Msg: ve.Msg}
		}
		return &providers.PayloadError{Field: field, Msg: err.Error()}
	}
	return nil
}

// CheckJob checks the two fields every polled job object has: a job id
// the tracker accepts at idField (CheckExternalID) and a status word at
// statusField; a fault is a *providers.PayloadError naming the field.
func CheckJob(idField, id, statusField, status string) error {
	if err := CheckExternalID(idField, id); err != nil {
		return err
	}
	if status == "" {
		return &providers.PayloadError{Field: statusField, Msg: "required"}
	}
	return nil
}

// SetDetail sets the observation detail d[key] to v when v is not empty:
// a detail is never empty.
func SetDetail(d map[string]string, key, v string) {
	if v != "" {
		d[key] = v
	}
}

// maxUnix is the last second of year 9999: later times do not survive
// time.Time's JSON and SQL encodings.
const maxUnix = 253402300799

// NumberTime converts unix seconds written as a JSON number found at field,
// fractions allowed, to a UTC time; out of UnixTime's range is a
// *providers.PayloadError naming field.
func NumberTime(field string, n json.Number) (time.Time, error) {
	if secs, err := n.Int64(); err == nil {
		return UnixTime(field, secs)
	}
	f, err := n.Float64()
	if err != nil || f < 0 || f > maxUnix {
		return time.Time{}, &providers.PayloadError{Field: field, Msg: fmt.Sprintf("unix time %s is out of range", Clip(n.String()))}
	}
	secs := math.Floor(f)
	return time.Unix(int64(secs), int64((f-secs)*1e9)).UTC(), nil
}

// UnixTime converts unix seconds found at field to a UTC time; seconds before
// 1970 or after year 9999 are a *providers.PayloadError naming field.
func UnixTime(field string, secs int64) (time.Time, error) {
	if secs < 0 || secs > maxUnix {
		return time.Time{}, &providers.PayloadError{Field: field, Msg: fmt.Sprintf("unix time %d is out of range", secs)}
	}
	return time.Unix(secs, 0).UTC(), nil
}

// Envelope checks what events shaped like OpenAI's share, an id and a type,
// and reads their time: secs under the name timeField, zero when absent.
func Envelope(id, typ, timeField string, secs *int64) (time.Time, error) {
	if id == "" {
		return time.Time{}, &providers.PayloadError{Field: "id", Msg: "required"}
	}
	if typ == "" {
		return time.Time{}, &providers.PayloadError{Field: "type", Msg: "required"}
	}
	if secs == nil {
		return time.Time{}, nil
	}
	return UnixTime(timeField, *secs)
}

// ParseTime parses an RFC 3339 time found at field and returns it in UTC; an
// unparsable one is a *providers.PayloadError naming field.
func ParseTime(field, s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, &providers.PayloadError{Field: field, Msg: fmt.Sprintf("%s is not an RFC 3339 time", Clip(fmt.Sprintf("%q", s)))}
	}
	return t.UTC(), nil
}

// DerivedEventID is the event id of a payload that carries none: prefix and
// the first 32 hex digits of the SHA-256 of content. The caller chooses the
// content so that retries of one event hash alike (leave out delivery times)
// and different events do not.
func DerivedEventID(prefix string, content []byte) string {
	sum := sha256.Sum256(content)
	return prefix + hex.EncodeToString(sum[:16])
}

// EventTypeID is the derived event id (DerivedEventID) of an event that
// carries none, from its type and its data compacted: a retry that changes
// only the delivery time, or the data's spacing, hashes alike. data must be
// valid JSON or empty.
func EventTypeID(prefix, typ string, data json.RawMessage) string {
	var content bytes.Buffer
	content.Grow(len(typ) + 1 + len(data))
	content.WriteString(typ)
	content.WriteByte('\n')
	// data is valid JSON (or empty, which Compact rejects writing nothing).
	_ = json.Compact(&content, data)
	return DerivedEventID(prefix, content.Bytes())
}

// Count is a usage figure in a provider's JSON, decoded so that a number
// that is no count (negative, fractional, beyond int64) does not fail the
// whole event: Figures drops it with a note instead. Absent and null are
// the zero Count; any other JSON value than a number is a type error, as
// for an int64.
type Count struct {
	// text is the number as written; "" when absent or null.
	text string
}

// UnmarshalJSON implements json.Unmarshaler.
func (c *Count) UnmarshalJSON(b []byte) error {
	switch {
	case string(b) == "null":
		*c = Count{}
	case b[0] == '-' || '0' <= b[0] && b[0] <= '9':
		c.text = string(b)
	default:
		kinds := map[byte]string{'"': "string", '{': "object", '[': "array", 't': "bool", 'f': "bool"}
		return &json.UnmarshalTypeError{Value: kinds[b[0]], Type: reflect.TypeFor[int64]()}
	}
	return nil
}

// ProtoCount is a Count as proto3's JSON mapping writes an int64, which
// Google's APIs send: a number, or a decimal number in a string ("1200").
// A string that holds no number is a type error, as for Count.
type ProtoCount struct {
	Count
}

// UnmarshalJSON implements json.Unmarshaler.
func (c *ProtoCount) UnmarshalJSON(b []byte) error {
	if len(b) == 0 || b[0] != '"' {
		return c.Count.UnmarshalJSON(b)
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	if s == "" || !(s[0] == '-' || '0' <= s[0] && s[0] <= '9') || !json.Valid([]byte(s)) || strings.TrimSpace(s) != s {
		return &json.UnmarshalTypeError{Value: "string " + strconv.Quote(s), Type: reflect.TypeFor[int64]()}
	}
	c.text = s
	return nil
}

// NumberCount is the figure of a JSON number decoded on its own (as
// json.Decoder.UseNumber gives it).
func NumberCount(n json.Number) Count { return Count{n.String()} }

// IsZero reports whether the figure is absent (or null).
func (c Count) IsZero() bool { return c.text == "" }

// Text is the figure as written ("-1", "97"); "" when absent or null.
func (c Count) Text() string { return c.text }

// countOf reads a figure's number text as a count: a non-negative integer
// within int64, written as an integer or not ("1e6", "1000.0"). Otherwise
// reason says why it is none.
func countOf(text string) (n int64, reason string) {
	if i, err := strconv.ParseInt(text, 10, 64); err == nil {
		if i < 0 {
			return 0, tracker.DropNegative
		}
		return i, ""
	}
	// Out of int64's range, or not written as an integer. ParseFloat
	// saturates at ±Inf, which the checks below sort too.
	f, _ := strconv.ParseFloat(text, 64)
	switch {
	case f < 0:
		return 0, tracker.DropNegative
	case f != math.Trunc(f):
		return 0, tracker.DropNotInteger
	case f >= math.MaxInt64:
		return 0, tracker.DropTooLarge
	}
	return int64(f), ""
}

// RequestFailure is the tracker.DetailRequestFailure of a job that ended
// well with failed of its total requests failed: "" when none failed,
// tracker.RequestFailureTotal when every one did, else
// tracker.RequestFailurePartial.
func RequestFailure(total, failed int64) string {
	switch {
	case failed <= 0:
		return ""
	case failed >= total:
		return tracker.RequestFailureTotal
	}
	return tracker.RequestFailurePartial
}

// RPCFailureCause is the tracker.DetailFailureCause of a job whose error
// has Google's google.rpc.Status shape (the Gemini API's and Vertex AI's
// job errors, Fireworks' job status): tracker.FailureCauseQuota when it
// says a quota or rate limit stopped the job, else "". code is the error's
// code as written: 8, google.rpc.Code RESOURCE_EXHAUSTED, in a job's error;
// 429 in Google's HTTP error JSON, which some answers pass through; or the
// code's name RESOURCE_EXHAUSTED (Fireworks). status is the HTTP error
// JSON's status field, the code's name ("" when absent).
func RPCFailureCause(code, status string) string {
	switch {
	case code == "8", code == "429", code == "RESOURCE_EXHAUSTED", status == "RESOURCE_EXHAUSTED":
		return tracker.FailureCauseQuota
	}
	return ""
}

// Figures collects the usage figures of an observation as a parser reads
// them, leaving out (and noting, for the job's history) those that are no
// counts. The zero value is empty and ready to use.
type Figures struct {
	usage   tracker.Usage
	dropped []tracker.DroppedFigure
}

// Take sets the usage figure name (one of tracker.UsageFields) to c, found
// at path in the payload, and returns it. A c that is no count is dropped
// instead, with ok false; an absent one sets nothing and reads as 0.
func (f *Figures) Take(name, path string, c Count) (n int64, ok bool) {
	n, ok = f.Read(name, path, c)
	if ok && !c.IsZero() {
		*f.usage.Figure(name) = n
	}
	return n, ok
}

// Read is Take without setting the figure: for a figure that is a part of
// one the caller sets (Set), such as a sum. A c that is no count is noted
// as a dropped figure name.
func (f *Figures) Read(name, path string, c Count) (n int64, ok bool) {
	if c.IsZero() {
		return 0, true
	}
	n, reason := countOf(c.text)
	if reason != "" {
		f.Drop(name, path, c.text, reason)
		return 0, false
	}
	return n, true
}

// Drop notes a figure the caller found to be no count: name, at path,
// value as reported, and why.
func (f *Figures) Drop(name, path, value, reason string) {
	f.dropped = append(f.dropped, tracker.DroppedFigure{Field: name, Path: path, Value: Clip(value), Reason: reason})
}

// Part is one count of a sum (TakeSum): the count and its path in the
// payload.
type Part struct {
	Path  string
	Count Count
}

// TakeSum sets the usage figure name to the sum of parts and returns it,
// for a figure a provider reports in pieces (failed plus errored items,
// tokens per model). Absent parts read as 0; when all are absent nothing is
// set and ok is false. A part that is no count, or a sum beyond int64, is
// dropped (noted under name) and sets nothing.
func (f *Figures) TakeSum(name string, parts ...Part) (sum int64, ok bool) {
	valid, present := true, false
	for _, p := range parts {
		n, good := f.Read(name, p.Path, p.Count)
		valid = valid && good
		present = present || !p.Count.IsZero()
		if valid && n > math.MaxInt64-sum {
			f.Drop(name, p.Path, p.Count.text, tracker.DropTooLarge)
			valid = false
		}
		if valid {
			sum += n
		}
	}
	if !valid || !present {
		return 0, false
	}
	f.Set(name, sum)
	return sum, true
}

// Set sets the usage figure name (one of tracker.UsageFields) to n.
func (f *Figures) Set(name string, n int64) { *f.usage.Figure(name) = n }

// Observe puts the figures on obs: Usage (nil when there are none) and
// DroppedUsage.
func (f *Figures) Observe(obs *tracker.Observation) {
	if !f.usage.IsZero() {
		u := f.usage
		obs.Usage = &u
	}
	obs.DroppedUsage = f.dropped
}

// typeName says in words what a Go decoding target wants.
func typeName(t reflect.Type) string {
	if t == nil {
		return "another type"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a non-negative integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "a boolean"
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "an array"
	}
	return t.String()
}

// Clip shortens a value quoted in an error message: payloads are up to a
// megabyte and error strings end up in logs.
func Clip(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
