// Package migrations holds jobwatch's schema, one set of SQL files per
// dialect, embedded in the binary and applied with bun/migrate.
//
// Each file is transactional (.tx.up.sql) and idempotent (IF NOT EXISTS), so
// a start that crashed between committing a file and recording it as applied
// re-runs it harmlessly.
package migrations

import (
	"embed"
	"fmt"
	"io/fs"

	"github.com/uptrace/bun/migrate"
)

//go:embed postgres/*.sql sqlite/*.sql
var files embed.FS

// For returns the migrations of a dialect: "postgres" or "sqlite".
func For(dialect string) (*migrate.Migrations, error) {
	sub, err := fs.Sub(files, dialect)
	if err != nil {
		return nil, fmt.Errorf("migrations for %s: %w", dialect, err)
	}
	m := migrate.NewMigrations()
	if err := m.Discover(sub); err != nil {
		return nil, fmt.Errorf("discover %s migrations: %w", dialect, err)
	}
	return m, nil
}
