package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"strings"

	"github.com/jobwatch/jobwatch/tracker/daemon"
)

// runVersion prints the module version jobwatch was built at and, for a
// build from a checkout, the revision.
func runVersion(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("version", stderr)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return badUsage("takes no arguments")
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return errors.New("this binary carries no build information")
	}
	fmt.Fprintln(stdout, versionLine(info))
	return nil
}

// versionLine is "jobwatch v1.2.0 (go1.26.8)" for an installed release, and
// "jobwatch v0.0.0-… (revision 1a2b…, modified, 2026-12-03T10:00:00Z;
// go1.26.8)" for a build from a checkout, as far as the build recorded them.
func versionLine(info *debug.BuildInfo) string {
	b := daemon.BuildOf(info)
	var about []string
	if b.Revision != "" {
		r := "revision " + b.Revision
		if b.Modified {
			r += ", modified"
		}
		if b.Time != "" {
			r += ", " + b.Time
		}
		about = append(about, r)
	}
	if b.GoVersion != "" {
		about = append(about, b.GoVersion)
	}
	line := "jobwatch " + b.Version
	if len(about) > 0 {
		line += " (" + strings.Join(about, "; ") + ")"
	}
	return line
}
