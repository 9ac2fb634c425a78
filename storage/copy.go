package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/uptrace/bun"
)

// copyOrder is the order Copy fills the tables in: a table before those
// whose rows refer to it (events.job_id refers to jobs). Tables that both
// stores have and that are not listed here are copied after these, in
// name order, so that a table a later migration adds comes along too.
var copyOrder = []string{
	"jobs",
	"events",
	"deliveries",
	"usage_totals",
	"threshold_crossings",
	"alerts",
	"alert_repeats",
	"provider_webhooks",
}

// migrationTables are the migrator's own bookkeeping, which the target's
// own Migrate fills: Copy leaves them alone.
var migrationTables = []string{"jobwatch_migrations", "jobwatch_migration_locks"}

// copyChunk is how many rows one INSERT of Copy writes.
const copyChunk = 500

// TableCount is how many rows Copy copied into one table.
type TableCount struct {
	Table string
	Rows  int64
}

// ErrTargetNotEmpty is Copy's refusal of a target that already holds rows:
// copying into it would mix two histories and collide on ids.
var ErrTargetNotEmpty = errors.New("target store is not empty")

// Copy copies every row of from's jobwatch tables into to, which must be
// migrated and empty, and returns the rows copied per table, in the order
// copied. It is how a deployment moves from SQLite to PostgreSQL (or back);
// neither store should be in use by a daemon meanwhile.
//
// Rows keep their ids, so that events.job_id and
// provider_webhooks.seen_delivery_id still point where they did; on
// PostgreSQL the id sequences are then set past the copied ids, so that
// the next row gets a fresh one. Columns are copied by name, those both
// tables have, so that a column a later migration adds comes along without
// a change here; a column only the target has takes its default.
//
// The source is read in one transaction (a consistent snapshot) and the
// target written in one, in INSERTs of copyChunk rows: a copy that fails
// leaves the target as empty as it found it.
func Copy(ctx context.Context, from, to *Store) ([]TableCount, error) {
	tables, err := copyTables(ctx, from, to)
	if err != nil {
		return nil, err
	}
	for _, t := range tables {
		var n int64
		if err := to.db.NewRaw("SELECT count(*) FROM ?", bun.Ident(t)).Scan(ctx, &n); err != nil {
			return nil, fmt.Errorf("count the target's %s: %w", t, err)
		}
		if n > 0 {
			return nil, fmt.Errorf("%w: its %s table holds %d rows", ErrTargetNotEmpty, t, n)
		}
	}
	var readOpts *sql.TxOptions
	if from.postgres {
		readOpts = &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true}
	}
	src, err := from.db.BeginTx(ctx, readOpts)
	if err != nil {
		return nil, fmt.Errorf("begin reading the source: %w", err)
	}
	defer src.Rollback()
	var counts []TableCount
	err = to.db.RunInTx(ctx, nil, func(ctx context.Context, dst bun.Tx) error {
		for _, t := range tables {
			n, err := copyTable(ctx, src, from, dst, to, t)
			if err != nil {
				return err
			}
			counts = append(counts, TableCount{Table: t, Rows: n})
		}
		if to.postgres {
			return resetSequences(ctx, to, dst, tables)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return counts, nil
}

// copyTables lists the tables Copy fills: those both stores have, but the
// migrator's, in copyOrder and then by name. A source without a jobs table
// is not a jobwatch database.
func copyTables(ctx context.Context, from, to *Store) ([]string, error) {
	have, err := from.tables(ctx)
	if err != nil {
		return nil, fmt.Errorf("list the source's tables: %w", err)
	}
	if !slices.Contains(have, "jobs") {
		return nil, errors.New("the source has no jobs table: it is not a jobwatch database")
	}
	want, err := to.tables(ctx)
	if err != nil {
		return nil, fmt.Errorf("list the target's tables: %w", err)
	}
	var out []string
	for _, t := range copyOrder {
		if slices.Contains(have, t) && slices.Contains(want, t) {
			out = append(out, t)
		}
	}
	for _, t := range have {
		if slices.Contains(want, t) && !slices.Contains(out, t) && !slices.Contains(migrationTables, t) {
			out = append(out, t)
		}
	}
	return out, nil
}

// tables returns the names of the store's tables, sorted.
func (s *Store) tables(ctx context.Context) ([]string, error) {
	q := "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
	if s.postgres {
		q = "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name"
	}
	var names []string
	if err := s.db.NewRaw(q).Scan(ctx, &names); err != nil {
		return nil, err
	}
	return names, nil
}

// columns returns the names of a table's columns.
func (s *Store) columns(ctx context.Context, db bun.IDB, table string) ([]string, error) {
	q := "SELECT name FROM pragma_table_info(?) ORDER BY cid"
	if s.postgres {
		q = "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position"
	}
	var names []string
	if err := db.NewRaw(q, table).Scan(ctx, &names); err != nil {
		return nil, fmt.Errorf("list the columns of %s: %w", table, err)
	}
	return names, nil
}

// copyTable copies one table's rows, in its primary key's order, from the
// source transaction to the target's, and says how many.
func copyTable(ctx context.Context, src bun.Tx, from *Store, dst bun.Tx, to *Store, table string) (int64, error) {
	have, err := from.columns(ctx, src, table)
	if err != nil {
		return 0, err
	}
	want, err := to.columns(ctx, dst, table)
	if err != nil {
		return 0, err
	}
	var cols []string
	for _, c := range have {
		if slices.Contains(want, c) {
			cols = append(cols, c)
		}
	}
	idents := make([]string, len(cols))
	for i, c := range cols {
		idents[i] = quoteIdent(c)
	}
	list := strings.Join(idents, ", ")
	order := "1"
	if slices.Contains(cols, "id") {
		order = "id"
	}
	rows, err := src.QueryContext(ctx, "SELECT "+list+" FROM "+quoteIdent(table)+" ORDER BY "+order)
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", table, err)
	}
	defer rows.Close()

	insert := "INSERT INTO " + quoteIdent(table) + " (" + list + ") VALUES "
	one := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ") + ")"
	var (
		n     int64
		batch []any
		held  int
	)
	flush := func() error {
		if held == 0 {
			return nil
		}
		q := insert + strings.TrimSuffix(strings.Repeat(one+", ", held), ", ")
		if _, err := dst.ExecContext(ctx, q, batch...); err != nil {
			return fmt.Errorf("write %s rows %d to %d: %w", table, n-int64(held)+1, n, err)
		}
		batch, held = batch[:0], 0
		return nil
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return n, fmt.Errorf("read %s: %w", table, err)
		}
		for _, v := range vals {
			batch = append(batch, portable(v))
		}
		n++
		held++
		if held == copyChunk {
			if err := flush(); err != nil {
				return n, err
			}
		}
	}
	if err := rows.Err(); err != nil {
		return n, fmt.Errorf("read %s: %w", table, err)
	}
	return n, flush()
}

// quoteIdent quotes a table or column name as both dialects read it.
func quoteIdent(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

// portable is a value read from one dialect as the other writes it: text
// (JSON columns come from PostgreSQL as bytes, and jobwatch has no binary
// columns) and times in UTC, which SQLite stores as text and compares as
// such.
func portable(v any) any {
	switch v := v.(type) {
	case []byte:
		return string(v)
	case time.Time:
		return v.UTC()
	}
	return v
}

// resetSequences sets the sequence of every copied table's id column past
// the largest id copied, so that the next row inserted gets a fresh id.
func resetSequences(ctx context.Context, to *Store, tx bun.Tx, tables []string) error {
	for _, t := range tables {
		cols, err := to.columns(ctx, tx, t)
		if err != nil {
			return err
		}
		if !slices.Contains(cols, "id") {
			continue
		}
		var seq sql.NullString
		if err := tx.NewRaw("SELECT pg_get_serial_sequence(?, 'id')", t).Scan(ctx, &seq); err != nil {
			return fmt.Errorf("find the id sequence of %s: %w", t, err)
		}
		if !seq.Valid {
			continue
		}
		if _, err := tx.ExecContext(ctx, "SELECT setval(?, COALESCE((SELECT max(id) FROM ?), 0) + 1, false)", seq.String, bun.Ident(t)); err != nil {
			return fmt.Errorf("set the id sequence of %s: %w", t, err)
		}
	}
	return nil
}

// Backup writes a consistent copy of a SQLite store to path, a file that
// must not exist, while the store stays in use: SQLite's VACUUM INTO reads
// one snapshot beside the daemon's writes. A PostgreSQL store is backed up
// with pg_dump; Backup refuses it.
func (s *Store) Backup(ctx context.Context, path string) error {
	if s.postgres {
		return errors.New("back up a PostgreSQL store with pg_dump")
	}
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("back up to %s: the file exists", path)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("back up to %s: %w", path, pathCause(err))
	}
	if _, err := s.db.ExecContext(ctx, "VACUUM INTO ?", path); err != nil {
		return fmt.Errorf("back up to %s: %w", path, err)
	}
	// VACUUM INTO does not sync what it wrote.
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("back up to %s: open the copy to sync it: %w", path, pathCause(err))
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("back up to %s: sync: %w", path, pathCause(err))
	}
	return nil
}
