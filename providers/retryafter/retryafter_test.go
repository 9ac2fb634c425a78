package retryafter_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/providers/retryafter"
)

func TestParse(t *testing.T) {
	t.Parallel()
	const limit = 24 * time.Hour
	now := time.Date(2025, 11, 8, 14, 22, 31, 0, time.UTC)
	tests := []struct {
		name   string
		header http.Header
		want   time.Duration
		ok     bool
	}{
		{"none", http.Header{}, 0, false},
		{"seconds", http.Header{"Retry-After": {"2"}}, 2 * time.Second, true},
		{"fractional seconds", http.Header{"Retry-After": {"1.5"}}, 1500 * time.Millisecond, true},
		{"milliseconds", http.Header{"Retry-After-Ms": {"250"}}, 250 * time.Millisecond, true},
		{"milliseconds first", http.Header{"Retry-After-Ms": {"250"}, "Retry-After": {"9"}}, 250 * time.Millisecond, true},
		{"bad milliseconds", http.Header{"Retry-After-Ms": {"soon"}, "Retry-After": {"9"}}, 9 * time.Second, true},
		{"date", http.Header{"Retry-After": {now.Add(10 * time.Second).Format(http.TimeFormat)}}, 10 * time.Second, true},
		{"past date", http.Header{"Retry-After": {now.Add(-time.Hour).Format(http.TimeFormat)}}, 0, true},
		{"negative", http.Header{"Retry-After": {"-1"}}, 0, false},
		{"garbage", http.Header{"Retry-After": {"later"}}, 0, false},
		{"not a number", http.Header{"Retry-After": {"NaN"}}, 0, false},
		{"huge", http.Header{"Retry-After": {"1e300"}}, limit, true},
	}
	for _, tt := range tests {
		got, ok := retryafter.Parse(tt.header, now, limit)
		if got != tt.want || ok != tt.ok {
			t.Errorf("%s: Parse(%v) = %v, %v; want %v, %v", tt.name, tt.header, got, ok, tt.want, tt.ok)
		}
	}
}
