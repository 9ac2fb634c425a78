// Package migrations holds jobwatch's schema, one set of SQL files per
// dialect, embedded in the binary and applied with bun/migrate.
//
// Each file runs in one transaction and is idempotent, so that a start which
// crashed between committing a file and recording it as applied re-runs it
// harmlessly: tables and indexes use IF NOT EXISTS, an
// "ALTER TABLE t ADD COLUMN c" is skipped when t already has c, and an
// "ALTER TABLE t DROP COLUMN c" when it has not (SQLite has no IF [NOT]
// EXISTS for columns).
//
// It is part of the storage package, not of the library's public API.
package migrations

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"strings"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/migrate"
)

//go:embed postgres/*.sql sqlite/*.sql
var files embed.FS

// fileName is "<version>_<comment>.up.sql".
var fileName = regexp.MustCompile(`^(\d{14})_([a-z0-9_]+)\.up\.sql$`)

// alterColumn matches the statements that need the existence check: it
// captures ADD or DROP, the table and the column.
var alterColumn = regexp.MustCompile(`(?is)^ALTER\s+TABLE\s+(\w+)\s+(ADD|DROP)\s+COLUMN\s+(\w+)\b`)

// For returns the migrations of a dialect: "postgres" or "sqlite".
func For(dialect string) (*migrate.Migrations, error) {
	entries, err := fs.ReadDir(files, dialect)
	if err != nil {
		return nil, fmt.Errorf("migrations for %s: %w", dialect, err)
	}
	ms := migrate.NewMigrations()
	for _, e := range entries {
		m := fileName.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("migration file %s/%s: name is not <14 digits>_<name>.up.sql", dialect, e.Name())
		}
		sql, err := fs.ReadFile(files, path.Join(dialect, e.Name()))
		if err != nil {
			return nil, err
		}
		stmts := statements(string(sql))
		ms.Add(migrate.Migration{
			Name:    m[1],
			Comment: m[2],
			Up: func(ctx context.Context, mg *migrate.Migrator, _ *migrate.Migration) error {
				return mg.DB().RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
					return run(ctx, tx, dialect, stmts)
				})
			},
		})
	}
	return ms, nil
}

// statements splits a file at the semicolons that end lines.
func statements(sql string) []string {
	var out []string
	for _, s := range strings.Split(sql, ";\n") {
		var lines []string
		for _, l := range strings.Split(s, "\n") {
			if t := strings.TrimSpace(l); t != "" && !strings.HasPrefix(t, "--") {
				lines = append(lines, l)
			}
		}
		if stmt := strings.TrimSuffix(strings.TrimSpace(strings.Join(lines, "\n")), ";"); stmt != "" {
			out = append(out, stmt)
		}
	}
	return out
}

func run(ctx context.Context, tx bun.Tx, dialect string, stmts []string) error {
	for _, stmt := range stmts {
		if m := alterColumn.FindStringSubmatch(stmt); m != nil {
			has, err := hasColumn(ctx, tx, dialect, m[1], m[3])
			if err != nil {
				return err
			}
			if has == strings.EqualFold(m[2], "add") {
				continue
			}
		}
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("%s: %w", firstLine(stmt), err)
		}
	}
	return nil
}

func hasColumn(ctx context.Context, tx bun.Tx, dialect, table, column string) (bool, error) {
	q := "SELECT count(*) FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ? AND column_name = ?"
	if dialect == "sqlite" {
		q = "SELECT count(*) FROM pragma_table_info(?) WHERE name = ?"
	}
	var n int
	if err := tx.NewRaw(q, table, column).Scan(ctx, &n); err != nil {
		return false, fmt.Errorf("look up column %s.%s: %w", table, column, err)
	}
	return n > 0, nil
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
