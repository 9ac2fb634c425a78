package payload

import "strings"

// Lookup returns the value at a dot path ("data.batch_id") in JSON decoded
// into any (objects as map[string]any), for reuse by anything that maps a
// provider's JSON by configured paths. The empty path is v itself. ok is false
// when a key on the path is absent or a value before the last key is not an
// object; a present JSON null is (nil, true).
func Lookup(v any, path string) (any, bool) {
	if path == "" {
		return v, true
	}
	for {
		obj, isObject := v.(map[string]any)
		if !isObject {
			return nil, false
		}
		key, rest, more := strings.Cut(path, ".")
		val, found := obj[key]
		if !found {
			return nil, false
		}
		if !more {
			return val, true
		}
		v, path = val, rest
	}
}
