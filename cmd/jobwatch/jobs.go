package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jobwatch/jobwatch/tracker"
)

// subcommand checks that args start with one of a command's subcommands,
// answering --help itself; ok is false when the caller should return err.
func subcommand(name string, args []string, subs []string, stderr io.Writer) (ok bool, err error) {
	if len(args) > 0 && isHelp(args[0]) {
		fmt.Fprintln(stderr, usageLine(name))
		return false, flag.ErrHelp
	}
	if len(args) == 0 || !slices.Contains(subs, args[0]) {
		return false, printUsage(name, stderr)
	}
	return true, nil
}

// jobArgs checks the PROVIDER ID arguments of a jobs subcommand.
func jobArgs(pos []string) error {
	if err := tracker.ValidateProvider(pos[0]); err != nil {
		return badUsage("PROVIDER: %s", strings.TrimPrefix(err.Error(), "provider: "))
	}
	if err := tracker.ValidateExternalID(pos[1]); err != nil {
		return flagError(err)
	}
	return nil
}

// writeJSON prints v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// when is a time for a table: RFC 3339, or "-" for none.
func when(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.Format(time.RFC3339)
}

// orDash is s, or "-" when it is empty, so that a table's columns stay
// readable.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func runJobs(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if ok, err := subcommand("jobs", args, []string{"list", "show", "resolve", "untrack"}, stderr); !ok {
		return err
	}
	sub := args[0]
	fs := newFlagSet("jobs "+sub, stderr)
	of := addOpsFlags(fs)
	var (
		f          tracker.Filter
		asJSON     *bool
		status     *string
		reason     *string
		purge      *bool
		labels     = labelFlag{}
		kind       string
		positional = 2
	)
	switch sub {
	case "list":
		positional = 0
		fs.StringVar(&f.Provider, "provider", "", "only this provider's jobs")
		fs.StringVar(&kind, "kind", "", "only jobs of this kind")
		status = fs.String("status", "", "only jobs in this status: "+statusList(tracker.Statuses))
		fs.Var(labels, "label", "only jobs with this label key=value (repeatable)")
		fs.StringVar(&f.Query, "q", "", "only jobs whose id holds this text (case ignored)")
		fs.IntVar(&f.Limit, "limit", 50, fmt.Sprintf("how many, newest first (1 to %d)", tracker.MaxPageSize))
		fs.StringVar(&f.Cursor, "cursor", "", "the next page, as the previous one printed it")
		asJSON = fs.Bool("json", false, "print the API's JSON answer instead of a table")
	case "show":
		asJSON = fs.Bool("json", false, "print the API's JSON answer instead of text")
	case "resolve":
		status = fs.String("status", "", "the terminal status it ends with: succeeded, failed, cancelled or expired (required)")
		reason = fs.String("reason", "", "why, for the job's history (required)")
	case "untrack":
		purge = fs.Bool("purge", false, "delete the job, its history and its alerts instead")
	}
	pos, err := parseFlags(fs, args[1:])
	if err != nil {
		return err
	}
	if len(pos) != positional {
		return printUsage("jobs", stderr)
	}
	switch sub {
	case "list":
		f.Kind, f.Status, f.Labels = tracker.Kind(kind), tracker.Status(*status), labels
		if f.Limit == 0 {
			return badUsage("--limit: must be 1 to %d", tracker.MaxPageSize)
		}
		if err := f.Validate(); err != nil {
			return flagError(err)
		}
	case "resolve":
		if err := jobArgs(pos); err != nil {
			return err
		}
		if *reason == "" {
			return badUsage("--reason is required")
		}
		if err := tracker.ValidateResolve(tracker.Status(*status), *reason); errors.Is(err, tracker.ErrNotTerminal) {
			return badUsage("--%v", err)
		} else if err != nil {
			return flagError(err)
		}
	default:
		if err := jobArgs(pos); err != nil {
			return err
		}
	}
	o, done, err := of.open(ctx)
	if err != nil {
		return err
	}
	defer done()
	switch sub {
	case "list":
		page, err := o.List(ctx, f)
		if err != nil {
			return err
		}
		if *asJSON {
			if page.Jobs == nil {
				page.Jobs = []tracker.Job{}
			}
			return writeJSON(stdout, page)
		}
		if err := jobsTable(stdout, page.Jobs); err != nil {
			return err
		}
		if page.NextCursor != "" {
			fmt.Fprintf(stderr, "more jobs: --cursor %s\n", page.NextCursor)
		}
		return nil
	case "show":
		job, err := o.Job(ctx, pos[0], pos[1])
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(stdout, job)
		}
		return showJob(stdout, job)
	case "resolve":
		job, err := o.Resolve(ctx, pos[0], pos[1], tracker.Status(*status), *reason)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "resolved %s %s job %s: %s\n", job.Provider, job.Kind, job.ExternalID, job.Status)
		return nil
	}
	if err := o.Untrack(ctx, pos[0], pos[1], *purge); err != nil {
		return err
	}
	if *purge {
		fmt.Fprintf(stdout, "purged %s job %s: it, its history and its alerts are deleted\n", pos[0], pos[1])
	} else {
		fmt.Fprintf(stdout, "untracked %s job %s: no more polls or alerts\n", pos[0], pos[1])
	}
	return nil
}

func statusList(statuses []tracker.Status) string {
	s := make([]string, len(statuses))
	for i, st := range statuses {
		s[i] = string(st)
	}
	return strings.Join(s, ", ")
}

// jobsTable prints jobs as an aligned table.
func jobsTable(w io.Writer, jobs []tracker.Job) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PROVIDER\tKIND\tID\tSTATUS\tPROVIDER STATUS\tUPDATED\tRESOLVED BY\tLABELS")
	for _, j := range jobs {
		status := string(j.Status)
		if j.UntrackedAt != nil {
			status += " (untracked)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", j.Provider, j.Kind, j.ExternalID, status, orDash(j.ProviderStatus),
			j.UpdatedAt.Format(time.RFC3339), orDash(string(j.ResolvedBy)), orDash(tracker.LabelScope(j.Labels)))
	}
	return tw.Flush()
}

// showJob prints a job, field by field, then its history as a table.
func showJob(w io.Writer, j tracker.Job) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	var usage []string
	for _, name := range tracker.UsageFields {
		if v := *j.Usage.Figure(name); v != 0 {
			usage = append(usage, fmt.Sprintf("%s=%d", name, v))
		}
	}
	var details []string
	for _, k := range slices.Sorted(maps.Keys(j.Details)) {
		details = append(details, k+"="+j.Details[k])
	}
	resolved := when(j.ResolvedAt)
	if j.ResolvedBy != "" {
		resolved += " by " + string(j.ResolvedBy)
	}
	if r := resolveReason(j.History); r != "" {
		resolved += ": " + r
	}
	for _, row := range [][2]string{
		{"provider", j.Provider}, {"kind", string(j.Kind)}, {"id", j.ExternalID}, {"parent id", orDash(j.ParentID)},
		{"status", string(j.Status)}, {"provider status", orDash(j.ProviderStatus)},
		{"labels", orDash(tracker.LabelScope(j.Labels))}, {"usage", orDash(strings.Join(usage, " "))},
		{"details", orDash(strings.Join(details, " "))}, {"metadata", orDash(string(j.Metadata))},
		{"created", j.CreatedAt.Format(time.RFC3339)}, {"updated", j.UpdatedAt.Format(time.RFC3339)},
		{"resolved", resolved}, {"untracked", when(j.UntrackedAt)},
		{"last heard", j.LastHeardAt.Format(time.RFC3339)}, {"next poll", when(j.NextPollAt)},
	} {
		fmt.Fprintf(tw, "%s:\t%s\n", row[0], row[1])
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "RECORDED\tSOURCE\tTYPE\tSTATUS\tPROVIDER STATUS\tEFFECT\tEVENT ID")
	for _, e := range j.History {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.RecordedAt.Format(time.RFC3339), e.Source, orDash(e.Type),
			orDash(string(e.Status)), orDash(e.ProviderStatus), e.Effect, orDash(e.EventID))
	}
	return tw.Flush()
}

// resolveReason is the reason given when the job was resolved by hand,
// from its history; "" when it was not.
func resolveReason(history []tracker.Event) string {
	for _, e := range history {
		if e.Type == tracker.TypeJobResolved && e.Effect == tracker.EffectApplied {
			var p struct{ Reason string }
			if json.Unmarshal(e.Payload, &p) == nil {
				return p.Reason
			}
		}
	}
	return ""
}

func runDeliveries(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if ok, err := subcommand("deliveries", args, []string{"list"}, stderr); !ok {
		return err
	}
	fs := newFlagSet("deliveries list", stderr)
	of := addOpsFlags(fs)
	var f tracker.DeliveryFilter
	fs.StringVar(&f.Provider, "provider", "", "only this provider's deliveries")
	outcome := fs.String("outcome", "", "only deliveries with this outcome (accepted, duplicate, recorded, bad_signature, malformed, ...)")
	fs.IntVar(&f.Limit, "limit", 50, fmt.Sprintf("how many, newest first (1 to %d)", tracker.MaxPageSize))
	asJSON := fs.Bool("json", false, "print the API's JSON answer instead of a table")
	pos, err := parseFlags(fs, args[1:])
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return printUsage("deliveries", stderr)
	}
	f.Outcome = tracker.Outcome(*outcome)
	if f.Limit < 1 || f.Limit > tracker.MaxPageSize {
		return badUsage("--limit: must be 1 to %d", tracker.MaxPageSize)
	}
	o, done, err := of.open(ctx)
	if err != nil {
		return err
	}
	defer done()
	ds, err := o.Deliveries(ctx, f)
	if err != nil {
		return err
	}
	if *asJSON {
		if ds == nil {
			ds = []tracker.Delivery{}
		}
		return writeJSON(stdout, map[string]any{"deliveries": ds})
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RECEIVED\tPROVIDER\tOUTCOME\tCODE\tEVENT TYPE\tEVENT ID\tJOB\tREASON")
	for _, d := range ds {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n", d.ReceivedAt.Format(time.RFC3339), d.Provider, d.Outcome, d.StatusCode,
			orDash(d.EventType), orDash(d.EventID), orDash(d.JobID), orDash(d.Reason))
	}
	return tw.Flush()
}
