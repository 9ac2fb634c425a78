package config

import "time"

// DefaultJobRetention is retention.jobs when the file does not set it: 90
// days.
const DefaultJobRetention = 2160 * time.Hour

// Retention says how long what jobwatch learned about ended jobs is kept.
type Retention struct {
	// Jobs is how long a job is kept, with its history and its sent
	// alerts, after it ended (was resolved, or untracked); "0" keeps every
	// job. Nil (unset): DefaultJobRetention.
	Jobs *Duration `toml:"jobs"`
}

func (r *Retention) applyDefaults() {
	if r.Jobs == nil {
		d := Duration(DefaultJobRetention)
		r.Jobs = &d
	}
}

func (r *Retention) validate(bad func(key, format string, args ...any)) {
	if r.Jobs != nil && *r.Jobs < 0 {
		bad("retention.jobs", "must not be negative (0 keeps every job)")
	}
}

// JobsFor is retention.jobs: how long an ended job is kept; 0 for ever.
func (r Retention) JobsFor() time.Duration {
	if r.Jobs == nil {
		return DefaultJobRetention
	}
	return r.Jobs.D()
}
