package generic

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"time"
	"unicode/utf8"

	"github.com/jobwatch/jobwatch/providers"
	"github.com/jobwatch/jobwatch/tracker"
)

// The helpers in this file are the payload handling every provider parser
// shares (openai, mythicdot, llmtune and this package's Parser), so that a
// body is judged, and its faults named, the same way whichever provider sent it.

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
		return &providers.PayloadError{Field: te.Field, Msg: fmt.Sprintf("want %s, got %s", typeName(te.Type), clip(te.Value))}
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

// maxUnix is the last second of year 9999: later times do not survive
// time.Time's JSON and SQL encodings.
const maxUnix = 253402300799

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
		return time.Time{}, &providers.PayloadError{Field: field, Msg: fmt.Sprintf("%s is not an RFC 3339 time", clip(fmt.Sprintf("%q", s)))}
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

// clip shortens a value quoted in an error message: payloads are up to a
// megabyte and error strings end up in logs.
func clip(s string) string {
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
