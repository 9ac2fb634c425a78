package storage

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/uptrace/bun"

	"github.com/jobwatch/jobwatch/tracker"
)

// Apply's hot path renders no SQL per batch: its statements are prepared
// once per connection. On PostgreSQL each table's rows travel as one JSON
// array, a single parameter that json_to_recordset expands into rows, and
// the whole write is one statement: the adopted jobs, the changed jobs, the
// events (joined to the ids their adopted jobs receive) and the deliveries,
// in data-modifying CTEs. A batch of any size costs that one round trip, and
// the server parses and plans nothing again. On SQLite, in process, each row
// is one execution of a prepared statement.

// batchRows is what one Apply writes.
type batchRows struct {
	// adopted are the jobs the batch creates; writeBatch sets their IDs.
	adopted []jobRow
	// changed are the new states of existing jobs, with the versions read.
	changed []jobRow
	// events are written in order; an event of an adopted job names it by
	// AdoptedJob and gets its id from the write.
	events     []eventRow
	deliveries []deliveryRow
	// usage and alerts are, on PostgreSQL, what the batch adds to the usage
	// totals and to the outbox when the write carries them (see
	// foldAlerting), in that order.
	usage  []usageRow
	alerts []alertRow
	// written are, after a PostgreSQL write, the adopted and changed jobs'
	// rows as stored (times at PostgreSQL's microseconds), with their new
	// versions: what the job cache takes.
	written []jobRow
}

// usageRow is what a batch adds to one usage total.
type usageRow struct {
	key   tracker.UsageKey
	delta tracker.UsageDelta
}

// column is one column a batch writes, of rows of type R: its name (also
// its key in the JSON rows), its type in PostgreSQL's json_to_recordset
// column definition list, the type a text-carried JSON column is cast to
// ("" for none), and its value in a row.
type column[R any] struct {
	name, pgType, cast string
	value              func(*R) any
}

// The columns of each write. JSON columns are carried as text, so that a
// stored payload keeps its bytes exactly.
var (
	jobIdentityColumns = []column[jobRow]{
		{"provider", "text", "", func(r *jobRow) any { return r.Provider }},
		{"external_id", "text", "", func(r *jobRow) any { return r.ExternalID }},
		{"parent_id", "text", "", func(r *jobRow) any { return r.ParentID }},
		{"kind", "text", "", func(r *jobRow) any { return r.Kind }},
		{"labels", "text", "jsonb", func(r *jobRow) any { return r.Labels }},
		{"metadata", "text", "jsonb", func(r *jobRow) any { return r.Metadata }},
		{"created_at", "timestamptz", "", func(r *jobRow) any { return r.CreatedAt }},
	}
	// jobStateColumns are the columns an observation may change; an update
	// also ends the job's lease.
	jobStateColumns = []column[jobRow]{
		{"status", "text", "", func(r *jobRow) any { return r.Status }},
		{"provider_status", "text", "", func(r *jobRow) any { return r.ProviderStatus }},
		{"usage", "text", "jsonb", func(r *jobRow) any { return r.Usage }},
		{"details", "text", "jsonb", func(r *jobRow) any { return r.Details }},
		{"updated_at", "timestamptz", "", func(r *jobRow) any { return r.UpdatedAt }},
		{"resolved_at", "timestamptz", "", func(r *jobRow) any { return r.ResolvedAt }},
		{"resolved_by", "text", "", func(r *jobRow) any { return r.ResolvedBy }},
		{"last_observed_at", "timestamptz", "", func(r *jobRow) any { return r.LastObservedAt }},
		{"last_heard_at", "timestamptz", "", func(r *jobRow) any { return r.LastHeardAt }},
		{"next_poll_at", "timestamptz", "", func(r *jobRow) any { return r.NextPollAt }},
		{"quiet_polls", "integer", "", func(r *jobRow) any { return r.QuietPolls }},
		{"not_found_polls", "integer", "", func(r *jobRow) any { return r.NotFoundPolls }},
		{"webhook_at", "timestamptz", "", func(r *jobRow) any { return r.WebhookAt }},
		{"webhook_due_by", "timestamptz", "", func(r *jobRow) any { return r.WebhookDueBy }},
		{"alert_held_until", "timestamptz", "", func(r *jobRow) any { return r.AlertHeldUntil }},
		{"status_since", "timestamptz", "", func(r *jobRow) any { return r.StatusSince }},
		{"stuck_status", "text", "", func(r *jobRow) any { return r.StuckStatus }},
		{"untracked_at", "timestamptz", "", func(r *jobRow) any { return r.UntrackedAt }},
		{"counted_usage", "text", "jsonb", func(r *jobRow) any { return r.CountedUsage }},
		{"cost", "text", "jsonb", func(r *jobRow) any { return r.Cost }},
	}
	jobInsertColumns = append(append([]column[jobRow]{}, jobIdentityColumns...), jobStateColumns...)
	// jobUpdateColumns name the row to update and the version it must
	// still be (PostgreSQL), then give its new state.
	jobUpdateColumns = append([]column[jobRow]{
		{"id", "bigint", "", func(r *jobRow) any { return r.ID }},
		{"version", "text", "", func(r *jobRow) any { return r.Version }},
	}, jobStateColumns...)

	eventColumns = []column[eventRow]{
		{"provider", "text", "", func(r *eventRow) any { return r.Provider }},
		{"event_id", "text", "", func(r *eventRow) any { return r.EventID }},
		{"job_id", "bigint", "", func(r *eventRow) any { return r.JobID }},
		{"source", "text", "", func(r *eventRow) any { return r.Source }},
		{"type", "text", "", func(r *eventRow) any { return r.Type }},
		{"provider_status", "text", "", func(r *eventRow) any { return r.ProviderStatus }},
		{"status", "text", "", func(r *eventRow) any { return r.Status }},
		{"effect", "text", "", func(r *eventRow) any { return r.Effect }},
		{"occurred_at", "timestamptz", "", func(r *eventRow) any { return r.OccurredAt }},
		{"recorded_at", "timestamptz", "", func(r *eventRow) any { return r.RecordedAt }},
		{"payload", "text", "json", func(r *eventRow) any { return r.Payload }},
	}
	// eventWriteColumns add, for PostgreSQL, the external id of the job
	// the batch adopts for the event (NULL for none).
	eventWriteColumns = append([]column[eventRow]{
		{"adopted_job", "text", "", func(r *eventRow) any { return strPtr(r.AdoptedJob) }},
	}, eventColumns...)

	deliveryColumns = []column[deliveryRow]{
		{"provider", "text", "", func(r *deliveryRow) any { return r.Provider }},
		{"received_at", "timestamptz", "", func(r *deliveryRow) any { return r.ReceivedAt }},
		{"outcome", "text", "", func(r *deliveryRow) any { return r.Outcome }},
		{"status_code", "integer", "", func(r *deliveryRow) any { return r.StatusCode }},
		{"reason", "text", "", func(r *deliveryRow) any { return r.Reason }},
		{"event_id", "text", "", func(r *deliveryRow) any { return r.EventID }},
		{"event_type", "text", "", func(r *deliveryRow) any { return r.EventType }},
		{"job_id", "text", "", func(r *deliveryRow) any { return r.JobID }},
		{"excerpt", "text", "", func(r *deliveryRow) any { return r.Excerpt }},
	}
)

// usageWriteColumns are a usage total's key, then its figures
// (usageColumns).
var usageWriteColumns = func() []column[usageRow] {
	cols := []column[usageRow]{
		{"provider", "text", "", func(r *usageRow) any { return r.key.Provider }},
		{"model", "text", "", func(r *usageRow) any { return r.key.Model }},
		{"scope", "text", "", func(r *usageRow) any { return r.key.Scope }},
		{"period", "text", "", func(r *usageRow) any { return r.key.Window }},
		{"window_start", "timestamptz", "", func(r *usageRow) any { return r.key.Start }},
	}
	for _, c := range usageColumns {
		cols = append(cols, column[usageRow]{c, "bigint", "", func(r *usageRow) any { return r.delta[c] }})
	}
	return cols
}()

// alertColumns are an outbox row's, but its id.
var alertColumns = []column[alertRow]{
	{"notifier", "text", "", func(r *alertRow) any { return r.Notifier }},
	{"type", "text", "", func(r *alertRow) any { return r.Type }},
	{"provider", "text", "", func(r *alertRow) any { return r.Provider }},
	{"job_external_id", "text", "", func(r *alertRow) any { return r.JobExternalID }},
	{"payload", "text", "json", func(r *alertRow) any { return r.Payload }},
	{"state", "text", "", func(r *alertRow) any { return r.State }},
	{"attempts", "integer", "", func(r *alertRow) any { return r.Attempts }},
	{"next_attempt_at", "timestamptz", "", func(r *alertRow) any { return r.NextAttemptAt }},
	{"created_at", "timestamptz", "", func(r *alertRow) any { return r.CreatedAt }},
	{"updated_at", "timestamptz", "", func(r *alertRow) any { return r.UpdatedAt }},
	{"sent_at", "timestamptz", "", func(r *alertRow) any { return r.SentAt }},
	{"last_error", "text", "", func(r *alertRow) any { return r.LastError }},
}

// rowNumber is the key under which each JSON row carries its place in the
// batch, so that the rows of a table are inserted in batch order.
const rowNumber = "n"

var (
	// writeBatchPostgres takes the JSON rows of adopted jobs, changed jobs,
	// events, deliveries, usage totals to add to and outbox alerts (both in
	// batch order: the totals in the order every batch locks them), and
	// returns the ids, keys and new versions of
	// the adopted and the changed jobs (one row of NULLs when there are
	// none). It fails whole, with a
	// serialization failure, when a changed job's row is no longer the
	// version read (see Apply); the check's subquery is the outer side of
	// the final join so that it runs whether or not any job was adopted.
	// The changed jobs' ids are also given as an array, which the primary
	// key is probed with: joined only to the rows, the update was planned,
	// once the plan was cached on a table still small, as a hash join that
	// scanned every job for each batch.
	writeBatchPostgres = `WITH adopted AS (
	INSERT INTO jobs (` + names(jobInsertColumns) + `)
	SELECT ` + pgValues(jobInsertColumns) + ` FROM json_to_recordset($1::json) AS r(` + pgRecord(jobInsertColumns) + `)
	RETURNING id, provider, external_id, xmin::text AS version
), changed AS (
	UPDATE jobs SET ` + pgSet(jobStateColumns) + `, lease_until = NULL
	FROM json_to_recordset($2::json) AS r(` + pgRecord(jobUpdateColumns) + `)
	WHERE jobs.id = r.id AND jobs.xmin = r.version::xid
		AND jobs.id = ANY (ARRAY(SELECT (c->>'id')::bigint FROM json_array_elements($2::json) AS c))
	RETURNING jobs.id, jobs.provider, jobs.external_id, jobs.xmin::text AS version
), inserted_events AS (
	INSERT INTO events (` + names(eventColumns) + `)
	SELECT ` + strings.Replace(pgValues(eventColumns), "r.job_id", "COALESCE(r.job_id, a.id)", 1) + `
	FROM json_to_recordset($3::json) AS r(` + rowNumber + ` integer, ` + pgRecord(eventWriteColumns) + `)
	LEFT JOIN adopted a ON a.provider = r.provider AND a.external_id = r.adopted_job
	ORDER BY r.` + rowNumber + `
), inserted_deliveries AS (
	INSERT INTO deliveries (` + names(deliveryColumns) + `)
	SELECT ` + pgValues(deliveryColumns) + ` FROM json_to_recordset($4::json) AS r(` + rowNumber + ` integer, ` + pgRecord(deliveryColumns) + `)
	ORDER BY r.` + rowNumber + `
), added_usage AS (
	INSERT INTO usage_totals (` + names(usageWriteColumns) + `)
	SELECT ` + pgValues(usageWriteColumns) + ` FROM json_to_recordset($5::json) AS r(` + rowNumber + ` integer, ` + pgRecord(usageWriteColumns) + `)
	ORDER BY r.` + rowNumber + `
	` + usageConflict + `
), enqueued AS (
	INSERT INTO alerts (` + names(alertColumns) + `)
	SELECT ` + pgValues(alertColumns) + ` FROM json_to_recordset($6::json) AS r(` + rowNumber + ` integer, ` + pgRecord(alertColumns) + `)
	ORDER BY r.` + rowNumber + `
)
SELECT w.id, w.provider, w.external_id, w.version
FROM (SELECT jobwatch_check_unchanged(json_array_length($2::json), (SELECT count(*) FROM changed))) AS checked
LEFT JOIN (SELECT * FROM adopted UNION ALL SELECT * FROM changed) AS w ON true`

	insertJobSQLite      = sqliteInsert("jobs", jobInsertColumns)
	updateJobSQLite      = `UPDATE jobs SET ` + sqliteSet(jobStateColumns) + `, lease_until = NULL WHERE id = ?`
	insertEventSQLite    = sqliteInsert("events", eventColumns)
	insertDeliverySQLite = sqliteInsert("deliveries", deliveryColumns)
)

func names[R any](cols []column[R]) string {
	s := make([]string, len(cols))
	for i, c := range cols {
		s[i] = c.name
	}
	return strings.Join(s, ", ")
}

// pgRecord is json_to_recordset's column definition list.
func pgRecord[R any](cols []column[R]) string {
	s := make([]string, len(cols))
	for i, c := range cols {
		s[i] = c.name + " " + c.pgType
	}
	return strings.Join(s, ", ")
}

// pgValue is a record column, named r, as the table takes it.
func pgValue[R any](c column[R]) string {
	if c.cast != "" {
		return "r." + c.name + "::" + c.cast
	}
	return "r." + c.name
}

func pgValues[R any](cols []column[R]) string {
	s := make([]string, len(cols))
	for i, c := range cols {
		s[i] = pgValue(c)
	}
	return strings.Join(s, ", ")
}

func pgSet[R any](cols []column[R]) string {
	s := make([]string, len(cols))
	for i, c := range cols {
		s[i] = c.name + " = " + pgValue(c)
	}
	return strings.Join(s, ", ")
}

func sqliteInsert[R any](table string, cols []column[R]) string {
	return "INSERT INTO " + table + " (" + names(cols) + ") VALUES (" + strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ") + ")"
}

func sqliteSet[R any](cols []column[R]) string {
	s := make([]string, len(cols))
	for i, c := range cols {
		s[i] = c.name + " = ?"
	}
	return strings.Join(s, ", ")
}

// sqlValue is a column value as both databases take it: times as text in
// timeLayout (SQLite keeps them so, and compares them as text), pointers
// as their value or NULL.
func sqlValue(v any) any {
	switch v := v.(type) {
	case time.Time:
		return v.UTC().Format(timeLayout)
	case *time.Time:
		if v == nil {
			return nil
		}
		return v.UTC().Format(timeLayout)
	case *string:
		if v == nil {
			return nil
		}
		return *v
	case *int64:
		if v == nil {
			return nil
		}
		return *v
	}
	return v
}

// args are a row's values of cols, as SQLite takes them.
func args[R any](r *R, cols []column[R], extra ...any) []any {
	a := make([]any, 0, len(cols)+len(extra))
	for _, c := range cols {
		a = append(a, sqlValue(c.value(r)))
	}
	return append(a, extra...)
}

// jsonRows encodes rows as one JSON array of objects with the keys of
// cols, each also carrying its place in rows under rowNumber.
func jsonRows[R any](rows []R, cols []column[R]) string {
	b := make([]byte, 0, 64+len(rows)*64*len(cols)/4)
	b = append(b, '[')
	for i := range rows {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"`+rowNumber+`":`...)
		b = strconv.AppendInt(b, int64(i), 10)
		for _, c := range cols {
			b = append(b, ',', '"')
			b = append(b, c.name...)
			b = append(b, '"', ':')
			b = appendJSONValue(b, sqlValue(c.value(&rows[i])))
		}
		b = append(b, '}')
	}
	return string(append(b, ']'))
}

// statements are the hot path's prepared statements; database/sql prepares
// each once on every connection that runs it.
type statements struct {
	// PostgreSQL.
	readJobs, readJobsLocked, writeBatch, finishAlerts, claim *sql.Stmt
	// SQLite.
	insertJob, updateJob, insertEvent, insertDelivery, finishAlert *sql.Stmt
}

// preparedStatements is the Store's statements, prepared on first use (they
// need the migrated schema) and outside any transaction, since SQLite's one
// connection may not be free inside one.
type preparedStatements struct {
	mu    sync.Mutex
	stmts *statements
}

func (s *Store) statements(ctx context.Context) (*statements, error) {
	s.prepared.mu.Lock()
	defer s.prepared.mu.Unlock()
	if s.prepared.stmts != nil {
		return s.prepared.stmts, nil
	}
	var (
		st   statements
		errs []error
	)
	prepare := func(into **sql.Stmt, query string) {
		stmt, err := s.db.DB.PrepareContext(ctx, query)
		if err != nil {
			errs = append(errs, err)
			return
		}
		*into = stmt
	}
	if s.postgres {
		prepare(&st.readJobs, readJobsPostgres)
		prepare(&st.readJobsLocked, readJobsPostgresLocked)
		prepare(&st.writeBatch, writeBatchPostgres)
		prepare(&st.finishAlerts, finishAlertsPostgres)
		prepare(&st.claim, fmt.Sprintf(claimPostgres, jobSelectPostgres))
	} else {
		prepare(&st.insertJob, insertJobSQLite)
		prepare(&st.updateJob, updateJobSQLite)
		prepare(&st.insertEvent, insertEventSQLite)
		prepare(&st.insertDelivery, insertDeliverySQLite)
		prepare(&st.finishAlert, finishAlertSQLite)
	}
	if len(errs) > 0 {
		st.close()
		return nil, fmt.Errorf("prepare hot-path statements: %w", errs[0])
	}
	s.prepared.stmts = &st
	return &st, nil
}

func (st *statements) close() {
	for _, stmt := range []*sql.Stmt{st.readJobs, st.readJobsLocked, st.writeBatch, st.finishAlerts, st.claim, st.insertJob, st.updateJob, st.insertEvent, st.insertDelivery, st.finishAlert} {
		if stmt != nil {
			stmt.Close()
		}
	}
}

// writeBatch writes b in the transaction db, or on PostgreSQL, when db is
// not a transaction, as a statement that commits on its own; it sets the ids
// of the adopted jobs.
func (s *Store) writeBatch(ctx context.Context, db bun.IDB, st *statements, b *batchRows) error {
	tx, inTx := db.(bun.Tx)
	if s.postgres {
		stmt := st.writeBatch
		if inTx {
			stmt = tx.Tx.StmtContext(ctx, stmt)
		}
		return writePostgres(ctx, stmt, b)
	}
	if !inTx {
		return fmt.Errorf("write batch: SQLite writes in a transaction")
	}
	return s.writeSQLite(ctx, tx, st, b)
}

func writePostgres(ctx context.Context, stmt *sql.Stmt, b *batchRows) error {
	rows, err := stmt.QueryContext(ctx, jsonRows(b.adopted, jobInsertColumns), jsonRows(b.changed, jobUpdateColumns),
		jsonRows(b.events, eventWriteColumns), jsonRows(b.deliveries, deliveryColumns),
		jsonRows(b.usage, usageWriteColumns), jsonRows(b.alerts, alertColumns))
	if err != nil {
		return fmt.Errorf("write batch: %w", err)
	}
	return b.setWritten(rows)
}

// writeSQLite writes b row by row: in process, an execution of a prepared
// statement costs less than parsing one that holds every row.
func (s *Store) writeSQLite(ctx context.Context, tx bun.Tx, st *statements, b *batchRows) error {
	insertJob, updateJob := tx.Tx.StmtContext(ctx, st.insertJob), tx.Tx.StmtContext(ctx, st.updateJob)
	insertEvent, insertDelivery := tx.Tx.StmtContext(ctx, st.insertEvent), tx.Tx.StmtContext(ctx, st.insertDelivery)
	ids := make(map[tracker.JobKey]int64, len(b.adopted))
	for i := range b.adopted {
		j := &b.adopted[i]
		res, err := insertJob.ExecContext(ctx, args(j, jobInsertColumns)...)
		if err != nil {
			return fmt.Errorf("insert adopted job: %w", err)
		}
		if j.ID, err = res.LastInsertId(); err != nil {
			return fmt.Errorf("insert adopted job: %w", err)
		}
		ids[tracker.JobKey{Provider: j.Provider, ExternalID: j.ExternalID}] = j.ID
	}
	for i := range b.changed {
		if _, err := updateJob.ExecContext(ctx, args(&b.changed[i], jobStateColumns, b.changed[i].ID)...); err != nil {
			return fmt.Errorf("update job: %w", err)
		}
	}
	for i := range b.events {
		e := &b.events[i]
		if e.AdoptedJob != "" {
			id := ids[tracker.JobKey{Provider: e.Provider, ExternalID: e.AdoptedJob}]
			e.JobID = &id
		}
		if _, err := insertEvent.ExecContext(ctx, args(e, eventColumns)...); err != nil {
			return fmt.Errorf("insert event: %w", err)
		}
	}
	for i := range b.deliveries {
		if _, err := insertDelivery.ExecContext(ctx, args(&b.deliveries[i], deliveryColumns)...); err != nil {
			return fmt.Errorf("insert delivery: %w", err)
		}
	}
	return nil
}

// setWritten reads the (id, provider, external id, version) rows a
// PostgreSQL write returned, of the adopted and the changed jobs (a row of
// NULLs stands for none), into b.written, and gives the adopted rows their
// ids. It closes rows.
func (b *batchRows) setWritten(rows *sql.Rows) error {
	defer rows.Close()
	byKey := make(map[tracker.JobKey]*jobRow, len(b.adopted)+len(b.changed))
	for _, r := range [][]jobRow{b.adopted, b.changed} {
		for i := range r {
			byKey[tracker.JobKey{Provider: r[i].Provider, ExternalID: r[i].ExternalID}] = &r[i]
		}
	}
	b.written = make([]jobRow, 0, len(byKey))
	adopted := 0
	for rows.Next() {
		var (
			id                            sql.NullInt64
			provider, externalID, version sql.NullString
		)
		if err := rows.Scan(&id, &provider, &externalID, &version); err != nil {
			return fmt.Errorf("read written jobs: %w", err)
		}
		j := byKey[tracker.JobKey{Provider: provider.String, ExternalID: externalID.String}]
		if j == nil || !id.Valid {
			continue
		}
		if j.ID == 0 {
			j.ID = id.Int64
			adopted++
		}
		b.written = append(b.written, j.stored(version.String))
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("write batch: %w", err)
	}
	if adopted != len(b.adopted) {
		return fmt.Errorf("write batch: %d adopted jobs inserted, %d expected", adopted, len(b.adopted))
	}
	return nil
}
