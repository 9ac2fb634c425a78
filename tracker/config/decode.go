package config

import (
	"bytes"
	"encoding"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"
)

// decode fills c from a parsed TOML document. The document is first checked
// against c's type, so that every unknown key and every value of the wrong
// type or that does not parse (a bad duration) is reported in one pass,
// each named as the file names it, array index included
// (providers[1].poll.rate_limt). The bad entries are removed and the rest
// is decoded, so that validation still reports on every other value. It
// returns the errors and the keys of the values it removed.
func decode(tree map[string]any, c *Config) (errs []error, removed map[string]bool) {
	ch := &checker{removed: map[string]bool{}}
	ch.table(tree, reflect.TypeFor[Config](), "")
	var buf bytes.Buffer
	if err := toml.NewEncoder(&buf).Encode(tree); err != nil {
		return append(ch.errs, fmt.Errorf("re-encode the checked config: %w", err)), ch.removed
	}
	if _, err := toml.Decode(buf.String(), c); err != nil {
		// The checker let through what toml refuses: report it as toml
		// says it.
		ch.errs = append(ch.errs, decodeError(err))
	}
	return ch.errs, ch.removed
}

// checker checks a TOML document against the Go types it decodes into.
type checker struct {
	errs []error
	// removed holds the keys of the values removed from the document.
	removed map[string]bool
}

// report records an error about key.
func (ch *checker) report(key, format string, args ...any) {
	ch.errs = append(ch.errs, fmt.Errorf("%s: "+format, append([]any{key}, args...)...))
}

// remove deletes table[k], whose key is key.
func (ch *checker) remove(table map[string]any, k, key string) {
	delete(table, k)
	ch.removed[key] = true
}

// fieldTypes maps a struct's TOML keys to their field types.
func fieldTypes(t reflect.Type) map[string]reflect.Type {
	fields := map[string]reflect.Type{}
	for i := range t.NumField() {
		name := strings.Split(t.Field(i).Tag.Get("toml"), ",")[0]
		if name != "" && name != "-" {
			fields[name] = t.Field(i).Type
		}
	}
	return fields
}

// table checks a TOML table against struct type t, deleting the keys it
// reports.
func (ch *checker) table(table map[string]any, t reflect.Type, key string) {
	fields := fieldTypes(t)
	for _, k := range slices.Sorted(maps.Keys(table)) {
		ft, ok := fields[k]
		if !ok {
			ch.report(joinKey(key, k), "unknown key")
			ch.remove(table, k, joinKey(key, k))
			continue
		}
		if !ch.value(table[k], ft, joinKey(key, k)) {
			ch.remove(table, k, joinKey(key, k))
		}
	}
}

var textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()

// value checks one TOML value against Go type t, and reports whether it
// may stay. A table with bad keys inside stays, without them.
func (ch *checker) value(v any, t reflect.Type, key string) bool {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(textUnmarshaler) {
		// As toml does: a string, or a scalar written as one.
		var text string
		switch v := v.(type) {
		case string:
			text = v
		case bool, int64:
			text = fmt.Sprint(v)
		case float64:
			text = fmt.Sprintf("%f", v)
		default:
			ch.report(key, "want a string, not %s", tomlType(v))
			return false
		}
		if err := reflect.New(t).Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(text)); err != nil {
			ch.report(key, "%v", err)
			return false
		}
		return true
	}
	want := ""
	switch t.Kind() {
	case reflect.Struct:
		if table, ok := v.(map[string]any); ok {
			ch.table(table, t, key)
			return true
		}
		want = "a table"
	case reflect.Map:
		if table, ok := v.(map[string]any); ok {
			for _, k := range slices.Sorted(maps.Keys(table)) {
				if !ch.value(table[k], t.Elem(), joinKey(key, k)) {
					ch.remove(table, k, joinKey(key, k))
				}
			}
			return true
		}
		want = "a table"
	case reflect.Slice:
		switch list := v.(type) {
		case []map[string]any:
			for i, e := range list {
				ch.value(e, t.Elem(), fmt.Sprintf("%s[%d]", key, i))
			}
			return true
		case []any:
			ok := true
			for i, e := range list {
				ok = ch.value(e, t.Elem(), fmt.Sprintf("%s[%d]", key, i)) && ok
			}
			return ok
		}
		want = "an array"
	case reflect.String:
		if _, ok := v.(string); ok {
			return true
		}
		want = "a string"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if n, ok := v.(int64); ok {
			if reflect.New(t).Elem().OverflowInt(n) {
				ch.report(key, "%d is out of range", n)
				return false
			}
			return true
		}
		want = "an integer"
	case reflect.Float32, reflect.Float64:
		switch v.(type) {
		case float64, int64:
			return true
		}
		want = "a number"
	case reflect.Bool:
		if _, ok := v.(bool); ok {
			return true
		}
		want = "true or false"
	default:
		return true
	}
	ch.report(key, "want %s, not %s", want, tomlType(v))
	return false
}

// tomlType names the TOML type of a decoded value.
func tomlType(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case int64:
		return "an integer"
	case float64:
		return "a float"
	case bool:
		return "a boolean"
	case []any, []map[string]any:
		return "an array"
	case map[string]any:
		return "a table"
	}
	return "a date or time"
}
