package tracker_test

import (
	"testing"

	"github.com/jobwatch/jobwatch/tracker"
)

func TestClipText(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		max  int
		want string
	}{
		{"plain", 10, "plain"},
		{"a\x00b", 10, "a\uFFFDb"},
		{"bad \xff byte", 20, "bad \uFFFD byte"},
		{"héllo", 2, "h"}, // not half of é
		{"\x00\x00\x00", 4, "\uFFFD"},
	}
	for _, tt := range tests {
		if got := tracker.ClipText(tt.in, tt.max); got != tt.want {
			t.Errorf("ClipText(%q, %d) = %q, want %q", tt.in, tt.max, got, tt.want)
		}
	}
}

func TestValidateText(t *testing.T) {
	t.Parallel()
	if err := tracker.ValidateText("event_id", "evt_1", 8); err != nil {
		t.Errorf("a short id: %v", err)
	}
	if err := tracker.ValidateText("event_id", "evt_123456", 8); err == nil || err.Error() != "event_id: longer than 8 bytes" {
		t.Errorf("a long id: %v", err)
	}
	if err := tracker.ValidateText("type", "a\x00", 0); err == nil || err.Error() != `type: contains a NUL character (\u0000)` {
		t.Errorf("a NUL: %v", err)
	}
}
