// Package bench measures jobwatch's throughput, so that anyone can rerun the
// same figures and compare: Ingest drives the daemon's webhook endpoint
// beside a baseline that does no storage, and Sweep polls a seeded table of
// due jobs against a local fake provider. Each run has a database of its own
// (a temporary SQLite file, or a PostgreSQL database created and dropped),
// and checks that storage holds what the run reported. Neither judges speed:
// they only measure and print.
//
// It is part of the jobwatch command, not of the library's public API.
package bench

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/jobwatch/jobwatch/storage"
)

// EnvPostgresDSN names the environment variable whose admin DSN a PostgreSQL
// run uses when Options.DSN is empty (the test suite's variable).
const EnvPostgresDSN = "JOBWATCH_TEST_POSTGRES_DSN"

// DefaultPostgresDSN is the admin DSN of a PostgreSQL run when neither
// Options.DSN nor EnvPostgresDSN gives one.
const DefaultPostgresDSN = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// ErrInconsistent is wrapped by the error of a run whose storage does not
// hold what the run reported (events answered but not stored, due jobs left
// unpolled). The result is still complete, and worth printing.
var ErrInconsistent = errors.New("storage does not match the run")

// database is a run's own database and how to get rid of it.
type database struct {
	driver string
	// dsn is what [storage] dsn says: a file path or a PostgreSQL DSN.
	dsn string
	// remove deletes what the run created.
	remove func(context.Context) error
}

// openDatabase makes a fresh database for a run. SQLite: dsn is a file that
// must not exist yet (kept after the run), or, empty, a file in a temporary
// directory (removed after). PostgreSQL: dsn is an admin DSN (default
// $JOBWATCH_TEST_POSTGRES_DSN, then DefaultPostgresDSN) through which a
// database is created, and dropped after.
func openDatabase(ctx context.Context, driver, dsn string) (*database, error) {
	switch driver {
	case storage.DriverSQLite:
		if dsn != "" {
			if strings.HasPrefix(dsn, "file:") {
				return nil, fmt.Errorf("sqlite database %s: name a file path, not a file: DSN (the floor receiver opens the file with settings of its own)", dsn)
			}
			if _, err := os.Stat(dsn); err == nil {
				return nil, fmt.Errorf("sqlite database %s already exists: name a new file, so that the run starts empty", dsn)
			}
			return &database{driver: driver, dsn: dsn, remove: func(context.Context) error { return nil }}, nil
		}
		dir, err := os.MkdirTemp("", "jobwatch-bench-")
		if err != nil {
			return nil, fmt.Errorf("create temporary directory: %w", err)
		}
		return &database{driver: driver, dsn: filepath.Join(dir, "jobwatch.db"), remove: func(context.Context) error {
			if err := os.RemoveAll(dir); err != nil {
				return fmt.Errorf("remove temporary database: %w", err)
			}
			return nil
		}}, nil
	case storage.DriverPostgres:
		admin := cmp.Or(dsn, os.Getenv(EnvPostgresDSN), DefaultPostgresDSN)
		db, drop, err := storage.CreateDatabase(ctx, admin, "jobwatch_bench_")
		if err != nil {
			return nil, err
		}
		return &database{driver: driver, dsn: db, remove: drop}, nil
	}
	return nil, fmt.Errorf("unknown storage %q (want sqlite or postgres)", driver)
}

// close removes the database, even when ctx is already cancelled, and joins
// any error with err.
func (d *database) close(ctx context.Context, err *error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if rerr := d.remove(ctx); rerr != nil {
		*err = errors.Join(*err, rerr)
	}
}

// storageTOML is the [storage] table of a run's config.
func (d *database) storageTOML() string {
	s := fmt.Sprintf("[storage]\ndriver = %s\ndsn = %s\n", strconv.Quote(d.driver), strconv.Quote(d.dsn))
	if d.driver == storage.DriverPostgres {
		s += "max_open_conns = 16\n"
	}
	return s
}

// profile writes a CPU profile of fn to w, when w is not nil.
func profile(w io.Writer, fn func() error) error {
	if w == nil {
		return fn()
	}
	if err := pprof.StartCPUProfile(w); err != nil {
		return fmt.Errorf("start CPU profile: %w", err)
	}
	defer pprof.StopCPUProfile()
	return fn()
}

// percentile is the nearest-rank q-quantile of sorted samples (0 when none).
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.999999) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// ms formats a duration in milliseconds, the unit every latency is printed in.
func ms(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 2, 64) + "ms"
}

// perSecond is n per second of d (0 for no time).
func perSecond(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// resetPeakRSS makes the kernel's peak RSS (VmHWM) restart from the current
// RSS. It is best effort: without /proc/self/clear_refs the peak stays the
// process's whole life's.
func resetPeakRSS() {
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

// peakRSS is the process's peak resident set size (VmHWM), in bytes; 0 where
// /proc/self/status is unavailable.
func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if v, ok := bytes.CutPrefix(sc.Bytes(), []byte("VmHWM:")); ok {
			kb, err := strconv.ParseInt(string(bytes.TrimSpace(bytes.TrimSuffix(bytes.TrimSpace(v), []byte("kB")))), 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}
