package storage

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"github.com/jobwatch/jobwatch/tracker"
)

// jobRow is a row of the jobs table. JSON columns travel as text so that the
// same row type serves both dialects.
type jobRow struct {
	bun.BaseModel `bun:"table:jobs,alias:jobs"`

	ID             int64      `bun:"id,pk,autoincrement"`
	Provider       string     `bun:"provider"`
	ExternalID     string     `bun:"external_id"`
	ParentID       string     `bun:"parent_id"`
	Kind           string     `bun:"kind"`
	Status         string     `bun:"status"`
	ProviderStatus string     `bun:"provider_status"`
	Labels         string     `bun:"labels"`
	Metadata       *string    `bun:"metadata"`
	Usage          string     `bun:"usage"`
	Details        string     `bun:"details"`
	CreatedAt      time.Time  `bun:"created_at"`
	UpdatedAt      time.Time  `bun:"updated_at"`
	ResolvedAt     *time.Time `bun:"resolved_at"`
	ResolvedBy     string     `bun:"resolved_by"`
	LastObservedAt *time.Time `bun:"last_observed_at"`
	LastHeardAt    time.Time  `bun:"last_heard_at"`
	NextPollAt     *time.Time `bun:"next_poll_at"`
	QuietPolls     int        `bun:"quiet_polls"`
	NotFoundPolls  int        `bun:"not_found_polls"`
	WebhookAt      *time.Time `bun:"webhook_at"`
	WebhookDueBy   *time.Time `bun:"webhook_due_by"`
	AlertHeldUntil *time.Time `bun:"alert_held_until"`
	StatusSince    *time.Time `bun:"status_since"`
	StuckStatus    string     `bun:"stuck_status"`
	UntrackedAt    *time.Time `bun:"untracked_at"`
	CountedUsage   string     `bun:"counted_usage"`
	// Cost is the job's tracker.Cost as JSON; NULL when it has none.
	Cost *string `bun:"cost"`
	// LeaseUntil is a sweep's claim; every write of a job's state ends it.
	LeaseUntil *time.Time `bun:"lease_until"`
	// Version is PostgreSQL's row version (xmin) as read, which the batch
	// write checks before it updates the row; empty on SQLite.
	Version string `bun:"version,scanonly"`
}

// stored is the row as PostgreSQL holds it once written (its times cut to
// the microseconds timeLayout sends, as the database keeps them) at
// version; a changed row's lease is ended by the write.
func (r jobRow) stored(version string) jobRow {
	for _, t := range []*time.Time{&r.CreatedAt, &r.UpdatedAt, &r.LastHeardAt} {
		*t = t.Truncate(time.Microsecond)
	}
	for _, t := range []**time.Time{&r.ResolvedAt, &r.LastObservedAt, &r.NextPollAt, &r.WebhookAt, &r.WebhookDueBy, &r.AlertHeldUntil, &r.StatusSince, &r.UntrackedAt} {
		if *t != nil {
			u := (*t).Truncate(time.Microsecond)
			*t = &u
		}
	}
	r.LeaseUntil, r.Version = nil, version
	return r
}

// eventRow is a row of the events table.
type eventRow struct {
	bun.BaseModel `bun:"table:events,alias:events"`

	ID             int64     `bun:"id,pk,autoincrement"`
	Provider       string    `bun:"provider"`
	EventID        *string   `bun:"event_id"`
	JobID          *int64    `bun:"job_id"`
	Source         string    `bun:"source"`
	Type           string    `bun:"type"`
	ProviderStatus string    `bun:"provider_status"`
	Status         string    `bun:"status"`
	Effect         string    `bun:"effect"`
	OccurredAt     time.Time `bun:"occurred_at"`
	RecordedAt     time.Time `bun:"recorded_at"`
	Payload        *string   `bun:"payload"`
	// AdoptedJob is, while a batch is written, the external id of the job
	// the batch adopts for this event, whose id the write assigns.
	AdoptedJob string `bun:"-"`
}

func toJobRow(j tracker.Job) (jobRow, error) {
	labels, err := json.Marshal(nonNil(j.Labels))
	if err != nil {
		return jobRow{}, fmt.Errorf("encode labels: %w", err)
	}
	usage, err := json.Marshal(j.Usage)
	if err != nil {
		return jobRow{}, fmt.Errorf("encode usage: %w", err)
	}
	details, err := json.Marshal(nonNil(j.Details))
	if err != nil {
		return jobRow{}, fmt.Errorf("encode details: %w", err)
	}
	counted, err := json.Marshal(j.Counted)
	if err != nil {
		return jobRow{}, fmt.Errorf("encode counted usage: %w", err)
	}
	var cost *string
	if j.Cost != nil {
		b, err := json.Marshal(j.Cost)
		if err != nil {
			return jobRow{}, fmt.Errorf("encode cost: %w", err)
		}
		text := string(b)
		cost = &text
	}
	return jobRow{
		ID:             j.ID,
		Provider:       j.Provider,
		ExternalID:     j.ExternalID,
		ParentID:       j.ParentID,
		Kind:           string(j.Kind),
		Status:         string(j.Status),
		ProviderStatus: j.ProviderStatus,
		Labels:         string(labels),
		Metadata:       rawText(j.Metadata),
		Usage:          string(usage),
		Details:        string(details),
		CreatedAt:      j.CreatedAt.UTC(),
		UpdatedAt:      j.UpdatedAt.UTC(),
		ResolvedAt:     utcPtr(j.ResolvedAt),
		ResolvedBy:     string(j.ResolvedBy),
		LastObservedAt: utcPtr(j.LastObservedAt),
		LastHeardAt:    j.LastHeardAt.UTC(),
		NextPollAt:     utcPtr(j.NextPollAt),
		QuietPolls:     j.QuietPolls,
		NotFoundPolls:  j.NotFoundPolls,
		WebhookAt:      utcPtr(j.WebhookAt),
		WebhookDueBy:   utcPtr(j.WebhookDueBy),
		AlertHeldUntil: utcPtr(j.AlertHeldUntil),
		StatusSince:    utcPtr(j.StatusSince),
		StuckStatus:    j.StuckStatus,
		UntrackedAt:    utcPtr(j.UntrackedAt),
		CountedUsage:   string(counted),
		Cost:           cost,
	}, nil
}

// state is the job of r without its JSON columns decoded (labels, usage,
// details, counted usage, cost, metadata): what a claim hands a sweep,
// which polls and reschedules the job by these alone (tracker.Store.ClaimDue).
func (r jobRow) state() tracker.Job {
	return tracker.Job{
		ID:             r.ID,
		Provider:       r.Provider,
		Kind:           tracker.Kind(r.Kind),
		ExternalID:     r.ExternalID,
		ParentID:       r.ParentID,
		Status:         tracker.Status(r.Status),
		ProviderStatus: r.ProviderStatus,
		CreatedAt:      r.CreatedAt.UTC(),
		UpdatedAt:      r.UpdatedAt.UTC(),
		ResolvedAt:     utcPtr(r.ResolvedAt),
		ResolvedBy:     tracker.Source(r.ResolvedBy),
		LastObservedAt: utcPtr(r.LastObservedAt),
		LastHeardAt:    r.LastHeardAt.UTC(),
		NextPollAt:     utcPtr(r.NextPollAt),
		QuietPolls:     r.QuietPolls,
		NotFoundPolls:  r.NotFoundPolls,
		WebhookAt:      utcPtr(r.WebhookAt),
		WebhookDueBy:   utcPtr(r.WebhookDueBy),
		AlertHeldUntil: utcPtr(r.AlertHeldUntil),
		StatusSince:    utcPtr(r.StatusSince),
		StuckStatus:    r.StuckStatus,
		UntrackedAt:    utcPtr(r.UntrackedAt),
	}
}

func (r jobRow) job() (tracker.Job, error) {
	j := r.state()
	// A JSON column read empty leaves its field zero.
	for _, c := range []struct {
		name, text string
		into       any
	}{{"labels", r.Labels, &j.Labels}, {"usage", r.Usage, &j.Usage}, {"details", r.Details, &j.Details}, {"counted usage", r.CountedUsage, &j.Counted}} {
		if c.text == "" {
			continue
		}
		if err := json.Unmarshal([]byte(c.text), c.into); err != nil {
			return j, fmt.Errorf("decode %s of job %d: %w", c.name, r.ID, err)
		}
	}
	if r.Cost != nil {
		j.Cost = new(tracker.Cost)
		if err := json.Unmarshal([]byte(*r.Cost), j.Cost); err != nil {
			return j, fmt.Errorf("decode cost of job %d: %w", r.ID, err)
		}
	}
	if len(j.Labels) == 0 {
		j.Labels = nil
	}
	if len(j.Details) == 0 {
		j.Details = nil
	}
	if r.Metadata != nil {
		j.Metadata = json.RawMessage(*r.Metadata)
	}
	return j, nil
}

// jobs converts rows to jobs.
func jobs(rows []jobRow) ([]tracker.Job, error) {
	out := make([]tracker.Job, len(rows))
	for i, r := range rows {
		j, err := r.job()
		if err != nil {
			return nil, err
		}
		out[i] = j
	}
	return out, nil
}

func (r eventRow) event() tracker.Event {
	e := tracker.Event{
		ID:             r.ID,
		Provider:       r.Provider,
		JobID:          r.JobID,
		Source:         tracker.Source(r.Source),
		Type:           r.Type,
		ProviderStatus: r.ProviderStatus,
		Status:         tracker.Status(r.Status),
		Effect:         tracker.Effect(r.Effect),
		OccurredAt:     r.OccurredAt.UTC(),
		RecordedAt:     r.RecordedAt.UTC(),
	}
	if r.EventID != nil {
		e.EventID = *r.EventID
	}
	if r.Payload != nil {
		e.Payload = json.RawMessage(*r.Payload)
	}
	return e
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func rawText(b json.RawMessage) *string {
	if len(b) == 0 {
		return nil
	}
	s := string(b)
	return &s
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func strPtr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
