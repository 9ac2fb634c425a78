package notify

import (
	"context"
	"log/slog"
	"strings"

	"github.com/jobwatch/jobwatch/tracker"
)

// Log writes alerts to a slog logger: a record for people to grep, and a
// notifier that always works, for a route nobody has set up delivery for
// yet.
type Log struct {
	log *slog.Logger
}

var _ Notifier = (*Log)(nil)

// NewLog returns a notifier that logs to log, or to slog.Default() when log
// is nil.
func NewLog(log *slog.Logger) *Log {
	if log == nil {
		log = slog.Default()
	}
	return &Log{log: log}
}

// Notify logs a at Info as "alert" with the keys alert_id, type, provider,
// job_id (for job alerts), threshold (for usage thresholds) and summary (the
// alert's Summary, else its Subject). It never fails.
func (l *Log) Notify(ctx context.Context, a tracker.Alert) error {
	summary := a.Summary
	if summary == "" {
		summary = strings.TrimPrefix(Subject(a), subjectPrefix)
	}
	attrs := []slog.Attr{
		slog.String("alert_id", a.ID),
		slog.String("type", a.Type),
		slog.String("provider", provider(a)),
	}
	if a.Job != nil {
		attrs = append(attrs, slog.String("job_id", a.Job.ExternalID))
	}
	if a.Threshold != nil {
		attrs = append(attrs, slog.String("threshold", a.Threshold.Name))
	}
	attrs = append(attrs, slog.String("summary", summary))
	l.log.LogAttrs(context.WithoutCancel(ctx), slog.LevelInfo, "alert", attrs...)
	return nil
}
