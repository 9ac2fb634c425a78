package storage_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/jobwatch/jobwatch/storage"
	"github.com/jobwatch/jobwatch/storage/storagetest"
)

// TestJobSelectNamesEveryColumn: the column list that PostgreSQL's claim
// and the write path's read return, and scanJobRows reads in order, names
// every column of the migrated jobs table and every field of jobRow, so
// that a column added to either cannot be left out of the job cache's rows
// (a cached row missing one would be written back without it).
func TestJobSelectNamesEveryColumn(t *testing.T) {
	t.Parallel()
	s := storagetest.Open(t, storage.DriverPostgres)
	var selected []string
	for _, c := range strings.Split(storage.JobSelectPostgres, ", ") {
		if name, ok := strings.CutPrefix(c, "jobs."); ok && !strings.Contains(name, " ") {
			selected = append(selected, name)
		}
	}
	if !slices.Contains(strings.Split(storage.JobSelectPostgres, ", "), "jobs.xmin::text AS version") {
		t.Errorf("the select has no version: %s", storage.JobSelectPostgres)
	}
	var table []string
	if err := s.DB().NewRaw(`SELECT column_name FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name = 'jobs'`).Scan(context.Background(), &table); err != nil {
		t.Fatal(err)
	}
	slices.Sort(table)
	if got := slices.Sorted(slices.Values(selected)); !slices.Equal(got, table) {
		t.Errorf("selected columns %v, the table's %v", got, table)
	}
	fields := slices.DeleteFunc(storage.JobRowColumns(s.DB()), func(c string) bool { return c == "version" })
	slices.Sort(fields)
	if !slices.Equal(fields, table) {
		t.Errorf("jobRow's columns %v, the table's %v", fields, table)
	}
}
