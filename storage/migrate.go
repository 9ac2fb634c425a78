package storage

import (
	"context"
	"fmt"

	"github.com/uptrace/bun/migrate"

	"github.com/jobwatch/jobwatch/storage/migrations"
)

// migrateLockKey is the PostgreSQL advisory lock that serialises migrations
// across replicas.
const migrateLockKey = 0x6a6f627761746368 // "jobwatch"

// Migrate applies every pending migration and returns the names applied.
//
// On PostgreSQL, replicas starting together are serialised by a session
// advisory lock rather than bun's lock table: the server drops the lock when
// the holder's connection dies, so a start that crashed mid-migration never
// wedges the next one. SQLite serialises writers by itself.
func (s *Store) Migrate(ctx context.Context) ([]string, error) {
	ms, err := migrations.For(s.Dialect())
	if err != nil {
		return nil, err
	}
	if s.postgres {
		conn, err := s.db.Conn(ctx)
		if err != nil {
			return nil, fmt.Errorf("migrate: get connection: %w", err)
		}
		defer conn.Close()
		// Another replica may migrate for longer than statement_timeout:
		// the wait for its lock is bounded by ctx alone.
		if _, err := conn.ExecContext(ctx, "SET statement_timeout = 0"); err != nil {
			return nil, fmt.Errorf("migrate: lift statement_timeout for the advisory lock: %w", err)
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), "RESET statement_timeout")
		if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock(?)", int64(migrateLockKey)); err != nil {
			return nil, fmt.Errorf("migrate: take advisory lock: %w", err)
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock(?)", int64(migrateLockKey))
	}
	m := migrate.NewMigrator(s.db, ms,
		migrate.WithTableName("jobwatch_migrations"),
		migrate.WithLocksTableName("jobwatch_migration_locks"),
		migrate.WithMarkAppliedOnSuccess(true))
	if err := m.Init(ctx); err != nil {
		return nil, fmt.Errorf("migrate: create migrations table: %w", err)
	}
	group, err := m.Migrate(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	var names []string
	for _, mg := range group.Migrations {
		names = append(names, mg.Name+"_"+mg.Comment)
	}
	return names, nil
}
