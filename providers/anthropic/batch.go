// Package anthropic polls Anthropic's Message Batches API. Anthropic sends no
// webhooks: a batch is only ever learnt about by asking.
package anthropic

import (
	"fmt"
	"math/big"

	"github.com/jobwatch/jobwatch/providers"
	"github.com/jobwatch/jobwatch/providers/payload"
	"github.com/jobwatch/jobwatch/tracker"
)

// messageBatch is what GET /v1/messages/batches/{id} answers.
type messageBatch struct {
	ID               string `json:"id"`
	Type             string `json:"type"`
	ProcessingStatus string `json:"processing_status"`
	RequestCounts    *struct {
		Processing payload.Count `json:"processing"`
		Succeeded  payload.Count `json:"succeeded"`
		Errored    payload.Count `json:"errored"`
		Canceled   payload.Count `json:"canceled"`
		Expired    payload.Count `json:"expired"`
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
// succeeded ones, RequestsFailed the errored and expired ones; when a count
// is no count (negative, fractional, beyond int64), or their sum is beyond
// int64, the request figures are left out and noted in DroppedUsage. OccurredAt is
// left zero: a poll's time is the caller's. A malformed body is a
// *providers.PayloadError.
//
// Details keys: results_url; request_failure (ended batches with requests
// that errored or expired: tracker.RequestFailureTotal when every request
// did, else tracker.RequestFailurePartial).
func BatchObservation(body []byte) (tracker.Observation, error) {
	var b messageBatch
	if err := payload.Unmarshal(body, &b); err != nil {
		return tracker.Observation{}, err
	}
	if b.Type != "" && b.Type != "message_batch" {
		return tracker.Observation{}, &providers.PayloadError{Field: "type", Msg: fmt.Sprintf("want %q, got %q", "message_batch", b.Type)}
	}
	if err := payload.CheckExternalID("id", b.ID); err != nil {
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
		var f payload.Figures
		parts := []struct {
			name, figure string
			c            payload.Count
		}{
			{"processing", "requests_total", c.Processing}, {"succeeded", "requests_completed", c.Succeeded},
			{"errored", "requests_failed", c.Errored}, {"canceled", "requests_total", c.Canceled}, {"expired", "requests_failed", c.Expired},
		}
		n := make(map[string]int64, len(parts))
		valid := true
		for _, p := range parts {
			v, ok := f.Read(p.figure, "request_counts."+p.name, p.c)
			n[p.name], valid = v, valid && ok
		}
		total := new(big.Int)
		for _, v := range n {
			total.Add(total, big.NewInt(v))
		}
		if valid && !total.IsInt64() {
			f.Drop("requests_total", "request_counts", total.String(), tracker.DropTooLarge)
			valid = false
		}
		// The figures are one breakdown: with a part that is no count, none
		// of them is kept (the bad parts are noted).
		if valid {
			failed := n["errored"] + n["expired"]
			f.Set("requests_total", total.Int64())
			f.Set("requests_completed", n["succeeded"])
			f.Set("requests_failed", failed)
			if b.ProcessingStatus == "ended" {
				switch {
				case failed > 0 && failed == total.Int64():
					d[tracker.DetailRequestFailure] = tracker.RequestFailureTotal
				case failed > 0:
					d[tracker.DetailRequestFailure] = tracker.RequestFailurePartial
				}
			}
		}
		f.Observe(&obs)
	}
	if len(d) > 0 {
		obs.Details = d
	}
	return obs, nil
}
