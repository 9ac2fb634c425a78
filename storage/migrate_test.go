package storage_test

import (
	"context"
	"testing"

	"github.com/jobwatch/jobwatch/storage"
	"github.com/jobwatch/jobwatch/storage/storagetest"
)

func TestMigrateIsRepeatableAfterACrash(t *testing.T) {
	t.Parallel()
	storagetest.Each(t, func(t *testing.T, s *storage.Store) {
		t.Parallel()
		ctx := context.Background()
		if names, err := s.Migrate(ctx); err != nil || len(names) != 0 {
			t.Fatalf("second Migrate = %v, %v; want nothing to do", names, err)
		}
		// A start that committed the schema but died before recording it.
		if _, err := s.DB().NewDelete().Table("jobwatch_migrations").Where("1 = 1").Exec(ctx); err != nil {
			t.Fatal(err)
		}
		names, err := s.Migrate(ctx)
		if err != nil || len(names) == 0 {
			t.Fatalf("Migrate after a crash = %v, %v; want the migrations re-run", names, err)
		}
	})
}
