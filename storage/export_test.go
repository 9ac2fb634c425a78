package storage

import (
	"context"
	"reflect"
	"time"

	"github.com/uptrace/bun"

	"github.com/jobwatch/jobwatch/tracker"
)

// WriteChangedJob runs the batch write outside a transaction, as Apply's
// first attempt does on PostgreSQL, for one new state of job as if read at
// version, with one event and one delivery.
func (s *Store) WriteChangedJob(ctx context.Context, job tracker.Job, version string, ev tracker.Event, d tracker.Delivery) error {
	st, err := s.statements(ctx)
	if err != nil {
		return err
	}
	row, err := toJobRow(job)
	if err != nil {
		return err
	}
	row.Version = version
	jobID := job.ID
	return s.writeBatch(ctx, s.db, st, &batchRows{
		changed: []jobRow{row},
		events: []eventRow{{Provider: ev.Provider, EventID: strPtr(ev.EventID), JobID: &jobID, Source: string(ev.Source), Type: ev.Type,
			Status: string(ev.Status), Effect: string(ev.Effect), OccurredAt: ev.OccurredAt, RecordedAt: ev.RecordedAt, Payload: rawText(ev.Payload)}},
		deliveries: []deliveryRow{toDeliveryRow(d)},
	})
}

// JSONRowsOfEveryColumn encodes a row of every batch-written table with
// every nullable column null and then set, so that a column whose value has
// no JSON encoding shows.
func JSONRowsOfEveryColumn() []string {
	s, n, at := "x", int64(1), time.Unix(0, 0)
	return []string{
		jsonRows([]jobRow{{}, {Metadata: &s, ResolvedAt: &at, LastObservedAt: &at, NextPollAt: &at, WebhookAt: &at}}, jobInsertColumns),
		jsonRows([]jobRow{{}}, jobUpdateColumns),
		jsonRows([]eventRow{{}, {EventID: &s, JobID: &n, Payload: &s, AdoptedJob: s}}, eventWriteColumns),
		jsonRows([]deliveryRow{{}}, deliveryColumns),
	}
}

// AppendJSONString is appendJSONString.
var AppendJSONString = appendJSONString

// JobSelectPostgres is the column list scanJobRows reads.
const JobSelectPostgres = jobSelectPostgres

// JobRowColumns are the columns of a jobs row as bun maps them onto
// jobRow, the version among them.
func JobRowColumns(db *bun.DB) []string {
	var names []string
	for _, f := range db.Dialect().Tables().Get(reflect.TypeFor[jobRow]()).Fields {
		names = append(names, f.Name)
	}
	return names
}

// ReadJobsPostgres is the query Apply reads a provider's jobs with on
// PostgreSQL.
const ReadJobsPostgres = readJobsPostgres

// CachedJob is the job the Store's job cache holds, its row version, and
// whether it holds it.
func (s *Store) CachedJob(provider, externalID string) (tracker.Job, string, bool) {
	k := tracker.JobKey{Provider: provider, ExternalID: externalID}
	rows, _ := s.jobs.get([]tracker.JobKey{k})
	r, ok := rows[k]
	if !ok {
		return tracker.Job{}, "", false
	}
	j, err := r.job()
	if err != nil {
		panic(err)
	}
	return j, r.Version, true
}

// CachedJobs is how many jobs the Store's job cache holds.
func (s *Store) CachedJobs() int {
	if s.jobs == nil {
		return 0
	}
	s.jobs.mu.Lock()
	defer s.jobs.mu.Unlock()
	return s.jobs.lru.Len()
}

// GuessesAbsent reports whether Apply's next first attempt takes the
// uncached jobs of adopting items as absent.
func (s *Store) GuessesAbsent() bool { return s.absent.ok() }
