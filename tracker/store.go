package tracker

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ErrNotFound is returned when a job does not exist.
var ErrNotFound = errors.New("not found")

// Errors of the actions a person takes on a job (Tracker.Resolve).
var (
	// ErrNotTerminal: a job can be resolved by hand only to a terminal
	// status.
	ErrNotTerminal = errors.New("not a terminal status")
	// ErrJobEnded: the job has already ended.
	ErrJobEnded = errors.New("job has already ended")
	// ErrJobUntracked: the job is no longer tracked (Tracker.Untrack).
	ErrJobUntracked = errors.New("job is untracked")
)

// Store is the persistence a Tracker needs. Package storage implements it on
// SQLite and PostgreSQL; the conformance suite of package storetest
// (storetest.Exercise) holds every implementation to the same rules.
type Store interface {
	// CreateJob inserts job unless a job with the same provider and external
	// id exists. It returns the stored job and whether this call created it.
	CreateJob(ctx context.Context, job Job) (Job, bool, error)
	// GetJob returns one job, or ErrNotFound.
	GetJob(ctx context.Context, provider, externalID string) (Job, error)
	// History returns a job's events, oldest first, at most limit of the newest.
	History(ctx context.Context, jobID int64, limit int) ([]Event, error)
	// ListJobs returns jobs matching p, newest first.
	ListJobs(ctx context.Context, p ListParams) ([]Job, error)
	// DeleteJob deletes a job, its history and every alert about it in the
	// outbox, whatever their state; ErrNotFound when there is no such job.
	DeleteJob(ctx context.Context, provider, externalID string) error
	// PruneJobs deletes the jobs that ended before the given time with
	// their history and their sent alerts (pending and dead ones are
	// kept), chunk jobs at a time, each chunk in a short transaction of its
	// own, and says how many jobs it deleted (so far, on an error). A job
	// ended when it was resolved, or, never resolved, when it was
	// untracked; live jobs are never pruned.
	PruneJobs(ctx context.Context, before time.Time, chunk int) (int64, error)
	// Apply applies every item in one transaction: each observation is
	// deduped on its event id, its job locked (and created if the item
	// adopts unknown jobs), passed through Transition and stored with its
	// history row, and the item's delivery (if any) logged with its final
	// outcome. Results are in the order of items. Nothing is written unless
	// everything is. A backend reads what ReadKeys names, has PlanApply
	// decide, and writes the plan.
	Apply(ctx context.Context, p ApplyParams) ([]Result, error)
	// ListDeliveries returns the newest webhook deliveries matching f.
	ListDeliveries(ctx context.Context, f DeliveryFilter) ([]Delivery, error)
	// PruneDeliveries deletes deliveries received before t and says how many.
	PruneDeliveries(ctx context.Context, before time.Time) (int64, error)
	// TrimDeliveries deletes all but the newest keep deliveries and says
	// how many.
	TrimDeliveries(ctx context.Context, keep int) (int64, error)
	// ClaimDue leases up to p.Limit jobs whose next poll is due at p.Now,
	// soonest due first, until p.Now+p.Lease, so that no other sweep (on any
	// replica) takes them before the lease ends, and returns them with only
	// what a sweep needs to poll and reschedule them: ID, Provider,
	// ExternalID, ParentID, Kind, Status, CreatedAt, LastHeardAt, QuietPolls,
	// WebhookDueBy and AlertHeldUntil, and ProviderStatus, StatusSince and
	// StuckStatus for the stuck check; never the JSON-held fields (Labels,
	// Usage, Details, Counted, Cost, Metadata). The observation of the poll sets the real
	// next poll; a sweep that dies leaves them to be claimed again after the
	// lease.
	ClaimDue(ctx context.Context, p ClaimParams) ([]Job, error)
	// Reschedule sets when a live job is next due (zero: never) and its
	// quiet-poll count, after a poll that failed or could not be made. A job
	// that has ended meanwhile is left alone.
	Reschedule(ctx context.Context, jobID int64, next time.Time, quietPolls int) error
	// ClaimAlerts leases up to p.Limit pending alerts of one notifier that
	// are due, oldest first, moving their next attempt to p.Now+p.Lease. It
	// skips an alert when an older pending alert of the same subject
	// (Alert.Subject) is not due (it waits for a retry, or is leased by
	// another claim), so that a subject's alerts are delivered in order
	// while the other subjects' go on; claims of one notifier never run at
	// once, across replicas too.
	ClaimAlerts(ctx context.Context, p ClaimAlertsParams) ([]OutboxAlert, error)
	// FinishAlerts records the outcomes of delivery attempts, all at once.
	FinishAlerts(ctx context.Context, outcomes []AlertOutcome) error
	// ListAlerts returns the newest alerts in a state ("" for any).
	ListAlerts(ctx context.Context, state AlertState, limit int) ([]OutboxAlert, error)
	// RetryAlert makes a dead alert pending again, due at now, with its
	// attempts reset; ErrNotFound when there is no dead alert of that id.
	RetryAlert(ctx context.Context, id int64, now time.Time) error
	// CountAlerts returns how many alerts there are in each state.
	CountAlerts(ctx context.Context) (map[AlertState]int64, error)
	// UsageTotals returns the usage totals of one window, per provider and
	// scope ("" is all jobs; thresholds with labels have their own).
	UsageTotals(ctx context.Context, window string, start time.Time) ([]UsageTotal, error)
	// EndWebhookSilences ends the silence of every provider whose webhooks
	// were declared silent (provider.webhooks_silent) and that has had a
	// verified webhook delivery since, raising provider.webhooks_resumed
	// through alerting's routes in the same transaction, once per silence
	// across replicas. It returns the providers whose silence ended.
	EndWebhookSilences(ctx context.Context, now time.Time, alerting *Alerting) ([]string, error)
	// RunningSizes sums the requests of the live jobs (pending or running)
	// that report a request count, by provider, model and label set.
	RunningSizes(ctx context.Context) ([]RunningSize, error)
	// CheckThresholds checks the thresholds of alerting named in extra
	// against their window's total at now plus extra[name], recording
	// each level crossed and raising its alert through alerting's routes
	// in one transaction, once per level and window across replicas.
	CheckThresholds(ctx context.Context, now time.Time, alerting *Alerting, extra map[string]int64) error
	// CountJobs returns how many jobs there are per provider, kind and status.
	CountJobs(ctx context.Context) ([]JobCount, error)
	// SummarizeJobs returns, per provider, kind and status, how many jobs
	// there are, how many of the live ones are stuck (StuckStatus set),
	// and how many resolved at or after since by webhook and by poll (the
	// share learned by webhook is the health of a provider's webhooks):
	// the console's overview, in one read of the jobs.
	SummarizeJobs(ctx context.Context, since time.Time) ([]JobSummary, error)
	// WebhookSilences returns, per provider whose webhooks are silent
	// (provider.webhooks_silent raised and not yet ended), when they were
	// declared silent.
	WebhookSilences(ctx context.Context) (map[string]time.Time, error)
	// Ping checks that the store answers.
	Ping(ctx context.Context) error
}

// ListParams selects jobs for Store.ListJobs.
type ListParams struct {
	Provider string
	Kind     Kind
	Status   Status
	// Labels must all be present with these values.
	Labels map[string]string
	// Query, when not empty, matches the jobs whose external id holds it,
	// ignoring the case of ASCII letters.
	Query string
	// BeforeID, when not zero, returns only jobs with a smaller id (the cursor).
	BeforeID int64
	Limit    int
}

// ApplyParams is one unit of work for Store.Apply.
type ApplyParams struct {
	// Now is the time of the apply, on jobwatch's clock.
	Now   time.Time
	Items []ApplyItem
	// Rules returns the transition rules for a provider's kind of job.
	Rules func(provider string, kind Kind) Rules
	// Alerting, when set, makes Apply account usage, check thresholds and
	// write the alerts the items raise to the outbox, in the same transaction.
	Alerting *Alerting
}

// ApplyItem is one observation to apply, one delivery to log, or both.
type ApplyItem struct {
	// Observation is nil for a delivery that was rejected.
	Observation *Observation
	// Adopt creates the job from the observation when it is not tracked yet;
	// otherwise the observation is recorded without a job.
	Adopt bool
	// Delivery, when not nil, is logged in the same transaction. An
	// accepted delivery's outcome becomes the observation's
	// Result.DeliveryOutcome: OutcomeDuplicate or OutcomeRecorded when
	// that is what the observation turned out to be.
	Delivery *Delivery
}

// Result is what applying one ApplyItem did.
type Result struct {
	// Job is the job after the observation; nil when there is none.
	Job *Job
	// Effect is what the observation did; empty for a duplicate.
	Effect Effect
	// Duplicate is true when the event id had been seen before: nothing changed.
	Duplicate bool
	// Created is true when the observation created the job.
	Created bool
	// Previous is the job's status before the observation ("" when created).
	Previous Status
	// CostAdded is what the observation added to the job's counted cost,
	// in nanos (Account): 0 unless it priced an end or raised its cost.
	CostAdded int64
	// Alerts is how many alerts the observation raised (into the outbox,
	// committed with it); threshold crossings the batch's usage causes are
	// not counted.
	Alerts int
}

// JobCount is the number of jobs of one provider, kind and status.
type JobCount struct {
	Provider string
	Kind     Kind
	Status   Status
	Count    int64
}

// JobSummary is what SummarizeJobs says of the jobs of one provider, kind
// and status.
type JobSummary struct {
	Provider string
	Kind     Kind
	Status   Status
	Count    int64
	// Stuck is how many of them are live and stuck.
	Stuck int64
	// ByWebhook and ByPoll are how many of them resolved since the time
	// asked, learned by webhook and by poll.
	ByWebhook, ByPoll int64
}

// ClaimParams selects due jobs for Store.ClaimDue.
type ClaimParams struct {
	Now   time.Time
	Lease time.Duration
	Limit int
}

// AlertState is where an alert is in the outbox.
type AlertState string

// Alert states.
const (
	AlertPending AlertState = "pending"
	AlertSent    AlertState = "sent"
	AlertDead    AlertState = "dead"
)

// OutboxAlert is an alert on its way to one notifier.
type OutboxAlert struct {
	ID            int64      `json:"-"`
	Alert         Alert      `json:"alert"`
	Notifier      string     `json:"notifier"`
	State         AlertState `json:"state"`
	Attempts      int        `json:"attempts"`
	NextAttemptAt time.Time  `json:"next_attempt_at"`
	CreatedAt     time.Time  `json:"created_at"`
	UpdatedAt     time.Time  `json:"updated_at"`
	SentAt        *time.Time `json:"sent_at,omitempty"`
	LastError     string     `json:"last_error,omitempty"`
}

// AlertID is the id an outbox row's alert carries ("alrt_42").
func AlertID(id int64) string { return "alrt_" + strconv.FormatInt(id, 10) }

// ParseAlertID reads an alert id back.
func ParseAlertID(s string) (int64, error) {
	n, err := strconv.ParseInt(strings.TrimPrefix(s, "alrt_"), 10, 64)
	if err != nil || !strings.HasPrefix(s, "alrt_") || n <= 0 {
		return 0, &ValidationError{"id", fmt.Sprintf("%q is not an alert id (alrt_<n>)", s)}
	}
	return n, nil
}

// ClaimAlertsParams selects due alerts for Store.ClaimAlerts.
type ClaimAlertsParams struct {
	Notifier string
	Now      time.Time
	Lease    time.Duration
	Limit    int
}

// AlertOutcome is the result of one delivery attempt.
type AlertOutcome struct {
	ID       int64
	State    AlertState
	Attempts int
	// NextAttemptAt is when a pending alert is tried again.
	NextAttemptAt time.Time
	LastError     string
	At            time.Time
}

// UsageTotal is what the jobs of one provider (and scope) used in a window.
type UsageTotal struct {
	Provider string `json:"provider"`
	// Model is the jobs' model; "" for jobs whose model is unknown.
	Model       string    `json:"model,omitempty"`
	Scope       string    `json:"scope,omitempty"`
	Window      string    `json:"window"`
	WindowStart time.Time `json:"window_start"`
	// Metrics are the totals by UsageMetrics name; MetricCost in nanos.
	Metrics map[string]int64 `json:"metrics"`
	// Cost is Metrics[MetricCost] in units of Currency.
	Cost float64 `json:"cost"`
	// Currency is the prices' currency; "" when no prices are configured.
	Currency string `json:"currency,omitempty"`
	// Projected is what the live jobs of the provider and model are
	// projected to cost, in units of Currency (see Project); only on the
	// totals of the current window of all jobs (Scope "").
	Projected float64 `json:"projected,omitempty"`
}
