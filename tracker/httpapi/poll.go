package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/jobwatch/jobwatch/providers"
	"github.com/jobwatch/jobwatch/tracker"
	"github.com/jobwatch/jobwatch/tracker/sweep"
)

// JobPoller polls one job now, whatever its schedule: the sweeper's
// PollJob. It returns the job as it is after, tracker.ErrNotFound for an
// unknown job, tracker.ErrJobUntracked for an untracked one,
// sweep.ErrNotPolled when no poller serves its provider or kind, and a *providers.PollError when the provider's API failed.
type JobPoller interface {
	PollJob(ctx context.Context, provider, externalID string) (tracker.Job, error)
}

// pollJob serves POST /v1/jobs/{provider}/{id}/poll: poll one job now.
func (s *Server) pollJob(w http.ResponseWriter, r *http.Request) {
	job, err := s.opts.Poller.PollJob(r.Context(), r.PathValue("provider"), r.PathValue("id"))
	var pe *providers.PollError
	switch {
	case err == nil:
		WriteJSON(w, http.StatusOK, job)
	case errors.Is(err, tracker.ErrNotFound):
		WriteError(w, http.StatusNotFound, "job not found")
	case errors.Is(err, tracker.ErrJobUntracked):
		WriteError(w, http.StatusConflict, err.Error())
	case errors.Is(err, sweep.ErrNotPolled):
		WriteError(w, http.StatusConflict, fmt.Sprintf("provider %s: %v", r.PathValue("provider"), err))
	case errors.As(err, &pe):
		WriteError(w, http.StatusBadGateway, "poll failed: "+pe.Error())
	default:
		s.opts.Logger.Error("poll job", "provider", r.PathValue("provider"), "job_id", r.PathValue("id"), "error", err)
		WriteError(w, http.StatusServiceUnavailable, "storage unavailable, retry later")
	}
}
