package tracker

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// committer groups concurrent Observe calls into shared transactions: a group
// commit. The first caller to find no transaction running starts a leader, a
// goroutine that commits the caller's items together with everything queued
// meanwhile, then keeps committing what queued during that transaction until
// the queue is empty. Every caller returns only after the transaction
// holding its items has committed, or when its context ends first (its
// items may still commit; they are not acknowledged). With an idle store a lone caller commits at once; under
// load each transaction carries many items, so the commit (and its fsync) is
// paid once per batch instead of once per request.
type committer struct {
	store      Store
	rules      func(provider string, kind Kind) Rules
	now        func() time.Time
	maxItems   int
	maxLeaders int
	// alerting is the policy in force (nil: none), replaced by
	// Tracker.SetAlerting.
	alerting atomic.Pointer[Alerting]
	// raised and pollDue are Options.AlertsRaised and Options.PollDue.
	raised, pollDue func()

	mu      sync.Mutex
	queue   []*unit
	leaders int
}

// unit is one caller's items and, once committed, their results.
type unit struct {
	items   []ApplyItem
	results []Result
	err     error
	done    chan struct{}
}

// commitTimeout bounds one shared transaction; it does not depend on any one
// caller's context, since it commits for all of them.
const commitTimeout = 30 * time.Second

func (c *committer) apply(ctx context.Context, items []ApplyItem) ([]Result, error) {
	u := &unit{items: items, done: make(chan struct{})}
	c.mu.Lock()
	c.queue = append(c.queue, u)
	lead := c.leaders < c.maxLeaders
	if lead {
		c.leaders++
	}
	c.mu.Unlock()
	if lead {
		// The leader commits for everyone in the background, so that it
		// too stops waiting when its context ends: a hung store leaves
		// no caller without an answer.
		go c.lead()
	}
	select {
	case <-u.done:
		return u.results, u.err
	case <-ctx.Done():
		// The items may still commit; they are not acknowledged.
		return nil, ctx.Err()
	}
}

// lead commits batches until the queue is empty.
func (c *committer) lead() {
	for {
		c.mu.Lock()
		batch := c.take()
		if len(batch) == 0 {
			c.leaders--
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
		c.commit(batch)
	}
}

// take removes up to maxItems items' worth of units from the queue (at least
// one unit). The caller holds mu.
func (c *committer) take() []*unit {
	n, items := 0, 0
	for n < len(c.queue) && (n == 0 || items+len(c.queue[n].items) <= c.maxItems) {
		items += len(c.queue[n].items)
		n++
	}
	batch := c.queue[:n:n]
	c.queue = c.queue[n:]
	return batch
}

// commit applies batch in one transaction. If that fails and the batch holds
// several units, each is retried alone, so that one unit the store refuses
// cannot fail the others; not after a timeout, which says the store is
// stuck, not that a unit is at fault.
func (c *committer) commit(batch []*unit) {
	err := c.applyUnits(batch)
	if err != nil && len(batch) > 1 && !errors.Is(err, context.DeadlineExceeded) {
		for _, u := range batch {
			u.err = c.applyUnits([]*unit{u})
		}
	} else {
		for _, u := range batch {
			u.err = err
		}
	}
	for _, u := range batch {
		close(u.done)
	}
}

func (c *committer) applyUnits(batch []*unit) error {
	var items []ApplyItem
	if len(batch) == 1 {
		items = batch[0].items
	} else {
		for _, u := range batch {
			items = append(items, u.items...)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), commitTimeout)
	defer cancel()
	now := c.now().UTC()
	res, err := c.store.Apply(ctx, ApplyParams{Now: now, Items: items, Rules: c.rules, Alerting: c.alerting.Load()})
	if err != nil {
		return err
	}
	c.signal(now, res)
	for _, u := range batch {
		u.results, res = res[:len(u.items):len(u.items)], res[len(u.items):]
	}
	return nil
}

// signal calls the hooks that a committed batch's results call for: raised
// when one of them raised alerts, pollDue when one left its job due for a
// poll at once.
func (c *committer) signal(now time.Time, res []Result) {
	var alerts, due bool
	for _, r := range res {
		alerts = alerts || r.Alerts > 0
		due = due || r.Job != nil && r.Job.NextPollAt != nil && !r.Job.NextPollAt.After(now)
	}
	if alerts && c.raised != nil {
		c.raised()
	}
	if due && c.pollDue != nil {
		c.pollDue()
	}
}
