package notify

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/jobwatch/jobwatch/tracker"
)

// Rendering limits, in runes.
const (
	// lineWidth is where Text wraps a line, so that it reads on a phone
	// without scrolling. A single word longer than that (an id, a URL)
	// keeps its own line whole.
	lineWidth = 72
	// maxValue cuts one free-text value (an error message, a label value).
	maxValue = 300
	// maxDataExcerpt is how much of a provider event's payload Text shows.
	maxDataExcerpt = 500
	// maxSubject cuts a subject.
	maxSubject = 200
	// subjectPrefix starts every subject, for mail filters.
	subjectPrefix = "[jobwatch] "
	// timeLayout shows instants, always in UTC.
	timeLayout = "2006-01-02 15:04 UTC"
)

// Subject is a one-line summary of a for an email subject or a log line,
// saying what happened and to what: "[jobwatch] openai batch batch_abc
// failed", "[jobwatch] usage 80% of daily-tokens (4,100,000 of 5,000,000
// tokens, day 2026-11-23)". A job's end says why it failed when jobwatch
// knows ("failed: quota or rate limit reached (token_limit_exceeded: ...)",
// tracker.FailureNote) and the partial output it leaves to collect
// ("expired; partial results to collect: output file file-abc",
// tracker.PartialResultsNote). Its figures read as in Text. It is at most
// 200 runes, without control characters.
func Subject(a tracker.Alert) string {
	var s string
	switch {
	case a.Threshold != nil:
		t := a.Threshold
		s = fmt.Sprintf("%s %s of %s (%s %s, %s)", thresholdNoun(t), percent(t.Level), t.Name,
			usageOfLimit(t), metricNoun(t.Metric), windowLabel(t))
	case a.Job != nil && isJobAlert(a.Type):
		j := a.Job
		s = fmt.Sprintf("%s %s %s", provider(a), kind(j), j.ExternalID)
		if a.Type == tracker.AlertJobPartialFailure {
			s += ": " + failedRequests(j)
		} else {
			s += " " + jobOutcome(a.Type)
		}
		if note := tracker.FailureNote(j); note != "" && a.Type == tracker.AlertJobFailed {
			s += ": " + note
		}
		if note := tracker.PartialResultsNote(j); note != "" {
			s += "; " + note
		}
	case a.Job != nil:
		s = fmt.Sprintf("%s %s %s: %s", provider(a), kind(a.Job), a.Job.ExternalID, eventHeadline(a))
	default:
		s = strings.TrimSpace(provider(a) + " " + eventHeadline(a))
	}
	return subjectPrefix + oneLine(s, maxSubject-len(subjectPrefix))
}

// Text is a's full message for people, in plain text: a headline, then one
// fact per short line (wrapped at about 72 characters; only an id or a URL
// longer than that is not). Every count is exact, with thousands separators. Job
// alerts show the job's id, status and provider status, labels, request
// counts, token usage and details (error message, output and error files,
// model); usage.threshold alerts the threshold, metric, value against limit
// and window; provider events their type, provider and an excerpt of their
// payload (about 500 characters). It ends with the alert's id and time.
func Text(a tracker.Alert) string {
	var w textWriter
	w.line(oneLine(headline(a), maxSubject))
	if s := oneLine(a.Summary, maxValue); s != "" && s != headline(a) {
		w.wrap("", s)
	}
	switch {
	case a.Threshold != nil:
		w.threshold(a.Threshold)
	case a.Job != nil && isJobAlert(a.Type):
		w.job(a)
	default:
		w.field("type", a.Type)
		w.field("provider", provider(a))
		if si := a.Silence; si != nil {
			w.field("missed in a row", strconv.Itoa(si.Missed))
			w.field("silent since", si.Since.UTC().Format(timeLayout))
		}
		if a.Job != nil {
			w.job(a)
		}
		w.data(a.Data)
	}
	var footer []string
	if a.ID != "" {
		footer = append(footer, "alert "+clean(a.ID))
	}
	if !a.CreatedAt.IsZero() {
		footer = append(footer, a.CreatedAt.UTC().Format(timeLayout))
	}
	if len(footer) > 0 {
		w.wrap("", strings.Join(footer, ", "))
	}
	return w.String()
}

// isJobAlert reports whether typ is one of jobwatch's own alerts about a job.
func isJobAlert(typ string) bool {
	switch typ {
	case tracker.AlertJobSucceeded, tracker.AlertJobFailed, tracker.AlertJobCancelled,
		tracker.AlertJobExpired, tracker.AlertJobLost, tracker.AlertJobPartialFailure, tracker.AlertJobStuck:
		return true
	}
	return false
}

// jobOutcome says what a job alert's type means happened to the job.
func jobOutcome(typ string) string {
	if typ == tracker.AlertJobPartialFailure {
		return "partly failed"
	}
	return strings.TrimPrefix(typ, "job.")
}

// headline is Text's first line: what happened, without the job's id,
// with a failure's cause when jobwatch knows it ("openai batch failed:
// quota or rate limit reached"; the summary line below gives the
// provider's code and message).
func headline(a tracker.Alert) string {
	switch {
	case a.Threshold != nil:
		t := a.Threshold
		return fmt.Sprintf("%s at %s of %s", thresholdNoun(t), percent(t.Level), t.Name)
	case a.Job != nil && isJobAlert(a.Type):
		if a.Type == tracker.AlertJobPartialFailure && a.Job.Details[tracker.DetailRequestFailure] == tracker.RequestFailureTotal {
			return fmt.Sprintf("%s %s: all requests failed", provider(a), kind(a.Job))
		}
		s := fmt.Sprintf("%s %s %s", provider(a), kind(a.Job), jobOutcome(a.Type))
		if cause := tracker.FailureCause(a.Job); cause != "" && a.Type == tracker.AlertJobFailed {
			s += ": " + cause
		}
		return s
	}
	return strings.TrimSpace(provider(a) + " " + eventHeadline(a))
}

// eventHeadline says what a provider event is.
func eventHeadline(a tracker.Alert) string {
	switch a.Type {
	case tracker.TypeProviderAuthFailed:
		return "refused our credentials (" + a.Type + ")"
	case tracker.AlertWebhooksSilent:
		return "webhooks are not arriving (" + a.Type + ")"
	case tracker.AlertWebhooksResumed:
		return "webhooks are arriving again (" + a.Type + ")"
	case "":
		return "alert"
	}
	return a.Type
}

// provider is the alert's provider: its own, else its job's or threshold's.
func provider(a tracker.Alert) string {
	switch {
	case a.Provider != "":
		return clean(a.Provider)
	case a.Job != nil && a.Job.Provider != "":
		return clean(a.Job.Provider)
	case a.Threshold != nil:
		return clean(a.Threshold.Provider)
	}
	return ""
}

// kind names a job's kind, "job" when it has none.
func kind(j *tracker.Job) string {
	if j.Kind == "" {
		return "job"
	}
	return clean(string(j.Kind))
}

// failedRequests says how many of a job's requests failed.
func failedRequests(j *tracker.Job) string {
	u := j.Usage
	switch {
	case j.Details[tracker.DetailRequestFailure] == tracker.RequestFailureTotal && u.RequestsTotal > 0:
		return fmt.Sprintf("all %s requests failed", group(u.RequestsTotal))
	case j.Details[tracker.DetailRequestFailure] == tracker.RequestFailureTotal:
		return "all requests failed"
	case u.RequestsFailed > 0 && u.RequestsTotal > 0:
		return fmt.Sprintf("%s of %s requests failed", group(u.RequestsFailed), group(u.RequestsTotal))
	case u.RequestsFailed > 0:
		return fmt.Sprintf("%s requests failed", group(u.RequestsFailed))
	}
	return "some requests failed"
}

// detailLabels names the well-known job details, in the order Text shows
// them; others follow sorted by key. request_failure and failure_cause are
// left out: the headline says them.
var detailLabels = []struct{ key, label string }{
	{"error_message", "error"},
	{"error_code", "error code"},
	{"incomplete_reason", "incomplete reason"},
	{"model", "model"},
	{"fine_tuned_model", "fine-tuned model"},
	{"base_model", "base model"},
	{"output_file_id", "output file"},
	{"error_file_id", "error file"},
}

// textWriter builds Text line by line.
type textWriter struct {
	lines []string
}

func (w *textWriter) String() string { return strings.Join(w.lines, "\n") }

// line adds one line as it is.
func (w *textWriter) line(s string) { w.lines = append(w.lines, s) }

// field adds "key: value", wrapped; nothing when value is empty.
func (w *textWriter) field(key, value string) {
	if value = oneLine(value, maxValue); value != "" {
		w.wrap(key+": ", value)
	}
}

// wrap adds prefix and text, wrapped at lineWidth with continuation lines
// indented by two spaces. A word longer than a line keeps its own line.
func (w *textWriter) wrap(prefix, text string) {
	w.lines = append(w.lines, wrap(prefix, text, false)...)
}

// job adds a job's facts.
func (w *textWriter) job(a tracker.Alert) {
	j := a.Job
	w.field("job", j.ExternalID)
	status := string(j.Status)
	if j.ProviderStatus != "" && j.ProviderStatus != status {
		if status == "" {
			status = "provider: " + j.ProviderStatus
		} else {
			status += " (provider: " + j.ProviderStatus + ")"
		}
	}
	w.field("status", status)
	w.field("partial results", tracker.PartialResults(j))
	if len(j.Labels) > 0 {
		w.field("labels", labels(j.Labels))
	}
	u := j.Usage
	if u.RequestsTotal > 0 || u.RequestsCompleted > 0 || u.RequestsFailed > 0 {
		var parts []string
		if u.RequestsTotal > 0 {
			parts = append(parts, fmt.Sprintf("%s of %s completed", group(u.RequestsCompleted), group(u.RequestsTotal)))
		} else {
			parts = append(parts, group(u.RequestsCompleted)+" completed")
		}
		if u.RequestsFailed > 0 {
			parts = append(parts, group(u.RequestsFailed)+" failed")
		}
		w.field("requests", strings.Join(parts, ", "))
	}
	var tokens []string
	for _, t := range []struct {
		n    int64
		name string
	}{{u.InputTokens, "in"}, {u.CachedInputTokens, "cached in"}, {u.OutputTokens, "out"}, {u.TotalTokens, "total"}} {
		if t.n > 0 {
			tokens = append(tokens, group(t.n)+" "+t.name)
		}
	}
	w.field("tokens", strings.Join(tokens, ", "))
	if a.UsageUnknown {
		w.field("usage", "unknown: the provider had not reported it when this was sent")
	}
	if u.TrainedTokens > 0 {
		w.field("trained tokens", group(u.TrainedTokens))
	}
	if j.Cost != nil {
		w.field("cost", j.Cost.String())
	}
	known := map[string]bool{tracker.DetailRequestFailure: true, tracker.DetailFailureCause: true}
	for _, d := range detailLabels {
		known[d.key] = true
		w.field(d.label, j.Details[d.key])
	}
	for _, k := range slices.Sorted(maps.Keys(j.Details)) {
		if !known[k] {
			w.field(strings.ReplaceAll(clean(k), "_", " "), j.Details[k])
		}
	}
	switch a.Type {
	case tracker.AlertJobStuck:
		w.field("stuck in", j.StuckStatus)
		if j.StatusSince != nil {
			w.field("since", j.StatusSince.UTC().Format(timeLayout))
		}
	case tracker.AlertJobLost:
		if !j.LastHeardAt.IsZero() {
			w.field("last heard", j.LastHeardAt.UTC().Format(timeLayout))
		}
		if !j.CreatedAt.IsZero() {
			w.field("registered", j.CreatedAt.UTC().Format(timeLayout))
		}
	default:
		if j.ResolvedAt != nil {
			w.field("ended", j.ResolvedAt.UTC().Format(timeLayout))
		}
	}
}

// threshold adds a usage threshold crossing's facts.
func (w *textWriter) threshold(t *tracker.ThresholdCrossing) {
	w.field("threshold", t.Name)
	w.field("metric", metricNoun(t.Metric))
	usage := usageOfLimit(t)
	if t.Limit > 0 {
		usage += fmt.Sprintf(" (%s)", percent(float64(t.Value)/float64(t.Limit)))
	}
	w.field("usage", usage)
	if t.Projected > 0 {
		w.field("projected", tracker.FormatMoney(t.Projected, t.Currency)+" for running jobs, included above")
	}
	w.field("level", percent(t.Level)+" crossed")
	w.field("window", windowLabel(t))
	w.field("provider", t.Provider)
	if len(t.Labels) > 0 {
		w.field("labels", labels(t.Labels))
	}
}

// data adds an excerpt of a provider event's payload: an object's
// top-level fields one per line, in their order, anything else (an array, a
// scalar, invalid JSON) on one wrapped line; about maxDataExcerpt runes in
// all.
func (w *textWriter) data(raw json.RawMessage) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); !json.Valid(raw) || err != nil || tok != json.Delim('{') {
		w.lines = append(w.lines, wrap("data: ", oneLine(compactJSON(raw), maxDataExcerpt), true)...)
		return
	}
	w.line("data:")
	budget := maxDataExcerpt
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		key, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			break
		}
		entry := oneLine(clean(key)+": "+jsonText(v), maxValue)
		n := utf8.RuneCountInString(entry)
		if n > budget {
			if budget >= 20 {
				w.lines = append(w.lines, wrap("  ", oneLine(entry, budget), true)...)
			} else {
				w.line("  …")
			}
			return
		}
		budget -= n
		w.lines = append(w.lines, wrap("  ", entry, true)...)
	}
}

// jsonText shows a JSON value: a string unquoted, anything else compacted.
func jsonText(v json.RawMessage) string {
	var s string
	if json.Unmarshal(v, &s) == nil {
		return s
	}
	return compactJSON(v)
}

// compactJSON is raw without insignificant space but with one after each
// comma between values, so that it wraps there; raw itself when it is not
// valid JSON.
func compactJSON(raw []byte) string {
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return string(raw)
	}
	var out strings.Builder
	inString, escaped := false, false
	for _, c := range b.Bytes() {
		out.WriteByte(c)
		switch {
		case escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case c == '"':
			inString = !inString
		case !inString && c == ',':
			out.WriteByte(' ')
		}
	}
	return out.String()
}

// wrap returns prefix and text as lines of at most lineWidth runes, broken
// at spaces, continuation lines indented two spaces more than the prefix's
// own indentation. A word longer than a line keeps a line of its own (an id
// or a URL stays whole), or with hard is cut into pieces.
func wrap(prefix, text string, hard bool) []string {
	indent := strings.Repeat(" ", len(prefix)-len(strings.TrimLeft(prefix, " "))+2)
	var lines []string
	cur, empty := prefix, true // empty: cur holds no word yet
	for _, word := range strings.Fields(text) {
		for word != "" {
			n := utf8.RuneCountInString(word)
			room := lineWidth - utf8.RuneCountInString(cur)
			if !empty {
				room-- // the space before the word
			}
			switch {
			case n <= room:
				if !empty {
					cur += " "
				}
				cur, empty, word = cur+word, false, ""
			case !empty && (!hard || n <= lineWidth-len(indent)):
				// The word fits on the next line.
				lines = append(lines, cur)
				cur, empty = indent, true
			case hard && room >= 8:
				if !empty {
					cur += " "
				}
				r := []rune(word)
				lines = append(lines, cur+string(r[:room]))
				cur, empty, word = indent, true, string(r[room:])
			default:
				cur, empty, word = cur+word, false, ""
			}
		}
	}
	if !empty {
		lines = append(lines, cur)
	}
	return lines
}

// labels shows a label set as sorted "k=v" pairs.
func labels(m map[string]string) string {
	parts := make([]string, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, clean(k)+"="+clean(m[k]))
	}
	return strings.Join(parts, ", ")
}

// windowLabel names a threshold's window: "hour 2026-11-23 14:00 UTC",
// "day 2026-11-23", "month 2026-11".
func windowLabel(t *tracker.ThresholdCrossing) string {
	start := t.WindowStart.UTC()
	switch t.Window {
	case "hour":
		return "hour " + start.Format("2006-01-02 15:04") + " UTC"
	case "day":
		return "day " + start.Format(time.DateOnly)
	case "month":
		return "month " + start.Format("2006-01")
	}
	return clean(t.Window) + " from " + start.Format(timeLayout)
}

// thresholdNoun is what a threshold crossing measures, for a headline:
// "projected cost", "cost" or "usage".
func thresholdNoun(t *tracker.ThresholdCrossing) string {
	switch {
	case t.Metric != tracker.MetricCost:
		return "usage"
	case t.Projected > 0:
		return "projected cost"
	}
	return "cost"
}

// metricNoun names a usage metric for people: "tokens", "failed jobs".
func metricNoun(metric string) string { return strings.ReplaceAll(clean(metric), "_", " ") }

// percent shows a fraction as a percentage with at most one decimal: 0.8
// is "80%", 0.8333 "83.3%".
func percent(f float64) string {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return "?%"
	}
	return strconv.FormatFloat(math.Round(f*1000)/10, 'f', -1, 64) + "%"
}

// usageOfLimit shows a threshold crossing's usage against its limit, in
// Subject and Text alike: "4,100,000 of 5,000,000".
func usageOfLimit(t *tracker.ThresholdCrossing) string {
	if t.Metric == tracker.MetricCost {
		return tracker.FormatMoney(t.Value, t.Currency) + " of " + tracker.FormatMoney(t.Limit, t.Currency)
	}
	return group(t.Value) + " of " + group(t.Limit)
}

// group shows a count exactly, with thousands separators: 1,000.
func group(n int64) string {
	s := strconv.FormatInt(n, 10)
	sign := ""
	if n < 0 {
		sign, s = "-", s[1:]
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return sign + b.String()
}

// clean removes control characters from text that is about to be put on a
// line (ids, names, label values): a newline in one cannot start a line of
// its own.
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}
