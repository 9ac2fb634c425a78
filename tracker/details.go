package tracker

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
