package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
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
			path, url := writeConfig(t, storagetest.Config(t, driver), "[[providers]]\nname = \"openai\"\ntype = \"openai\"\n")
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

// The daemon killed -9 under a stream of signed events: every event answered
// 200 is in storage after the restart, its effect applied exactly once.
func TestWebhooksSurviveKill9(t *testing.T) {
	t.Parallel()
	const secret = "mythic-kill-test-secret"
	for _, driver := range storagetest.Backends {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			path, url := writeConfig(t, storagetest.Config(t, driver), fmt.Sprintf(`
[[providers]]
name = "mythicdot"
type = "mythicdot"
[providers.webhook]
secrets = [%q]
`, secret))
			d := startDaemon(t, path, url)

			const events = 600
			order := make([]int, 0, 2*events)
			for i := range events {
				order = append(order, i, i) // each event delivered twice
			}
			rand.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
			hc := &http.Client{Timeout: 10 * time.Second}
			var (
				mu       sync.Mutex
				acked    = map[int]bool{}
				answered atomic.Int64
				next     atomic.Int64
				killOnce sync.Once
				wg       sync.WaitGroup
			)
			for range 32 {
				wg.Go(func() {
					for {
						k := int(next.Add(1)) - 1
						if k >= len(order) {
							return
						}
						i := order[k]
						body := fmt.Appendf(nil, `{"id":"evt_%d","type":"batch.completed","created":1706140800,"data":{"object":{"id":"batch_%d","status":"completed","request_counts":{"total":10,"completed":10,"failed":0}}}}`, i, i)
						req, _ := http.NewRequest(http.MethodPost, url+"/webhooks/mythicdot", strings.NewReader(string(body)))
						req.Header.Set("X-MythicDot-Signature", hexHMAC(secret, body))
						resp, err := hc.Do(req)
						if err != nil {
							continue
						}
						resp.Body.Close()
						if resp.StatusCode != http.StatusOK {
							continue
						}
						mu.Lock()
						acked[i] = true
						mu.Unlock()
						if answered.Add(1) == events/2 {
							killOnce.Do(func() { d.kill9(t) })
						}
					}
				})
			}
			wg.Wait()
			killOnce.Do(func() { d.kill9(t) })

			startDaemon(t, path, url)
			client := tracker.NewClient(url)
			for i := range acked {
				job, err := client.Job(context.Background(), "mythicdot", fmt.Sprintf("batch_%d", i))
				if err != nil {
					t.Fatalf("event evt_%d was answered 200 but its job is gone: %v", i, err)
				}
				if job.Status != tracker.StatusSucceeded || len(job.History) != 1 || job.History[0].EventID != fmt.Sprintf("evt_%d", i) {
					t.Fatalf("job of acknowledged evt_%d = %s with history %+v, want succeeded with the event once", i, job.Status, job.History)
				}
			}
			t.Logf("%s: %d deliveries answered 200 before the kill, %d distinct events acknowledged and found", driver, answered.Load(), len(acked))
		})
	}
}

func hexHMAC(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}
