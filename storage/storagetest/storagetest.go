// Package storagetest gives each test its own migrated database: a SQLite file
// in a temporary directory, or a PostgreSQL database created for the test and
// dropped after it.
//
// PostgreSQL tests need JOBWATCH_TEST_POSTGRES_DSN, a DSN of a role that may
// create databases. Without it they skip (and fail when CI is set); with it
// set but unreachable they fail.
package storagetest

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/storage"
)

// EnvDSN names the environment variable with the PostgreSQL test server's DSN.
const EnvDSN = "JOBWATCH_TEST_POSTGRES_DSN"

// Backends are the storage drivers every conformance test runs against.
var Backends = []string{storage.DriverSQLite, storage.DriverPostgres}

// Each runs fn as a subtest per backend, each with a fresh migrated store.
func Each(t *testing.T, fn func(t *testing.T, s *storage.Store)) {
	t.Helper()
	for _, b := range Backends {
		t.Run(b, func(t *testing.T) {
			fn(t, Open(t, b))
		})
	}
}

// Open returns a fresh migrated store of the given driver, closed (and for
// PostgreSQL dropped) when the test ends.
func Open(t testing.TB, driver string) *storage.Store {
	t.Helper()
	return OpenConfig(t, Config(t, driver))
}

// OpenConfig returns a migrated store on the database of cfg, closed when
// the test ends. Each call opens another store on that database, as
// another replica would.
func OpenConfig(t testing.TB, cfg storage.Config) *storage.Store {
	t.Helper()
	ctx := context.Background()
	s, err := storage.Open(ctx, cfg)
	if err != nil {
		t.Fatalf("open %s: %v", cfg.Driver, err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatalf("migrate %s: %v", cfg.Driver, err)
	}
	return s
}

// Config returns the storage config of a fresh, empty database of the given
// driver, removed when the test ends.
func Config(t testing.TB, driver string) storage.Config {
	t.Helper()
	switch driver {
	case storage.DriverSQLite:
		return storage.Config{Driver: driver, DSN: filepath.Join(t.TempDir(), "jobwatch.db")}
	case storage.DriverPostgres:
		return storage.Config{Driver: driver, DSN: PostgresDSN(t)}
	}
	t.Fatalf("unknown driver %q", driver)
	return storage.Config{}
}

// PostgresDSN creates an empty database for the test and returns its DSN. It
// skips the test when EnvDSN is unset outside CI.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	admin := os.Getenv(EnvDSN)
	if admin == "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not set: CI must run the PostgreSQL tests", EnvDSN)
		}
		t.Skipf("PostgreSQL tests skipped: set %s, e.g. %s='postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable' go test ./...", EnvDSN, EnvDSN)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dsn, drop, err := storage.CreateDatabase(ctx, admin, "jobwatch_test_")
	if err != nil {
		t.Fatalf("%s: %v", EnvDSN, err)
	}
	t.Cleanup(func() {
		if err := drop(context.Background()); err != nil {
			t.Errorf("%v", err)
		}
	})
	return dsn
}
