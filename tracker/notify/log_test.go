package notify_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"

	"github.com/jobwatch/jobwatch/tracker/notify"
)

func TestLogNotifies(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	n := notify.NewLog(slog.New(slog.NewJSONHandler(&buf, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // logging does not care
	if err := n.Notify(ctx, failedBatch()); err != nil {
		t.Fatalf("Notify: %v", err)
	}
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatalf("log line %q: %v", buf.String(), err)
	}
	for k, want := range map[string]string{
		"level":    "INFO",
		"msg":      "alert",
		"alert_id": "alrt_12",
		"type":     "job.failed",
		"provider": "openai",
		"job_id":   "batch_abc",
		"summary":  "openai batch batch_abc failed: token limit exceeded",
	} {
		if got := rec[k]; got != want {
			t.Errorf("%s = %v, want %q", k, got, want)
		}
	}
}

func TestLogSummaryFallsBackToSubject(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	a := failedBatch()
	a.Summary = ""
	_ = notify.NewLog(slog.New(slog.NewJSONHandler(&buf, nil))).Notify(context.Background(), a)
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatal(err)
	}
	if got, want := rec["summary"], "openai batch batch_abc failed"; got != want {
		t.Errorf("summary = %v, want %q", got, want)
	}
}
