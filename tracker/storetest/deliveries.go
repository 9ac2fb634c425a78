package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/tracker"
)

// deliveryLog: every delivery is logged with its final outcome, listed
// newest first and by outcome, and old ones are pruned.
func deliveryLog(t *testing.T, open OpenStore) {
	s := open(t)
	ctx := context.Background()
	tr := newTracker(s)
	old := time.Now().Add(-48 * time.Hour)
	accepted := func() tracker.ApplyItem {
		it := observation("batch_d", "evt_d", tracker.StatusRunning, time.Now())
		it.Delivery = &tracker.Delivery{Provider: "mythicdot", ReceivedAt: time.Now(), Outcome: tracker.OutcomeAccepted, StatusCode: 200}
		return it
	}
	rejected := tracker.ApplyItem{Delivery: &tracker.Delivery{Provider: "mythicdot", ReceivedAt: old, Outcome: tracker.OutcomeBadSignature,
		StatusCode: 401, Reason: "bad_signature", Excerpt: "{\"forged\":true}"}}
	unadopted := observation("batch_u", "evt_u", tracker.StatusRunning, time.Now())
	unadopted.Adopt = false
	unadopted.Delivery = &tracker.Delivery{Provider: "mythicdot", ReceivedAt: time.Now(), Outcome: tracker.OutcomeAccepted, StatusCode: 200}
	for _, it := range []tracker.ApplyItem{accepted(), accepted(), rejected, unadopted} {
		if _, err := tr.Observe(ctx, it); err != nil {
			t.Fatal(err)
		}
	}
	all, err := s.ListDeliveries(ctx, tracker.DeliveryFilter{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	var outcomes []tracker.Outcome
	for _, d := range all {
		outcomes = append(outcomes, d.Outcome)
	}
	want := []tracker.Outcome{tracker.OutcomeRecorded, tracker.OutcomeBadSignature, tracker.OutcomeDuplicate, tracker.OutcomeAccepted}
	if fmt.Sprint(outcomes) != fmt.Sprint(want) {
		t.Fatalf("outcomes newest first = %v, want %v", outcomes, want)
	}
	if bad, _ := s.ListDeliveries(ctx, tracker.DeliveryFilter{Outcome: tracker.OutcomeBadSignature, Limit: 10}); len(bad) != 1 || bad[0].Excerpt != "{\"forged\":true}" {
		t.Errorf("rejected deliveries = %+v", bad)
	}
	n, err := s.PruneDeliveries(ctx, time.Now().Add(-24*time.Hour))
	if err != nil || n != 1 {
		t.Errorf("PruneDeliveries = %d, %v; want the one old delivery", n, err)
	}
}

// pruneDeliveriesWalksTheLog: pruning deletes every old delivery
// however many chunks they fill, keeps the new ones, and is not stopped by a
// new one received before old ones (another replica's clock, say).
func pruneDeliveriesWalksTheLog(t *testing.T, open OpenStore) {
	s := open(t)
	ctx := context.Background()
	now := time.Now()
	old := now.Add(-48 * time.Hour)
	write := func(n int, at time.Time) {
		t.Helper()
		items := make([]tracker.ApplyItem, n)
		for i := range items {
			items[i] = tracker.ApplyItem{Delivery: &tracker.Delivery{Provider: "mythicdot", ReceivedAt: at, Outcome: tracker.OutcomeBadSignature, StatusCode: 401}}
		}
		if _, err := s.Apply(ctx, tracker.ApplyParams{Now: now, Items: items, Rules: func(string, tracker.Kind) tracker.Rules { return tracker.Rules{} }}); err != nil {
			t.Fatal(err)
		}
	}
	write(1, now)
	for range 5 {
		write(500, old)
	}
	write(3, now)
	write(1, old)
	n, err := s.PruneDeliveries(ctx, now.Add(-24*time.Hour))
	if err != nil || n != 2501 {
		t.Errorf("PruneDeliveries = %d, %v; want the 2,501 old deliveries", n, err)
	}
	left, err := s.ListDeliveries(ctx, tracker.DeliveryFilter{Limit: 10})
	if err != nil || len(left) != 4 {
		t.Errorf("%d deliveries left, %v; want the 4 new ones", len(left), err)
	}
	if n, err := s.PruneDeliveries(ctx, now.Add(-24*time.Hour)); err != nil || n != 0 {
		t.Errorf("second PruneDeliveries = %d, %v; want nothing to do", n, err)
	}
}

// trimDeliveriesKeepsTheNewest: the size bound of the delivery log
// deletes the oldest rows beyond it, however many chunks they fill, and
// keeps the newest.
func trimDeliveriesKeepsTheNewest(t *testing.T, open OpenStore) {
	s := open(t)
	ctx := context.Background()
	now := time.Now()
	for batch := range 5 {
		items := make([]tracker.ApplyItem, 500)
		for i := range items {
			items[i] = tracker.ApplyItem{Delivery: &tracker.Delivery{Provider: "mythicdot", ReceivedAt: now, Outcome: tracker.OutcomeBadSignature,
				StatusCode: 401, Reason: fmt.Sprint(batch*500 + i)}}
		}
		if _, err := s.Apply(ctx, tracker.ApplyParams{Now: now, Items: items, Rules: func(string, tracker.Kind) tracker.Rules { return tracker.Rules{} }}); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := s.TrimDeliveries(ctx, 2600); err != nil || n != 0 {
		t.Errorf("TrimDeliveries(2600) of 2,500 = %d, %v; want nothing to do", n, err)
	}
	if n, err := s.TrimDeliveries(ctx, 300); err != nil || n != 2200 {
		t.Errorf("TrimDeliveries(300) = %d, %v; want the 2,200 oldest", n, err)
	}
	left, err := s.ListDeliveries(ctx, tracker.DeliveryFilter{Limit: 1000})
	if err != nil || len(left) != 300 || left[0].Reason != "2499" || left[299].Reason != "2200" {
		t.Fatalf("%d deliveries left (%v), want the newest 300, 2499 down to 2200", len(left), err)
	}
	if n, err := s.TrimDeliveries(ctx, 0); err != nil || n != 300 {
		t.Errorf("TrimDeliveries(0) = %d, %v; want the 300 left", n, err)
	}
}
