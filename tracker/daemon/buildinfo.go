package daemon

import (
	"cmp"
	"runtime"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
)

// Build is what a binary recorded of its build (runtime/debug.BuildInfo).
type Build struct {
	// Version is the main module's version: "v1.2.0" for an installed
	// release, a pseudo-version or "(devel)" for a build from a checkout.
	Version string
	// Revision is the VCS revision built, Time its commit time (RFC 3339),
	// and Modified whether the tree held changes; empty and false when the
	// build did not record them.
	Revision, Time string
	Modified       bool
	// GoVersion is the Go release it was built with ("go1.26.0").
	GoVersion string
}

// BuildOf reads a binary's build information.
func BuildOf(info *debug.BuildInfo) Build {
	b := Build{Version: cmp.Or(info.Main.Version, "(devel)"), GoVersion: info.GoVersion}
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Revision = s.Value
		case "vcs.modified":
			b.Modified = s.Value == "true"
		case "vcs.time":
			b.Time = s.Value
		}
	}
	return b
}

// RunningBuild is the build of the running binary; its version is
// "unknown" when the binary carries no build information.
func RunningBuild() Build {
	if info, ok := debug.ReadBuildInfo(); ok {
		return BuildOf(info)
	}
	return Build{Version: "unknown", GoVersion: runtime.Version()}
}

// newBuildInfo is the jobwatch_build_info gauge: 1, labelled with the
// running build's version, VCS revision and Go version.
func newBuildInfo() prometheus.Collector {
	b := RunningBuild()
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "jobwatch_build_info",
		Help:        "Always 1; its labels say which build of jobwatch runs: version, VCS revision (empty when not recorded) and Go version.",
		ConstLabels: prometheus.Labels{"version": b.Version, "revision": b.Revision, "go_version": b.GoVersion},
	})
	g.Set(1)
	return g
}
