package storage

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"slices"

	"github.com/lib/pq"
	"github.com/uptrace/bun"

	"github.com/jobwatch/jobwatch/tracker"
)

// Apply applies every item atomically; see tracker.Store.
//
// The work is set-based, so that a batch of any size costs a handful of
// statements: read every job the batch names, look up which event ids were
// seen (only when needed, see below), have tracker.PlanApply decide in
// memory what the batch writes (the rules: dedupe, adoption, transitions,
// usage and alerts), and write the adopted jobs, the changed jobs, the
// events and the deliveries in one batch write (see write.go), then the
// usage and the alerts (see alerts.go), on PostgreSQL usually in the same
// statement.
//
// On PostgreSQL the first attempt takes two round trips: it reads the jobs
// without a transaction or a lock, and the batch write, a single statement,
// commits on its own. That write is guarded: it updates a changed job only if
// its row version (xmin) is still the one read, and fails whole with a
// serialization failure otherwise. The usage totals and the outbox rows of
// the batch's alerts travel in that statement too, unless writing them takes
// reads (a threshold touched, missed webhooks counted) or a route's repeat
// interval must be checked (see foldAlerting): such a batch writes in a
// short transaction. Every later attempt is the pessimistic
// form: one transaction that locks the jobs it reads (in (provider,
// external id) order, so that concurrent transactions lock shared jobs in
// the same order). SQLite, a single writer in process, always takes that
// form.
//
// The first attempt on PostgreSQL takes the jobs the Store's job cache
// holds from there (see jobCache) and reads only the others, so that a
// batch of jobs this replica registered, read or wrote lately takes the
// write's round trip alone. The guard covers a cached row as it covers a
// read one: a job changed or deleted since fails the version check (and
// the foreign key of its event would refuse it too); the batch's entries
// are then dropped and the pessimistic form reads every job. Each successful write
// caches the jobs it adopted and changed, as the write returned them, once
// committed.
//
// On both backends, the jobs of adopting items (webhooks that create the
// job they name when it does not exist) that the cache lacks (SQLite has
// none) are, while such jobs have lately been new, taken as absent without
// a read (see absentGuess): the write inserts them, and one that exists
// fails it on the unique index.
//
// The first attempt also assumes no event id was seen before (the usual
// case) and skips looking them up; a unique violation on an event or an
// adopted job says otherwise, or that a concurrent writer got there first,
// and the batch runs again with the look-up, seeing both. On PostgreSQL a
// violation on an event alone (a redelivery) runs it again without locks,
// the look-up added (three round trips, where the pessimistic form takes
// six); one on an adopted job, or a second failure, takes the pessimistic
// form.
func (s *Store) Apply(ctx context.Context, p tracker.ApplyParams) ([]tracker.Result, error) {
	order := tracker.ApplyOrder(p.Items)
	keys, evKeys := tracker.ReadKeys(p.Items, order)
	st, err := s.statements(ctx)
	if err != nil {
		return nil, err
	}
	var (
		results []tracker.Result
		written []jobRow
	)
	first := &absentGuessing{adoptable: adoptable(p.Items), take: s.absent.ok()}
	check, locked := false, !s.postgres
	for attempt := 0; ; attempt++ {
		var err error
		// Only the first attempt guesses: the later ones read every job.
		guess := first
		if attempt > 0 {
			guess = nil
		}
		if locked {
			err = s.inTx(ctx, func(tx bun.Tx) error {
				var err error
				results, written, err = s.applyBatch(ctx, tx, st, p, order, keys, evKeys, check, guess)
				return err
			})
		} else {
			results, written, err = s.applyBatch(ctx, s.db, st, p, order, keys, evKeys, check, guess)
		}
		if guess != nil && guess.uncached && (err == nil || jobExists(err)) {
			s.absent.observe(guess.existed || jobExists(err))
		}
		if err == nil {
			s.jobs.put(written)
			return results, nil
		}
		unique := uniqueViolation(err)
		if unique && !check && !locked && !jobExists(err) {
			// An event id seen before (a redelivery): the write left
			// nothing behind, and the cached jobs as they were. Look the
			// ids up and write without locks once more.
			check = true
			continue
		}
		s.jobs.drop(keys)
		if !unique && !(retryable(err) && !locked) || attempt == 4 {
			return nil, err
		}
		check = check || unique
		locked = true
	}
}

// absentGuessing is, for Apply's first attempt, which jobs it may take as
// absent (see absentGuess), and what it found of them.
type absentGuessing struct {
	// adoptable are the jobs adopting items name; take says whether
	// those the job cache lacks are taken as absent, not read.
	adoptable map[tracker.JobKey]bool
	take      bool
	// uncached is set when the job cache lacked one of adoptable, and
	// existed when the read found one of those.
	uncached, existed bool
}

// applyBatch is one attempt at Apply, in the transaction db when it is a
// bun.Tx, without one (the optimistic form) when it is the Store's DB: it
// reads (or, optimistic, takes from the job cache, or as guess allows,
// takes as absent) the jobs of keys, has tracker.PlanApply decide what to
// write, and writes that. check looks up
// which of evKeys were seen before; without it a seen one fails the insert.
// It returns the results and, on PostgreSQL, the rows of the jobs written,
// with their new versions.
func (s *Store) applyBatch(ctx context.Context, db bun.IDB, st *statements, p tracker.ApplyParams, order []int, keys []tracker.JobKey, evKeys []tracker.EventKey, check bool, guess *absentGuessing) ([]tracker.Result, []jobRow, error) {
	jobs, versions, err := s.readJobs(ctx, db, st, keys, guess)
	if err != nil {
		return nil, nil, err
	}
	var seen map[tracker.EventKey]bool
	if check {
		if seen, err = s.seenEvents(ctx, db, evKeys); err != nil {
			return nil, nil, err
		}
	}
	plan := tracker.PlanApply(p, order, jobs, seen)

	var rows batchRows
	if rows.adopted, err = jobRows(plan.Adopted, jobs); err != nil {
		return nil, nil, err
	}
	if rows.changed, err = jobRows(plan.Changed, jobs); err != nil {
		return nil, nil, err
	}
	for i, k := range plan.Changed {
		rows.changed[i].Version = versions[k]
	}
	rows.events = make([]eventRow, len(plan.Events))
	for i, e := range plan.Events {
		rows.events[i] = toEventRow(e)
	}
	rows.deliveries = make([]deliveryRow, len(plan.Deliveries))
	for i, d := range plan.Deliveries {
		rows.deliveries[i] = toDeliveryRow(d)
	}
	alerting := plan.WritesAlerting()
	_, inTx := db.(bun.Tx)
	if alerting && s.postgres && !inTx {
		var folded bool
		if rows.usage, rows.alerts, folded, err = foldAlerting(p, plan); err != nil {
			return nil, nil, err
		}
		alerting = !folded
	}
	write := func(ctx context.Context, db bun.IDB) error {
		if err := s.writeBatch(ctx, db, st, &rows); err != nil {
			return err
		}
		if alerting {
			return s.flush(ctx, db, p, plan)
		}
		return nil
	}
	if inTx || !alerting {
		err = write(ctx, db)
	} else {
		// Not s.inTx: a failed version check must not be retried as it
		// is, but with locks (see Apply).
		err = s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error { return write(ctx, tx) })
	}
	if err != nil {
		return nil, nil, err
	}
	ids := make([]int64, len(rows.adopted))
	for i, r := range rows.adopted {
		ids[i] = r.ID
	}
	plan.SetAdoptedIDs(ids)
	return plan.Results, rows.written, nil
}

// jobRows converts the jobs of keys to rows.
func jobRows(keys []tracker.JobKey, jobs map[tracker.JobKey]*tracker.Job) ([]jobRow, error) {
	rows := make([]jobRow, len(keys))
	for i, k := range keys {
		r, err := toJobRow(*jobs[k])
		if err != nil {
			return nil, err
		}
		rows[i] = r
	}
	return rows, nil
}

// toEventRow is the row of a planned history row.
func toEventRow(e tracker.EventWrite) eventRow {
	return eventRow{
		Provider:       e.Provider,
		EventID:        strPtr(e.EventID),
		JobID:          e.JobID,
		Source:         string(e.Source),
		Type:           e.Type,
		ProviderStatus: e.ProviderStatus,
		Status:         string(e.Status),
		Effect:         string(e.Effect),
		OccurredAt:     e.OccurredAt,
		RecordedAt:     e.RecordedAt,
		Payload:        rawText(e.Payload),
		AdoptedJob:     e.AdoptedJob,
	}
}

// readJobs reads the jobs of keys and, on PostgreSQL, their row versions.
// Outside a transaction it takes those the job cache holds from there and
// reads the others, caching what it read. In a transaction it reads them
// all and locks them (PostgreSQL; SQLite's IMMEDIATE transaction already
// holds the write lock), in (provider, external id) order. With a guess
// (Apply's first attempt) it notes whether an adoptable job was not cached,
// and either takes those as absent, reading only the rest, or notes whether
// the read found one. It takes one query per provider read (usually one).
func (s *Store) readJobs(ctx context.Context, db bun.IDB, st *statements, keys []tracker.JobKey, guess *absentGuessing) (map[tracker.JobKey]*tracker.Job, map[tracker.JobKey]string, error) {
	tx, lock := db.(bun.Tx)
	cached, missing := map[tracker.JobKey]jobRow(nil), keys
	if !lock {
		cached, missing = s.jobs.get(keys)
	}
	if guess != nil {
		read := missing[:0:0]
		for _, k := range missing {
			if !guess.adoptable[k] {
				read = append(read, k)
				continue
			}
			guess.uncached = true
			if !guess.take {
				read = append(read, k)
			}
		}
		missing = read
	}
	found := make(map[tracker.JobKey]*tracker.Job, len(keys))
	versions := map[tracker.JobKey]string{}
	add := func(r jobRow) error {
		j, err := r.job()
		if err != nil {
			return err
		}
		k := tracker.JobKey{Provider: j.Provider, ExternalID: j.ExternalID}
		found[k], versions[k] = &j, r.Version
		return nil
	}
	for _, r := range cached {
		if err := add(r); err != nil {
			return nil, nil, err
		}
	}
	groups := map[string][]string{}
	for _, k := range missing {
		groups[k.Provider] = append(groups[k.Provider], k.ExternalID)
	}
	for _, provider := range slices.Sorted(maps.Keys(groups)) {
		var rows []jobRow
		var err error
		if s.postgres {
			stmt := st.readJobs
			if lock {
				stmt = tx.Tx.StmtContext(ctx, st.readJobsLocked)
			}
			var r *sql.Rows
			if r, err = stmt.QueryContext(ctx, pq.Array(groups[provider]), provider); err == nil {
				rows, err = scanJobRows(r)
			}
		} else {
			err = db.NewSelect().Model(&rows).Where("provider = ? AND external_id IN (?)", provider, bun.In(groups[provider])).Scan(ctx)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("read jobs: %w", err)
		}
		for _, r := range rows {
			if err := add(r); err != nil {
				return nil, nil, err
			}
			if guess != nil && guess.adoptable[tracker.JobKey{Provider: r.Provider, ExternalID: r.ExternalID}] {
				guess.existed = true
			}
		}
		s.jobs.put(rows)
	}
	return found, versions, nil
}

// readJobsPostgres reads the jobs of one provider whose external ids an
// array gives, with their row versions, one probe of the unique index per
// id in the array's order. The LIMIT keeps each probe a subquery of its own
// that the planner cannot merge into a join, so that no statistics, however
// stale, can turn the read into a scan of every job of the provider (as a
// plain "external_id IN (...)" became on a freshly filled table, where the
// planner, believing the provider had a few dozen jobs, used only the index's
// first column and filtered the rest). That holds for the plan PostgreSQL
// caches for the prepared statement too, planned once for any ids: on a
// table of four jobs it is the same index probe. readJobsPostgresLocked also
// locks each job as it is probed, so in the array's order.
const (
	readJobsPostgres       = readJobsPostgresSelect + `) AS j ORDER BY k.n`
	readJobsPostgresLocked = readJobsPostgresSelect + ` FOR UPDATE) AS j ORDER BY k.n`
	readJobsPostgresSelect = `SELECT j.* FROM unnest($1::text[]) WITH ORDINALITY AS k(external_id, n)
CROSS JOIN LATERAL (SELECT ` + jobSelectPostgres + ` FROM jobs
	WHERE jobs.provider = $2 AND jobs.external_id = k.external_id LIMIT 1`
)

// seenEvents returns which of keys are recorded already.
func (s *Store) seenEvents(ctx context.Context, db bun.IDB, keys []tracker.EventKey) (map[tracker.EventKey]bool, error) {
	seen := map[tracker.EventKey]bool{}
	groups := map[string][]string{}
	for _, k := range keys {
		groups[k.Provider] = append(groups[k.Provider], k.EventID)
	}
	for provider, ids := range groups {
		var found []string
		err := db.NewSelect().Table("events").Column("event_id").Where("provider = ? AND event_id IN (?)", provider, bun.In(ids)).Scan(ctx, &found)
		if err != nil {
			return nil, fmt.Errorf("look up events: %w", err)
		}
		for _, id := range found {
			seen[tracker.EventKey{Provider: provider, EventID: id}] = true
		}
	}
	return seen, nil
}
