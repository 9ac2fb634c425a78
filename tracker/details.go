package tracker

// DetailRequestFailure is the Details key that flags a batch which ended
// with failed requests: "completed" (or "ended") only means the batch ran to
// its end, not that any request succeeded. Its value is RequestFailurePartial
// or RequestFailureTotal; every provider that reports request counts sets it
// the same way, and the alert rules read it (job.partial_failure).
const DetailRequestFailure = "request_failure"

// Values of Details[DetailRequestFailure].
const (
	// RequestFailurePartial: some, not all, of the batch's requests failed.
	RequestFailurePartial = "partial"
	// RequestFailureTotal: every request of the batch failed (its results
	// are only in the error file).
	RequestFailureTotal = "total"
)
