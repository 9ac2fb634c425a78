package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/storage"
	"github.com/jobwatch/jobwatch/storage/storagetest"
	"github.com/jobwatch/jobwatch/tracker"
)

// columnsAligned checks that every row of a table starts a cell where the
// header starts each of columns (none of them the first).
func columnsAligned(t *testing.T, table string, columns ...string) {
	t.Helper()
	lines := strings.Split(strings.TrimRight(table, "\n"), "\n")
	for _, col := range columns {
		// A column other than the first stands between runs of two spaces.
		at := strings.Index(lines[0]+"  ", "  "+col+"  ") + 2
		if at < 2 {
			t.Fatalf("table header %q lacks %s", lines[0], col)
		}
		for _, l := range lines[1:] {
			if len(l) <= at || l[at-1] != ' ' || l[at] == ' ' {
				t.Errorf("row %q has no cell starting under %s (offset %d):\n%s", l, col, at, table)
			}
		}
	}
}

// The jobs and deliveries commands list, show, resolve and untrack jobs
// against a running daemon (--server) and over its database (--config)
// alike.
func TestJobsCommands(t *testing.T) {
	t.Parallel()
	path, url := writeConfig(t, storagetest.Config(t, storage.DriverSQLite), alertConfig(`
[[notifiers]]
name = "log"
type = "log"
[[routes]]
events = ["job.*"]
notifiers = ["log"]
`))
	startDaemon(t, path, url)
	for _, id := range []string{"batch_Run_1", "batch_a", "batch_b"} {
		if code, _, stderr := runCLI("track", "--provider", "mythicdot", "--kind", "batch", id, "--label", "team=search", "--server", url); code != 0 {
			t.Fatalf("track %s: exit %d: %s", id, code, stderr)
		}
	}
	postMythic(t, url, []byte(fmt.Sprintf(`{"id":"evt_r1","type":"batch.in_progress","created":%d,"data":{"object":{"id":"batch_Run_1","status":"in_progress"}}}`, time.Now().Unix())))

	for _, where := range [][]string{{"--server", url}, {"--config", path}} {
		code, out, stderr := runCLI(append([]string{"jobs", "list"}, where...)...)
		if code != 0 || strings.Count(out, "\n") != 4 || !strings.Contains(out, "batch_Run_1") || !strings.Contains(out, "team=search") {
			t.Fatalf("jobs list %s: exit %d\n%s%s", where[0], code, out, stderr)
		}
		columnsAligned(t, out, "KIND", "ID", "STATUS", "PROVIDER STATUS", "UPDATED", "RESOLVED BY", "LABELS")
		if first := strings.Split(out, "\n")[1]; !strings.Contains(first, "batch_b") {
			t.Errorf("jobs list %s: first row %q, want the newest job, batch_b", where[0], first)
		}
	}
	code, out, stderr := runCLI("jobs", "list", "--q", "run", "--status", "running", "--json", "--server", url)
	var page tracker.Page
	if err := json.Unmarshal([]byte(out), &page); code != 0 || err != nil || len(page.Jobs) != 1 || page.Jobs[0].ExternalID != "batch_Run_1" {
		t.Errorf("jobs list --q run --json: exit %d, %v\n%s%s", code, err, out, stderr)
	}
	code, out, stderr = runCLI("jobs", "list", "--limit", "2", "--server", url)
	if code != 0 || strings.Count(out, "\n") != 3 || !strings.Contains(stderr, "more jobs: --cursor ") {
		t.Errorf("jobs list --limit 2: exit %d\n%s%s", code, out, stderr)
	}

	code, out, stderr = runCLI("jobs", "show", "mythicdot", "batch_Run_1", "--server", url)
	if code != 0 || !strings.Contains(out, "status:") || !strings.Contains(out, "in_progress") || !strings.Contains(out, "batch.in_progress") || !strings.Contains(out, "evt_r1") {
		t.Errorf("jobs show: exit %d\n%s%s", code, out, stderr)
	}
	columnsAligned(t, out[strings.Index(out, "RECORDED"):], "SOURCE", "TYPE", "STATUS", "EFFECT", "EVENT ID")

	code, out, stderr = runCLI("jobs", "resolve", "mythicdot", "batch_Run_1", "--status", "failed", "--reason", "stuck in finalizing", "--server", url)
	if code != 0 || out != "resolved mythicdot batch job batch_Run_1: failed\n" {
		t.Errorf("jobs resolve: exit %d\n%s%s", code, out, stderr)
	}
	code, _, stderr = runCLI("jobs", "resolve", "mythicdot", "batch_Run_1", "--status", "cancelled", "--reason", "again", "--config", path)
	if code != 1 || !strings.Contains(stderr, "job has already ended") {
		t.Errorf("jobs resolve of an ended job: exit %d\n%s", code, stderr)
	}
	code, out, stderr = runCLI("jobs", "show", "mythicdot", "batch_Run_1", "--json", "--config", path)
	var job tracker.Job
	if err := json.Unmarshal([]byte(out), &job); code != 0 || err != nil || job.ResolvedBy != tracker.SourceAPI ||
		!strings.Contains(string(job.History[len(job.History)-1].Payload), "stuck in finalizing") {
		t.Errorf("jobs show --json after resolve: exit %d, %v\n%s%s", code, err, out, stderr)
	}
	if code, out, _ = runCLI("jobs", "show", "mythicdot", "batch_Run_1", "--server", url); !strings.Contains(out, " by api: stuck in finalizing\n") {
		t.Errorf("jobs show after resolve: exit %d\n%s; want who resolved it and why", code, out)
	}
	code, out, _ = runCLI("alerts", "list", "--server", url)
	if code != 0 || !strings.Contains(out, "mythicdot batch batch_Run_1 failed") {
		t.Errorf("alerts list after resolve: exit %d\n%s; want the job.failed alert", code, out)
	}

	if code, out, stderr = runCLI("jobs", "untrack", "mythicdot", "batch_a", "--config", path); code != 0 || !strings.Contains(out, "untracked mythicdot job batch_a") {
		t.Errorf("jobs untrack: exit %d\n%s%s", code, out, stderr)
	}
	if code, out, _ = runCLI("jobs", "list", "--q", "batch_a", "--server", url); !strings.Contains(out, "pending (untracked)") {
		t.Errorf("jobs list of an untracked job: exit %d\n%s", code, out)
	}
	if code, out, stderr = runCLI("jobs", "untrack", "mythicdot", "batch_b", "--purge", "--server", url); code != 0 || !strings.Contains(out, "purged mythicdot job batch_b") {
		t.Errorf("jobs untrack --purge: exit %d\n%s%s", code, out, stderr)
	}
	if code, _, stderr = runCLI("jobs", "show", "mythicdot", "batch_b", "--server", url); code != 1 || !strings.Contains(stderr, "404") {
		t.Errorf("jobs show of a purged job: exit %d\n%s", code, stderr)
	}

	for _, where := range [][]string{{"--server", url}, {"--config", path}} {
		code, out, stderr := runCLI(append([]string{"deliveries", "list"}, where...)...)
		if code != 0 || !strings.Contains(out, "evt_r1") || !strings.Contains(out, "accepted") {
			t.Errorf("deliveries list %s: exit %d\n%s%s", where[0], code, out, stderr)
		}
		columnsAligned(t, out, "PROVIDER", "OUTCOME", "CODE", "EVENT TYPE", "EVENT ID", "JOB", "REASON")
	}
	code, out, stderr = runCLI("deliveries", "list", "--outcome", "accepted", "--json", "--server", url)
	var ds struct{ Deliveries []tracker.Delivery }
	if err := json.Unmarshal([]byte(out), &ds); code != 0 || err != nil || len(ds.Deliveries) != 1 || ds.Deliveries[0].JobID != "batch_Run_1" {
		t.Errorf("deliveries list --json: exit %d, %v\n%s%s", code, err, out, stderr)
	}
}
