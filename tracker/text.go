package tracker

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"
)

// MaxEventIDLen is the longest event id an observation may carry, in bytes:
// (provider, event id) is a unique index, and a PostgreSQL B-tree entry
// holds at most about 2.7 KB.
const MaxEventIDLen = 1024

// ValidateText checks a string bound for a text column or an index: no NUL
// (PostgreSQL stores none, in text or in jsonb, where SQLite would take it)
// and, when maxBytes > 0, at most maxBytes bytes. field names it in the
// error, as the caller's input spells it.
func ValidateText(field, s string, maxBytes int) error {
	if maxBytes > 0 && len(s) > maxBytes {
		return &ValidationError{field, fmt.Sprintf("longer than %d bytes", maxBytes)}
	}
	if strings.IndexByte(s, 0) >= 0 {
		return &ValidationError{field, "contains a NUL character (\\u0000)"}
	}
	return nil
}

// validateObservationText checks the strings of an observation that reach
// a text column or an index, so that input neither backend can store is
// refused alike, before any write, instead of failing its transaction on
// PostgreSQL at every retry. The external id is checked by
// ValidateExternalID.
func validateObservationText(o *Observation) error {
	if err := ValidateText("event_id", o.EventID, MaxEventIDLen); err != nil {
		return err
	}
	if err := ValidateText("type", o.Type, 0); err != nil {
		return err
	}
	if err := ValidateText("provider_status", o.ProviderStatus, 0); err != nil {
		return err
	}
	// In key order: the same error for the same input.
	for _, k := range slices.Sorted(maps.Keys(o.Details)) {
		if err := ValidateText("details", k, 0); err != nil {
			return err
		}
		if err := ValidateText("details."+k, o.Details[k], 0); err != nil {
			return err
		}
	}
	return nil
}

// ClipText makes untrusted text fit for a text column of a log: invalid
// UTF-8 and NUL become U+FFFD, and the result is cut to at most maxBytes
// bytes on a rune boundary.
func ClipText(s string, maxBytes int) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if strings.IndexByte(s, 0) >= 0 {
		s = strings.ReplaceAll(s, "\x00", "\uFFFD")
	}
	if len(s) <= maxBytes {
		return s
	}
	for maxBytes > 0 && !utf8.RuneStart(s[maxBytes]) {
		maxBytes--
	}
	return s[:maxBytes]
}
