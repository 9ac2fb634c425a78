package storage

import (
	"database/sql"
	"fmt"
)

// jobSelectPostgres is every column of a jobs row and its version, in the
// order scanJobRows reads them: what a PostgreSQL claim and the write
// path's read of a batch's jobs return, whole rows for the job cache.
// TestJobSelectNamesEveryColumn holds it to the table and to jobRow.
const jobSelectPostgres = "jobs.id, jobs.provider, jobs.external_id, jobs.parent_id, jobs.kind, jobs.status, jobs.provider_status, " +
	"jobs.labels, jobs.metadata, jobs.usage, jobs.details, jobs.created_at, jobs.updated_at, jobs.resolved_at, jobs.resolved_by, " +
	"jobs.last_observed_at, jobs.last_heard_at, jobs.next_poll_at, jobs.quiet_polls, jobs.not_found_polls, jobs.webhook_at, " +
	"jobs.webhook_due_by, jobs.alert_held_until, jobs.status_since, jobs.stuck_status, jobs.untracked_at, jobs.counted_usage, " +
	"jobs.cost, jobs.lease_until, jobs.xmin::text AS version"

// scanJobRows reads the rows of a query that selects jobSelectPostgres and
// closes them. It scans each column into its field directly, without
// bun's reflective scan, whose cost per column a claim pays 30 times for
// each of its rows (README, The sweep).
func scanJobRows(rows *sql.Rows) ([]jobRow, error) {
	defer rows.Close()
	var out []jobRow
	for rows.Next() {
		out = append(out, jobRow{})
		r := &out[len(out)-1]
		if err := rows.Scan(&r.ID, &r.Provider, &r.ExternalID, &r.ParentID, &r.Kind, &r.Status, &r.ProviderStatus,
			&r.Labels, &r.Metadata, &r.Usage, &r.Details, &r.CreatedAt, &r.UpdatedAt, &r.ResolvedAt, &r.ResolvedBy,
			&r.LastObservedAt, &r.LastHeardAt, &r.NextPollAt, &r.QuietPolls, &r.NotFoundPolls, &r.WebhookAt,
			&r.WebhookDueBy, &r.AlertHeldUntil, &r.StatusSince, &r.StuckStatus, &r.UntrackedAt, &r.CountedUsage,
			&r.Cost, &r.LeaseUntil, &r.Version); err != nil {
			return nil, fmt.Errorf("scan job row: %w", err)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read job rows: %w", err)
	}
	return out, nil
}
