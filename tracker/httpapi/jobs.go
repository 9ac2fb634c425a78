package httpapi

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/jobwatch/jobwatch/tracker"
)

// ResolveRequest is the body of POST /v1/jobs/{provider}/{id}/resolve.
type ResolveRequest struct {
	// Status is the terminal status the job ends with.
	Status tracker.Status `json:"status"`
	// Reason says why, for the job's history.
	Reason string `json:"reason"`
}

// ConflictAnswer is the 409 of an action on a job that has ended or is
// untracked: the error and the job as it is.
type ConflictAnswer struct {
	Error string      `json:"error"`
	Job   tracker.Job `json:"job"`
}

// resolveJob serves POST /v1/jobs/{provider}/{id}/resolve: a job ended by
// hand (tracker.Tracker.Resolve), answered with the job and its history.
func (s *Server) resolveJob(w http.ResponseWriter, r *http.Request) {
	var req ResolveRequest
	if !s.decode(w, r, &req) {
		return
	}
	job, err := s.opts.Tracker.Resolve(r.Context(), r.PathValue("provider"), r.PathValue("id"), req.Status, req.Reason)
	switch {
	case err == nil:
		WriteJSON(w, http.StatusOK, job)
	case errors.Is(err, tracker.ErrNotTerminal):
		WriteError(w, http.StatusBadRequest, err.Error())
	case errors.Is(err, tracker.ErrJobEnded), errors.Is(err, tracker.ErrJobUntracked):
		WriteJSON(w, http.StatusConflict, ConflictAnswer{Error: conflictMessage(err), Job: job})
	default:
		s.fail(w, r, err)
	}
}

// untrackJob serves DELETE /v1/jobs/{provider}/{id}: the job is no longer
// tracked, or with ?purge=true deleted with its history and alerts.
func (s *Server) untrackJob(w http.ResponseWriter, r *http.Request) {
	var purge bool
	switch p := r.URL.Query().Get("purge"); p {
	case "", "false":
	case "true":
		purge = true
	default:
		WriteError(w, http.StatusBadRequest, fmt.Sprintf("purge: %q is not true or false", p))
		return
	}
	if err := s.opts.Tracker.Untrack(r.Context(), r.PathValue("provider"), r.PathValue("id"), purge); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// conflictMessage is the error of a 409: why the job cannot be acted on.
func conflictMessage(err error) string {
	if errors.Is(err, tracker.ErrJobUntracked) {
		return tracker.ErrJobUntracked.Error()
	}
	return tracker.ErrJobEnded.Error()
}
