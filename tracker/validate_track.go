package tracker

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Validate checks a registration as Track does, so that a client can refuse
// bad input before it sends a request.
func (r TrackRequest) Validate() error { return validateTrack(r) }

// validLabel reports whether a label key or value can be stored alike on
// every backend: UTF-8 without NUL bytes (PostgreSQL's jsonb refuses \u0000).
func validLabel(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// checkStorableJSON finds what, in valid JSON, one backend would store and
// another refuse: bytes that are not UTF-8, a \u0000 escape or a lone UTF-16
// surrogate escape in a string (PostgreSQL's jsonb refuses both), and a
// number a float64 cannot hold (above about 1.8e308 in magnitude, or not
// zero but rounding to zero), which is beyond what JSON readers commonly
// parse and, far enough out, beyond PostgreSQL's numeric.
func checkStorableJSON(b []byte) error {
	if !utf8.Valid(b) {
		return fmt.Errorf("not UTF-8")
	}
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			end, err := checkStringEscapes(b, i+1)
			if err != nil {
				return err
			}
			i = end
		case c == '-' || (c >= '0' && c <= '9'):
			end := i + 1
			for end < len(b) && strings.IndexByte("0123456789+-.eE", b[end]) >= 0 {
				end++
			}
			if num := string(b[i:end]); !fitsFloat64(num) {
				if len(num) > 40 {
					num = num[:40] + "..."
				}
				return fmt.Errorf("number %s is out of range (at most about 1.8e308 in magnitude, and not so small that it rounds to zero)", num)
			}
			i = end - 1
		}
	}
	return nil
}

// checkStringEscapes checks the \u escapes of the JSON string starting at
// b[start] (after its opening quote) and returns the index of its closing
// quote. b must be valid JSON.
func checkStringEscapes(b []byte, start int) (int, error) {
	for k := start; k < len(b); k++ {
		switch b[k] {
		case '"':
			return k, nil
		case '\\':
			if b[k+1] != 'u' {
				k++
				continue
			}
			r, _ := strconv.ParseUint(string(b[k+2:k+6]), 16, 32)
			switch {
			case r == 0:
				return 0, fmt.Errorf(`a string holds \u0000 (NUL), which cannot be stored`)
			case r >= 0xD800 && r < 0xDC00:
				// A high surrogate must be followed by a low one.
				if k+12 > len(b) || b[k+6] != '\\' || b[k+7] != 'u' {
					return 0, fmt.Errorf(`a string holds a lone UTF-16 surrogate \u%04x`, r)
				}
				low, _ := strconv.ParseUint(string(b[k+8:k+12]), 16, 32)
				if low < 0xDC00 || low >= 0xE000 {
					return 0, fmt.Errorf(`a string holds a lone UTF-16 surrogate \u%04x`, r)
				}
				k += 6
			case r >= 0xDC00 && r < 0xE000:
				return 0, fmt.Errorf(`a string holds a lone UTF-16 surrogate \u%04x`, r)
			}
			k += 5
		}
	}
	return len(b), nil
}

// fitsFloat64 reports whether a JSON number is within a float64's range.
func fitsFloat64(num string) bool {
	f, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return false
	}
	if f != 0 {
		return true
	}
	mantissa, _, _ := strings.Cut(strings.ToLower(num), "e")
	return strings.Trim(mantissa, "-0.") == ""
}
