package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/jobwatch/jobwatch/tracker"
)

// POST /v1/jobs/{provider}/{id}/resolve ends a job by hand: 200 with the
// job and its history, 400 for a status that is not terminal or a bad
// body, 404 for an unknown job, 409 with the job once it has ended; it
// needs the token like every /v1/ route.
func TestResolveAnswers(t *testing.T) {
	t.Parallel()
	srv, _ := setup(t, "tok")
	if code, body := do(t, "POST", srv.URL+"/v1/jobs", "tok", `{"provider":"openai","kind":"batch","id":"batch_1"}`); code != 201 {
		t.Fatalf("track: %d %s", code, body)
	}
	url := srv.URL + "/v1/jobs/openai/batch_1/resolve"
	tests := []struct {
		name, path, token, body string
		code                    int
		contains                string
	}{
		{"no token", url, "", `{"status":"failed"}`, 401, "bearer token"},
		{"not terminal", url, "tok", `{"status":"running","reason":"x"}`, 400, `status: \"running\" is not a terminal status`},
		{"no status", url, "tok", `{"reason":"x"}`, 400, `status: \"\" is not a terminal status`},
		{"unknown field", url, "tok", `{"status":"failed","why":"x"}`, 400, `unknown field \"why\"`},
		{"NUL in reason", url, "tok", `{"status":"failed","reason":"a\u0000b"}`, 400, "reason: "},
		{"unknown job", srv.URL + "/v1/jobs/openai/batch_9/resolve", "tok", `{"status":"failed"}`, 404, "job not found"},
		{"resolved", url, "tok", `{"status":"cancelled","reason":"cancelled in the console"}`, 200, `"resolved_by":"api"`},
		{"ended", url, "tok", `{"status":"failed","reason":"again"}`, 409, `"error":"job has already ended"`},
	}
	for _, tt := range tests {
		code, body := do(t, "POST", tt.path, tt.token, tt.body)
		if code != tt.code || !strings.Contains(body, tt.contains) {
			t.Errorf("%s: got %d %s, want %d containing %q", tt.name, code, body, tt.code, tt.contains)
		}
	}
	code, body := do(t, "GET", srv.URL+"/v1/jobs/openai/batch_1", "tok", "")
	var job tracker.Job
	if err := json.Unmarshal([]byte(body), &job); err != nil || code != 200 {
		t.Fatalf("GET job: %d %s", code, body)
	}
	if job.Status != tracker.StatusCancelled || len(job.History) != 1 || job.History[0].Type != tracker.TypeJobResolved ||
		!strings.Contains(string(job.History[0].Payload), "cancelled in the console") {
		t.Errorf("job after resolve = %s with history %+v, want cancelled with the resolve and its reason", job.Status, job.History)
	}
}

// DELETE /v1/jobs/{provider}/{id} untracks a job, which stays readable;
// with ?purge=true it is gone.
func TestUntrackAnswers(t *testing.T) {
	t.Parallel()
	srv, _ := setup(t, "tok")
	for _, id := range []string{"batch_1", "batch_2"} {
		if code, body := do(t, "POST", srv.URL+"/v1/jobs", "tok", `{"provider":"openai","kind":"batch","id":"`+id+`"}`); code != 201 {
			t.Fatalf("track: %d %s", code, body)
		}
	}
	steps := []struct {
		name, method, path, token string
		code                      int
		contains                  string
	}{
		{"no token", "DELETE", "/v1/jobs/openai/batch_1", "", 401, "bearer token"},
		{"bad purge", "DELETE", "/v1/jobs/openai/batch_1?purge=yes", "tok", 400, `purge: \"yes\" is not true or false`},
		{"unknown job", "DELETE", "/v1/jobs/openai/batch_9", "tok", 404, "job not found"},
		{"untrack", "DELETE", "/v1/jobs/openai/batch_1", "tok", 204, ""},
		{"untracked job readable", "GET", "/v1/jobs/openai/batch_1", "tok", 200, `"untracked_at":`},
		{"untrack again", "DELETE", "/v1/jobs/openai/batch_1?purge=false", "tok", 204, ""},
		{"resolve untracked", "POST", "/v1/jobs/openai/batch_1/resolve", "tok", 409, `"error":"job is untracked"`},
		{"purge", "DELETE", "/v1/jobs/openai/batch_2?purge=true", "tok", 204, ""},
		{"purged job gone", "GET", "/v1/jobs/openai/batch_2", "tok", 404, "job not found"},
	}
	for _, s := range steps {
		body := ""
		if s.method == "POST" {
			body = `{"status":"failed"}`
		}
		code, resp := do(t, s.method, srv.URL+s.path, s.token, body)
		if code != s.code || !strings.Contains(resp, s.contains) {
			t.Errorf("%s: got %d %s, want %d containing %q", s.name, code, resp, s.code, s.contains)
		}
	}
}

// GET /v1/jobs?q= lists the jobs whose id holds q, ignoring case.
func TestListByIDSubstring(t *testing.T) {
	t.Parallel()
	srv, _ := setup(t, "")
	for _, id := range []string{"batch_ABC", "batch_xyz", "ft_abc"} {
		if code, body := do(t, "POST", srv.URL+"/v1/jobs", "", `{"provider":"openai","kind":"batch","id":"`+id+`"}`); code != 201 {
			t.Fatalf("track: %d %s", code, body)
		}
	}
	code, body := do(t, "GET", srv.URL+"/v1/jobs?q=aBc&limit=10", "", "")
	var page tracker.Page
	if err := json.Unmarshal([]byte(body), &page); err != nil || code != 200 {
		t.Fatalf("GET /v1/jobs?q=: %d %s", code, body)
	}
	if len(page.Jobs) != 2 || page.Jobs[0].ExternalID != "ft_abc" || page.Jobs[1].ExternalID != "batch_ABC" {
		t.Errorf("q=aBc listed %s, want ft_abc and batch_ABC", body)
	}
	if code, body := do(t, "GET", srv.URL+"/v1/jobs?q="+strings.Repeat("a", 300), "", ""); code != 400 || !strings.Contains(body, "q: ") {
		t.Errorf("q of 300 bytes: %d %s, want 400 naming q", code, body)
	}
}

// The Client resolves and untracks as the Tracker does, with the same
// errors.
func TestClientResolvesAndUntracks(t *testing.T) {
	t.Parallel()
	srv, _ := setup(t, "tok")
	ctx := context.Background()
	c := tracker.NewClient(srv.URL, tracker.WithToken("tok"))
	for _, id := range []string{"batch_1", "batch_2"} {
		if _, _, err := c.Track(ctx, tracker.TrackRequest{Provider: "openai", Kind: tracker.KindBatch, ExternalID: id}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tracker.NewClient("http://127.0.0.1:1").Resolve(ctx, "openai", "batch_1", tracker.StatusRunning, ""); !errors.Is(err, tracker.ErrNotTerminal) {
		t.Errorf("Resolve(running) = %v, want ErrNotTerminal before any request", err)
	}
	job, err := c.Resolve(ctx, "openai", "batch_1", tracker.StatusExpired, "expired upstream")
	if err != nil || job.Status != tracker.StatusExpired || job.ResolvedBy != tracker.SourceAPI || len(job.History) != 1 {
		t.Errorf("Resolve = %s by %s with %d events, %v; want expired by api with its history", job.Status, job.ResolvedBy, len(job.History), err)
	}
	if _, err := c.Resolve(ctx, "openai", "batch_1", tracker.StatusFailed, ""); !errors.Is(err, tracker.ErrJobEnded) {
		t.Errorf("Resolve(ended) = %v, want ErrJobEnded", err)
	}
	if err := c.Untrack(ctx, "openai", "batch_2", false); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Resolve(ctx, "openai", "batch_2", tracker.StatusFailed, ""); !errors.Is(err, tracker.ErrJobUntracked) {
		t.Errorf("Resolve(untracked) = %v, want ErrJobUntracked", err)
	}
	if err := c.Untrack(ctx, "openai", "batch_2", true); err != nil {
		t.Fatal(err)
	}
	if err := c.Untrack(ctx, "openai", "batch_2", true); !errors.Is(err, tracker.ErrNotFound) {
		t.Errorf("Untrack(purged) = %v, want ErrNotFound", err)
	}
}
