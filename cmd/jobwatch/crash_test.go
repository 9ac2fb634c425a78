package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/storage/storagetest"
	"github.com/jobwatch/jobwatch/tracker"
)

// 1,000 concurrent registrations, half of them duplicates, with the daemon
// killed -9 part-way: after a restart every job answered 201 or 200 is there,
// exactly once.
func TestRegistrationsSurviveKill9(t *testing.T) {
	t.Parallel()
	for _, driver := range storagetest.Backends {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			path, url := writeConfig(t, storagetest.Config(t, driver), "")
			d := startDaemon(t, path, url)

			const total = 1000
			ids := make([]string, total)
			for i := range ids {
				ids[i] = fmt.Sprintf("batch_%03d", i/2) // each id twice
			}
			rand.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })

			client := tracker.NewClient(url, tracker.WithHTTPClient(&http.Client{Timeout: 10 * time.Second}))
			var (
				mu       sync.Mutex
				acked    = map[string]bool{}
				answered atomic.Int64
				killOnce sync.Once
				wg       sync.WaitGroup
				next     atomic.Int64
			)
			for range 64 {
				wg.Go(func() {
					for {
						i := int(next.Add(1)) - 1
						if i >= total {
							return
						}
						_, _, err := client.Track(context.Background(), tracker.TrackRequest{Provider: "openai", Kind: tracker.KindBatch, ExternalID: ids[i]})
						if err != nil {
							continue // the daemon is gone: not acknowledged
						}
						mu.Lock()
						acked[ids[i]] = true
						mu.Unlock()
						if answered.Add(1) == total/3 {
							killOnce.Do(func() { d.kill9(t) })
						}
					}
				})
			}
			wg.Wait()
			killOnce.Do(func() { d.kill9(t) })
			if len(acked) == 0 {
				t.Fatal("no registration was acknowledged before the kill")
			}

			startDaemon(t, path, url)
			seen := map[string]int{}
			f := tracker.Filter{Limit: tracker.MaxPageSize}
			for {
				page, err := client.List(context.Background(), f)
				if err != nil {
					t.Fatal(err)
				}
				for _, j := range page.Jobs {
					seen[j.ExternalID]++
				}
				if page.NextCursor == "" {
					break
				}
				f.Cursor = page.NextCursor
			}
			var lost []string
			for id := range acked {
				if seen[id] != 1 {
					lost = append(lost, fmt.Sprintf("%s×%d", id, seen[id]))
				}
			}
			if len(lost) > 0 {
				t.Fatalf("%d of %d acknowledged jobs not there exactly once after kill -9: %s", len(lost), len(acked), strings.Join(lost, " "))
			}
			t.Logf("%s: %d requests answered before the kill, %d distinct jobs acknowledged, %d stored", driver, answered.Load(), len(acked), len(seen))
		})
	}
}
