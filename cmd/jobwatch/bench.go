package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/jobwatch/jobwatch/tracker/bench"
	"github.com/jobwatch/jobwatch/tracker/sweep"
)

// runBench measures ingest or sweep throughput (package bench) and prints
// the figures.
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && isHelp(args[0]) {
		fmt.Fprintln(stderr, usageLine("bench")+"\nRun 'jobwatch help bench ingest' or 'jobwatch help bench sweep' for their flags.")
		return flag.ErrHelp
	}
	if len(args) == 0 || (args[0] != "ingest" && args[0] != "sweep") {
		return printUsage("bench", stderr)
	}
	mode := args[0]
	fs := newFlagSet("bench "+mode, stderr)
	storage := fs.String("storage", "sqlite", "sqlite or postgres")
	dsn := fs.String("dsn", "", "sqlite: a new database file (default: a temporary one, removed after); postgres: an admin DSN "+
		"through which the run's own database is created and dropped (default: $"+bench.EnvPostgresDSN+", else "+bench.DefaultPostgresDSN+")")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the measured phase to this file (ingest: both servers' rounds)")
	var (
		concurrency, rounds, replicas, history, jobs, due, batchSize, pollConcurrency *int
		duration                                                                      *time.Duration
		workload                                                                      *string
		floor                                                                         *bool
	)
	if mode == "ingest" {
		workload = fs.String("workload", bench.WorkloadAdopt, bench.WorkloadAdopt+": thin OpenAI ends of jobs never registered, which the daemon adopts; "+
			bench.WorkloadRegistered+": jobs registered first, then their ends (70% thin OpenAI ends enriched by a poll of a fake API, 30% whole MythicDot ones, "+
			"5% redeliveries, 2% stale events after the end) followed to their alerts at a webhook receiver: also prints enrichment polls, alerts delivered "+
			"and the end-to-end latency, and checks that every end got exactly one alert")
		concurrency = fs.Int("concurrency", 32, "senders posting at once")
		duration = fs.Duration("duration", 10*time.Second, "how long each server is driven in all")
		rounds = fs.Int("rounds", 5, "turns the servers take, alternating, to share the machine's drifts in speed")
		replicas = fs.Int("replicas", 1, "daemons run on the one database (more than 1: postgres only), all sweeping, the deliveries spread "+
			"over them in turn; the registered workload's checks (one alert per end, no job polled twice, every event stored) hold across them")
		floor = fs.Bool("floor", false, "also drive, in the same turns, the floor receiver: the baseline's work, then a group commit of three thin rows per event "+
			"into a database of its own on the same storage (the simplest durable receiver); prints jobwatch / floor")
		history = fs.Int("history", 0, "events of history stored before the measure, as ingest leaves them: ended OpenAI batches of "+
			strconv.Itoa(bench.HistoryEventsPerJob)+" events each (three polls, a webhook end) over up to 80 days, and the delivery log of their ends "+
			"within [server] delivery_retention and delivery_max_rows; the seed time is printed")
	} else {
		jobs = fs.Int("jobs", 1_000_000, "tracked jobs to seed")
		due = fs.Int("due", 100_000, "how many of them are due")
		batchSize = fs.Int("batch-size", sweep.DefaultBatchSize, "due jobs per claim")
		pollConcurrency = fs.Int("poll-concurrency", 64, "polls in flight at once")
	}
	pos, err := parseFlags(fs, args[1:])
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return printUsage("bench", stderr)
	}

	var profile io.Writer
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return fmt.Errorf("create CPU profile: %w", err)
		}
		defer f.Close()
		profile = f
	}
	var res interface{ Print(io.Writer) }
	if mode == "ingest" {
		res, err = bench.Ingest(ctx, bench.IngestOptions{
			Storage: *storage, DSN: *dsn, Workload: *workload, Concurrency: *concurrency, Duration: *duration, Rounds: *rounds, Replicas: *replicas, History: *history,
			Floor: *floor, LogOutput: stderr, CPUProfile: profile,
		})
	} else {
		res, err = bench.Sweep(ctx, bench.SweepOptions{
			Storage: *storage, DSN: *dsn, Jobs: *jobs, Due: *due, BatchSize: *batchSize, PollConcurrency: *pollConcurrency,
			LogOutput: stderr, CPUProfile: profile,
		})
	}
	if err == nil || errors.Is(err, bench.ErrInconsistent) {
		res.Print(stdout)
	}
	return err
}
