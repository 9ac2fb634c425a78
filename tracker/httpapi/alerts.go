package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/jobwatch/jobwatch/tracker"
)

// listAlerts serves GET /v1/alerts: the outbox, newest first.
func (s *Server) listAlerts(w http.ResponseWriter, r *http.Request) {
	state := tracker.AlertState(r.URL.Query().Get("state"))
	switch state {
	case "", tracker.AlertPending, tracker.AlertSent, tracker.AlertDead:
	default:
		WriteError(w, http.StatusBadRequest, fmt.Sprintf("state: %q is not pending, sent or dead", state))
		return
	}
	limit, ok := PageLimit(w, r)
	if !ok {
		return
	}
	alerts, err := s.opts.Tracker.Store().ListAlerts(r.Context(), state, limit)
	if err != nil {
		s.unavailable(w, r, err)
		return
	}
	if alerts == nil {
		alerts = []tracker.OutboxAlert{}
	}
	WriteJSON(w, http.StatusOK, map[string]any{"alerts": alerts})
}

// retryAlert serves POST /v1/alerts/{id}/retry: a dead alert made pending
// again.
func (s *Server) retryAlert(w http.ResponseWriter, r *http.Request) {
	id, err := tracker.ParseAlertID(r.PathValue("id"))
	if err != nil {
		WriteError(w, http.StatusBadRequest, err.Error())
		return
	}
	switch err := s.opts.Tracker.Store().RetryAlert(r.Context(), id, time.Now()); {
	case errors.Is(err, tracker.ErrNotFound):
		WriteError(w, http.StatusNotFound, "no dead alert "+r.PathValue("id"))
	case err != nil:
		s.unavailable(w, r, err)
	default:
		WriteJSON(w, http.StatusOK, map[string]string{"id": r.PathValue("id"), "state": string(tracker.AlertPending)})
	}
}

// usage serves GET /v1/usage: the current UTC window's usage totals.
func (s *Server) usage(w http.ResponseWriter, r *http.Request) {
	window := r.URL.Query().Get("window")
	if window == "" {
		window = "day"
	}
	if window != "hour" && window != "day" && window != "month" {
		WriteError(w, http.StatusBadRequest, fmt.Sprintf("window: %q is not hour, day or month", window))
		return
	}
	out, err := s.opts.Tracker.Usage(r.Context(), window, r.URL.Query().Get("provider"))
	if err != nil {
		s.unavailable(w, r, err)
		return
	}
	if out == nil {
		out = []tracker.UsageTotal{}
	}
	WriteJSON(w, http.StatusOK, map[string]any{"usage": out})
}

// unavailable logs a failed read of the outbox or the usage totals and
// answers 503.
func (s *Server) unavailable(w http.ResponseWriter, r *http.Request, err error) {
	s.opts.Logger.Error("request failed", "route", r.Pattern, "error", err)
	WriteError(w, http.StatusServiceUnavailable, "storage unavailable, retry later")
}
