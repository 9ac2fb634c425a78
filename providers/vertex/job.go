// Package vertex polls Vertex AI's batch prediction jobs
// (batchPredictionJobs.get) with an OAuth2 access token from Google
// credentials. Vertex AI sends no webhooks: its jobs are only ever learnt
// about by asking.
package vertex

import (
	"strconv"
	"strings"

	"github.com/jobwatch/jobwatch/providers"
	"github.com/jobwatch/jobwatch/providers/payload"
	"github.com/jobwatch/jobwatch/tracker"
)

// Status normalizes a batch prediction job's state (the JobState enum of
// google.cloud.aiplatform.v1, as the Python and JS SDKs list it). A job
// being cancelled or updated is still running; PAUSED is resumable, so it is
// not an end: it stays running. PARTIALLY_SUCCEEDED is a success whose
// failed requests BatchObservation flags. JOB_STATE_UNSPECIFIED and unknown
// words are "" (no normalized equivalent): never guessed terminal.
func Status(s string) tracker.Status {
	switch s {
	case "JOB_STATE_QUEUED", "JOB_STATE_PENDING":
		return tracker.StatusPending
	case "JOB_STATE_RUNNING", "JOB_STATE_CANCELLING", "JOB_STATE_UPDATING", "JOB_STATE_PAUSED":
		return tracker.StatusRunning
	case "JOB_STATE_SUCCEEDED", "JOB_STATE_PARTIALLY_SUCCEEDED":
		return tracker.StatusSucceeded
	case "JOB_STATE_FAILED":
		return tracker.StatusFailed
	case "JOB_STATE_CANCELLED":
		return tracker.StatusCancelled
	case "JOB_STATE_EXPIRED":
		return tracker.StatusExpired
	}
	return ""
}

// batchPredictionJob is what batchPredictionJobs.get answers, in the part
// read here. Its int64 counts are proto3 JSON: decimal strings.
type batchPredictionJob struct {
	Name  string `json:"name"`
	State string `json:"state"`
	// Model is the resource name of the model the job runs on: a
	// publisher's ("publishers/google/models/gemini-2.0-flash-001", also
	// below projects/{p}/locations/{l}/) or the project's own
	// ("projects/{p}/locations/{l}/models/{id}").
	Model           string `json:"model"`
	CompletionStats *struct {
		SuccessfulCount payload.ProtoCount `json:"successfulCount"`
		FailedCount     payload.ProtoCount `json:"failedCount"`
		IncompleteCount payload.ProtoCount `json:"incompleteCount"`
	} `json:"completionStats"`
	Error *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		// Status is the code's name, as Google's HTTP error JSON writes
		// it ("RESOURCE_EXHAUSTED"); a job's google.rpc.Status has none.
		Status string `json:"status"`
	} `json:"error"`
	OutputInfo *struct {
		GCSOutputDirectory    string `json:"gcsOutputDirectory"`
		BigQueryOutputDataset string `json:"bigqueryOutputDataset"`
		BigQueryOutputTable   string `json:"bigqueryOutputTable"`
	} `json:"outputInfo"`
}

// unknownCount is how completionStats writes a count Vertex AI does not
// know (the job failed before it counted): not a figure, and not dropped as
// a negative one either.
const unknownCount = "-1"

// JobID is the job id of a batch prediction job's name: the last step of
// its resource name (projects/{p}/locations/{l}/batchPredictionJobs/{id}),
// or name itself when it has no "/".
func JobID(name string) string {
	return name[strings.LastIndexByte(name, '/')+1:]
}

// BatchObservation maps a batch prediction job, as batchPredictionJobs.get
// returns it, to an observation: ExternalID (JobID of its name, which may
// be the full resource name or the bare id), Kind batch, Status (Status),
// ProviderStatus (state verbatim), Usage and Details. Usage counts requests
// from completionStats: RequestsCompleted successfulCount, RequestsFailed
// failedCount, RequestsTotal their sum with incompleteCount when all three
// are known; -1 (unknown) is no figure, any other figure that is no count
// is left out and noted in DroppedUsage. OccurredAt is left zero: a poll's
// time is the caller's. A malformed body is a *providers.PayloadError.
//
// Details keys: resource_name (name verbatim); model (tracker.DetailModel:
// the last segment of the model's resource name, payload.ModelName);
// output_directory
// (outputInfo.gcsOutputDirectory), bigquery_output_dataset,
// bigquery_output_table, kept whatever the state (an expired job's partial
// output included); error_message and error_code (error, set on a failed or
// cancelled job); failure_cause (tracker.FailureCauseQuota when that error
// is RESOURCE_EXHAUSTED: payload.RPCFailureCause); request_failure (a succeeded or partially succeeded job
// with failed requests: tracker.RequestFailureTotal when none succeeded,
// else tracker.RequestFailurePartial, which PARTIALLY_SUCCEEDED always is).
func BatchObservation(body []byte) (tracker.Observation, error) {
	var j batchPredictionJob
	if err := payload.Unmarshal(body, &j); err != nil {
		return tracker.Observation{}, err
	}
	id := JobID(j.Name)
	if err := payload.CheckExternalID("name", id); err != nil {
		return tracker.Observation{}, err
	}
	if j.State == "" {
		return tracker.Observation{}, &providers.PayloadError{Field: "state", Msg: "required"}
	}
	obs := tracker.Observation{ExternalID: id, Kind: tracker.KindBatch, Status: Status(j.State), ProviderStatus: j.State}
	d := map[string]string{"resource_name": j.Name}
	payload.SetModel(d, j.Model)
	if o := j.OutputInfo; o != nil {
		payload.SetDetail(d, "output_directory", o.GCSOutputDirectory)
		payload.SetDetail(d, "bigquery_output_dataset", o.BigQueryOutputDataset)
		payload.SetDetail(d, "bigquery_output_table", o.BigQueryOutputTable)
	}
	if e := j.Error; e != nil && (e.Code != 0 || e.Message != "") {
		payload.SetDetail(d, "error_message", payload.Clip(e.Message))
		if e.Code != 0 {
			d["error_code"] = strconv.Itoa(e.Code)
		}
		payload.SetDetail(d, tracker.DetailFailureCause, payload.RPCFailureCause(strconv.Itoa(e.Code), e.Status))
	}
	var f payload.Figures
	var succeeded, failed int64
	var succeededOK, failedOK bool
	if s := j.CompletionStats; s != nil {
		succeeded, succeededOK = take(&f, "requests_completed", "completionStats.successfulCount", s.SuccessfulCount)
		failed, failedOK = take(&f, "requests_failed", "completionStats.failedCount", s.FailedCount)
		incomplete, incompleteOK := known(&f, "completionStats.incompleteCount", s.IncompleteCount)
		if succeededOK && failedOK && incompleteOK {
			if total := succeeded + failed + incomplete; total >= succeeded && total-succeeded >= failed {
				f.Set("requests_total", total)
			}
		}
	}
	if obs.Status == tracker.StatusSucceeded {
		switch {
		case failedOK && failed > 0 && succeededOK && succeeded == 0:
			d[tracker.DetailRequestFailure] = tracker.RequestFailureTotal
		case j.State == "JOB_STATE_PARTIALLY_SUCCEEDED" || failedOK && failed > 0:
			d[tracker.DetailRequestFailure] = tracker.RequestFailurePartial
		}
	}
	f.Observe(&obs)
	obs.Details = d
	return obs, nil
}

// take is Figures.Take of a completionStats count, except that an absent or
// unknown (-1) count is no figure: ok is false and nothing is noted.
func take(f *payload.Figures, name, path string, c payload.ProtoCount) (int64, bool) {
	if c.IsZero() || c.Text() == unknownCount {
		return 0, false
	}
	return f.Take(name, path, c.Count)
}

// known reads a completionStats count that is part of a figure (Figures.Read
// noting a count that is none under requests_total); absent or unknown
// (-1): ok false.
func known(f *payload.Figures, path string, c payload.ProtoCount) (int64, bool) {
	if c.IsZero() || c.Text() == unknownCount {
		return 0, false
	}
	return f.Read("requests_total", path, c.Count)
}
