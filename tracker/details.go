package tracker

import "strings"

// DetailRequestFailure is the Details key that flags a batch which ended
// with failed requests: "completed" (or "ended") only means the batch ran to
// its end, not that any request succeeded. Its value is RequestFailurePartial
// or RequestFailureTotal; every provider that reports request counts sets it
// the same way, and the alert rules read it (job.partial_failure).
const DetailRequestFailure = "request_failure"

// DetailModel is the Details key of the model a job runs on, as its
// provider names it without a resource path ("gpt-4o-mini-2024-07-18",
// "gemini-2.5-flash"): the provider's own word when its job object says,
// else the one given at registration (TrackRequest.Model). Prices are
// looked up by it.
const DetailModel = "model"

// Values of Details[DetailRequestFailure].
const (
	// RequestFailurePartial: some, not all, of the batch's requests failed.
	RequestFailurePartial = "partial"
	// RequestFailureTotal: every request of the batch failed (its results
	// are only in the error file).
	RequestFailureTotal = "total"
)

// DetailFailureCause is the Details key of why a job failed, when its
// provider's error says so in a way jobwatch knows: FailureCauseQuota. Each
// provider family's parser sets it from the provider's own error code (the
// code and message themselves stay in error_code and error_message), and
// the job.failed alert's summary reads it (FailureNote).
const DetailFailureCause = "failure_cause"

// Values of Details[DetailFailureCause].
const (
	// FailureCauseQuota: the provider refused or stopped the job because a
	// quota or rate limit was reached (OpenAI's enqueued token limit,
	// Google's RESOURCE_EXHAUSTED): waiting, or raising the limit, is the
	// remedy, not changing the job.
	FailureCauseQuota = "quota"
)

// outputDetails are the Details keys under which providers name a job's
// output (its results file, directory, table or URL), with what people
// call it, in the order they are looked for.
var outputDetails = []struct{ key, label string }{
	{"output_file_id", "output file"},           // OpenAI and its compatibles, Mistral, Together
	{"responses_file", "responses file"},        // Gemini API
	{"output_directory", "output directory"},    // Vertex AI, on Cloud Storage
	{"bigquery_output_table", "BigQuery table"}, // Vertex AI, to BigQuery
	{"output_dataset_id", "output dataset"},     // Fireworks
	{"output_uri", "output"},                    // Bedrock, on S3
	{"results_url", "results URL"},              // Anthropic
}

// FailureCause is how alerts name why a failed job failed, when its
// provider said so in a way jobwatch knows (Details[DetailFailureCause]):
// "quota or rate limit reached"; "" otherwise.
func FailureCause(j *Job) string {
	if j.Details[DetailFailureCause] == FailureCauseQuota {
		return "quota or rate limit reached"
	}
	return ""
}

// FailureNote is FailureCause with the provider's error code and message
// after it in parentheses, when it gave them: "quota or rate limit reached
// (token_limit_exceeded: Enqueued token limit reached for gpt-4o ...)"; ""
// when the cause is not one jobwatch knows.
func FailureNote(j *Job) string {
	note := FailureCause(j)
	if note == "" {
		return ""
	}
	code := j.Details["error_code"]
	msg := strings.Join(strings.Fields(j.Details["error_message"]), " ")
	switch {
	case code != "" && msg != "":
		note += " (" + code + ": " + msg + ")"
	case code != "" || msg != "":
		note += " (" + code + msg + ")"
	}
	return note
}

// PartialResults names the output a job that ended with only part of its
// work done leaves to collect, "output file file-abc": an expired job's
// (an expired OpenAI batch keeps its completed requests' output), or one
// whose requests partly failed (Details[DetailRequestFailure] partial),
// when its details name an output; "" otherwise.
func PartialResults(j *Job) string {
	if j.Status != StatusExpired && j.Details[DetailRequestFailure] != RequestFailurePartial {
		return ""
	}
	for _, o := range outputDetails {
		if v := j.Details[o.key]; v != "" {
			return o.label + " " + v
		}
	}
	return ""
}

// PartialResultsNote is what an alert says of PartialResults: "partial
// results to collect: output file file-abc"; "" when there are none.
func PartialResultsNote(j *Job) string {
	if r := PartialResults(j); r != "" {
		return "partial results to collect: " + r
	}
	return ""
}
