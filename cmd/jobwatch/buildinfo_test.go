package main

import (
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"

	"github.com/jobwatch/jobwatch/storage"
	"github.com/jobwatch/jobwatch/storage/storagetest"
)

// The daemon's jobwatch_build_info gauge carries the version, revision and
// Go version its build recorded, as jobwatch version says them.
func TestBuildInfoMetric(t *testing.T) {
	t.Parallel()
	path, url := writeConfig(t, storagetest.Config(t, storage.DriverSQLite), "")
	startDaemon(t, path, url)
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()

	info, err := exec.Command("go", "version", "-m", binary).Output()
	if err != nil {
		t.Fatal(err)
	}
	var goVersion, version, revision string
	for i, line := range strings.Split(string(info), "\n") {
		f := strings.Fields(line)
		switch {
		case i == 0 && len(f) == 2:
			goVersion = f[1] // "path: go1.26.0"
		case len(f) >= 3 && f[0] == "mod":
			version = f[2]
		case len(f) == 2 && f[0] == "build" && strings.HasPrefix(f[1], "vcs.revision="):
			revision = strings.TrimPrefix(f[1], "vcs.revision=")
		}
	}
	if goVersion == "" || version == "" {
		t.Fatalf("go version -m says nothing of the build:\n%s", info)
	}
	want := fmt.Sprintf(`jobwatch_build_info{go_version=%q,revision=%q,version=%q} 1`, goVersion, revision, version)
	if !strings.Contains(string(body), want+"\n") {
		t.Errorf("/metrics lacks %s:\n%s", want, grepLines(string(body), "jobwatch_build_info"))
	}
}

// grepLines are the lines of s holding sub.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
