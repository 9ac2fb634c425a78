package payload_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/providers"
	"github.com/jobwatch/jobwatch/providers/payload"
	"github.com/jobwatch/jobwatch/tracker"
)

// payloadErr returns err as a *providers.PayloadError, nil when it is nil,
// failing the test when it is any other error.
func payloadErr(t *testing.T, err error) *providers.PayloadError {
	t.Helper()
	if err == nil {
		return nil
	}
	var pe *providers.PayloadError
	if !errors.As(err, &pe) {
		t.Fatalf("error %v (%T), want a *providers.PayloadError", err, err)
	}
	return pe
}

func TestLookup(t *testing.T) {
	t.Parallel()
	doc := map[string]any{
		"id":   "evt_1",
		"data": map[string]any{"batch_id": "b", "status": nil, "counts": map[string]any{"total": 3.0}, "list": []any{1.0}},
		"":     "empty key",
	}
	tests := []struct {
		path string
		want any
		ok   bool
	}{
		{"", doc, true},
		{"id", "evt_1", true},
		{"data.batch_id", "b", true},
		{"data.counts.total", 3.0, true},
		{"data.status", nil, true},
		{"data.list", []any{1.0}, true},
		{"missing", nil, false},
		{"data.missing", nil, false},
		{"id.deeper", nil, false},
		{"data.status.deeper", nil, false},
		{"data.list.0", nil, false},
		{"data.", nil, false},
	}
	for _, tt := range tests {
		got, ok := payload.Lookup(doc, tt.path)
		if ok != tt.ok || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Lookup(%q) = %v, %v; want %v, %v", tt.path, got, ok, tt.want, tt.ok)
		}
	}
	if got, ok := payload.Lookup("scalar", "a"); ok || got != nil {
		t.Errorf("Lookup in a scalar = %v, %v", got, ok)
	}
}

func TestUnmarshal(t *testing.T) {
	t.Parallel()
	type target struct {
		ID   string `json:"id"`
		Data struct {
			Count int64    `json:"count"`
			Tags  []string `json:"tags"`
		} `json:"data"`
	}
	tests := []struct {
		body       string
		field, msg string
	}{
		{`{"id":"a","data":{"count":1,"tags":["x"]}}`, "", ""},
		{`{"id":null,"data":null}`, "", ""},
		{`{"id":`, "", "malformed JSON"},
		{`{"id":"a"}x`, "", "malformed JSON"},
		{`[1]`, "", "want an object, got array"},
		{`{"id":1}`, "id", "want a string, got number"},
		{`{"data":{"count":"1"}}`, "data.count", "want an integer, got string"},
		{`{"data":{"count":2.5}}`, "data.count", "want an integer, got number 2.5"},
		{`{"data":{"tags":"x"}}`, "data.tags", "want an array, got string"},
		{`{"data":{"tags":[1]}}`, "data.tags", "want a string, got number"},
		{`{"data":{"count":` + strings.Repeat("9", 100) + `}}`, "data.count", "want an integer, got number " + strings.Repeat("9", 57) + "…"},
	}
	for _, tt := range tests {
		var v target
		pe := payloadErr(t, payload.Unmarshal([]byte(tt.body), &v))
		switch {
		case tt.msg == "" && pe != nil:
			t.Errorf("Unmarshal(%s) = %v", tt.body, pe)
		case tt.msg != "" && (pe == nil || pe.Field != tt.field || pe.Msg != tt.msg):
			t.Errorf("Unmarshal(%s) = %#v, want field %q message %q", tt.body, pe, tt.field, tt.msg)
		}
	}
}

func TestNest(t *testing.T) {
	t.Parallel()
	other := errors.New("not a payload error")
	tests := []struct {
		err  error
		want error
	}{
		{nil, nil},
		{other, other},
		{&providers.PayloadError{Field: "id", Msg: "required"}, &providers.PayloadError{Field: "data.object.id", Msg: "required"}},
		{&providers.PayloadError{Msg: "want an object, got string"}, &providers.PayloadError{Field: "data.object", Msg: "want an object, got string"}},
		{fmt.Errorf("wrapped: %w", &providers.PayloadError{Field: "a.b", Msg: "m"}), &providers.PayloadError{Field: "data.object.a.b", Msg: "m"}},
	}
	for _, tt := range tests {
		if got := payload.Nest("data.object", tt.err); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Nest(%v) = %#v, want %#v", tt.err, got, tt.want)
		}
	}
}

func TestCheckExternalID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		id, msg string
	}{
		{"batch_abc123", ""},
		{"", "required"},
		{"a b", "must be printable, without spaces or '/'"},
		{"a/b", "must be printable, without spaces or '/'"},
		{strings.Repeat("x", 257), "longer than 256 bytes"},
	}
	for _, tt := range tests {
		pe := payloadErr(t, payload.CheckExternalID("data.id", tt.id))
		switch {
		case tt.msg == "" && pe != nil:
			t.Errorf("CheckExternalID(%q) = %v", tt.id, pe)
		case tt.msg != "" && (pe == nil || pe.Field != "data.id" || pe.Msg != tt.msg):
			t.Errorf("CheckExternalID(%q) = %#v, want message %q", tt.id, pe, tt.msg)
		}
	}
}

func TestCheckJob(t *testing.T) {
	t.Parallel()
	tests := []struct {
		id, status, field string
	}{
		{"job-1", "RUNNING", ""},
		{"", "RUNNING", "name"},
		{"a/b", "RUNNING", "name"},
		{"job-1", "", "state"},
	}
	for _, tt := range tests {
		pe := payloadErr(t, payload.CheckJob("name", tt.id, "state", tt.status))
		if (pe == nil) != (tt.field == "") || (pe != nil && pe.Field != tt.field) {
			t.Errorf("CheckJob(%q, %q) = %v, want a fault at %q", tt.id, tt.status, pe, tt.field)
		}
	}
}

func TestTimes(t *testing.T) {
	t.Parallel()
	unix := []struct {
		secs int64
		want time.Time
		ok   bool
	}{
		{1706140800, time.Date(2024, 1, 25, 0, 0, 0, 0, time.UTC), true},
		{0, time.Unix(0, 0).UTC(), true},
		{253402300799, time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC), true},
		{253402300800, time.Time{}, false},
		{-1, time.Time{}, false},
	}
	for _, tt := range unix {
		got, err := payload.UnixTime("created", tt.secs)
		if pe := payloadErr(t, err); (pe == nil) != tt.ok || !got.Equal(tt.want) || got.Location() != time.UTC || pe != nil && pe.Field != "created" {
			t.Errorf("UnixTime(%d) = %v, %v; want %v", tt.secs, got, err, tt.want)
		}
	}
	rfc := []struct {
		s    string
		want time.Time
		ok   bool
	}{
		{"2025-11-08T14:22:31Z", time.Date(2025, 11, 8, 14, 22, 31, 0, time.UTC), true},
		{"2025-11-08T15:22:31.5+01:00", time.Date(2025, 11, 8, 14, 22, 31, 5e8, time.UTC), true},
		{"2025-11-08 14:22:31", time.Time{}, false},
		{"", time.Time{}, false},
		{"1762611751", time.Time{}, false},
	}
	for _, tt := range rfc {
		got, err := payload.ParseTime("deliveredAt", tt.s)
		if pe := payloadErr(t, err); (pe == nil) != tt.ok || !got.Equal(tt.want) || got.Location() != time.UTC || pe != nil && pe.Field != "deliveredAt" {
			t.Errorf("ParseTime(%q) = %v, %v; want %v", tt.s, got, err, tt.want)
		}
	}
}

func TestDerivedEventIDFormula(t *testing.T) {
	t.Parallel()
	// SHA-256("abc") = ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad.
	if got, want := payload.DerivedEventID("p_", []byte("abc")), "p_ba7816bf8f01cfea414140de5dae2223"; got != want {
		t.Errorf("DerivedEventID = %q, want %q", got, want)
	}
}

// A proto3 int64 reads the same written as a number or as a string; a
// string that is no number fails like any other wrong type, and a number
// that is no count is dropped with a note.
func TestProtoCount(t *testing.T) {
	t.Parallel()
	tests := []struct {
		body    string
		want    int64
		dropped bool
		field   string
	}{
		{`{"n":1200}`, 1200, false, ""},
		{`{"n":"1200"}`, 1200, false, ""},
		{`{"n":"9223372036854775807"}`, 9223372036854775807, false, ""},
		{`{"n":null}`, 0, false, ""},
		{`{}`, 0, false, ""},
		{`{"n":"-3"}`, 0, true, ""},
		{`{"n":"1.5"}`, 0, true, ""},
		{`{"n":"many"}`, 0, false, "n"},
		{`{"n":""}`, 0, false, "n"},
		{`{"n":" 1"}`, 0, false, "n"},
		{`{"n":"1 "}`, 0, false, "n"},
		{`{"n":"NaN"}`, 0, false, "n"},
		{`{"n":true}`, 0, false, "n"},
		{`{"n":"9007199254740993"}`, 9007199254740993, false, ""},
		{`{"n":"1e400"}`, 0, true, ""},
		{`{"n":"Inf"}`, 0, false, "n"},
	}
	for _, tt := range tests {
		var v struct {
			N payload.ProtoCount `json:"n"`
		}
		err := payload.Unmarshal([]byte(tt.body), &v)
		if tt.field != "" {
			if pe := payloadErr(t, err); pe == nil || pe.Field != tt.field {
				t.Errorf("%s: error %v, want one at %q", tt.body, err, tt.field)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tt.body, err)
			continue
		}
		var f payload.Figures
		f.Take("requests_total", "n", v.N.Count)
		var obs tracker.Observation
		f.Observe(&obs)
		var got int64
		if obs.Usage != nil {
			got = obs.Usage.RequestsTotal
		}
		if got != tt.want || (len(obs.DroppedUsage) == 1) != tt.dropped {
			t.Errorf("%s: requests_total %d, dropped %v; want %d, dropped %v", tt.body, got, obs.DroppedUsage, tt.want, tt.dropped)
		}
	}
}

func TestRequestFailure(t *testing.T) {
	t.Parallel()
	tests := []struct {
		total, failed int64
		want          string
	}{
		{10, 0, ""}, {10, 1, tracker.RequestFailurePartial}, {10, 9, tracker.RequestFailurePartial},
		{10, 10, tracker.RequestFailureTotal}, {0, 3, tracker.RequestFailureTotal}, {0, 0, ""},
	}
	for _, tt := range tests {
		if got := payload.RequestFailure(tt.total, tt.failed); got != tt.want {
			t.Errorf("RequestFailure(%d, %d) = %q, want %q", tt.total, tt.failed, got, tt.want)
		}
	}
}

func TestRPCFailureCause(t *testing.T) {
	t.Parallel()
	tests := []struct {
		code, status, want string
	}{
		{"8", "", tracker.FailureCauseQuota}, {"429", "RESOURCE_EXHAUSTED", tracker.FailureCauseQuota},
		{"429", "", tracker.FailureCauseQuota}, {"", "RESOURCE_EXHAUSTED", tracker.FailureCauseQuota},
		{"RESOURCE_EXHAUSTED", "", tracker.FailureCauseQuota},
		{"3", "INVALID_ARGUMENT", ""}, {"13", "", ""}, {"FAILED_PRECONDITION", "", ""}, {"", "", ""},
	}
	for _, tt := range tests {
		if got := payload.RPCFailureCause(tt.code, tt.status); got != tt.want {
			t.Errorf("RPCFailureCause(%q, %q) = %q, want %q", tt.code, tt.status, got, tt.want)
		}
	}
}

// An event's type-and-data id is the same whatever the data's spacing, and
// differs by type and by data.
func TestEventTypeID(t *testing.T) {
	t.Parallel()
	a := payload.EventTypeID("p_", "x.done", []byte(`{"id": "j1"}`))
	if a != payload.DerivedEventID("p_", []byte("x.done\n"+`{"id":"j1"}`)) {
		t.Errorf("EventTypeID = %q, not the derived id of type, newline and compacted data", a)
	}
	if b, c := payload.EventTypeID("p_", "x.failed", []byte(`{"id":"j1"}`)), payload.EventTypeID("p_", "x.done", []byte(`{"id":"j2"}`)); a == b || a == c {
		t.Errorf("ids %q, %q, %q are not all different", a, b, c)
	}
	if got := payload.EventTypeID("p_", "x.done", nil); got != payload.DerivedEventID("p_", []byte("x.done\n")) {
		t.Errorf("EventTypeID without data = %q", got)
	}
}

// SetDetail sets a detail only when it has a value.
func TestSetDetail(t *testing.T) {
	t.Parallel()
	d := map[string]string{"kept": "v"}
	payload.SetDetail(d, "empty", "")
	payload.SetDetail(d, "kept", "")
	payload.SetDetail(d, "set", "s3://b/out/")
	if len(d) != 2 || d["kept"] != "v" || d["set"] != "s3://b/out/" {
		t.Errorf("details %v", d)
	}
}

// TakeSum adds the parts it is given; with one that is no count, or a sum
// beyond int64, the figure is left out and noted; with none present it is
// not set.
func TestTakeSum(t *testing.T) {
	t.Parallel()
	part := func(path, n string) payload.Part {
		return payload.Part{Path: path, Count: payload.NumberCount(json.Number(n))}
	}
	tests := []struct {
		name    string
		parts   []payload.Part
		want    int64
		ok      bool
		dropped []string
	}{
		{"sum", []payload.Part{part("a", "2"), part("b", "3")}, 5, true, nil},
		{"an absent part", []payload.Part{part("a", "2"), {Path: "b"}}, 2, true, nil},
		{"all absent", []payload.Part{{Path: "a"}, {Path: "b"}}, 0, false, nil},
		{"none", nil, 0, false, nil},
		{"no count", []payload.Part{part("a", "-1"), part("b", "3")}, 0, false, []string{"a"}},
		{"too large", []payload.Part{part("a", "9223372036854775807"), part("b", "1")}, 0, false, []string{"b"}},
	}
	for _, tt := range tests {
		var f payload.Figures
		n, ok := f.TakeSum("requests_failed", tt.parts...)
		var obs tracker.Observation
		f.Observe(&obs)
		var dropped []string
		for _, d := range obs.DroppedUsage {
			dropped = append(dropped, d.Path)
		}
		got := int64(0)
		if obs.Usage != nil {
			got = obs.Usage.RequestsFailed
		}
		if n != tt.want || ok != tt.ok || got != tt.want || !reflect.DeepEqual(dropped, tt.dropped) {
			t.Errorf("%s: TakeSum = %d, %v (usage %d, dropped %v); want %d, %v, dropped %v", tt.name, n, ok, got, dropped, tt.want, tt.ok, tt.dropped)
		}
	}
}
