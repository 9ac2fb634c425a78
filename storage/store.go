// Package storage is jobwatch's persistence: one Store built on bun with two
// backends, SQLite (the embedded default, no cgo) and PostgreSQL (for several
// replicas). It implements tracker.Store; where the dialects differ, the SQL is
// written once per dialect rather than bent to fit both.
package storage

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/lib/pq"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/jobwatch/jobwatch/tracker"
)

// Drivers.
const (
	DriverSQLite   = "sqlite"
	DriverPostgres = "postgres"
)

// Config says which database to open.
type Config struct {
	// Driver is DriverSQLite or DriverPostgres.
	Driver string
	// DSN is a file path for SQLite, a connection string for PostgreSQL.
	DSN string
	// MaxOpenConns caps PostgreSQL connections; default 10, at least
	// MinPostgresConns. SQLite always uses one, as its single writer.
	MaxOpenConns int
	// ConnectTimeout bounds opening one PostgreSQL connection; 0:
	// DefaultConnectTimeout. A connect_timeout in the DSN takes precedence.
	ConnectTimeout time.Duration
	// StatementTimeout is the PostgreSQL sessions' statement_timeout; 0:
	// DefaultStatementTimeout. A statement_timeout in the DSN takes
	// precedence. Migrate's wait for another replica's migration is exempt.
	StatementTimeout time.Duration
	// JobCacheSize is how many jobs, at most, a PostgreSQL Store keeps in
	// memory with their row versions so that Apply need not read them again
	// (see Apply); 0: DefaultJobCacheSize; negative: none. SQLite keeps none.
	JobCacheSize int
}

// MinPostgresConns is the fewest PostgreSQL connections a Store works
// with: Migrate holds one for its advisory lock while it migrates on another.
const MinPostgresConns = 2

// Store is a tracker.Store over SQLite or PostgreSQL. It is safe for
// concurrent use.
type Store struct {
	db       *bun.DB
	postgres bool
	prepared preparedStatements
	// jobs is the job cache of a PostgreSQL Store; nil on SQLite or when
	// disabled.
	jobs *jobCache
	// absent guesses whether Apply may take uncached jobs as absent
	// (PostgreSQL).
	absent absentGuess
}

var _ tracker.Store = (*Store)(nil)

// Open connects to the database cfg names. It does not migrate: call Migrate.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	var (
		sqldb *sql.DB
		db    *bun.DB
	)
	pingTimeout := 10 * time.Second
	switch cfg.Driver {
	case DriverSQLite:
		dsn, err := sqliteDSN(cfg.DSN)
		if err != nil {
			return nil, err
		}
		sqldb, err = sql.Open("sqlite", dsn)
		if err != nil {
			return nil, fmt.Errorf("open sqlite %s: %w", cfg.DSN, err)
		}
		// SQLite has one writer; one connection makes every transaction
		// wait its turn in Go rather than fail with SQLITE_BUSY.
		sqldb.SetMaxOpenConns(1)
		sqldb.SetConnMaxIdleTime(0)
		sqldb.SetConnMaxLifetime(0)
		db = bun.NewDB(sqldb, sqlitedialect.New())
	case DriverPostgres:
		if cfg.MaxOpenConns != 0 && cfg.MaxOpenConns < MinPostgresConns {
			return nil, fmt.Errorf("open postgres: %d connections are too few (want at least %d)", cfg.MaxOpenConns, MinPostgresConns)
		}
		connector, err := newPGConnector(cfg)
		if err != nil {
			return nil, err
		}
		// The first connection may take the whole connect timeout.
		pingTimeout += connector.connectTimeout
		sqldb = sql.OpenDB(connector)
		n := cmp.Or(cfg.MaxOpenConns, 10)
		sqldb.SetMaxOpenConns(n)
		sqldb.SetMaxIdleConns(n)
		sqldb.SetConnMaxIdleTime(5 * time.Minute)
		db = bun.NewDB(sqldb, pgdialect.New())
	default:
		return nil, unknownDriver(cfg.Driver)
	}
	s := &Store{db: db, postgres: cfg.Driver == DriverPostgres}
	if s.postgres {
		s.jobs = newJobCache(cmp.Or(cfg.JobCacheSize, DefaultJobCacheSize))
	}
	pingCtx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	if err := s.Ping(pingCtx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to %s: %w", cfg.Driver, redactDSNError(err, cfg.DSN))
	}
	return s, nil
}

// Close closes the database.
func (s *Store) Close() error {
	s.prepared.mu.Lock()
	if st := s.prepared.stmts; st != nil {
		st.close()
		s.prepared.stmts = nil
	}
	s.prepared.mu.Unlock()
	return s.db.Close()
}

// DB is the underlying bun handle, for tests and tools.
func (s *Store) DB() *bun.DB { return s.db }

// Dialect is DriverSQLite or DriverPostgres.
func (s *Store) Dialect() string {
	if s.postgres {
		return DriverPostgres
	}
	return DriverSQLite
}

// Ping checks that the database answers a query.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.db.NewRaw("SELECT 1").Scan(ctx, &one); err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	return nil
}

// inTx runs fn in a transaction, retrying it when PostgreSQL aborts it for a
// deadlock or a serialization failure (both are safe to retry whole).
func (s *Store) inTx(ctx context.Context, fn func(tx bun.Tx) error) error {
	const attempts = 5
	var err error
	for i := range attempts {
		err = s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error { return fn(tx) })
		if !retryable(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(i+1) * 5 * time.Millisecond):
		}
	}
	return err
}

// uniqueViolation reports whether err is a unique index refusing a row.
func uniqueViolation(err error) bool {
	var pqErr *pq.Error
	if errors.As(err, &pqErr) {
		return pqErr.Code == "23505"
	}
	var coded interface{ Code() int }
	if errors.As(err, &coded) {
		switch coded.Code() {
		case 2067, 1555: // SQLITE_CONSTRAINT_UNIQUE, SQLITE_CONSTRAINT_PRIMARYKEY
			return true
		}
	}
	return false
}

func retryable(err error) bool {
	var pqErr *pq.Error
	if errors.As(err, &pqErr) {
		switch pqErr.Code {
		case "40P01", "40001": // deadlock_detected, serialization_failure
			return true
		}
	}
	return false
}
