package storage_test

import (
	"testing"

	"github.com/jobwatch/jobwatch/storage/storagetest"
	"github.com/jobwatch/jobwatch/tracker"
	"github.com/jobwatch/jobwatch/tracker/storetest"
)

// TestConformance runs the conformance suite of tracker.Store against
// SQLite and PostgreSQL, each case on a database of its own.
func TestConformance(t *testing.T) {
	t.Parallel()
	for _, driver := range storagetest.Backends {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			storetest.Exercise(t, func(t *testing.T) storetest.OpenStore {
				cfg := storagetest.Config(t, driver)
				return func(t *testing.T) tracker.Store { return storagetest.OpenConfig(t, cfg) }
			})
		})
	}
}
