package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"runtime/debug"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/jobwatch/jobwatch/storage"
	"github.com/jobwatch/jobwatch/storage/storagetest"
	"github.com/jobwatch/jobwatch/tracker"
	"github.com/jobwatch/jobwatch/tracker/httpapi"
)

// countingAPI serves the jobs API over a fresh SQLite database and counts
// the requests it gets.
func countingAPI(t *testing.T) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	api := httpapi.New(httpapi.Options{
		Tracker:      tracker.New(storagetest.Open(t, storage.DriverSQLite), tracker.Options{}),
		MaxBodyBytes: 1 << 20,
		Logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
		Registry:     prometheus.NewRegistry(),
	})
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		api.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func runCLI(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// --help and help CMD exit 0 on every command, and print its usage line
// with its positional arguments.
func TestHelpOnEveryCommand(t *testing.T) {
	t.Parallel()
	for _, c := range commands {
		code, _, help := runCLI(c.name, "--help")
		if code != 0 || !strings.HasPrefix(help, "usage: jobwatch "+c.name) {
			t.Errorf("jobwatch %s --help: exit %d\n%s", c.name, code, help)
		}
		code, _, help2 := runCLI("help", c.name)
		if code != 0 || help2 != help {
			t.Errorf("jobwatch help %s: exit %d\n%s\nwant what --help prints:\n%s", c.name, code, help2, help)
		}
	}
	for _, args := range [][]string{{"help", "alerts", "retry"}, {"help", "jobs", "resolve"}, {"jobs", "untrack", "--help"}, {"help", "deliveries", "list"}, {"alerts", "list", "-h"}, {"help", "bench", "sweep"}, {"bench", "ingest", "--help"}, {"help"}, {"--help"}} {
		if code, _, help := runCLI(args...); code != 0 || !strings.HasPrefix(help, "usage: jobwatch") {
			t.Errorf("jobwatch %s: exit %d\n%s", strings.Join(args, " "), code, help)
		}
	}
	for name, positional := range map[string]string{"track": " ID ", "poll": " ID ", "alerts": "alerts retry ID ", "bench": "ingest|sweep", "jobs": "jobs show PROVIDER ID "} {
		if _, _, help := runCLI("help", name); !strings.Contains(strings.SplitN(help, "\n\n", 2)[0], positional) {
			t.Errorf("jobwatch help %s: usage line lacks %q:\n%s", name, positional, help)
		}
	}
	if code, _, out := runCLI("help", "frobnicate"); code != 2 || !strings.Contains(out, `unknown command "frobnicate"`) {
		t.Errorf("jobwatch help frobnicate: exit %d\n%s", code, out)
	}
	if code, _, out := runCLI("track", "--frobnicate"); code != 2 || strings.Count(out, "frobnicate") != 1 || !strings.Contains(out, "usage: jobwatch track") {
		t.Errorf("jobwatch track --frobnicate: exit %d\n%s", code, out)
	}
}

func TestVersion(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		info debug.BuildInfo
		want string
	}{
		{debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.0"}}, "jobwatch v1.2.0 (go1.26.8)"},
		{debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
			{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: "a1a1f19c0ffee"}, {Key: "vcs.time", Value: "2026-12-03T10:00:00Z"}, {Key: "vcs.modified", Value: "true"},
		}}, "jobwatch (devel) (revision a1a1f19c0ffee, modified, 2026-12-03T10:00:00Z; go1.26.8)"},
		{debug.BuildInfo{}, "jobwatch (devel)"},
	} {
		if got := versionLine(&tt.info); got != tt.want {
			t.Errorf("versionLine(%+v) = %q, want %q", tt.info, got, tt.want)
		}
	}
	// The built command prints the module version its build recorded.
	out, err := exec.Command(binary, "version").Output()
	if err != nil {
		t.Fatalf("jobwatch version: %v", err)
	}
	info, err := exec.Command("go", "version", "-m", binary).Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(info), "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && f[0] == "mod" && !strings.HasPrefix(string(out), "jobwatch "+f[2]+" ") {
			t.Errorf("jobwatch version = %q; its build recorded module version %s", out, f[2])
		}
		if len(f) == 2 && f[0] == "build" && strings.HasPrefix(f[1], "vcs.revision=") && !strings.Contains(string(out), strings.TrimPrefix(f[1], "vcs.revision=")) {
			t.Errorf("jobwatch version = %q; its build recorded %s", out, f[1])
		}
	}
}

// Flags are checked before any request, and each mistake names its flag.
func TestFlagsCheckedBeforeAnyRequest(t *testing.T) {
	t.Parallel()
	srv, requests := countingAPI(t)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"track", "--kind", "batch", "batch_1"}, "--provider is required"},
		{[]string{"track", "--provider", "openai", "batch_1"}, "--kind is required"},
		{[]string{"track", "--provider", "Open AI", "--kind", "batch", "batch_1"}, "--provider: "},
		{[]string{"track", "--provider", "openai", "--kind", "Batch!", "batch_1"}, "--kind: "},
		{[]string{"track", "--provider", "openai", "--kind", "batch", "a/b"}, "ID: "},
		{[]string{"track", "--provider", "openai", "--kind", "eval_run", "evalrun_1", "--parent-id", "eval 1"}, "--parent-id: must be printable"},
		{[]string{"track", "--provider", "openai", "--kind", "batch", "batch_1", "--metadata", "{x"}, "--metadata: not valid JSON"},
		{[]string{"track", "--provider", "openai", "--kind", "batch", "batch_1", "--metadata", `{"n":1e1000000}`}, "--metadata: number 1e1000000"},
		{[]string{"track", "--provider", "openai", "--kind", "batch", "batch_1", "--label", "team=a\x00"}, "--label: "},
		{[]string{"track", "--provider", "openai", "--kind", "batch", "batch_1", "--server", "ftp://example"}, `--server: "ftp://example" is not`},
		{[]string{"poll", "batch_1"}, "--provider is required"},
		{[]string{"poll", "--provider", "openai", "a b"}, "ID: "},
		{[]string{"alerts", "list", "--state", "bogus"}, `--state: "bogus"`},
		{[]string{"alerts", "list", "--limit", "0"}, "--limit: must be 1 to 1000"},
		{[]string{"alerts", "retry", "42"}, `ID: "42" is not an alert id`},
		{[]string{"usage", "--window", "week"}, `--window: "week"`},
		{[]string{"jobs", "list", "--status", "bogus"}, `--status: unknown status "bogus"`},
		{[]string{"jobs", "list", "--limit", "0"}, "--limit: must be 1 to 1000"},
		{[]string{"jobs", "list", "--cursor", "nope"}, "--cursor: not a cursor"},
		{[]string{"jobs", "show", "openai"}, "usage: jobwatch jobs"},
		{[]string{"jobs", "show", "Open AI", "batch_1"}, "PROVIDER: "},
		{[]string{"jobs", "show", "openai", "a/b"}, "ID: "},
		{[]string{"jobs", "resolve", "openai", "batch_1", "--status", "running", "--reason", "x"}, `--status: "running" is not a terminal status`},
		{[]string{"jobs", "resolve", "openai", "batch_1", "--status", "failed"}, "--reason is required"},
		{[]string{"jobs", "resolve", "openai", "batch_1", "--status", "failed", "--reason", "a\x00"}, "--reason: "},
		{[]string{"jobs", "frob"}, "usage: jobwatch jobs"},
		{[]string{"deliveries", "list", "--limit", "2000"}, "--limit: must be 1 to 1000"},
		{[]string{"deliveries"}, "usage: jobwatch deliveries"},
	} {
		args := tt.args
		if !slices.Contains(args, "--server") {
			args = append(args, "--server", srv.URL)
		}
		code, _, stderr := runCLI(args...)
		if code != 2 || !strings.Contains(stderr, tt.want) {
			t.Errorf("jobwatch %q: exit %d\n%s\nwant exit 2 with %q", tt.args, code, stderr, tt.want)
		}
	}
	if n := requests.Load(); n != 0 {
		t.Errorf("bad command lines made %d requests, want none", n)
	}
	// A --server without a scheme is http://.
	host := strings.TrimPrefix(srv.URL, "http://")
	if code, stdout, stderr := runCLI("track", "--provider", "openai", "--kind", "batch", "batch_1", "--metadata", `{"n":1}`, "--server", host); code != 0 || !strings.Contains(stdout, "tracked openai batch job batch_1") {
		t.Errorf("jobwatch track --server %s: exit %d\n%s%s", host, code, stdout, stderr)
	}
	if code, stdout, stderr := runCLI("track", "--provider", "openai", "--kind", "batch", "batch_1", "--server", host+"/"); code != 0 || !strings.Contains(stdout, "already tracked") {
		t.Errorf("jobwatch track --server %s/: exit %d\n%s%s", host, code, stdout, stderr)
	}
	if n := requests.Load(); n != 2 {
		t.Errorf("%d requests, want 2", n)
	}
}
