// Package anthropic polls Anthropic's Message Batches API. Anthropic sends no
// webhooks: a batch is only ever learnt about by asking.
package anthropic

import (
	"fmt"
	"math"

	"github.com/jobwatch/jobwatch/providers"
	"github.com/jobwatch/jobwatch/providers/generic"
	"github.com/jobwatch/jobwatch/providers/openai"
	"github.com/jobwatch/jobwatch/tracker"
)

// messageBatch is what GET /v1/messages/batches/{id} answers.
type messageBatch struct {
	ID               string `json:"id"`
	Type             string `json:"type"`
	ProcessingStatus string `json:"processing_status"`
	RequestCounts    *struct {
		Processing int64 `json:"processing"`
		Succeeded  int64 `json:"succeeded"`
		Errored    int64 `json:"errored"`
		Canceled   int64 `json:"canceled"`
		Expired    int64 `json:"expired"`
	} `json:"request_counts"`
	ResultsURL string `json:"results_url"`
	// CancelInitiatedAt is an RFC 3339 time, set once someone asked for
	// the batch to be cancelled; only its presence matters here.
	CancelInitiatedAt *string `json:"cancel_initiated_at"`
}

// batchStatus normalizes a batch's processing_status. A batch being
// cancelled is still running; an ended one succeeded, unless its
// cancellation had been asked for (a cancelled batch also ends as "ended").
// Unknown words are "" (no normalized equivalent).
func batchStatus(processingStatus string, cancelInitiated bool) tracker.Status {
	switch processingStatus {
	case "in_progress", "canceling":
		return tracker.StatusRunning
	case "ended":
		if cancelInitiated {
			return tracker.StatusCancelled
		}
		return tracker.StatusSucceeded
	}
	return ""
}

// BatchObservation maps a message batch, as GET /v1/messages/batches/{id}
// returns it, to an observation: ExternalID, Kind batch, Status (see below),
// ProviderStatus (processing_status verbatim), Usage and Details. Status is
// running for in_progress and canceling; for ended, cancelled when
// cancel_initiated_at is set, else succeeded; "" for any other word (the job
// keeps its status). Usage counts requests only (Anthropic reports no token
// totals): RequestsTotal is the sum of request_counts, RequestsCompleted the
// succeeded ones, RequestsFailed the errored and expired ones. OccurredAt is
// left zero: a poll's time is the caller's. A malformed body is a
// *providers.PayloadError.
//
// Details keys: results_url; request_failure (ended batches with requests
// that errored or expired: openai.RequestFailureTotal when every request
// did, else openai.RequestFailurePartial).
func BatchObservation(body []byte) (tracker.Observation, error) {
	var b messageBatch
	if err := generic.Unmarshal(body, &b); err != nil {
		return tracker.Observation{}, err
	}
	if b.Type != "" && b.Type != "message_batch" {
		return tracker.Observation{}, &providers.PayloadError{Field: "type", Msg: fmt.Sprintf("want %q, got %q", "message_batch", b.Type)}
	}
	if err := generic.CheckExternalID("id", b.ID); err != nil {
		return tracker.Observation{}, err
	}
	cancelled := b.CancelInitiatedAt != nil && *b.CancelInitiatedAt != ""
	obs := tracker.Observation{
		ExternalID:     b.ID,
		Kind:           tracker.KindBatch,
		Status:         batchStatus(b.ProcessingStatus, cancelled),
		ProviderStatus: b.ProcessingStatus,
	}
	d := map[string]string{}
	if b.ResultsURL != "" {
		d["results_url"] = b.ResultsURL
	}
	if c := b.RequestCounts; c != nil {
		var total int64
		for _, f := range []struct {
			name string
			n    int64
		}{
			{"processing", c.Processing}, {"succeeded", c.Succeeded}, {"errored", c.Errored},
			{"canceled", c.Canceled}, {"expired", c.Expired},
		} {
			if f.n < 0 {
				return tracker.Observation{}, &providers.PayloadError{Field: "request_counts." + f.name, Msg: fmt.Sprintf("want a non-negative integer, got %d", f.n)}
			}
			if f.n > math.MaxInt64-total {
				return tracker.Observation{}, &providers.PayloadError{Field: "request_counts", Msg: "counts overflow"}
			}
			total += f.n
		}
		failed := c.Errored + c.Expired
		if u := (tracker.Usage{RequestsTotal: total, RequestsCompleted: c.Succeeded, RequestsFailed: failed}); !u.IsZero() {
			obs.Usage = &u
		}
		if b.ProcessingStatus == "ended" {
			switch {
			case failed > 0 && failed == total:
				d["request_failure"] = openai.RequestFailureTotal
			case failed > 0:
				d["request_failure"] = openai.RequestFailurePartial
			}
		}
	}
	if len(d) > 0 {
		obs.Details = d
	}
	return obs, nil
}
