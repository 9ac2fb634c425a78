package providers_test

import (
	"testing"

	"github.com/jobwatch/jobwatch/providers"
	"github.com/jobwatch/jobwatch/tracker"
)

// URL is the URL a poll GETs: the base without its trailing "/", the kind's
// path and the id path-escaped; "" for a kind not polled.
func TestPathPollerURL(t *testing.T) {
	t.Parallel()
	p := providers.NewPathPoller("https://api.example.com/v1/", nil, nil, map[tracker.Kind]providers.KindPath{
		tracker.KindBatch: {Path: "/jobs/"},
	})
	for _, tt := range []struct {
		job  tracker.Job
		want string
	}{
		{tracker.Job{Kind: tracker.KindBatch, ExternalID: "abc123"}, "https://api.example.com/v1/jobs/abc123"},
		{tracker.Job{Kind: tracker.KindBatch, ExternalID: "a/b c"}, "https://api.example.com/v1/jobs/a%2Fb%20c"},
		{tracker.Job{Kind: tracker.KindFineTuning, ExternalID: "abc123"}, ""},
	} {
		if got, err := p.URL(tt.job); got != tt.want || err != nil {
			t.Errorf("URL(%+v) = %q, %v; want %q", tt.job, got, err, tt.want)
		}
	}
}
