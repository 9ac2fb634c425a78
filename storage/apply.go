package storage

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/uptrace/bun"

	"github.com/jobwatch/jobwatch/tracker"
)

// Apply applies every item in one transaction; see tracker.Store.
//
// The work is set-based, so that a batch of any size costs a handful of
// statements: lock every job the batch names (in (provider, external id)
// order, so that concurrent transactions lock shared jobs in the same
// order), look up which event ids were seen, insert the jobs the batch
// adopts, then run tracker.Transition in memory item by item (items of one
// job in their given order), and write the events, the changed jobs (one
// multi-row upsert) and the deliveries.
//
// A concurrent duplicate waits on its job's lock and then finds its event
// taken. Where no lock orders two transactions (an event about no job, or a
// job two transactions adopt at once), the insert fails on the unique index
// and the whole transaction is retried, and then sees the other's rows.
func (s *Store) Apply(ctx context.Context, p tracker.ApplyParams) ([]tracker.Result, error) {
	order := make([]int, len(p.Items))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return compareKeys(itemKey(p.Items[a]), itemKey(p.Items[b])) })
	var results []tracker.Result
	// The first attempt assumes no event id was seen before (the usual case)
	// and skips looking them up; a unique violation on an event or an
	// adopted job says otherwise, or that a concurrent transaction got there
	// first, and the batch runs again with the look-up, seeing both.
	check := false
	for attempt := 0; ; attempt++ {
		err := s.inTx(ctx, func(tx bun.Tx) error {
			var err error
			results, err = s.applyBatch(ctx, tx, p, order, check)
			return err
		})
		if err == nil {
			return results, nil
		}
		if !uniqueViolation(err) || attempt == 4 {
			return nil, err
		}
		check = true
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

// applyBatch is one attempt at Apply. check looks up which event ids were
// seen before; without it a seen one fails the insert.
func (s *Store) applyBatch(ctx context.Context, tx bun.Tx, p tracker.ApplyParams, order []int, check bool) ([]tracker.Result, error) {
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
	jobs, err := s.lockJobs(ctx, tx, keys)
	if err != nil {
		return nil, err
	}
	seen := map[eventKey]bool{}
	if check {
		if seen, err = s.seenEvents(ctx, tx, evKeys); err != nil {
			return nil, err
		}
	}
	created := s.adoptJobs(p, order, jobs, seen)
	adopted := slices.SortedFunc(maps.Keys(created), compareKeys)

	var (
		b          *alertBatch
		events     []eventRow
		eventJobs  []jobKey // the job of each event
		resultJobs = map[int]jobKey{}
		deliveries []deliveryRow
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
				events = append(events, ev)
				eventJobs = append(eventJobs, k)
				if r.Job != nil {
					resultJobs[i] = k
					if !slices.Contains(adopted, k) && !slices.Contains(dirty, k) {
						dirty = append(dirty, k)
					}
				}
			}
		}
		if d := item.Delivery; d != nil {
			logged := *d
			switch {
			case r.Duplicate:
				logged.Outcome = tracker.OutcomeDuplicate
			case item.Observation != nil && r.Job == nil:
				logged.Outcome = tracker.OutcomeRecorded
			}
			deliveries = append(deliveries, toDeliveryRow(logged))
		}
		results[i] = r
	}

	if err := s.insertAdopted(ctx, tx, adopted, jobs); err != nil {
		return nil, err
	}
	if len(adopted) > 0 {
		for i, k := range eventJobs {
			if j := jobs[k]; j != nil && events[i].JobID != nil {
				id := j.ID
				events[i].JobID = &id
			}
		}
		for i, k := range resultJobs {
			results[i].Job.ID = jobs[k].ID
		}
	}
	var writes []*bun.InsertQuery
	if len(events) > 0 {
		writes = append(writes, tx.NewInsert().Model(&events).ExcludeColumn("id").Returning("NULL"))
	}
	if q, err := s.upsertJobs(tx, dirty, jobs); err != nil {
		return nil, err
	} else if q != nil {
		writes = append(writes, q)
	}
	if len(deliveries) > 0 {
		writes = append(writes, tx.NewInsert().Model(&deliveries).ExcludeColumn("id").Returning("NULL"))
	}
	if err := s.execAll(ctx, tx, writes); err != nil {
		return nil, err
	}
	if b != nil {
		if err := s.flush(ctx, tx, p, b); err != nil {
			return nil, err
		}
	}
	return results, nil
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

// lockJobs reads the jobs of keys, locking them for the transaction
// (PostgreSQL; SQLite's IMMEDIATE transaction already holds the write lock).
// Locks are taken in (provider, external id) order. One query per provider
// (usually one) with "provider = ? AND external_id IN (...)" walks the unique
// index with an array, where a row-value IN list plans slowly.
func (s *Store) lockJobs(ctx context.Context, tx bun.Tx, keys []jobKey) (map[jobKey]*tracker.Job, error) {
	locked := make(map[jobKey]*tracker.Job, len(keys))
	groups := map[string][]string{}
	for _, k := range keys {
		groups[k.provider] = append(groups[k.provider], k.externalID)
	}
	for _, provider := range slices.Sorted(maps.Keys(groups)) {
		var rows []jobRow
		q := tx.NewSelect().Model(&rows).Where("provider = ? AND external_id IN (?)", provider, bun.In(groups[provider])).OrderExpr("external_id")
		if s.postgres {
			q = q.For("UPDATE")
		}
		if err := q.Scan(ctx); err != nil {
			return nil, fmt.Errorf("lock jobs: %w", err)
		}
		found, err := jobs(rows)
		if err != nil {
			return nil, err
		}
		for _, j := range found {
			locked[jobKey{j.Provider, j.ExternalID}] = &j
		}
	}
	return locked, nil
}

// seenEvents returns which of keys are recorded already.
func (s *Store) seenEvents(ctx context.Context, tx bun.Tx, keys []eventKey) (map[eventKey]bool, error) {
	seen := map[eventKey]bool{}
	groups := map[string][]string{}
	for _, k := range keys {
		groups[k.provider] = append(groups[k.provider], k.eventID)
	}
	for provider, ids := range groups {
		var found []string
		err := tx.NewSelect().Table("events").Column("event_id").Where("provider = ? AND event_id IN (?)", provider, bun.In(ids)).Scan(ctx, &found)
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

// insertAdopted inserts the adopted jobs in their final state and gives
// them, their events and their results the ids the database assigned. A job
// another transaction adopted meanwhile fails the insert, and the retry
// finds it.
func (s *Store) insertAdopted(ctx context.Context, tx bun.Tx, keys []jobKey, jobs map[jobKey]*tracker.Job) error {
	if len(keys) == 0 {
		return nil
	}
	rows := make([]jobRow, len(keys))
	for i, k := range keys {
		r, err := toJobRow(*jobs[k])
		if err != nil {
			return err
		}
		rows[i] = r
	}
	var ids []struct {
		ID         int64  `bun:"id"`
		Provider   string `bun:"provider"`
		ExternalID string `bun:"external_id"`
	}
	err := tx.NewInsert().Model(&rows).ExcludeColumn("id").Returning("id, provider, external_id").Scan(ctx, &ids)
	if err != nil {
		return fmt.Errorf("insert adopted jobs: %w", err)
	}
	for _, r := range ids {
		jobs[jobKey{r.Provider, r.ExternalID}].ID = r.ID
	}
	return nil
}

// execAll runs the write statements of a batch. On PostgreSQL they go as
// one multi-statement round trip (simple query protocol, the values already
// rendered by bun); SQLite runs in-process, so each goes on its own.
func (s *Store) execAll(ctx context.Context, tx bun.Tx, qs []*bun.InsertQuery) error {
	if len(qs) == 0 {
		return nil
	}
	// The rendered text goes to database/sql as it is: bun must not read
	// the values' question marks as placeholders again.
	if !s.postgres {
		for _, q := range qs {
			if _, err := tx.Tx.ExecContext(ctx, q.String()); err != nil {
				return fmt.Errorf("write batch: %w", err)
			}
		}
		return nil
	}
	texts := make([]string, len(qs))
	for i, q := range qs {
		texts[i] = q.String()
	}
	if _, err := tx.Tx.ExecContext(ctx, strings.Join(texts, ";\n")); err != nil {
		return fmt.Errorf("write batch: %w", err)
	}
	return nil
}

// jobUpdateColumns are the columns an observation may change.
var jobUpdateColumns = []string{"status", "provider_status", "usage", "details", "updated_at", "resolved_at", "resolved_by",
	"last_observed_at", "last_heard_at", "next_poll_at", "quiet_polls", "not_found_polls", "webhook_at", "stale_reported", "counted_usage",
	"lease_until"}

// upsertJobs is the statement that writes the new state of every changed
// job: an upsert on (provider, external id) whose rows all exist, so each
// updates. nil when no job changed.
func (s *Store) upsertJobs(tx bun.Tx, keys []jobKey, jobs map[jobKey]*tracker.Job) (*bun.InsertQuery, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	rows := make([]jobRow, len(keys))
	for i, k := range keys {
		r, err := toJobRow(*jobs[k])
		if err != nil {
			return nil, err
		}
		rows[i] = r
	}
	q := tx.NewInsert().Model(&rows).ExcludeColumn("id").On("CONFLICT (provider, external_id) DO UPDATE").Returning("NULL")
	for _, c := range jobUpdateColumns {
		q = q.Set(c + " = EXCLUDED." + c)
	}
	return q, nil
}
