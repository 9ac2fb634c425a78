package storage

import (
	"container/list"
	"sync"

	"github.com/jobwatch/jobwatch/tracker"
)

// DefaultJobCacheSize is how many jobs a PostgreSQL Store keeps in its job
// cache when Config.JobCacheSize is 0: about 1 KB each for jobs of a few
// labels and usage figures, so about 10 MB when full.
const DefaultJobCacheSize = 10000

// jobCache holds the PostgreSQL rows of the jobs a Store read or wrote
// last, each with its row version (xmin), so that Apply can skip reading
// the jobs of a batch it holds all of (the usual case: jobs registered by
// this replica, then ended by webhooks). A cached row may be stale: another
// replica, or a write of this one that does not pass through the cache,
// may have changed or deleted the job since. The batch write's version
// guard refuses such a row (the update finds no row of that version; an
// event naming a deleted job would fail its foreign key too), and Apply
// then drops the batch's entries and reads. A job missing from the cache is
// read (or, when absentGuess allows, taken as absent by an adopting batch,
// whose write the unique index guards): the cache never says a job does not
// exist. It holds at most limit rows and evicts the least recently used.
type jobCache struct {
	mu    sync.Mutex
	limit int
	// lru holds *jobRow values, the most recently used first.
	lru   *list.List
	byKey map[tracker.JobKey]*list.Element
	byID  map[int64]*list.Element
}

// newJobCache returns a cache of at most limit rows, or nil (no cache)
// when limit is not positive.
func newJobCache(limit int) *jobCache {
	if limit <= 0 {
		return nil
	}
	return &jobCache{limit: limit, lru: list.New(), byKey: map[tracker.JobKey]*list.Element{}, byID: map[int64]*list.Element{}}
}

// get returns the cached rows of keys, and the keys it holds no row of.
// A nil cache holds none.
func (c *jobCache) get(keys []tracker.JobKey) (map[tracker.JobKey]jobRow, []tracker.JobKey) {
	if c == nil {
		return nil, keys
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	found := make(map[tracker.JobKey]jobRow, len(keys))
	var missing []tracker.JobKey
	for _, k := range keys {
		e := c.byKey[k]
		if e == nil {
			missing = append(missing, k)
			continue
		}
		c.lru.MoveToFront(e)
		found[k] = *e.Value.(*jobRow)
	}
	return found, missing
}

// put caches rows, each as the newest state of its job; rows without a
// version are not cached.
func (c *jobCache) put(rows []jobRow) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range rows {
		if r.Version == "" {
			continue
		}
		k := tracker.JobKey{Provider: r.Provider, ExternalID: r.ExternalID}
		if e := c.byKey[k]; e != nil {
			c.remove(e)
		}
		if e := c.byID[r.ID]; e != nil {
			c.remove(e)
		}
		e := c.lru.PushFront(&r)
		c.byKey[k], c.byID[r.ID] = e, e
		if c.lru.Len() > c.limit {
			c.remove(c.lru.Back())
		}
	}
}

// drop forgets the jobs of keys.
func (c *jobCache) drop(keys []tracker.JobKey) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range keys {
		if e := c.byKey[k]; e != nil {
			c.remove(e)
		}
	}
}

// dropIDs forgets the jobs of row ids.
func (c *jobCache) dropIDs(ids []int64) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, id := range ids {
		if e := c.byID[id]; e != nil {
			c.remove(e)
		}
	}
}

func (c *jobCache) remove(e *list.Element) {
	r := c.lru.Remove(e).(*jobRow)
	delete(c.byKey, tracker.JobKey{Provider: r.Provider, ExternalID: r.ExternalID})
	delete(c.byID, r.ID)
}
