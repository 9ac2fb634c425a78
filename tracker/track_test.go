package tracker_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jobwatch/jobwatch/storage"
	"github.com/jobwatch/jobwatch/storage/storagetest"
	"github.com/jobwatch/jobwatch/tracker"
)

// A tracker that knows its providers refuses any other name, naming the
// ones it knows, and stores nothing; without the list any name is taken.
func TestTrackRefusesAProviderNotConfigured(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := storagetest.Open(t, storage.DriverSQLite)
	batch := func(provider string) tracker.TrackRequest {
		return tracker.TrackRequest{Provider: provider, Kind: tracker.KindBatch, ExternalID: "batch_1"}
	}
	tests := []struct {
		name      string
		providers []string
		want      string
	}{
		{"typo", []string{"openai", "anthropic"}, `provider: "opneai" is not configured (configured: anthropic, openai)`},
		{"none configured", []string{}, `provider: "opneai" is not configured: no providers are`},
	}
	for _, tt := range tests {
		jobs := tracker.New(store, tracker.Options{Providers: tt.providers})
		_, _, err := jobs.Track(ctx, batch("opneai"))
		var verr *tracker.ValidationError
		if !errors.As(err, &verr) || verr.Field != "provider" || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Track(opneai) = %v, want a ValidationError containing %q", tt.name, err, tt.want)
		}
	}
	if _, err := store.GetJob(ctx, "opneai", "batch_1"); !errors.Is(err, tracker.ErrNotFound) {
		t.Errorf("a refused registration was stored: %v", err)
	}
	if _, created, err := tracker.New(store, tracker.Options{Providers: []string{"openai"}}).Track(ctx, batch("openai")); err != nil || !created {
		t.Errorf("Track(openai) with openai configured = %v, %v", created, err)
	}
	if _, created, err := tracker.New(store, tracker.Options{}).Track(ctx, batch("anything")); err != nil || !created {
		t.Errorf("Track(anything) with no provider list = %v, %v", created, err)
	}
}
