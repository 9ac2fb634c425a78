// Command jobwatch tracks long-running AI provider jobs (batches, fine-tunes,
// background responses, eval runs) from submission to their end.
//
//	jobwatch serve --config FILE         run the daemon
//	jobwatch migrate --config FILE       apply schema migrations and exit
//	jobwatch check-config --config FILE  validate a config file
//	jobwatch track --provider P --kind K ID [--label k=v] (--server URL | --config FILE)
//	jobwatch send-test-event --config FILE --provider NAME --type TYPE --job ID [--url URL]
//	jobwatch poll --provider P ID (--server URL | --config FILE)
//	jobwatch alerts list|retry [ID] (--server URL | --config FILE)
//	jobwatch usage [--window day] [--provider P] (--server URL | --config FILE)
//	jobwatch bench ingest|sweep [flags]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// command is one subcommand: it parses its own flags from args.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

var commands = []command{
	{"serve", "run the daemon", runServe},
	{"migrate", "apply schema migrations and exit", runMigrate},
	{"check-config", "validate a config file", runCheckConfig},
	{"track", "register a submitted job", runTrack},
	{"send-test-event", "post a signed test webhook to a running daemon", runSendTestEvent},
	{"poll", "poll one job now", runPoll},
	{"alerts", "list alerts, or retry a dead one", runAlerts},
	{"usage", "show the current window's usage", runUsage},
	{"bench", "measure ingest and sweep throughput", runBench},
}

// errUsage marks an error that has already been explained with usage text.
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands {
		if c.name == args[0] {
			err := c.run(ctx, args[1:], stdout, stderr)
			switch {
			case err == nil:
				return 0
			case errors.Is(err, errUsage), errors.Is(err, flag.ErrHelp):
				return 2
			default:
				fmt.Fprintf(stderr, "jobwatch %s: %v\n", c.name, err)
				return 1
			}
		}
	}
	fmt.Fprintf(stderr, "jobwatch: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: jobwatch <command> [flags]\n\ncommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-14s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'jobwatch <command> --help' for a command's flags.")
}

// parseFlags parses flags that may stand before, between or after positional
// arguments, and returns the positional ones.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// newFlagSet returns a flag set that reports errors to stderr.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("jobwatch "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
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
