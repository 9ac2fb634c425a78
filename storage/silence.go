package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"github.com/jobwatch/jobwatch/tracker"
)

// A provider's webhooks are silent when Alerting.SilentAfter job ends in a
// row were learned by poll with no webhook (job.webhook_missed). The run is
// counted in provider_webhooks, one row per provider, and broken by any
// verified webhook delivery of the provider: the delivery log already holds
// them, so ingest writes nothing more for this, and a run is checked against
// the log only when a miss is counted or while the provider is silent.

// verifiedOutcomes are the delivery log's outcomes of webhooks whose
// signature was verified: proof that the provider's webhooks reach jobwatch.
var verifiedOutcomes = []tracker.Outcome{tracker.OutcomeAccepted, tracker.OutcomeDuplicate, tracker.OutcomeRecorded, tracker.OutcomeMalformed}

// providerWebhooksRow is a row of provider_webhooks.
type providerWebhooksRow struct {
	bun.BaseModel `bun:"table:provider_webhooks,alias:provider_webhooks"`

	Provider string `bun:"provider,pk"`
	// Missed is the run of missed webhooks since SeenDeliveryID.
	Missed int `bun:"missed"`
	// SeenDeliveryID is the newest verified delivery the run was checked
	// against; a newer one breaks it.
	SeenDeliveryID int64 `bun:"seen_delivery_id"`
	// SilentSince is when provider.webhooks_silent was raised; nil while the
	// webhooks are not silent.
	SilentSince *time.Time `bun:"silent_since"`
}

// newestVerifiedDelivery is the id of the provider's newest verified
// delivery after the one of id after, 0 when there is none. It walks
// deliveries_provider_idx backwards from the newest.
func newestVerifiedDelivery(ctx context.Context, db bun.IDB, provider string, after int64) (int64, error) {
	var id int64
	err := db.NewSelect().Table("deliveries").Column("id").
		Where("provider = ? AND id > ? AND outcome IN (?)", provider, after, bun.In(verifiedOutcomes)).
		OrderExpr("id DESC").Limit(1).Scan(ctx, &id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("look up webhook deliveries of %s: %w", provider, err)
	}
	return id, nil
}

// countMissedWebhooks adds n missed webhooks to the provider's run, in the
// transaction tx that records them, and returns the alerts that raises
// (tracker.Alerting.CountMissed): the run is broken when the delivery log
// holds a verified delivery newer than the one it was last checked
// against. The provider's row is locked while it is counted, so that
// concurrent transactions and replicas count in turn.
func (s *Store) countMissedWebhooks(ctx context.Context, tx bun.IDB, p tracker.ApplyParams, provider string, n int) ([]tracker.Alert, error) {
	if _, err := tx.NewRaw("INSERT INTO provider_webhooks (provider) VALUES (?) ON CONFLICT (provider) DO NOTHING", provider).Exec(ctx); err != nil {
		return nil, fmt.Errorf("count missed webhooks of %s: %w", provider, err)
	}
	var row providerWebhooksRow
	q := tx.NewSelect().Model(&row).Where("provider = ?", provider)
	if s.postgres {
		q = q.For("UPDATE")
	}
	if err := q.Scan(ctx); err != nil {
		return nil, fmt.Errorf("count missed webhooks of %s: %w", provider, err)
	}
	newest, err := newestVerifiedDelivery(ctx, tx, provider, row.SeenDeliveryID)
	if err != nil {
		return nil, err
	}
	run, alerts := p.Alerting.CountMissed(provider, tracker.WebhookRun{Missed: row.Missed, SilentSince: row.SilentSince}, newest > 0, n, p.Now)
	row.Missed, row.SilentSince = run.Missed, run.SilentSince
	if newest > 0 {
		row.SeenDeliveryID = newest
	}
	if _, err := tx.NewUpdate().Model(&row).WherePK().Exec(ctx); err != nil {
		return nil, fmt.Errorf("count missed webhooks of %s: %w", provider, err)
	}
	return alerts, nil
}

// EndWebhookSilences ends the silences that a verified delivery has broken;
// see tracker.Store.
func (s *Store) EndWebhookSilences(ctx context.Context, now time.Time, alerting *tracker.Alerting) ([]string, error) {
	var silent []providerWebhooksRow
	if err := s.db.NewSelect().Model(&silent).Where("silent_since IS NOT NULL").Order("provider").Scan(ctx); err != nil {
		return nil, fmt.Errorf("select silent providers: %w", err)
	}
	now = now.UTC()
	var ended []string
	for _, row := range silent {
		newest, err := newestVerifiedDelivery(ctx, s.db, row.Provider, row.SeenDeliveryID)
		if err != nil {
			return ended, err
		}
		if newest == 0 {
			continue
		}
		done := false
		err = s.inTx(ctx, func(tx bun.Tx) error {
			res, err := tx.NewUpdate().Model((*providerWebhooksRow)(nil)).
				Set("silent_since = NULL").Set("missed = 0").Set("seen_delivery_id = ?", newest).
				Where("provider = ? AND silent_since IS NOT NULL", row.Provider).Exec(ctx)
			if err != nil {
				return fmt.Errorf("end webhook silence of %s: %w", row.Provider, err)
			}
			// Another replica may have ended it first.
			n, _ := res.RowsAffected()
			if done = n > 0; !done || alerting == nil {
				return nil
			}
			return s.enqueue(ctx, tx, now, alerting, []tracker.Alert{tracker.SilenceAlert(tracker.AlertWebhooksResumed, row.Provider, row.Missed, *row.SilentSince, now)})
		})
		if err != nil {
			return ended, err
		}
		if done {
			ended = append(ended, row.Provider)
		}
	}
	return ended, nil
}

// WebhookSilences returns, per provider whose webhooks are silent, when
// they were declared silent.
func (s *Store) WebhookSilences(ctx context.Context) (map[string]time.Time, error) {
	var rows []providerWebhooksRow
	if err := s.db.NewSelect().Model(&rows).Where("silent_since IS NOT NULL").Scan(ctx); err != nil {
		return nil, fmt.Errorf("read webhook silences: %w", err)
	}
	out := make(map[string]time.Time, len(rows))
	for _, r := range rows {
		out[r.Provider] = *r.SilentSince
	}
	return out, nil
}
