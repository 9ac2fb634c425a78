package storage

import (
	"cmp"
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
// seen (only when needed, see below), make the jobs the batch adopts, run
// tracker.Transition in memory item by item (items of one job in their given
// order), and write the adopted jobs, the changed jobs, the events and the
// deliveries in one batch write (see write.go), then the alerts.
//
// On PostgreSQL the first attempt takes two round trips: it reads the jobs
// without a transaction or a lock, and the batch write, a single statement,
// commits on its own. That write is guarded: it updates a changed job only if
// its row version (xmin) is still the one read, and fails whole with a
// serialization failure otherwise. A batch whose alerts must be written too
// writes in a short transaction. Every later attempt is the pessimistic
// form: one transaction that locks the jobs it reads (in (provider,
// external id) order, so that concurrent transactions lock shared jobs in
// the same order). SQLite, a single writer in process, always takes that
// form.
//
// The first attempt also assumes no event id was seen before (the usual
// case) and skips looking them up; a unique violation on an event or an
// adopted job says otherwise, or that a concurrent writer got there first,
// and the batch runs again with the look-up, seeing both.
func (s *Store) Apply(ctx context.Context, p tracker.ApplyParams) ([]tracker.Result, error) {
	order := make([]int, len(p.Items))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return compareKeys(itemKey(p.Items[a]), itemKey(p.Items[b])) })
	st, err := s.statements(ctx)
	if err != nil {
		return nil, err
	}
	var results []tracker.Result
	check, locked := false, !s.postgres
	for attempt := 0; ; attempt++ {
		var err error
		if locked {
			err = s.inTx(ctx, func(tx bun.Tx) error {
				var err error
				results, err = s.applyBatch(ctx, tx, st, p, order, check)
				return err
			})
		} else {
			results, err = s.applyBatch(ctx, s.db, st, p, order, check)
		}
		if err == nil {
			return results, nil
		}
		unique := uniqueViolation(err)
		if !unique && !(retryable(err) && !locked) || attempt == 4 {
			return nil, err
		}
		check = check || unique
		locked = true
	}
}

// jobKey names a job.
type jobKey struct{ provider, externalID string }

// eventKey names an event.
type eventKey struct{ provider, eventID string }

func itemKey(it tracker.ApplyItem) jobKey {
	if it.Observation == nil {
		return jobKey{}
	}
	return jobKey{it.Observation.Provider, it.Observation.ExternalID}
}

func compareKeys(a, b jobKey) int {
	return cmp.Or(cmp.Compare(a.provider, b.provider), cmp.Compare(a.externalID, b.externalID))
}

// applyBatch is one attempt at Apply, in the transaction db when it is a
// bun.Tx, without one (the optimistic form) when it is the Store's DB. check
// looks up which event ids were seen before; without it a seen one fails the
// insert.
func (s *Store) applyBatch(ctx context.Context, db bun.IDB, st *statements, p tracker.ApplyParams, order []int, check bool) ([]tracker.Result, error) {
	var (
		keys    []jobKey
		evKeys  []eventKey
		results = make([]tracker.Result, len(p.Items))
	)
	for _, i := range order {
		o := p.Items[i].Observation
		if o == nil {
			continue
		}
		if k := itemKey(p.Items[i]); k.externalID != "" && (len(keys) == 0 || keys[len(keys)-1] != k) {
			keys = append(keys, k)
		}
		if o.EventID != "" {
			evKeys = append(evKeys, eventKey{o.Provider, o.EventID})
		}
	}
	jobs, versions, err := s.readJobs(ctx, db, st, keys)
	if err != nil {
		return nil, err
	}
	seen := map[eventKey]bool{}
	if check {
		if seen, err = s.seenEvents(ctx, db, evKeys); err != nil {
			return nil, err
		}
	}
	created := s.adoptJobs(p, order, jobs, seen)
	adopted := slices.SortedFunc(maps.Keys(created), compareKeys)

	var (
		b          *alertBatch
		rows       batchRows
		resultJobs = map[int]jobKey{}
		dirty      []jobKey // existing jobs that changed
	)
	if p.Alerting != nil {
		b = &alertBatch{}
	}
	for _, i := range order {
		item := p.Items[i]
		var r tracker.Result
		if obs := item.Observation; obs != nil {
			k := itemKey(item)
			ek := eventKey{obs.Provider, obs.EventID}
			if obs.EventID != "" && seen[ek] {
				r.Duplicate = true
				if j := jobs[k]; j != nil {
					c := *j
					r.Job = &c
				}
			} else {
				if obs.EventID != "" {
					seen[ek] = true
				}
				var ev eventRow
				r, ev = s.applyOne(p, *obs, k, jobs, created, b)
				if r.Job != nil {
					resultJobs[i] = k
					if slices.Contains(adopted, k) {
						ev.JobID, ev.AdoptedJob = nil, k.externalID
					} else if !slices.Contains(dirty, k) {
						dirty = append(dirty, k)
					}
				}
				rows.events = append(rows.events, ev)
			}
		}
		if d := item.Delivery; d != nil {
			logged := *d
			if item.Observation != nil && d.Outcome == tracker.OutcomeAccepted {
				logged.Outcome = r.DeliveryOutcome()
			}
			rows.deliveries = append(rows.deliveries, toDeliveryRow(logged))
		}
		results[i] = r
	}

	if rows.adopted, err = jobRows(adopted, jobs); err != nil {
		return nil, err
	}
	if rows.changed, err = jobRows(dirty, jobs); err != nil {
		return nil, err
	}
	for i, k := range dirty {
		rows.changed[i].Version = versions[k]
	}
	write := func(ctx context.Context, db bun.IDB) error {
		if err := s.writeBatch(ctx, db, st, &rows); err != nil {
			return err
		}
		if b != nil && b.pending() {
			return s.flush(ctx, db, p, b)
		}
		return nil
	}
	if _, inTx := db.(bun.Tx); inTx || b == nil || !b.pending() {
		err = write(ctx, db)
	} else {
		// Not s.inTx: a failed version check must not be retried as it
		// is, but with locks (see Apply).
		err = s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error { return write(ctx, tx) })
	}
	if err != nil {
		return nil, err
	}
	for _, r := range rows.adopted {
		jobs[jobKey{r.Provider, r.ExternalID}].ID = r.ID
	}
	if len(adopted) > 0 {
		for i, k := range resultJobs {
			results[i].Job.ID = jobs[k].ID
		}
	}
	return results, nil
}

// jobRows converts the jobs of keys to rows.
func jobRows(keys []jobKey, jobs map[jobKey]*tracker.Job) ([]jobRow, error) {
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

// applyOne passes one observation through tracker.Transition against the
// in-memory state of its job, updating that state, and returns the result
// and the history row. With b (alerting on) it also accounts the job's
// usage and collects the alerts the observation raises.
func (s *Store) applyOne(p tracker.ApplyParams, obs tracker.Observation, k jobKey, jobs map[jobKey]*tracker.Job, created map[jobKey]bool, b *alertBatch) (tracker.Result, eventRow) {
	ev := eventRow{
		Provider:       obs.Provider,
		EventID:        strPtr(obs.EventID),
		Source:         string(obs.Source),
		Type:           obs.Type,
		ProviderStatus: obs.ProviderStatus,
		Status:         string(obs.Status),
		Effect:         string(tracker.EffectRecorded),
		OccurredAt:     obs.OccurredAt.UTC(),
		RecordedAt:     p.Now,
		Payload:        rawText(obs.Payload),
	}
	var res tracker.Result
	job := jobs[k]
	if job == nil {
		res.Effect = tracker.EffectRecorded
		if b != nil {
			b.collect(p, tracker.Job{}, res, obs, nil)
		}
		return res, ev
	}
	before := *job
	if created[k] {
		// The first observation of an adopted job created it.
		res.Created = true
		delete(created, k)
		before = tracker.Job{}
	}
	res.Previous = before.Status
	next, effect := tracker.Transition(*job, obs, p.Now, p.Rules(job.Provider, job.Kind))
	var delta tracker.UsageDelta
	if b != nil {
		delta, next.Counted = tracker.Account(*job, next, job.Counted)
	}
	*job = next
	id := next.ID
	ev.JobID, ev.Effect = &id, string(effect)
	c := next
	res.Job, res.Effect = &c, effect
	if b != nil {
		b.collect(p, before, res, obs, delta)
	}
	return res, ev
}

// readJobs reads the jobs of keys and, on PostgreSQL, their row versions.
// In a transaction it locks them (PostgreSQL; SQLite's IMMEDIATE
// transaction already holds the write lock), in (provider, external id)
// order. It takes one query per provider (usually one).
func (s *Store) readJobs(ctx context.Context, db bun.IDB, st *statements, keys []jobKey) (map[jobKey]*tracker.Job, map[jobKey]string, error) {
	found := make(map[jobKey]*tracker.Job, len(keys))
	versions := map[jobKey]string{}
	groups := map[string][]string{}
	for _, k := range keys {
		groups[k.provider] = append(groups[k.provider], k.externalID)
	}
	tx, lock := db.(bun.Tx)
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
				err = s.db.ScanRows(ctx, r, &rows)
			}
		} else {
			err = db.NewSelect().Model(&rows).Where("provider = ? AND external_id IN (?)", provider, bun.In(groups[provider])).Scan(ctx)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("read jobs: %w", err)
		}
		for _, r := range rows {
			j, err := r.job()
			if err != nil {
				return nil, nil, err
			}
			k := jobKey{j.Provider, j.ExternalID}
			found[k], versions[k] = &j, r.Version
		}
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
CROSS JOIN LATERAL (SELECT jobs.*, jobs.xmin::text AS version FROM jobs
	WHERE jobs.provider = $2 AND jobs.external_id = k.external_id LIMIT 1`
)

// seenEvents returns which of keys are recorded already.
func (s *Store) seenEvents(ctx context.Context, db bun.IDB, keys []eventKey) (map[eventKey]bool, error) {
	seen := map[eventKey]bool{}
	groups := map[string][]string{}
	for _, k := range keys {
		groups[k.provider] = append(groups[k.provider], k.eventID)
	}
	for provider, ids := range groups {
		var found []string
		err := db.NewSelect().Table("events").Column("event_id").Where("provider = ? AND event_id IN (?)", provider, bun.In(ids)).Scan(ctx, &found)
		if err != nil {
			return nil, fmt.Errorf("look up events: %w", err)
		}
		for _, id := range found {
			seen[eventKey{provider, id}] = true
		}
	}
	return seen, nil
}

// adoptJobs makes, in memory and as pending, the jobs that adopting items
// name and that do not exist, unless the item's event was seen before (a
// redelivered event cannot conjure a job after a policy change). They are
// inserted by insertAdopted once their observations have applied, so that
// each is written once. It returns which jobs it made.
func (s *Store) adoptJobs(p tracker.ApplyParams, order []int, jobs map[jobKey]*tracker.Job, seen map[eventKey]bool) map[jobKey]bool {
	created := map[jobKey]bool{}
	for _, i := range order {
		it := p.Items[i]
		o := it.Observation
		k := itemKey(it)
		if o == nil || !it.Adopt || k.externalID == "" || jobs[k] != nil || (o.EventID != "" && seen[eventKey{o.Provider, o.EventID}]) {
			continue
		}
		kind := cmp.Or(o.Kind, tracker.Kind("unknown"))
		next := p.Now.Add(p.Rules(o.Provider, kind).StaleAfter)
		jobs[k] = &tracker.Job{Provider: o.Provider, ExternalID: o.ExternalID, Kind: kind, Status: tracker.StatusPending,
			CreatedAt: p.Now, UpdatedAt: p.Now, LastHeardAt: p.Now, NextPollAt: &next}
		created[k] = true
	}
	return created
}
