package bench

import (
	"net/http"
	"testing"
	"time"
)

// The accounting catches an end alerted twice (two distinct alerts), an end
// not alerted and an alert about no end sent, and counts a notifier's retry
// of one alert (same webhook-id) once.
func TestAccount(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 20, 0, 0, 0, time.UTC)
	ends := map[string]endSent{
		"openai/batch_1":    {at: t0, ok: true},
		"openai/batch_2":    {at: t0, ok: true},
		"mythicdot/batch_3": {at: t0, ok: true},
		"openai/batch_4":    {at: t0, ok: false},
	}
	got := map[string][]arrival{
		// A retry of one alert.
		"openai/batch_1": {{id: "a1", at: t0.Add(3 * time.Second)}, {id: "a1", at: t0.Add(4 * time.Second)}},
		// Two alerts for one end.
		"mythicdot/batch_3": {{id: "a3", at: t0.Add(time.Second)}, {id: "a3b", at: t0.Add(2 * time.Second)}},
		// An end answered 5xx may have been applied: its alert is fine.
		"openai/batch_4": {{id: "a4", at: t0.Add(time.Second)}},
		"openai/batch_9": {{id: "a9", at: t0}},
	}
	a := account(ends, got)
	if a.ends != 3 || a.alerts != 5 || a.redelivered != 1 || a.missing != 1 || a.extra != 1 || a.unexpected != 1 {
		t.Errorf("ends %d, alerts %d, redelivered %d, missing %d, extra %d, unexpected %d; want 3, 5, 1, 1, 1, 1",
			a.ends, a.alerts, a.redelivered, a.missing, a.extra, a.unexpected)
	}
	want := map[time.Duration]bool{3 * time.Second: true, time.Second: true}
	if len(a.latencies) != 2 || !want[a.latencies[0]] || !want[a.latencies[1]] || a.latencies[0] == a.latencies[1] {
		t.Errorf("latencies %v, want 3s (batch_1's first arrival) and 1s (batch_3's)", a.latencies)
	}
	if o, m := a.byProvider["openai"], a.byProvider["mythicdot"]; len(o) != 1 || o[0] != 3*time.Second || len(m) != 1 || m[0] != time.Second {
		t.Errorf("by provider: openai %v, mythicdot %v; want [3s], [1s]", o, m)
	}
}

// The fake OpenAI API counts a job polled twice once, and jobs polled once
// not at all.
func TestFakeProviderPolledTwice(t *testing.T) {
	f, err := startFakeProvider()
	if err != nil {
		t.Fatal(err)
	}
	defer f.close()
	for _, id := range []string{"batch_1", "batch_2", "batch_1", "batch_1"} {
		resp, err := http.Get(f.baseURL() + "/batches/" + id)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if n, twice := f.polls.Load(), f.polledTwice(); n != 4 || twice != 1 {
		t.Errorf("%d polls, %d jobs polled more than once; want 4, 1", n, twice)
	}
}
