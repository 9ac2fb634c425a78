// Package gemini polls the Gemini API's batches (batches.get) and parses
// the Gemini API's project webhooks, which follow Standard Webhooks and are
// thin: an event names the batch, and the poll that follows tells the rest.
package gemini

import (
	"encoding/json"
	"strings"

	"github.com/jobwatch/jobwatch/providers"
	"github.com/jobwatch/jobwatch/providers/payload"
	"github.com/jobwatch/jobwatch/tracker"
)

// namePrefix is the collection a batch's resource name starts with
// ("batches/{id}"). The job's id in jobwatch is the part after it: job ids
// hold no '/'.
const namePrefix = "batches/"

// BatchID returns the id of a batch given by its resource name
// ("batches/abc") or by its id alone ("abc"): the prefix is dropped once.
func BatchID(name string) string {
	return strings.TrimPrefix(name, namePrefix)
}

// Status normalizes a batch's state. The REST API writes BatchState words
// (BATCH_STATE_*); Google's SDKs (google-genai, go-genai) rename them to
// JobState words (JOB_STATE_*), and some answers pass those through:
// both spellings are accepted. QUEUED and CANCELLING are listed by client
// code mapping the two enums though not by the REST reference; accepted
// too. PARTIALLY_SUCCEEDED is in JobState (Vertex's) only: it succeeded,
// with failed requests. UNSPECIFIED, PAUSED and any other word are "": no
// normalized equivalent, never guessed terminal.
func Status(state string) tracker.Status {
	word, ok := strings.CutPrefix(state, "BATCH_STATE_")
	if !ok {
		word, _ = strings.CutPrefix(state, "JOB_STATE_")
	}
	if word == state {
		return ""
	}
	switch word {
	case "PENDING", "QUEUED":
		return tracker.StatusPending
	case "RUNNING", "CANCELLING":
		return tracker.StatusRunning
	case "SUCCEEDED", "PARTIALLY_SUCCEEDED":
		return tracker.StatusSucceeded
	case "FAILED":
		return tracker.StatusFailed
	case "CANCELLED":
		return tracker.StatusCancelled
	case "EXPIRED":
		return tracker.StatusExpired
	}
	return ""
}

// batch is a GenerateContentBatch, in the part read here.
type batch struct {
	Name        string      `json:"name"`
	DisplayName string      `json:"displayName"`
	Model       string      `json:"model"`
	State       string      `json:"state"`
	BatchStats  *batchStats `json:"batchStats"`
	Output      *struct {
		ResponsesFile string `json:"responsesFile"`
	} `json:"output"`
}

// batchStats are a batch's request counts: int64s, which proto3 JSON may
// write as strings.
type batchStats struct {
	RequestCount           payload.ProtoCount `json:"requestCount"`
	SuccessfulRequestCount payload.ProtoCount `json:"successfulRequestCount"`
	FailedRequestCount     payload.ProtoCount `json:"failedRequestCount"`
	PendingRequestCount    payload.ProtoCount `json:"pendingRequestCount"`
}

// answer is what GET /v1beta/batches/{id} returns: a long-running operation
// whose metadata is the batch (and whose error is the failure), or, from
// some clients and proxies, the batch itself at the top level (decoded on
// its own as a batch).
type answer struct {
	Metadata *batch `json:"metadata"`
	Error    *struct {
		Code    json.Number `json:"code"`
		Message string      `json:"message"`
		// Status is the code's name, as Google's HTTP error JSON writes
		// it ("RESOURCE_EXHAUSTED"); an operation's error has none.
		Status string `json:"status"`
	} `json:"error"`
}

// BatchObservation maps a batch, as GET /v1beta/batches/{id} returns it,
// to an observation: ExternalID (the name's id: BatchID), Kind batch,
// Status (Status), ProviderStatus (the state verbatim), Usage and Details.
// The batch is read from metadata, each field falling back to the top
// level. Usage counts requests from batchStats (Gemini reports no token
// totals for a batch): RequestsTotal requestCount, RequestsCompleted
// successfulRequestCount, RequestsFailed failedRequestCount; a figure that
// is no count is left out and noted in DroppedUsage. OccurredAt is left
// zero. A malformed body is a *providers.PayloadError.
//
// Details keys: responses_file (the output file, kept whatever the state:
// an expired batch's partial output too), display_name, model
// (tracker.DetailModel: "models/gemini-2.5-flash" is "gemini-2.5-flash",
// payload.ModelName), error_message and error_code (the operation's
// error); failure_cause (tracker.FailureCauseQuota when that error is
// RESOURCE_EXHAUSTED: payload.RPCFailureCause); request_failure
// (a succeeded batch with failed requests, or PARTIALLY_SUCCEEDED:
// tracker.RequestFailureTotal when every request failed, else
// tracker.RequestFailurePartial).
func BatchObservation(body []byte) (tracker.Observation, error) {
	var a answer
	var top batch
	if err := payload.Unmarshal(body, &a); err != nil {
		return tracker.Observation{}, err
	}
	if err := payload.Unmarshal(body, &top); err != nil {
		return tracker.Observation{}, err
	}
	b, prefix := top, ""
	if a.Metadata != nil {
		b, prefix = merge(*a.Metadata, top), "metadata."
	}
	if err := payload.CheckExternalID("name", BatchID(b.Name)); err != nil {
		return tracker.Observation{}, err
	}
	if b.State == "" {
		return tracker.Observation{}, &providers.PayloadError{Field: prefix + "state", Msg: "required"}
	}
	obs := tracker.Observation{ExternalID: BatchID(b.Name), Kind: tracker.KindBatch, Status: Status(b.State), ProviderStatus: b.State}
	d := map[string]string{}
	set := func(key, v string) {
		if v != "" {
			d[key] = v
		}
	}
	if b.Output != nil {
		set("responses_file", b.Output.ResponsesFile)
	}
	set("display_name", b.DisplayName)
	payload.SetModel(d, b.Model)
	if a.Error != nil {
		set("error_message", a.Error.Message)
		set("error_code", a.Error.Code.String())
		set(tracker.DetailFailureCause, payload.RPCFailureCause(a.Error.Code.String(), a.Error.Status))
	}
	var f payload.Figures
	if s := b.BatchStats; s != nil {
		total, totalOK := f.Take("requests_total", "batchStats.requestCount", s.RequestCount.Count)
		f.Take("requests_completed", "batchStats.successfulRequestCount", s.SuccessfulRequestCount.Count)
		failed, failedOK := f.Take("requests_failed", "batchStats.failedRequestCount", s.FailedRequestCount.Count)
		if obs.Status == tracker.StatusSucceeded && totalOK && failedOK {
			set(tracker.DetailRequestFailure, payload.RequestFailure(total, failed))
		}
	}
	if obs.Status == tracker.StatusSucceeded && strings.HasSuffix(b.State, "_PARTIALLY_SUCCEEDED") && d[tracker.DetailRequestFailure] == "" {
		d[tracker.DetailRequestFailure] = tracker.RequestFailurePartial
	}
	f.Observe(&obs)
	if len(d) > 0 {
		obs.Details = d
	}
	return obs, nil
}

// merge returns the batch meta with each field it lacks taken from top.
func merge(meta, top batch) batch {
	for _, f := range []struct{ dst, src *string }{
		{&meta.Name, &top.Name}, {&meta.DisplayName, &top.DisplayName}, {&meta.Model, &top.Model}, {&meta.State, &top.State},
	} {
		if *f.dst == "" {
			*f.dst = *f.src
		}
	}
	if meta.BatchStats == nil {
		meta.BatchStats = top.BatchStats
	}
	if meta.Output == nil {
		meta.Output = top.Output
	}
	return meta
}
