package storage

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/uptrace/bun"

	"github.com/jobwatch/jobwatch/tracker"
)

// Apply applies every item in one transaction; see tracker.Store.
//
// Items are taken in (provider, external id) order, so that two transactions
// lock shared jobs in the same order; items for one job keep their given
// order. For each: the job is locked (and created when the item adopts it),
// the observation passed through tracker.Transition, its event inserted with
// ON CONFLICT DO NOTHING on (provider, event id) — no row means a duplicate,
// which changes nothing — and then the job updated. A concurrent duplicate
// waits on the job's lock, then finds the event taken.
func (s *Store) Apply(ctx context.Context, p tracker.ApplyParams) ([]tracker.Result, error) {
	order := make([]int, len(p.Items))
	for i := range order {
		order[i] = i
	}
	key := func(it tracker.ApplyItem) (string, string) {
		if it.Observation == nil {
			return "", ""
		}
		return it.Observation.Provider, it.Observation.ExternalID
	}
	slices.SortStableFunc(order, func(a, b int) int {
		pa, ja := key(p.Items[a])
		pb, jb := key(p.Items[b])
		return cmp.Or(cmp.Compare(pa, pb), cmp.Compare(ja, jb))
	})
	results := make([]tracker.Result, len(p.Items))
	err := s.inTx(ctx, func(tx bun.Tx) error {
		var b *alertBatch
		if p.Alerting != nil {
			b = &alertBatch{}
		}
		for _, i := range order {
			item := p.Items[i]
			var r tracker.Result
			if item.Observation != nil {
				var err error
				if r, err = s.applyOne(ctx, tx, p, item, b); err != nil {
					return err
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
				if err := insertDelivery(ctx, tx, &logged); err != nil {
					return err
				}
			}
			results[i] = r
		}
		if b != nil {
			return s.flush(ctx, tx, p, b)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return results, nil
}

// applyOne applies one observation; with b (alerting on) it also accounts
// the job's usage and collects the alerts the observation raises.
func (s *Store) applyOne(ctx context.Context, tx bun.Tx, p tracker.ApplyParams, item tracker.ApplyItem, b *alertBatch) (tracker.Result, error) {
	obs := *item.Observation
	var (
		res   tracker.Result
		job   *tracker.Job
		found bool
	)
	if obs.ExternalID != "" {
		row, err := s.selectJob(ctx, tx, obs.Provider, obs.ExternalID, true)
		switch {
		case err == nil:
			found = true
		case !errors.Is(err, tracker.ErrNotFound):
			return res, err
		case item.Adopt:
			// Create the job only for an event not seen before, so that a
			// redelivered event cannot conjure a job after a policy change.
			if dup, err := s.eventSeen(ctx, tx, obs); err != nil || dup {
				return tracker.Result{Duplicate: dup}, err
			}
			if row, res.Created, err = s.adopt(ctx, tx, obs, p); err != nil {
				return res, err
			}
			found = true
		}
		if found {
			j, err := row.job()
			if err != nil {
				return res, err
			}
			job = &j
		}
	}

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
	var next tracker.Job
	if job != nil {
		res.Previous = job.Status
		if res.Created {
			res.Previous = ""
		}
		var effect tracker.Effect
		next, effect = tracker.Transition(*job, obs, p.Now, p.Rules(job.Provider, job.Kind))
		ev.JobID, ev.Effect = &job.ID, string(effect)
	}
	q := tx.NewInsert().Model(&ev).ExcludeColumn("id").Returning("NULL")
	if obs.EventID != "" {
		q = q.On("CONFLICT (provider, event_id) WHERE event_id IS NOT NULL DO NOTHING")
	}
	r, err := q.Exec(ctx)
	if err != nil {
		return res, fmt.Errorf("insert event: %w", err)
	}
	if n, err := r.RowsAffected(); err != nil {
		return res, fmt.Errorf("insert event: %w", err)
	} else if n == 0 {
		return tracker.Result{Job: job, Duplicate: true}, nil
	}
	res.Effect = tracker.Effect(ev.Effect)
	if job == nil {
		if b != nil {
			b.collect(p, tracker.Job{}, res, obs, nil)
		}
		return res, nil
	}
	var delta tracker.UsageDelta
	if b != nil {
		delta, next.Counted = tracker.Account(*job, next, job.Counted)
	}
	row, err := toJobRow(next)
	if err != nil {
		return res, err
	}
	if _, err := tx.NewUpdate().Model(&row).WherePK().
		ExcludeColumn("id", "provider", "external_id", "kind", "labels", "metadata", "created_at").
		Exec(ctx); err != nil {
		return res, fmt.Errorf("update job: %w", err)
	}
	res.Job = &next
	if b != nil {
		before := *job
		if res.Created {
			before = tracker.Job{}
		}
		b.collect(p, before, res, obs, delta)
	}
	return res, nil
}

// eventSeen reports whether obs's event id has been recorded already.
func (s *Store) eventSeen(ctx context.Context, tx bun.Tx, obs tracker.Observation) (bool, error) {
	if obs.EventID == "" {
		return false, nil
	}
	n, err := tx.NewSelect().Table("events").Where("provider = ? AND event_id = ?", obs.Provider, obs.EventID).Count(ctx)
	if err != nil {
		return false, fmt.Errorf("look up event: %w", err)
	}
	return n > 0, nil
}

// adopt creates a pending job for an observation of an untracked job, and
// returns it locked.
func (s *Store) adopt(ctx context.Context, tx bun.Tx, obs tracker.Observation, p tracker.ApplyParams) (jobRow, bool, error) {
	kind := cmp.Or(obs.Kind, tracker.Kind("unknown"))
	next := p.Now.Add(p.Rules(obs.Provider, kind).StaleAfter)
	row, err := toJobRow(tracker.Job{
		Provider:    obs.Provider,
		ExternalID:  obs.ExternalID,
		Kind:        kind,
		Status:      tracker.StatusPending,
		CreatedAt:   p.Now,
		UpdatedAt:   p.Now,
		LastHeardAt: p.Now,
		NextPollAt:  &next,
	})
	if err != nil {
		return jobRow{}, false, err
	}
	created, err := s.insertJob(ctx, tx, &row)
	if err != nil {
		return jobRow{}, false, err
	}
	row, err = s.selectJob(ctx, tx, obs.Provider, obs.ExternalID, true)
	return row, created, err
}
