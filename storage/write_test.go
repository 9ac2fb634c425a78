package storage_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/lib/pq"

	"github.com/jobwatch/jobwatch/storage"
	"github.com/jobwatch/jobwatch/storage/storagetest"
	"github.com/jobwatch/jobwatch/tracker"
)

// TestBatchWriteRefusesAJobChangedSinceRead holds the optimistic batch write
// to its check: a job updated after the batch read it fails the whole
// write, as a serialization failure, and leaves nothing of it behind.
func TestBatchWriteRefusesAJobChangedSinceRead(t *testing.T) {
	t.Parallel()
	s := storagetest.Open(t, storage.DriverPostgres)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	job, _, err := s.CreateJob(ctx, tracker.Job{Provider: "openai", ExternalID: "batch_1", Kind: tracker.KindBatch, Status: tracker.StatusPending,
		CreatedAt: now, UpdatedAt: now, LastHeardAt: now, NextPollAt: &now})
	if err != nil {
		t.Fatal(err)
	}
	version := func() string {
		var v string
		if err := s.DB().NewRaw("SELECT xmin::text FROM jobs WHERE id = ?", job.ID).Scan(ctx, &v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	read := version()
	// Another writer (a sweep rescheduling the job) changes it meanwhile.
	if err := s.Reschedule(ctx, job.ID, now.Add(time.Hour), 1); err != nil {
		t.Fatal(err)
	}
	next := job
	next.Status, next.UpdatedAt = tracker.StatusRunning, now
	ev := tracker.Event{Provider: "openai", EventID: "evt_1", Source: tracker.SourceWebhook, Type: "batch.in_progress",
		Status: tracker.StatusRunning, Effect: tracker.EffectApplied, OccurredAt: now, RecordedAt: now, Payload: json.RawMessage(`{"id":"evt_1"}`)}
	d := tracker.Delivery{Provider: "openai", ReceivedAt: now, Outcome: tracker.OutcomeAccepted, StatusCode: 200, EventID: "evt_1"}

	err = s.WriteChangedJob(ctx, next, read, ev, d)
	var pqErr *pq.Error
	if !errors.As(err, &pqErr) || pqErr.Code != "40001" {
		t.Fatalf("write with a stale version: err = %v, want a serialization failure", err)
	}
	counts := func() (events, deliveries int) {
		if err := s.DB().NewRaw("SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM deliveries)").Scan(ctx, &events, &deliveries); err != nil {
			t.Fatal(err)
		}
		return events, deliveries
	}
	if e, n := counts(); e != 0 || n != 0 {
		t.Fatalf("refused write left %d events and %d deliveries", e, n)
	}
	if got, err := s.GetJob(ctx, "openai", "batch_1"); err != nil || got.Status != tracker.StatusPending || got.QuietPolls != 1 {
		t.Fatalf("job after refused write = %+v, %v; want the rescheduled pending job", got, err)
	}

	if err := s.WriteChangedJob(ctx, next, version(), ev, d); err != nil {
		t.Fatalf("write with the current version: %v", err)
	}
	if e, n := counts(); e != 1 || n != 1 {
		t.Fatalf("write left %d events and %d deliveries, want 1 and 1", e, n)
	}
	if got, err := s.GetJob(ctx, "openai", "batch_1"); err != nil || got.Status != tracker.StatusRunning {
		t.Fatalf("job after write = %+v, %v", got, err)
	}
}

// TestJSONRowsEncodeEveryColumn encodes every column of every batch write,
// null and set, and checks that the result is JSON.
func TestJSONRowsEncodeEveryColumn(t *testing.T) {
	for _, rows := range storage.JSONRowsOfEveryColumn() {
		if !json.Valid([]byte(rows)) {
			t.Errorf("not JSON: %s", rows)
		}
	}
}

// TestAppendJSONString round-trips awkward strings through encoding/json.
func TestAppendJSONString(t *testing.T) {
	for _, s := range []string{"", "plain", `quote " and \ backslash`, "ctl \x00\x01\x1f\n\r\t", "caf\u00e9 \u2028 😀", "bad \xff\xfe utf-8", "<&>"} {
		var got string
		if err := json.Unmarshal(storage.AppendJSONString(nil, s), &got); err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		want, _ := json.Marshal(s)
		var wantS string
		json.Unmarshal(want, &wantS)
		if got != wantS {
			t.Errorf("%q encoded and decoded = %q, want %q", s, got, wantS)
		}
	}
}
