package bench

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jobwatch/jobwatch/storage"
)

// History is what seedHistory stored before a run's measured turns: the
// webhook history of a database that has been ingesting for a while.
type History struct {
	// Jobs are ended OpenAI batches, each with HistoryEventsPerJob events.
	Jobs int
	// Events are the jobs' history rows (three polls and a webhook end each).
	Events int
	// Deliveries are the delivery log's rows: one per webhook end the log
	// still holds (received within delivery_retention, the newest
	// delivery_max_rows of them).
	Deliveries int
	// LastEventID is the id of the last seeded event: the run's own events
	// come after it.
	LastEventID int64
	// Took is how long seeding took, statistics and vacuum included.
	Took time.Duration
}

// HistoryEventsPerJob is how many events each seeded job has: three polls
// seen while it ran (validating, in_progress, finalizing) and the webhook of
// its end (batch.completed).
const HistoryEventsPerJob = 4

// historySpan is how long before the run the oldest seeded job ended (within
// the default job retention of 90 days, so that no prune deletes it), and
// historyMaxGap the longest time between two seeded jobs' ends.
const (
	historySpan   = 80 * 24 * time.Hour
	historyMaxGap = time.Minute
)

// historySeries is a series of integers n from ?0 to ?1 in dialect, as the
// FROM item "s".
func historySeries(dialect string) (with, from string) {
	if dialect == storage.DriverPostgres {
		return "", "generate_series(?0::bigint, ?1::bigint) AS s(n)"
	}
	return "WITH RECURSIVE s(n) AS (SELECT ?0 UNION ALL SELECT n+1 FROM s WHERE n < ?1)\n", "s"
}

// historyTime is the SQL of a time given as a Unix time in seconds (a
// fractional number) by expression unix, stored as the dialect stores
// timestamps (SQLite: UTC text).
func historyTime(dialect, unix string) string {
	if dialect == storage.DriverPostgres {
		return "to_timestamp(" + unix + ")"
	}
	return "strftime('%Y-%m-%d %H:%M:%f+00:00', " + unix + ", 'unixepoch')"
}

// seedHistory stores the history of events events (rounded up to whole
// jobs of HistoryEventsPerJob) before now, in three set-based statements,
// as a webhook ingest of that many events over up to 80 days would have
// left it: ended OpenAI batch jobs, their events, and the delivery log of
// their webhook ends the log still holds, given its retention and maxRows.
// PostgreSQL's tables are then vacuumed and analysed, as autovacuum leaves
// a long-running database; SQLite's are not analysed, as jobwatch never
// does. The store must hold no jobs yet.
func seedHistory(ctx context.Context, store *storage.Store, events int, now time.Time, retention time.Duration, maxRows int) (History, error) {
	start := time.Now()
	jobs := (events + HistoryEventsPerJob - 1) / HistoryEventsPerJob
	h := History{Jobs: jobs, Events: jobs * HistoryEventsPerJob}
	if jobs == 0 {
		return h, nil
	}
	db := store.DB()
	dialect := store.Dialect()
	gap := min(historySpan/time.Duration(jobs), historyMaxGap)
	// Job n (1..jobs) ended at end(n), and was created 40 minutes before.
	endUnix := float64(now.Add(-time.Minute).UnixMicro()) / 1e6
	end := func(n string) string {
		return fmt.Sprintf("(%f - (%d - %s) * %f)", endUnix, jobs, n, gap.Seconds())
	}
	with, series := historySeries(dialect)
	jsonCast := ""
	if dialect == storage.DriverPostgres {
		jsonCast = "::jsonb"
	}
	const usage = `'{"input_tokens":100,"output_tokens":50,"total_tokens":150,"requests_total":10,"requests_completed":10}'`
	e := historyTime(dialect, end("n"))
	if _, err := db.NewRaw(with+`INSERT INTO jobs (provider, external_id, kind, status, provider_status, labels, usage, details,
	counted_usage, created_at, updated_at, resolved_at, resolved_by, last_observed_at, last_heard_at, webhook_at, status_since,
	quiet_polls, not_found_polls)
SELECT 'openai', 'batch_hist_' || n, 'batch', 'succeeded', 'completed', '{}'`+jsonCast+`, `+usage+jsonCast+`, '{}'`+jsonCast+`,
	`+usage+jsonCast+`, `+historyTime(dialect, end("n")+" - 2400")+`, `+e+`, `+e+`, 'webhook', `+e+`, `+e+`, `+e+`, `+e+`, 0, 0
FROM `+series, 1, jobs).Exec(ctx); err != nil {
		return h, fmt.Errorf("seed %d jobs of history: %w", jobs, err)
	}
	// The events name their jobs by id: check that job n got the n-th id.
	var first int64
	var inOrder int
	if err := db.NewRaw(`SELECT coalesce(min(id), 0), count(*) FROM jobs WHERE external_id = 'batch_hist_' || (id - (SELECT min(id) FROM jobs) + 1)`).
		Scan(ctx, &first, &inOrder); err != nil {
		return h, fmt.Errorf("check the seeded jobs' ids: %w", err)
	}
	if inOrder != jobs {
		return h, fmt.Errorf("seed history: %d of %d jobs have the id of their place in the series; is the database empty?", inOrder, jobs)
	}
	// Event m (1..events) is the k-th of job n; the last one, the end, came
	// by webhook. Poll k was seen 10 minutes after the one before, the
	// first 10 minutes after the job was created.
	const n, k = "((s.n - 1) / 4 + 1)", "((s.n - 1) % 4)"
	t := historyTime(dialect, end(n)+" - 600 * (3 - "+k+")")
	payloadCast := ""
	if dialect == storage.DriverPostgres {
		payloadCast = "::json"
	}
	if _, err := db.NewRaw(with+`INSERT INTO events (provider, event_id, job_id, source, type, provider_status, status, effect,
	occurred_at, recorded_at, payload)
SELECT 'openai', CASE `+k+` WHEN 3 THEN 'evt_hist_' || `+n+` END, `+n+` + ?2 - 1,
	CASE `+k+` WHEN 3 THEN 'webhook' ELSE 'poll' END, CASE `+k+` WHEN 3 THEN 'batch.completed' ELSE '' END, p.status,
	CASE `+k+` WHEN 3 THEN 'succeeded' ELSE 'running' END, 'applied', `+t+`, `+t+`,
	(CASE `+k+` WHEN 3 THEN '{"id":"evt_hist_' || `+n+` || '","object":"event","created_at":' || CAST(`+end(n)+` AS BIGINT) ||
		',"type":"batch.completed","data":{"id":"batch_hist_' || `+n+` || '"}}'
	ELSE '{"id":"batch_hist_' || `+n+` || '","object":"batch","endpoint":"/v1/chat/completions","status":"' || p.status ||
		'","request_counts":{"total":10,"completed":' || (3 * `+k+`) || ',"failed":0}}' END)`+payloadCast+`
FROM `+series+` JOIN (SELECT 0 AS k, 'validating' AS status UNION ALL SELECT 1, 'in_progress' UNION ALL SELECT 2, 'finalizing'
	UNION ALL SELECT 3, 'completed') AS p ON p.k = `+k+` ORDER BY s.n`, 1, h.Events, first).Exec(ctx); err != nil {
		return h, fmt.Errorf("seed %d events of history: %w", h.Events, err)
	}
	if err := db.NewRaw("SELECT coalesce(max(id), 0) FROM events").Scan(ctx, &h.LastEventID); err != nil {
		return h, fmt.Errorf("read the last seeded event's id: %w", err)
	}
	// The log holds the ends received within the retention, at most
	// maxRows of them: those of the newest jobs.
	h.Deliveries = min(jobs, maxRows, int(retention/gap))
	if _, err := db.NewRaw(with+`INSERT INTO deliveries (provider, received_at, outcome, status_code, event_id, event_type, job_id)
SELECT 'openai', `+e+`, 'accepted', 200, 'evt_hist_' || n, 'batch.completed', 'batch_hist_' || n FROM `+series+` ORDER BY n`,
		jobs-h.Deliveries+1, jobs).Exec(ctx); err != nil {
		return h, fmt.Errorf("seed %d deliveries of history: %w", h.Deliveries, err)
	}
	if dialect == storage.DriverPostgres {
		// As autovacuum leaves the tables of a database that has been
		// ingesting for a while; and flush the seed's WAL now, so that
		// the checkpoint it would cause does not land in the measure.
		for _, q := range []string{"VACUUM ANALYZE jobs", "VACUUM ANALYZE events", "VACUUM ANALYZE deliveries", "CHECKPOINT"} {
			if _, err := db.ExecContext(ctx, q); err != nil {
				return h, fmt.Errorf("seed history: %s: %w", strings.ToLower(q), err)
			}
		}
	}
	h.Took = time.Since(start)
	return h, nil
}
