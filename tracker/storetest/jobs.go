package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/jobwatch/jobwatch/tracker"
)

// trackIsIdempotent: a second registration of a job returns the first,
// unchanged.
func trackIsIdempotent(t *testing.T, open OpenStore) {
	s := open(t)
	ctx := context.Background()
	tr := newTracker(s)
	req := tracker.TrackRequest{Provider: "openai", Kind: tracker.KindBatch, ExternalID: "batch_1",
		Labels: map[string]string{"team": "search"}, Metadata: json.RawMessage(`{"purpose":"nightly eval"}`)}
	first, created, err := tr.Track(ctx, req)
	if err != nil || !created {
		t.Fatalf("first Track = created %v, %v; want created", created, err)
	}
	if first.Status != tracker.StatusPending || first.NextPollAt == nil {
		t.Errorf("new job = %+v, want pending and due for a poll", first)
	}
	req.Labels = map[string]string{"team": "other"}
	second, created, err := tr.Track(ctx, req)
	if err != nil || created {
		t.Fatalf("second Track = created %v, %v; want existing", created, err)
	}
	if second.ID != first.ID || second.Labels["team"] != "search" {
		t.Errorf("second Track returned %+v, want the first job unchanged", second)
	}
	got, err := tr.Job(ctx, "openai", "batch_1")
	if err != nil {
		t.Fatal(err)
	}
	if string(got.Metadata) != `{"purpose": "nightly eval"}` && string(got.Metadata) != `{"purpose":"nightly eval"}` {
		t.Errorf("metadata = %s", got.Metadata)
	}
	if _, err := tr.Job(ctx, "openai", "batch_missing"); !errors.Is(err, tracker.ErrNotFound) {
		t.Errorf("Job(missing) error = %v, want ErrNotFound", err)
	}
}

// trackConcurrentDuplicates: of concurrent registrations of one job,
// exactly one creates it.
func trackConcurrentDuplicates(t *testing.T, open OpenStore) {
	s := open(t)
	tr := newTracker(s)
	const ids, copies = 20, 5
	var mu sync.Mutex
	created := map[string]int{}
	var wg sync.WaitGroup
	for i := range ids * copies {
		wg.Go(func() {
			id := fmt.Sprintf("batch_%d", i%ids)
			_, c, err := tr.Track(context.Background(), tracker.TrackRequest{Provider: "openai", Kind: tracker.KindBatch, ExternalID: id})
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if c {
				created[id]++
			}
		})
	}
	wg.Wait()
	for i := range ids {
		if n := created[fmt.Sprintf("batch_%d", i)]; n != 1 {
			t.Errorf("batch_%d created %d times, want 1", i, n)
		}
	}
}

// listFiltersAndPages: jobs are listed newest first, page by page, and
// filtered by provider, kind, status and labels; CountJobs groups them.
func listFiltersAndPages(t *testing.T, open OpenStore) {
	s := open(t)
	ctx := context.Background()
	tr := newTracker(s)
	for i := range 25 {
		req := tracker.TrackRequest{Provider: "openai", Kind: tracker.KindBatch, ExternalID: fmt.Sprintf("b%02d", i),
			Labels: map[string]string{"team": []string{"a", "b"}[i%2], "env": "prod"}}
		if i >= 20 {
			req.Provider, req.Kind = "anthropic", tracker.KindFineTuning
		}
		if _, _, err := tr.Track(ctx, req); err != nil {
			t.Fatal(err)
		}
	}
	var all []string
	f := tracker.Filter{Limit: 10}
	for {
		page, err := tr.List(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		for _, j := range page.Jobs {
			all = append(all, j.ExternalID)
		}
		if page.NextCursor == "" {
			break
		}
		f.Cursor = page.NextCursor
	}
	if len(all) != 25 || all[0] != "b24" || all[24] != "b00" {
		t.Fatalf("paged through %d jobs %v, want 25 newest first", len(all), all)
	}
	count := func(f tracker.Filter) int {
		t.Helper()
		f.Limit = 100
		page, err := tr.List(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		return len(page.Jobs)
	}
	checks := []struct {
		f    tracker.Filter
		want int
	}{
		{tracker.Filter{Provider: "anthropic"}, 5},
		{tracker.Filter{Kind: tracker.KindBatch}, 20},
		{tracker.Filter{Status: tracker.StatusPending}, 25},
		{tracker.Filter{Status: tracker.StatusSucceeded}, 0},
		{tracker.Filter{Labels: map[string]string{"team": "a"}}, 13},
		{tracker.Filter{Labels: map[string]string{"team": "a", "env": "prod"}, Provider: "openai"}, 10},
		{tracker.Filter{Labels: map[string]string{"team": "c"}}, 0},
	}
	for _, c := range checks {
		if got := count(c.f); got != c.want {
			t.Errorf("List(%+v) = %d jobs, want %d", c.f, got, c.want)
		}
	}
	counts, err := s.CountJobs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	total := int64(0)
	for _, c := range counts {
		total += c.Count
	}
	if len(counts) != 2 || total != 25 {
		t.Errorf("CountJobs = %+v, want 2 groups of 25 jobs", counts)
	}
}
