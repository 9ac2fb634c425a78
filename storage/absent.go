package storage

import (
	"errors"
	"strings"
	"sync"

	"github.com/lib/pq"

	"github.com/jobwatch/jobwatch/tracker"
)

// absentGuess decides whether Apply's first attempt may take as absent,
// without reading them, the jobs that adopting items name and the job
// cache does not hold (on SQLite, which has none: all of them): the jobs
// of webhooks about jobs never registered (a deployment that lets webhooks
// adopt its jobs), whose read finds nothing. The guess is safe either way:
// such a batch inserts each of those jobs, so a job that exists fails the
// write on the (provider, external_id) unique index, leaving nothing
// behind, and the batch runs again the pessimistic way, reading. It only
// costs: a wrong guess turns PostgreSQL's two round trips into a failed
// write and a transaction, and makes SQLite's transaction run twice. So it
// is made only while such jobs have lately been absent: the guess keeps a
// moving average, over the batches that name any, of whether one existed
// (found by a read, or by a failed write), and guesses while that stays
// under absentLimit. A replica whose webhooks are about jobs registered
// elsewhere (another replica, before a restart) keeps reading them.
type absentGuess struct {
	mu sync.Mutex
	// existed is the moving average, 0 to 1.
	existed float64
}

const (
	// absentWeight is the weight of the newest batch in the average: about
	// the last 16 batches count.
	absentWeight = 1.0 / 16
	// absentLimit is the average under which the guess is made: a failed
	// write costs about four round trips more, a right guess saves one.
	absentLimit = 0.1
)

// ok reports whether uncached adoptable jobs may be taken as absent.
func (g *absentGuess) ok() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.existed < absentLimit
}

// observe adds one batch's outcome: whether any of its uncached adoptable
// jobs existed.
func (g *absentGuess) observe(existed bool) {
	v := 0.0
	if existed {
		v = 1
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.existed += absentWeight * (v - g.existed)
}

// adoptable returns the keys an adopting item names: the jobs a batch
// creates when they do not exist.
func adoptable(items []tracker.ApplyItem) map[tracker.JobKey]bool {
	keys := map[tracker.JobKey]bool{}
	for _, it := range items {
		if o := it.Observation; it.Adopt && o != nil && o.ExternalID != "" {
			keys[tracker.JobKey{Provider: o.Provider, ExternalID: o.ExternalID}] = true
		}
	}
	return keys
}

// jobExists reports whether err is a write's unique violation on a job's
// (provider, external_id): a job it took as absent exists. SQLite's driver
// names the constraint only in its message.
func jobExists(err error) bool {
	var pqErr *pq.Error
	if errors.As(err, &pqErr) {
		return pqErr.Code == "23505" && pqErr.Constraint == "jobs_provider_external_id_key"
	}
	return uniqueViolation(err) && strings.Contains(err.Error(), "jobs.provider, jobs.external_id")
}
