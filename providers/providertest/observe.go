package providertest

import (
	"errors"
	"testing"

	"github.com/jobwatch/jobwatch/providers"
	"github.com/jobwatch/jobwatch/tracker"
)

// CheckObservation checks what a poll answer's mapping returned for a body,
// whatever the body (a fuzz test's invariants): a *providers.PayloadError
// with a message, or an observation of kind about a valid job id, with no
// time or payload (a poll's are the caller's), its Status normalize's of its
// ProviderStatus (never a guess), no empty detail, and request_failure only
// on a job in status ended (the provider's word for a batch that ended with
// its requests run; "": any succeeded job) that reports failed requests. It
// reports whether obs is an observation (err is nil).
func CheckObservation(t testing.TB, kind tracker.Kind, obs tracker.Observation, err error, normalize func(string) tracker.Status, ended string) bool {
	t.Helper()
	if err != nil {
		if pe, ok := errors.AsType[*providers.PayloadError](err); !ok || pe.Msg == "" {
			t.Fatalf("%s: error %v (%T) is not a *providers.PayloadError with a message", kind, err, err)
		}
		return false
	}
	if err := tracker.ValidateExternalID(obs.ExternalID); err != nil {
		t.Fatalf("%s: ExternalID %q: %v", kind, obs.ExternalID, err)
	}
	if obs.Kind != kind || !obs.OccurredAt.IsZero() || obs.Payload != nil {
		t.Fatalf("%s: observation %+v", kind, obs)
	}
	if obs.Status != normalize(obs.ProviderStatus) {
		t.Fatalf("%s: Status %q for %q", kind, obs.Status, obs.ProviderStatus)
	}
	for k, v := range obs.Details {
		if v == "" {
			t.Fatalf("%s: Details[%q] is empty", kind, k)
		}
	}
	endedWell := obs.ProviderStatus == ended || ended == "" && obs.Status == tracker.StatusSucceeded
	if _, ok := obs.Details[tracker.DetailRequestFailure]; ok && (!endedWell || obs.Usage == nil || obs.Usage.RequestsFailed == 0) {
		t.Fatalf("%s: request_failure on %+v", kind, obs)
	}
	return true
}
