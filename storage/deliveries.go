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

// PruneDeliveries deletes deliveries received before t.
func (s *Store) PruneDeliveries(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.db.NewDelete().Model((*deliveryRow)(nil)).Where("received_at < ?", before.UTC()).Exec(ctx)
	if err != nil {
		return 0, fmt.Errorf("prune deliveries: %w", err)
	}
	return res.RowsAffected()
}
