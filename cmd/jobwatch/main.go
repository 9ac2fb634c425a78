// Command jobwatch tracks long-running AI provider jobs (batches, fine-tunes,
// background responses, eval runs) from submission to their end.
//
//	jobwatch serve --config FILE         run the daemon
//	jobwatch migrate --config FILE       apply schema migrations and exit
//	jobwatch backup FILE --config FILE   copy the SQLite database while the daemon runs
//	jobwatch migrate-store --from sqlite:PATH --to postgres:DSN
//	                                     copy a store into an empty one
//	jobwatch check-config --config FILE  validate a config file
//	jobwatch track --provider P --kind K ID [--parent-id ID] [--model M] [--label k=v] (--server URL | --config FILE)
//	jobwatch send-test-event --config FILE --provider NAME --type TYPE --job ID [--url URL]
//	jobwatch poll --provider P ID (--server URL | --config FILE)
//	jobwatch jobs list|show|resolve|untrack [PROVIDER ID] (--server URL | --config FILE)
//	jobwatch deliveries list (--server URL | --config FILE)
//	jobwatch alerts list|retry [ID] (--server URL | --config FILE)
//	jobwatch usage [--window day] [--provider P] (--server URL | --config FILE)
//	jobwatch bench ingest|sweep [flags]
//	jobwatch version                     print the version
//	jobwatch help [COMMAND]              a command's usage and flags
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// command is one subcommand: it parses its own flags from args.
type command struct {
	name    string
	summary string
	// args is what follows "jobwatch NAME" on its usage line: flags and
	// positional arguments.
	args string
	run  func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

const remote = "(--server URL [--token T] | --config FILE)"

// commands is set by init, as its commands' flag sets print usage lines
// from it.
var commands []command

func init() {
	commands = []command{
		{"serve", "run the daemon", "--config FILE", runServe},
		{"migrate", "apply schema migrations and exit", "--config FILE", runMigrate},
		{"backup", "copy the SQLite database while the daemon runs", "FILE --config FILE", runBackup},
		{"migrate-store", "copy a store into an empty one (SQLite to PostgreSQL)", "(--from sqlite:PATH|postgres:DSN | --from-config FILE) (--to sqlite:PATH|postgres:DSN | --to-config FILE)", runMigrateStore},
		{"check-config", "validate a config file", "--config FILE", runCheckConfig},
		{"track", "register a submitted job", "--provider P --kind K ID [--parent-id ID] [--model M] [--label k=v]... [--metadata JSON] " + remote, runTrack},
		{"send-test-event", "post a signed test webhook to a running daemon", "--config FILE --provider NAME --type TYPE --job ID [--url URL]", runSendTestEvent},
		{"poll", "poll one job now", "--provider P ID " + remote, runPoll},
		{"jobs", "list jobs, show one, resolve one by hand or untrack it",
			"list [--provider P] [--kind K] [--status S] [--label k=v]... [--q TEXT] [--limit N] [--cursor C] [--json] " + remote +
				"\n       jobwatch jobs show PROVIDER ID [--json] " + remote +
				"\n       jobwatch jobs resolve PROVIDER ID --status S --reason R " + remote +
				"\n       jobwatch jobs untrack PROVIDER ID [--purge] " + remote, runJobs},
		{"deliveries", "list the webhook delivery log", "list [--provider P] [--outcome O] [--limit N] [--json] " + remote, runDeliveries},
		{"alerts", "list alerts, or retry a dead one", "list [--state pending|sent|dead] [--limit N] " + remote + "\n       jobwatch alerts retry ID " + remote, runAlerts},
		{"usage", "show the current window's usage", "[--window hour|day|month] [--provider P] " + remote, runUsage},
		{"bench", "measure ingest and sweep throughput", "ingest|sweep [--storage sqlite|postgres] [--dsn DSN] [flags]", runBench},
		{"version", "print jobwatch's version", "", runVersion},
	}
}

// errUsage marks an error that has already been explained with usage text.
var errUsage = errors.New("usage")

// usageError is a mistake in the command line, found before anything is
// done: printed like any error, but exit status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// badUsage returns a usageError.
func badUsage(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	if isHelp(args[0]) {
		if len(args) == 1 {
			usage(stderr)
			return 0
		}
		// jobwatch help CMD [SUB] is jobwatch CMD [SUB] --help.
		args = append(args[1:], "--help")
	}
	name := args[0]
	if name == "--version" {
		name = "version"
	}
	for _, c := range commands {
		if c.name == name {
			err := c.run(ctx, args[1:], stdout, stderr)
			var ue *usageError
			switch {
			case err == nil, errors.Is(err, flag.ErrHelp):
				return 0
			case errors.Is(err, errUsage):
				return 2
			case errors.As(err, &ue):
				fmt.Fprintf(stderr, "jobwatch %s: %v\nRun 'jobwatch help %s' for its usage.\n", c.name, err, c.name)
				return 2
			default:
				fmt.Fprintf(stderr, "jobwatch %s: %v\n", c.name, err)
				return 1
			}
		}
	}
	fmt.Fprintf(stderr, "jobwatch: unknown command %q\n\n", name)
	usage(stderr)
	return 2
}

// isHelp reports whether a command line's first word asks for help.
func isHelp(arg string) bool {
	return arg == "help" || arg == "-h" || arg == "-help" || arg == "--help"
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: jobwatch <command> [flags]\n\ncommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-16s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "  %-16s %s\n", "help COMMAND", "a command's usage and flags (also: jobwatch COMMAND --help)")
}

// usageLine is a command's usage line, "usage: jobwatch NAME ARGS".
func usageLine(name string) string {
	first, _, _ := strings.Cut(name, " ")
	for _, c := range commands {
		if c.name == first {
			return strings.TrimSpace("usage: jobwatch " + c.name + " " + c.args)
		}
	}
	return "usage: jobwatch " + name
}

// printUsage prints a command's usage line and where its flags are
// described, and returns errUsage: for a command line missing something
// the flags alone do not say.
func printUsage(name string, stderr io.Writer) error {
	first, _, _ := strings.Cut(name, " ")
	fmt.Fprintf(stderr, "%s\nRun 'jobwatch help %s' for its flags.\n", usageLine(name), first)
	return errUsage
}

// parseFlags parses flags that may stand before, between or after positional
// arguments, and returns the positional ones. A bad flag, already reported
// with the usage, is errUsage; --help is flag.ErrHelp.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, errUsage
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// newFlagSet returns a flag set that reports errors to stderr, and whose
// usage (on --help or a bad flag) is the command's usage line and flags.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("jobwatch "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, usageLine(name))
		hasFlags := false
		fs.VisitAll(func(*flag.Flag) { hasFlags = true })
		if hasFlags {
			fmt.Fprintln(stderr, "\nflags:")
			fs.PrintDefaults()
		}
	}
	return fs
}

// serverURL is a --server value as a base URL: "127.0.0.1:8080" gets
// "http://"; anything but an http(s) URL of a host is a usage error.
func serverURL(s string) (string, error) {
	base := s
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return "", badUsage("--server: %q is not a daemon's URL (http://host:port)", s)
	}
	return base, nil
}

// labelFlag collects repeated --label k=v flags.
type labelFlag map[string]string

func (l labelFlag) String() string { return "" }

func (l labelFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("%q is not key=value", s)
	}
	l[k] = v
	return nil
}
