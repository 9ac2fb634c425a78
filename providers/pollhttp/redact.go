package pollhttp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"time"
)

// Secrets must stay out of errors and logs. Credentials travel in headers,
// which neither retryablehttp nor net/http ever quote; URLs are quoted, with
// their query, by both: every URL is cut down to scheme://host/path here.

// redactedURL is u as errors and logs may show it: scheme, host and path,
// without user info, query or fragment.
func redactedURL(u *url.URL) string {
	return u.Scheme + "://" + u.Host + u.EscapedPath()
}

// stripURLError removes the *url.Error with which net/http wraps transport
// failures (its message quotes the whole URL): the caller names the request
// itself. Other errors are returned as they are.
func stripURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		// When ue is wrapped further, the wrappers' text quotes the URL
		// too: only the cause survives.
		return ue.Err
	}
	return err
}

// urlPattern finds URLs in a log value. checkURL refuses URLs with spaces and
// quotes, so one ends at the first of them.
var urlPattern = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.-]*://[^\s"]+`)

// redactText cuts every URL in s down to scheme://host/path.
func redactText(s string) string {
	return urlPattern.ReplaceAllStringFunc(s, func(raw string) string {
		u, err := url.Parse(raw)
		if err != nil {
			return "<url>"
		}
		return redactedURL(u)
	})
}

// leveledLogger adapts a *slog.Logger to retryablehttp.LeveledLogger. Every
// message goes out at Debug level, whatever level retryablehttp gives it (a
// failed attempt that will be retried is no error of ours), with its keys in
// snake_case and every URL in its values stripped of its query.
type leveledLogger struct{ l *slog.Logger }

// Error implements retryablehttp.LeveledLogger, at Debug level.
func (a leveledLogger) Error(msg string, kv ...any) { a.log(msg, kv) }

// Warn implements retryablehttp.LeveledLogger, at Debug level.
func (a leveledLogger) Warn(msg string, kv ...any) { a.log(msg, kv) }

// Info implements retryablehttp.LeveledLogger, at Debug level.
func (a leveledLogger) Info(msg string, kv ...any) { a.log(msg, kv) }

// Debug implements retryablehttp.LeveledLogger.
func (a leveledLogger) Debug(msg string, kv ...any) { a.log(msg, kv) }

// logKeys renames retryablehttp's keys; keys not listed keep their name.
var logKeys = map[string]string{
	"timeout":   "wait", // the backoff before the next attempt
	"remaining": "retries_left",
}

func (a leveledLogger) log(msg string, kv []any) {
	ctx := context.Background()
	if !a.l.Enabled(ctx, slog.LevelDebug) {
		return
	}
	attrs := make([]slog.Attr, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		key := fmt.Sprint(kv[i])
		if k, ok := logKeys[key]; ok {
			key = k
		}
		attrs = append(attrs, slog.Attr{Key: key, Value: logValue(kv[i+1])})
	}
	a.l.LogAttrs(ctx, slog.LevelDebug, redactText(msg), attrs...)
}

// logValue is v as a log value with the URLs in its text redacted. Numbers
// and durations keep their type; anything else is logged as text.
func logValue(v any) slog.Value {
	switch v := v.(type) {
	case int:
		return slog.IntValue(v)
	case int64:
		return slog.Int64Value(v)
	case time.Duration:
		return slog.DurationValue(v)
	case bool:
		return slog.BoolValue(v)
	case nil:
		return slog.StringValue("")
	case error:
		return slog.StringValue(redactText(v.Error()))
	}
	return slog.StringValue(redactText(fmt.Sprint(v)))
}
