package storage

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/jobwatch/jobwatch/tracker"
)

// flush writes what the plan of an Apply batch raises besides its rows:
// usage totals, the threshold crossings they cause, the missed webhooks and
// the silences they cause, and every alert to the outbox. The totals take
// one statement, and so do the alerts, whatever their number: a batch of
// finishing jobs raises one alert or more each.
func (s *Store) flush(ctx context.Context, tx bun.IDB, p tracker.ApplyParams, plan *tracker.ApplyPlan) error {
	if err := s.addUsage(ctx, tx, plan.Usage); err != nil {
		return err
	}
	alerts := plan.Alerts
	for _, t := range p.Alerting.Thresholds {
		if !t.Touched(plan.Usage, p.Now) {
			continue
		}
		crossed, err := s.checkThreshold(ctx, tx, p.Now, t, 0)
		if err != nil {
			return err
		}
		alerts = append(alerts, crossed...)
	}
	for _, provider := range slices.Sorted(maps.Keys(plan.Missed)) {
		raised, err := s.countMissedWebhooks(ctx, tx, p, provider, plan.Missed[provider])
		if err != nil {
			return err
		}
		alerts = append(alerts, raised...)
	}
	return s.enqueue(ctx, tx, p.Now, p.Alerting, alerts)
}

// enqueue writes alerts to the outbox, one row per notifier of the routes
// that take each, in one statement.
func (s *Store) enqueue(ctx context.Context, tx bun.IDB, now time.Time, alerting *tracker.Alerting, alerts []tracker.Alert) error {
	var rows []alertRow
	for _, a := range alerts {
		r, err := outboxRows(now, alerting, a, repeatDue(ctx, tx, now))
		if err != nil {
			return err
		}
		rows = append(rows, r...)
	}
	if len(rows) == 0 {
		return nil
	}
	if _, err := tx.NewInsert().Model(&rows).ExcludeColumn("id").Returning("NULL").Exec(ctx); err != nil {
		return fmt.Errorf("enqueue alerts: %w", err)
	}
	return nil
}

// usageColumns are the usage_totals columns, named as tracker.UsageMetrics.
var usageColumns = tracker.UsageMetrics

// addUsage adds usage to the totals, in (provider, model, scope, window,
// start) order, so that concurrent transactions lock the rows they share in the
// same order and cannot deadlock on them.
func (s *Store) addUsage(ctx context.Context, tx bun.IDB, usage map[tracker.UsageKey]tracker.UsageDelta) error {
	if len(usage) == 0 {
		return nil
	}
	keys := usageKeys(usage)
	var (
		cols    = strings.Join(usageColumns, ", ")
		holders = "(?, ?, ?, ?, ?" + strings.Repeat(", ?", len(usageColumns)) + ")"
		values  = make([]string, len(keys))
		args    []any
	)
	for i, k := range keys {
		values[i] = holders
		args = append(args, k.Provider, k.Model, k.Scope, k.Window, k.Start)
		for _, c := range usageColumns {
			args = append(args, usage[k][c])
		}
	}
	q := fmt.Sprintf(`INSERT INTO usage_totals (provider, model, scope, period, window_start, %s) VALUES %s
%s`, cols, strings.Join(values, ", "), usageConflict)
	if _, err := tx.NewRaw(q, args...).Exec(ctx); err != nil {
		return fmt.Errorf("add usage: %w", err)
	}
	return nil
}

// usageKeys are the keys of usage in (provider, model, scope, window,
// start) order: the order in which every batch adds to the totals.
func usageKeys(usage map[tracker.UsageKey]tracker.UsageDelta) []tracker.UsageKey {
	return slices.SortedFunc(maps.Keys(usage), func(x, y tracker.UsageKey) int {
		return cmp.Or(cmp.Compare(x.Provider, y.Provider), cmp.Compare(x.Model, y.Model), cmp.Compare(x.Scope, y.Scope), cmp.Compare(x.Window, y.Window), x.Start.Compare(y.Start))
	})
}

// usageConflict adds an inserted usage total's figures to the row of its
// key when there is one.
var usageConflict = func() string {
	sets := make([]string, len(usageColumns))
	for i, c := range usageColumns {
		sets[i] = fmt.Sprintf("%s = usage_totals.%s + excluded.%s", c, c, c)
	}
	return "ON CONFLICT (provider, model, scope, period, window_start) DO UPDATE SET " + strings.Join(sets, ", ")
}()

// errRepeatCheck says that an alert goes through a route with a repeat
// interval, whose check is a write of its own (see outboxRows).
var errRepeatCheck = errors.New("alert routed through a repeat interval")

// foldAlerting returns, as rows the PostgreSQL batch write carries, what
// flush would write for plan when that is writes alone: the usage totals
// to add and the outbox rows of the plan's alerts. That holds (ok) unless
// the plan touches a threshold (each is read back once the totals are
// added), counts missed webhooks (a locked read of the provider's run), or
// routes an alert through a route with a repeat interval (a write whose
// answer decides the notifiers); flush then writes in a transaction.
func foldAlerting(p tracker.ApplyParams, plan *tracker.ApplyPlan) (usage []usageRow, alerts []alertRow, ok bool, err error) {
	if len(plan.Missed) > 0 {
		return nil, nil, false, nil
	}
	for _, t := range p.Alerting.Thresholds {
		if t.Touched(plan.Usage, p.Now) {
			return nil, nil, false, nil
		}
	}
	for _, a := range plan.Alerts {
		rows, err := outboxRows(p.Now, p.Alerting, a, func(string, time.Duration) (bool, error) { return false, errRepeatCheck })
		if errors.Is(err, errRepeatCheck) {
			return nil, nil, false, nil
		}
		if err != nil {
			return nil, nil, false, err
		}
		alerts = append(alerts, rows...)
	}
	for _, k := range usageKeys(plan.Usage) {
		usage = append(usage, usageRow{key: k, delta: plan.Usage[k]})
	}
	return usage, alerts, true, nil
}

// checkThreshold reads t's total in its window at now, adds projected (what
// running jobs are projected to cost, for a projected threshold; else 0),
// and records each level of it crossed (t.CrossedLevels), returning a
// usage.threshold alert for a level only when its crossing row is new: the
// row is unique per threshold, window and level, so concurrent
// transactions and replicas alert once.
func (s *Store) checkThreshold(ctx context.Context, tx bun.IDB, now time.Time, t tracker.Threshold, projected int64) ([]tracker.Alert, error) {
	start := tracker.WindowStart(t.Window, now)
	q := tx.NewSelect().Table("usage_totals").ColumnExpr("COALESCE(SUM(?), 0)", bun.Ident(t.Metric)).
		Where("scope = ? AND period = ? AND window_start = ?", t.Scope(), t.Window, start)
	if t.Provider != "" {
		q = q.Where("provider = ?", t.Provider)
	}
	var value int64
	if err := q.Scan(ctx, &value); err != nil {
		return nil, fmt.Errorf("read usage for threshold %s: %w", t.Name, err)
	}
	value += projected
	var alerts []tracker.Alert
	for _, level := range t.CrossedLevels(value) {
		res, err := tx.NewRaw(`INSERT INTO threshold_crossings (threshold, window_start, level, value, crossed_at) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (threshold, window_start, level) DO NOTHING`, t.Name, start, strconv.FormatFloat(level, 'g', -1, 64), value, now).Exec(ctx)
		if err != nil {
			return nil, fmt.Errorf("record crossing of threshold %s: %w", t.Name, err)
		}
		if n, _ := res.RowsAffected(); n > 0 {
			alerts = append(alerts, t.CrossingAlert(start, value, projected, level, now))
		}
	}
	return alerts, nil
}

// CheckThresholds checks the thresholds named in extra with their extra
// added; see tracker.Store.
func (s *Store) CheckThresholds(ctx context.Context, now time.Time, alerting *tracker.Alerting, extra map[string]int64) error {
	return s.inTx(ctx, func(tx bun.Tx) error {
		var alerts []tracker.Alert
		for _, t := range alerting.Thresholds {
			n, ok := extra[t.Name]
			if !ok {
				continue
			}
			crossed, err := s.checkThreshold(ctx, tx, now, t, n)
			if err != nil {
				return err
			}
			alerts = append(alerts, crossed...)
		}
		return s.enqueue(ctx, tx, now, alerting, alerts)
	})
}

// RunningSizes sums the live jobs' request counts by provider, model and
// label set; see tracker.Store.
func (s *Store) RunningSizes(ctx context.Context) ([]tracker.RunningSize, error) {
	q := `SELECT provider, COALESCE(json_extract(details, '$.model'), '') AS model, labels,
	SUM(json_extract(usage, '$.requests_total')) AS requests
FROM jobs WHERE status IN (?, ?) AND untracked_at IS NULL AND json_extract(usage, '$.requests_total') > 0
GROUP BY 1, 2, 3`
	if s.postgres {
		q = `SELECT provider, COALESCE(details->>'model', '') AS model, labels::text AS labels,
	SUM((usage->>'requests_total')::bigint) AS requests
FROM jobs WHERE status IN (?, ?) AND untracked_at IS NULL AND (usage->>'requests_total')::bigint > 0
GROUP BY 1, 2, 3`
	}
	rows, err := s.db.QueryContext(ctx, q, tracker.StatusPending, tracker.StatusRunning)
	if err != nil {
		return nil, fmt.Errorf("sum running jobs' sizes: %w", err)
	}
	defer rows.Close()
	var out []tracker.RunningSize
	for rows.Next() {
		var r tracker.RunningSize
		var labels string
		if err := rows.Scan(&r.Provider, &r.Model, &labels, &r.Requests); err != nil {
			return nil, fmt.Errorf("sum running jobs' sizes: %w", err)
		}
		if err := json.Unmarshal([]byte(labels), &r.Labels); err != nil {
			return nil, fmt.Errorf("sum running jobs' sizes: decode labels: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// repeatDue answers tracker.Alerting.Notifiers' question, whether a
// route's repeat interval has passed, in the transaction tx, by the
// alert_repeats row of the route and alert, updated only when it has, so
// that concurrent transactions and replicas send once.
func repeatDue(ctx context.Context, tx bun.IDB, now time.Time) func(key string, interval time.Duration) (bool, error) {
	return func(key string, interval time.Duration) (bool, error) {
		err := tx.NewRaw(`INSERT INTO alert_repeats (key, last_at) VALUES (?, ?)
ON CONFLICT (key) DO UPDATE SET last_at = excluded.last_at WHERE alert_repeats.last_at <= ?
RETURNING key`, key, now, now.Add(-interval)).Scan(ctx, &key)
		if errors.Is(err, sql.ErrNoRows) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("check repeat interval: %w", err)
		}
		return true, nil
	}
}

// outboxRows are alert a's outbox rows, one per notifier it goes to
// (alerting.Notifiers, with due deciding repeat intervals).
func outboxRows(now time.Time, alerting *tracker.Alerting, a tracker.Alert, due func(key string, interval time.Duration) (bool, error)) ([]alertRow, error) {
	notifiers, err := alerting.Notifiers(a, due)
	if err != nil {
		return nil, err
	}
	if len(notifiers) == 0 {
		return nil, nil
	}
	payload, err := json.Marshal(a)
	if err != nil {
		return nil, fmt.Errorf("encode alert: %w", err)
	}
	rows := make([]alertRow, len(notifiers))
	for i, n := range notifiers {
		rows[i] = alertRow{Notifier: n, Type: a.Type, Provider: a.Provider, Payload: string(payload), State: string(tracker.AlertPending),
			NextAttemptAt: now, CreatedAt: now, UpdatedAt: now}
		if a.Job != nil {
			rows[i].JobExternalID = a.Job.ExternalID
		}
	}
	return rows, nil
}

// alertRow is a row of the alerts table: the outbox.
type alertRow struct {
	bun.BaseModel `bun:"table:alerts,alias:alerts"`

	ID            int64      `bun:"id,pk,autoincrement"`
	Notifier      string     `bun:"notifier"`
	Type          string     `bun:"type"`
	Provider      string     `bun:"provider"`
	JobExternalID string     `bun:"job_external_id"` // of the job of Provider the alert is about; "" for none
	Payload       string     `bun:"payload"`
	State         string     `bun:"state"`
	Attempts      int        `bun:"attempts"`
	NextAttemptAt time.Time  `bun:"next_attempt_at"`
	CreatedAt     time.Time  `bun:"created_at"`
	UpdatedAt     time.Time  `bun:"updated_at"`
	SentAt        *time.Time `bun:"sent_at"`
	LastError     string     `bun:"last_error"`
}

func (r alertRow) outbox() (tracker.OutboxAlert, error) {
	o := tracker.OutboxAlert{ID: r.ID, Notifier: r.Notifier, State: tracker.AlertState(r.State), Attempts: r.Attempts,
		NextAttemptAt: r.NextAttemptAt.UTC(), CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(), SentAt: utcPtr(r.SentAt), LastError: r.LastError}
	if err := json.Unmarshal([]byte(r.Payload), &o.Alert); err != nil {
		return o, fmt.Errorf("decode alert %d: %w", r.ID, err)
	}
	o.Alert.ID = tracker.AlertID(r.ID)
	return o, nil
}

func outboxAlerts(rows []alertRow) ([]tracker.OutboxAlert, error) {
	out := make([]tracker.OutboxAlert, len(rows))
	for i, r := range rows {
		o, err := r.outbox()
		if err != nil {
			return nil, err
		}
		out[i] = o
	}
	return out, nil
}

// claimAlerts leases, oldest first, the due pending alerts of a notifier
// that no older pending alert of the same subject (tracker.Alert.Subject:
// the job, or for an alert about no job its provider) waits behind a retry
// or a lease: a subject's alerts go out in the order they were raised, one
// waiting for a retry holds back the subject's newer ones, and the other
// subjects' alerts go on. The subjects held back are read once, from the
// few pending alerts not due.
const claimAlerts = `WITH held AS MATERIALIZED (
	SELECT provider, job_external_id, min(id) AS first FROM alerts
	WHERE state = 'pending' AND notifier = ? AND next_attempt_at > ?
	GROUP BY provider, job_external_id)
UPDATE alerts SET next_attempt_at = ?
WHERE id IN (
	SELECT a.id FROM alerts a
	WHERE a.state = 'pending' AND a.notifier = ? AND a.next_attempt_at <= ?
	AND NOT EXISTS (SELECT 1 FROM held h
		WHERE h.provider = a.provider AND h.job_external_id = a.job_external_id AND h.first < a.id)
	ORDER BY a.id
	LIMIT ?)
RETURNING *`

// alertClaimLock is the first key of the PostgreSQL advisory lock, taken
// per notifier (the second key), that serialises claims of one notifier's
// alerts across replicas: a claim that ran beside another would not see its
// leases and could take the alerts after them.
const alertClaimLock = 0x6a77616c // "jwal"

// ClaimAlerts leases due alerts of one notifier; see tracker.Store.
func (s *Store) ClaimAlerts(ctx context.Context, p tracker.ClaimAlertsParams) ([]tracker.OutboxAlert, error) {
	var rows []alertRow
	now := p.Now.UTC()
	claim := func(ctx context.Context, db bun.IDB) error {
		return db.NewRaw(claimAlerts, p.Notifier, now, now.Add(p.Lease), p.Notifier, now, p.Limit).Scan(ctx, &rows)
	}
	var err error
	if s.postgres {
		err = s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			// Released at commit, once the leases are visible to the next claim.
			if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(?, hashtext(?))", alertClaimLock, p.Notifier); err != nil {
				return err
			}
			return claim(ctx, tx)
		})
	} else {
		// SQLite's single writer runs the statement alone.
		err = claim(ctx, s.db)
	}
	if err != nil {
		return nil, fmt.Errorf("claim alerts: %w", err)
	}
	slices.SortFunc(rows, func(a, b alertRow) int { return cmp.Compare(a.ID, b.ID) })
	return outboxAlerts(rows)
}

// alertOutcomeColumns are what FinishAlerts writes of an outcome: sent_at
// only for a sent alert and next_attempt_at only for a pending one (NULL
// keeps the row's); alertOutcomeRows add, first, the alert's id.
var alertOutcomeColumns = []column[tracker.AlertOutcome]{
	{"state", "text", "", func(o *tracker.AlertOutcome) any { return string(o.State) }},
	{"attempts", "integer", "", func(o *tracker.AlertOutcome) any { return o.Attempts }},
	{"last_error", "text", "", func(o *tracker.AlertOutcome) any { return o.LastError }},
	{"updated_at", "timestamptz", "", func(o *tracker.AlertOutcome) any { return o.At }},
	{"sent_at", "timestamptz", "", func(o *tracker.AlertOutcome) any { return timeIf(o.State == tracker.AlertSent, o.At) }},
	{"next_attempt_at", "timestamptz", "", func(o *tracker.AlertOutcome) any {
		return timeIf(o.State == tracker.AlertPending, o.NextAttemptAt)
	}},
}

var alertOutcomeRows = append([]column[tracker.AlertOutcome]{
	{"id", "bigint", "", func(o *tracker.AlertOutcome) any { return o.ID }},
}, alertOutcomeColumns...)

// timeIf is &t when cond holds, else nil.
func timeIf(cond bool, t time.Time) *time.Time {
	if !cond {
		return nil
	}
	return &t
}

var (
	// finishAlertsPostgres takes the outcomes as one JSON array; the ids
	// are also given as an array, which the primary key is probed with
	// (see writeBatchPostgres).
	finishAlertsPostgres = `UPDATE alerts SET state = r.state, attempts = r.attempts, last_error = r.last_error, updated_at = r.updated_at,
	sent_at = COALESCE(r.sent_at, alerts.sent_at), next_attempt_at = COALESCE(r.next_attempt_at, alerts.next_attempt_at)
FROM json_to_recordset($1::json) AS r(` + pgRecord(alertOutcomeRows) + `)
WHERE alerts.id = r.id AND alerts.id = ANY (ARRAY(SELECT (o->>'id')::bigint FROM json_array_elements($1::json) AS o))`
	finishAlertSQLite = `UPDATE alerts SET state = ?, attempts = ?, last_error = ?, updated_at = ?,
	sent_at = COALESCE(?, sent_at), next_attempt_at = COALESCE(?, next_attempt_at) WHERE id = ?`
)

// FinishAlerts records delivery attempts' outcomes: on PostgreSQL in one
// statement, on SQLite in one transaction of a prepared update per outcome.
func (s *Store) FinishAlerts(ctx context.Context, outcomes []tracker.AlertOutcome) error {
	if len(outcomes) == 0 {
		return nil
	}
	st, err := s.statements(ctx)
	if err != nil {
		return err
	}
	if s.postgres {
		if _, err := st.finishAlerts.ExecContext(ctx, jsonRows(outcomes, alertOutcomeRows)); err != nil {
			return fmt.Errorf("finish %d alerts: %w", len(outcomes), err)
		}
		return nil
	}
	err = s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		finish := tx.Tx.StmtContext(ctx, st.finishAlert)
		for i := range outcomes {
			if _, err := finish.ExecContext(ctx, args(&outcomes[i], alertOutcomeColumns, outcomes[i].ID)...); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("finish %d alerts: %w", len(outcomes), err)
	}
	return nil
}

// ListAlerts returns the newest alerts in a state.
func (s *Store) ListAlerts(ctx context.Context, state tracker.AlertState, limit int) ([]tracker.OutboxAlert, error) {
	var rows []alertRow
	q := s.db.NewSelect().Model(&rows).OrderExpr("id DESC").Limit(int64(limit))
	if state != "" {
		q = q.Where("state = ?", state)
	}
	if err := q.Scan(ctx); err != nil {
		return nil, fmt.Errorf("select alerts: %w", err)
	}
	return outboxAlerts(rows)
}

// RetryAlert makes a dead alert pending again.
func (s *Store) RetryAlert(ctx context.Context, id int64, now time.Time) error {
	res, err := s.db.NewUpdate().Model((*alertRow)(nil)).
		Set("state = ?", tracker.AlertPending).
		Set("attempts = 0").
		Set("next_attempt_at = ?", now.UTC()).
		Set("updated_at = ?", now.UTC()).
		Where("id = ? AND state = ?", id, tracker.AlertDead).
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("retry alert %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return tracker.ErrNotFound
	}
	return nil
}

// CountAlerts counts alerts per state.
func (s *Store) CountAlerts(ctx context.Context) (map[tracker.AlertState]int64, error) {
	var rows []struct {
		State string
		Count int64
	}
	if err := s.db.NewRaw("SELECT state, count(*) AS count FROM alerts GROUP BY state").Scan(ctx, &rows); err != nil {
		return nil, fmt.Errorf("count alerts: %w", err)
	}
	out := map[tracker.AlertState]int64{}
	for _, r := range rows {
		out[tracker.AlertState(r.State)] = r.Count
	}
	return out, nil
}

// UsageTotals returns one window's usage totals, by provider, model and
// scope.
func (s *Store) UsageTotals(ctx context.Context, window string, start time.Time) ([]tracker.UsageTotal, error) {
	q := fmt.Sprintf("SELECT provider, model, scope, %s FROM usage_totals WHERE period = ? AND window_start = ? ORDER BY provider, model, scope", strings.Join(usageColumns, ", "))
	rows, err := s.db.QueryContext(ctx, q, window, start.UTC())
	if err != nil {
		return nil, fmt.Errorf("select usage: %w", err)
	}
	defer rows.Close()
	var out []tracker.UsageTotal
	for rows.Next() {
		u := tracker.UsageTotal{Window: window, WindowStart: start.UTC(), Metrics: map[string]int64{}}
		vals := make([]int64, len(usageColumns))
		dest := []any{&u.Provider, &u.Model, &u.Scope}
		for i := range vals {
			dest = append(dest, &vals[i])
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("select usage: %w", err)
		}
		for i, c := range usageColumns {
			u.Metrics[c] = vals[i]
		}
		u.Cost = float64(u.Metrics[tracker.MetricCost]) / tracker.NanosPerUnit
		out = append(out, u)
	}
	return out, rows.Err()
}
