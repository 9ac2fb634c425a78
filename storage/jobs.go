package storage

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/jobwatch/jobwatch/tracker"
)

// CreateJob inserts job unless one with its provider and external id exists,
// and returns the stored job and whether this call created it.
func (s *Store) CreateJob(ctx context.Context, job tracker.Job) (tracker.Job, bool, error) {
	row, err := toJobRow(job)
	if err != nil {
		return tracker.Job{}, false, err
	}
	created, err := s.insertJob(ctx, s.db, &row)
	if err != nil {
		return tracker.Job{}, false, err
	}
	got, err := s.GetJob(ctx, job.Provider, job.ExternalID)
	return got, created, err
}

// insertJob inserts row unless its provider and external id exist, and says
// whether it did.
func (s *Store) insertJob(ctx context.Context, db bun.IDB, row *jobRow) (bool, error) {
	res, err := db.NewInsert().Model(row).
		ExcludeColumn("id").
		On("CONFLICT (provider, external_id) DO NOTHING").
		Returning("NULL").
		Exec(ctx)
	if err != nil {
		return false, fmt.Errorf("insert job: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("insert job: %w", err)
	}
	return n == 1, nil
}

// GetJob returns one job, or tracker.ErrNotFound. On PostgreSQL it caches
// the row read (so CreateJob's too: a registered job is in the cache when
// its webhooks come).
func (s *Store) GetJob(ctx context.Context, provider, externalID string) (tracker.Job, error) {
	row, err := s.selectJob(ctx, s.db, provider, externalID, false)
	if err != nil {
		return tracker.Job{}, err
	}
	s.jobs.put([]jobRow{row})
	return row.job()
}

// selectJob reads one job row, with its version on PostgreSQL, locking it
// for the transaction when forUpdate (PostgreSQL; SQLite's IMMEDIATE
// transaction already holds the write lock).
func (s *Store) selectJob(ctx context.Context, db bun.IDB, provider, externalID string, forUpdate bool) (jobRow, error) {
	var row jobRow
	q := db.NewSelect().Model(&row).Where("provider = ? AND external_id = ?", provider, externalID)
	if s.postgres {
		q = q.ColumnExpr("jobs.*, jobs.xmin::text AS version")
		if forUpdate {
			q = q.For("UPDATE")
		}
	}
	if err := q.Scan(ctx); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return jobRow{}, tracker.ErrNotFound
		}
		return jobRow{}, fmt.Errorf("select job: %w", err)
	}
	return row, nil
}

// History returns a job's newest events, at most limit, oldest first.
func (s *Store) History(ctx context.Context, jobID int64, limit int) ([]tracker.Event, error) {
	var rows []eventRow
	err := s.db.NewSelect().Model(&rows).Where("job_id = ?", jobID).OrderExpr("id DESC").Limit(int64(limit)).Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("select history: %w", err)
	}
	events := make([]tracker.Event, len(rows))
	for i, r := range rows {
		events[len(rows)-1-i] = r.event()
	}
	return events, nil
}

// ListJobs returns jobs matching p, newest first.
func (s *Store) ListJobs(ctx context.Context, p tracker.ListParams) ([]tracker.Job, error) {
	var rows []jobRow
	q := s.db.NewSelect().Model(&rows).OrderExpr("id DESC").Limit(int64(p.Limit))
	if p.Provider != "" {
		q = q.Where("provider = ?", p.Provider)
	}
	if p.Kind != "" {
		q = q.Where("kind = ?", p.Kind)
	}
	if p.Status != "" {
		q = q.Where("status = ?", p.Status)
	}
	if p.BeforeID != 0 {
		q = q.Where("id < ?", p.BeforeID)
	}
	if p.Query != "" {
		// SQLite's LIKE ignores the case of ASCII letters; PostgreSQL's
		// ILIKE that of every letter.
		like := "LIKE"
		if s.postgres {
			like = "ILIKE"
		}
		q = q.Where("external_id "+like+" ? ESCAPE '\\'", "%"+likeEscaper.Replace(p.Query)+"%")
	}
	if len(p.Labels) > 0 {
		if s.postgres {
			want, err := json.Marshal(p.Labels)
			if err != nil {
				return nil, fmt.Errorf("encode label filter: %w", err)
			}
			q = q.Where("labels @> ?::jsonb", string(want))
		} else {
			keys := make([]string, 0, len(p.Labels))
			for k := range p.Labels {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			for _, k := range keys {
				q = q.Where("EXISTS (SELECT 1 FROM json_each(jobs.labels) WHERE json_each.key = ? AND json_each.value = ?)", k, p.Labels[k])
			}
		}
	}
	if err := q.Scan(ctx); err != nil {
		return nil, fmt.Errorf("select jobs: %w", err)
	}
	return jobs(rows)
}

// likeEscaper escapes LIKE's wildcards, and its escape character, so that
// a pattern matches them literally.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// CountJobs returns the number of jobs per provider, kind and status.
func (s *Store) CountJobs(ctx context.Context) ([]tracker.JobCount, error) {
	var counts []tracker.JobCount
	err := s.db.NewRaw("SELECT provider, kind, status, count(*) AS count FROM jobs GROUP BY provider, kind, status").Scan(ctx, &counts)
	if err != nil {
		return nil, fmt.Errorf("count jobs: %w", err)
	}
	return counts, nil
}

// SummarizeJobs returns, per provider, kind and status, the jobs, the
// live stuck ones, and those resolved at or after since by webhook and by
// poll, in one scan: on SQLite of jobs_summary_idx (an index-only scan: it
// holds every column read), on PostgreSQL of the table, which keeps no such
// index (migration 20261203000016: it slowed ingest).
func (s *Store) SummarizeJobs(ctx context.Context, since time.Time) ([]tracker.JobSummary, error) {
	var rows []tracker.JobSummary
	err := s.db.NewRaw(`SELECT provider, kind, status, count(*) AS count,
		sum(CASE WHEN stuck_status <> '' AND status IN (?) THEN 1 ELSE 0 END) AS stuck,
		sum(CASE WHEN resolved_by = ? AND resolved_at >= ? THEN 1 ELSE 0 END) AS by_webhook,
		sum(CASE WHEN resolved_by = ? AND resolved_at >= ? THEN 1 ELSE 0 END) AS by_poll
		FROM jobs GROUP BY provider, kind, status`,
		bun.In([]tracker.Status{tracker.StatusPending, tracker.StatusRunning}),
		tracker.SourceWebhook, since.UTC(), tracker.SourcePoll, since.UTC()).Scan(ctx, &rows)
	if err != nil {
		return nil, fmt.Errorf("summarize jobs: %w", err)
	}
	return rows, nil
}
