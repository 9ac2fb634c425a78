package storage

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"github.com/jobwatch/jobwatch/tracker"
)

// deliveryRow is a row of the deliveries table.
type deliveryRow struct {
	bun.BaseModel `bun:"table:deliveries,alias:deliveries"`

	ID         int64     `bun:"id,pk,autoincrement"`
	Provider   string    `bun:"provider"`
	ReceivedAt time.Time `bun:"received_at"`
	Outcome    string    `bun:"outcome"`
	StatusCode int       `bun:"status_code"`
	Reason     string    `bun:"reason"`
	EventID    string    `bun:"event_id"`
	EventType  string    `bun:"event_type"`
	JobID      string    `bun:"job_id"`
	Excerpt    string    `bun:"excerpt"`
}

func toDeliveryRow(d tracker.Delivery) deliveryRow {
	return deliveryRow{
		Provider:   d.Provider,
		ReceivedAt: d.ReceivedAt.UTC(),
		Outcome:    string(d.Outcome),
		StatusCode: d.StatusCode,
		Reason:     d.Reason,
		EventID:    d.EventID,
		EventType:  d.EventType,
		JobID:      d.JobID,
		Excerpt:    d.Excerpt,
	}
}

// ListDeliveries returns the newest deliveries matching f.
func (s *Store) ListDeliveries(ctx context.Context, f tracker.DeliveryFilter) ([]tracker.Delivery, error) {
	var rows []deliveryRow
	q := s.db.NewSelect().Model(&rows).OrderExpr("id DESC").Limit(int64(f.Limit))
	if f.Provider != "" {
		q = q.Where("provider = ?", f.Provider)
	}
	if f.Outcome != "" {
		q = q.Where("outcome = ?", f.Outcome)
	}
	if err := q.Scan(ctx); err != nil {
		return nil, fmt.Errorf("select deliveries: %w", err)
	}
	out := make([]tracker.Delivery, len(rows))
	for i, r := range rows {
		out[i] = tracker.Delivery{
			ID: r.ID, Provider: r.Provider, ReceivedAt: r.ReceivedAt.UTC(), Outcome: tracker.Outcome(r.Outcome),
			StatusCode: r.StatusCode, Reason: r.Reason, EventID: r.EventID, EventType: r.EventType, JobID: r.JobID, Excerpt: r.Excerpt,
		}
	}
	return out, nil
}

// pruneChunk is how many deliveries, in id order, one prune statement
// considers: a short write each, so that on SQLite webhooks interleave.
const pruneChunk = 1000

// PruneDeliveries deletes deliveries received before t. It walks the log in
// id order, which is the order of receipt give or take a batch or a
// replica's clock skew, one chunk at a time, deleting the chunk's rows
// received before t, and stops at the first chunk with none: the rest are
// newer. No index on the receipt time is kept up for it on the ingest path.
func (s *Store) PruneDeliveries(ctx context.Context, before time.Time) (int64, error) {
	var deleted, after int64
	for {
		var size int
		var last int64
		err := s.db.NewRaw("SELECT count(*), coalesce(max(id), 0) FROM (SELECT id FROM deliveries WHERE id > ? ORDER BY id LIMIT ?) AS c",
			after, pruneChunk).Scan(ctx, &size, &last)
		if err != nil {
			return deleted, fmt.Errorf("prune deliveries: find the next chunk: %w", err)
		}
		if size == 0 {
			return deleted, nil
		}
		res, err := s.db.NewDelete().Model((*deliveryRow)(nil)).Where("id > ? AND id <= ? AND received_at < ?", after, last, before.UTC()).Exec(ctx)
		if err != nil {
			return deleted, fmt.Errorf("prune deliveries: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return deleted, fmt.Errorf("prune deliveries: %w", err)
		}
		deleted += n
		if n == 0 || size < pruneChunk {
			return deleted, nil
		}
		after = last
	}
}

// TrimDeliveries deletes all but the newest keep deliveries (in id order,
// the order of receipt) and says how many it deleted: the delivery log's
// size bound. It finds the newest row to delete with one walk of keep
// entries down the primary key, then deletes up to it chunk by chunk, in
// id order, so that each write is short.
func (s *Store) TrimDeliveries(ctx context.Context, keep int) (int64, error) {
	if keep < 0 {
		return 0, fmt.Errorf("trim deliveries: keep %d is negative", keep)
	}
	var cut []int64
	err := s.db.NewRaw("SELECT id FROM deliveries ORDER BY id DESC LIMIT 1 OFFSET ?", keep).Scan(ctx, &cut)
	if err != nil {
		return 0, fmt.Errorf("trim deliveries: find the newest to delete: %w", err)
	}
	if len(cut) == 0 {
		return 0, nil
	}
	var deleted int64
	for {
		res, err := s.db.NewRaw("DELETE FROM deliveries WHERE id IN (SELECT id FROM deliveries WHERE id <= ? ORDER BY id LIMIT ?)", cut[0], pruneChunk).Exec(ctx)
		if err != nil {
			return deleted, fmt.Errorf("trim deliveries: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return deleted, fmt.Errorf("trim deliveries: %w", err)
		}
		deleted += n
		if n < pruneChunk {
			return deleted, nil
		}
	}
}
