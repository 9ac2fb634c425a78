package startstop_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/tracker/startstop"
)

// Stop cancels run's context and returns only after run has returned.
func TestRunnerStopWaitsForRun(t *testing.T) {
	t.Parallel()
	var r startstop.Runner
	var ended atomic.Bool
	started := make(chan struct{})
	if err := r.Start(context.Background(), func(ctx context.Context) {
		close(started)
		<-ctx.Done()
		time.Sleep(50 * time.Millisecond) // a service's cleanup
		ended.Store(true)
	}); err != nil {
		t.Fatal(err)
	}
	<-started
	r.Stop()
	if !ended.Load() {
		t.Fatal("Stop returned before run did")
	}
}

func TestRunnerStartTwice(t *testing.T) {
	t.Parallel()
	var r startstop.Runner
	block := func(ctx context.Context) { <-ctx.Done() }
	if err := r.Start(context.Background(), block); err != nil {
		t.Fatal(err)
	}
	if err := r.Start(context.Background(), block); !errors.Is(err, startstop.ErrStarted) {
		t.Fatalf("second Start: %v, want ErrStarted", err)
	}
	r.Stop()
	r.Stop() // stopped already: nothing to do
	if err := r.Start(context.Background(), block); err != nil {
		t.Fatalf("Start after Stop: %v", err)
	}
	r.Stop()
}

// The context given to Start ends the run too.
func TestRunnerEndsWithStartContext(t *testing.T) {
	t.Parallel()
	var r startstop.Runner
	ctx, cancel := context.WithCancel(context.Background())
	ended := make(chan struct{})
	if err := r.Start(ctx, func(ctx context.Context) { <-ctx.Done(); close(ended) }); err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case <-ended:
	case <-time.After(5 * time.Second):
		t.Fatal("run did not end with the context given to Start")
	}
	r.Stop()
}

func TestStopWithoutStart(t *testing.T) {
	t.Parallel()
	var r startstop.Runner
	r.Stop()
}

// Every calls at once, then on each tick, and returns when ctx ends.
func TestEvery(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	var calls atomic.Int32
	done := make(chan struct{})
	go func() {
		defer close(done)
		startstop.Every(ctx, 10*time.Millisecond, func(context.Context) {
			if calls.Add(1) == 3 {
				cancel()
			}
		})
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Every did not return when its context ended")
	}
	if n := calls.Load(); n != 3 {
		t.Fatalf("%d calls, want 3", n)
	}
}

// Pace waits out what is left of the gap since last, returns at once once
// it has passed, and returns false, without waiting, when ctx ends.
func TestPace(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	start := time.Now()
	if !startstop.Pace(ctx, start, 50*time.Millisecond) {
		t.Fatal("Pace with a live context reported it done")
	}
	if waited := time.Since(start); waited < 50*time.Millisecond {
		t.Errorf("Pace returned %s after last, before the 50ms gap", waited)
	}
	if !startstop.Pace(ctx, time.Time{}, time.Hour) {
		t.Error("Pace after a gap long passed reported the context done")
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if startstop.Pace(cancelled, time.Now(), time.Hour) {
		t.Error("Pace with an ended context reported it live")
	}
}
