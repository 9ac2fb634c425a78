package tracker

import (
	"strings"
	"testing"
)

func TestCheckStorableJSON(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		json, err string
	}{
		{`{"a":"b","n":[1,-2.5e10,0,1e308,-0.0e-999]}`, ""},
		{`"\\u0000 is text, not an escape"`, ""},
		{`"a \" quote, then \u0000"`, `\u0000 (NUL)`},
		{`{"k\u0000":1}`, `\u0000 (NUL)`},
		{`"\ud83d\ude00 \u00e9 \uFFFD"`, ""},
		{`"\ud83d"`, `lone UTF-16 surrogate \ud83d`},
		{`"\ud83d\u0041"`, `lone UTF-16 surrogate \ud83d`},
		{`"\ude00"`, `lone UTF-16 surrogate \ude00`},
		{`["x", 1e309]`, "number 1e309 is out of range"},
		{`{"n": 1e-400}`, "number 1e-400 is out of range"},
		{`-` + strings.Repeat("9", 400), "number -" + strings.Repeat("9", 39) + "... is out of range"},
		{"\"\xff\"", "not UTF-8"},
	} {
		err := checkStorableJSON([]byte(tt.json))
		if (tt.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("checkStorableJSON(%s) = %v, want %q", tt.json, err, tt.err)
		}
	}
}

// A parent id is optional; when given it is checked like a job id, and its
// errors name parent_id.
func TestValidateParentID(t *testing.T) {
	t.Parallel()
	req := func(parent string) TrackRequest {
		return TrackRequest{Provider: "openai", Kind: KindEvalRun, ExternalID: "evalrun_1", ParentID: parent}
	}
	for _, tt := range []struct {
		parent, err string
	}{
		{"", ""},
		{"eval_67abd54d9b0081909a86353f6fb9317a", ""},
		{"eval/1", "parent_id: must be printable, without spaces or '/'"},
		{"eval\x001", "parent_id: must be printable"},
		{"eval 1", "parent_id: must be printable"},
		{strings.Repeat("e", MaxExternalIDLen), ""},
		{strings.Repeat("e", MaxExternalIDLen+1), "parent_id: longer than 256 bytes"},
	} {
		err := req(tt.parent).Validate()
		if (tt.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("Validate(parent %q) = %v, want %q", tt.parent, err, tt.err)
		}
	}
}
