// Package bedrock polls AWS Bedrock's batch inference jobs ("model
// invocation jobs": GetModelInvocationJob), signing each request with AWS
// Signature Version 4 and credentials from the AWS SDK's standard chain.
// Bedrock sends no webhooks (only EventBridge events): its jobs are only
// ever learnt about by asking.
package bedrock

import (
	"strconv"
	"strings"

	"github.com/jobwatch/jobwatch/providers/payload"
	"github.com/jobwatch/jobwatch/tracker"
)

// Status normalizes a model invocation job's status: the
// ModelInvocationJobStatus enum of aws-sdk-go-v2's service/bedrock/types
// (Submitted, Validating, Scheduled, InProgress, Stopping, Completed,
// PartiallyCompleted, Failed, Stopped, Expired). A job being stopped is
// still running; PartiallyCompleted is a success whose failed records
// JobObservation flags. Unknown words are "" (no normalized equivalent):
// never guessed terminal.
func Status(s string) tracker.Status {
	switch s {
	case "Submitted", "Validating", "Scheduled":
		return tracker.StatusPending
	case "InProgress", "Stopping":
		return tracker.StatusRunning
	case "Completed", "PartiallyCompleted":
		return tracker.StatusSucceeded
	case "Failed":
		return tracker.StatusFailed
	case "Stopped":
		return tracker.StatusCancelled
	case "Expired":
		return tracker.StatusExpired
	}
	return ""
}

// invocationJob is what GetModelInvocationJob answers, in the part read
// here. The record counts are not in every SDK's model of the answer: they
// are read when present, as JSON numbers.
type invocationJob struct {
	JobArn  string `json:"jobArn"`
	JobName string `json:"jobName"`
	// ModelID is the model the job invokes: a model id
	// ("anthropic.claude-3-haiku-20240307-v1:0") or an ARN ending in one
	// (a foundation model's, an inference profile's).
	ModelID          string `json:"modelId"`
	Status           string `json:"status"`
	Message          string `json:"message"`
	OutputDataConfig *struct {
		S3OutputDataConfig *struct {
			S3URI string `json:"s3Uri"`
		} `json:"s3OutputDataConfig"`
	} `json:"outputDataConfig"`
	TotalRecordCount     payload.Count `json:"totalRecordCount"`
	ProcessedRecordCount payload.Count `json:"processedRecordCount"`
	SuccessRecordCount   payload.Count `json:"successRecordCount"`
	ErrorRecordCount     payload.Count `json:"errorRecordCount"`
}

// JobID is the job id of a model invocation job's ARN
// (arn:aws:bedrock:{region}:{account}:model-invocation-job/{id}): its part
// after the last "/", or arn itself when it has none.
func JobID(arn string) string {
	return arn[strings.LastIndexByte(arn, '/')+1:]
}

// JobObservation maps a model invocation job, as GetModelInvocationJob
// returns it, to an observation: ExternalID (JobID of jobArn), Kind batch,
// Status (Status), ProviderStatus (status verbatim), Usage and Details.
// Usage counts records: RequestsTotal totalRecordCount, RequestsCompleted
// successRecordCount, RequestsFailed errorRecordCount, when present; one
// that is no count is left out and noted in DroppedUsage. OccurredAt is
// left zero: a poll's time is the caller's. A malformed body is a
// *providers.PayloadError.
//
// Details keys: job_arn and job_name (verbatim); model (tracker.DetailModel:
// modelId, an ARN's last segment, payload.ModelName); output_uri
// (outputDataConfig.s3OutputDataConfig.s3Uri), kept whatever the status (an
// expired job's partial output included); records_processed
// (processedRecordCount); error_message (message, on a failed, stopped or
// expired job) or status_message (message on any other); request_failure
// (a Completed or PartiallyCompleted job with failed records:
// tracker.RequestFailureTotal when none succeeded, else
// tracker.RequestFailurePartial, which PartiallyCompleted always is).
func JobObservation(body []byte) (tracker.Observation, error) {
	var j invocationJob
	if err := payload.Unmarshal(body, &j); err != nil {
		return tracker.Observation{}, err
	}
	id := JobID(j.JobArn)
	if err := payload.CheckJob("jobArn", id, "status", j.Status); err != nil {
		return tracker.Observation{}, err
	}
	obs := tracker.Observation{ExternalID: id, Kind: tracker.KindBatch, Status: Status(j.Status), ProviderStatus: j.Status}
	d := map[string]string{"job_arn": j.JobArn}
	payload.SetDetail(d, "job_name", j.JobName)
	payload.SetModel(d, j.ModelID)
	if o := j.OutputDataConfig; o != nil && o.S3OutputDataConfig != nil {
		payload.SetDetail(d, "output_uri", o.S3OutputDataConfig.S3URI)
	}
	switch obs.Status {
	case tracker.StatusFailed, tracker.StatusCancelled, tracker.StatusExpired:
		payload.SetDetail(d, "error_message", payload.Clip(j.Message))
	default:
		payload.SetDetail(d, "status_message", payload.Clip(j.Message))
	}

	var f payload.Figures
	total, totalOK := f.Take("requests_total", "totalRecordCount", j.TotalRecordCount)
	succeeded, succeededOK := f.Take("requests_completed", "successRecordCount", j.SuccessRecordCount)
	failed, failedOK := f.Take("requests_failed", "errorRecordCount", j.ErrorRecordCount)
	if n, ok := f.Read("records_processed", "processedRecordCount", j.ProcessedRecordCount); ok && !j.ProcessedRecordCount.IsZero() {
		d["records_processed"] = strconv.FormatInt(n, 10)
	}
	if obs.Status == tracker.StatusSucceeded {
		switch {
		case failedOK && failed > 0 && succeededOK && !j.SuccessRecordCount.IsZero() && succeeded == 0:
			d[tracker.DetailRequestFailure] = tracker.RequestFailureTotal
		case failedOK && failed > 0 && totalOK && !j.TotalRecordCount.IsZero() && j.SuccessRecordCount.IsZero():
			d[tracker.DetailRequestFailure] = payload.RequestFailure(total, failed)
		case j.Status == "PartiallyCompleted" || failedOK && failed > 0:
			d[tracker.DetailRequestFailure] = tracker.RequestFailurePartial
		}
	}
	f.Observe(&obs)
	obs.Details = d
	return obs, nil
}
