package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jobwatch/jobwatch/tracker"
	"github.com/jobwatch/jobwatch/tracker/daemon"
)

// ops is what the jobs, deliveries, alerts and usage commands need, from a
// running daemon (--server) or from its database (--config).
type ops interface {
	List(ctx context.Context, f tracker.Filter) (tracker.Page, error)
	Job(ctx context.Context, provider, externalID string) (tracker.Job, error)
	Resolve(ctx context.Context, provider, externalID string, status tracker.Status, reason string) (tracker.Job, error)
	Untrack(ctx context.Context, provider, externalID string, purge bool) error
	Deliveries(ctx context.Context, f tracker.DeliveryFilter) ([]tracker.Delivery, error)
	Alerts(ctx context.Context, state tracker.AlertState, limit int) ([]tracker.OutboxAlert, error)
	RetryAlert(ctx context.Context, id string) error
	Usage(ctx context.Context, window, provider string) ([]tracker.UsageTotal, error)
}

// storeOps does the same as the daemon's API, in process over its
// database: a Tracker with the daemon's options (prices, alert routes), so
// that a job resolved here is priced and alerted as by the daemon.
type storeOps struct {
	*tracker.Tracker
	s tracker.Store
}

func (o storeOps) Deliveries(ctx context.Context, f tracker.DeliveryFilter) ([]tracker.Delivery, error) {
	ds, err := o.s.ListDeliveries(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("list deliveries: %w", err)
	}
	return ds, nil
}

func (o storeOps) Alerts(ctx context.Context, state tracker.AlertState, limit int) ([]tracker.OutboxAlert, error) {
	return o.s.ListAlerts(ctx, state, limit)
}

func (o storeOps) RetryAlert(ctx context.Context, id string) error {
	n, err := tracker.ParseAlertID(id)
	if err != nil {
		return err
	}
	if err := o.s.RetryAlert(ctx, n, time.Now()); err != nil {
		return fmt.Errorf("retry alert %s: %w", id, err)
	}
	return nil
}

// opsFlags adds --server, --token and --config to a command.
type opsFlags struct{ server, token, config *string }

func addOpsFlags(fs interface {
	String(name, value, usage string) *string
}) opsFlags {
	return opsFlags{
		server: fs.String("server", "", "URL of a running daemon"),
		token:  fs.String("token", os.Getenv("JOBWATCH_API_TOKEN"), "the daemon's API token (default $JOBWATCH_API_TOKEN)"),
		config: fs.String("config", "", "config file: read the daemon's database directly"),
	}
}

// open returns the ops and a function to release them.
func (f opsFlags) open(ctx context.Context) (ops, func(), error) {
	if (*f.server == "") == (*f.config == "") {
		return nil, nil, fmt.Errorf("give one of --server URL and --config FILE: %w", errMissingFlag)
	}
	if *f.server != "" {
		base, err := serverURL(*f.server)
		if err != nil {
			return nil, nil, err
		}
		return tracker.NewClient(base, tracker.WithToken(*f.token)), func() {}, nil
	}
	cfg, err := loadConfig(*f.config)
	if err != nil {
		return nil, nil, err
	}
	s, err := daemon.OpenStore(ctx, cfg.Storage)
	if err != nil {
		return nil, nil, err
	}
	return storeOps{tracker.New(s, daemon.TrackerOptions(cfg)), s}, func() { s.Close() }, nil
}

func runAlerts(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && isHelp(args[0]) {
		fmt.Fprintln(stderr, usageLine("alerts"))
		return flag.ErrHelp
	}
	if len(args) == 0 || (args[0] != "list" && args[0] != "retry") {
		return printUsage("alerts", stderr)
	}
	fs := newFlagSet("alerts "+args[0], stderr)
	of := addOpsFlags(fs)
	var state *string
	var limit *int
	if args[0] == "list" {
		state = fs.String("state", "", "pending, sent or dead (default: any)")
		limit = fs.Int("limit", 50, fmt.Sprintf("how many, newest first (1 to %d)", tracker.MaxPageSize))
	}
	pos, err := parseFlags(fs, args[1:])
	if err != nil {
		return err
	}
	if args[0] == "retry" {
		if len(pos) != 1 {
			return printUsage("alerts", stderr)
		}
		if _, err := tracker.ParseAlertID(pos[0]); err != nil {
			return flagError(err)
		}
	} else {
		switch tracker.AlertState(*state) {
		case "", tracker.AlertPending, tracker.AlertSent, tracker.AlertDead:
		default:
			return badUsage("--state: %q is not pending, sent or dead", *state)
		}
		if *limit < 1 || *limit > tracker.MaxPageSize {
			return badUsage("--limit: must be 1 to %d", tracker.MaxPageSize)
		}
		if len(pos) > 0 {
			return printUsage("alerts", stderr)
		}
	}
	o, done, err := of.open(ctx)
	if err != nil {
		return err
	}
	defer done()
	if args[0] == "retry" {
		if err := o.RetryAlert(ctx, pos[0]); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "alert %s is pending again\n", pos[0])
		return nil
	}
	alerts, err := o.Alerts(ctx, tracker.AlertState(*state), *limit)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tNOTIFIER\tATTEMPTS\tCREATED\tSUMMARY\tLAST ERROR")
	for _, a := range alerts {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", a.Alert.ID, a.State, a.Notifier, a.Attempts, a.CreatedAt.Format(time.RFC3339), a.Alert.Summary, a.LastError)
	}
	return tw.Flush()
}

func runUsage(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("usage", stderr)
	of := addOpsFlags(fs)
	window := fs.String("window", "day", "hour, day or month (the current UTC one)")
	provider := fs.String("provider", "", "only this provider")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return printUsage("usage", stderr)
	}
	if !slices.Contains(tracker.Windows, *window) {
		return badUsage("--window: %q is not hour, day or month", *window)
	}
	o, done, err := of.open(ctx)
	if err != nil {
		return err
	}
	defer done()
	totals, err := o.Usage(ctx, *window, *provider)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	counts := slices.DeleteFunc(slices.Clone(tracker.UsageMetrics), func(m string) bool { return m == tracker.MetricCost })
	fmt.Fprintln(tw, "PROVIDER\tMODEL\tSCOPE\tWINDOW\t"+strings.ToUpper(strings.Join(counts, "\t"))+"\tCOST\tPROJECTED")
	for _, t := range totals {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s %s", t.Provider, t.Model, t.Scope, t.Window, t.WindowStart.Format(time.DateOnly))
		for _, m := range counts {
			fmt.Fprintf(tw, "\t%d", t.Metrics[m])
		}
		cost, projected := "-", "-"
		if t.Currency != "" {
			cost = tracker.FormatMoney(t.Metrics[tracker.MetricCost], t.Currency)
			if t.Projected > 0 {
				projected = tracker.FormatMoney(int64(t.Projected*tracker.NanosPerUnit), t.Currency)
			}
		}
		fmt.Fprintf(tw, "\t%s\t%s\n", cost, projected)
	}
	return tw.Flush()
}
