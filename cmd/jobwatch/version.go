package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"strings"
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
	var rev, modified, at string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value
		case "vcs.time":
			at = s.Value
		}
	}
	var about []string
	if rev != "" {
		r := "revision " + rev
		if modified == "true" {
			r += ", modified"
		}
		if at != "" {
			r += ", " + at
		}
		about = append(about, r)
	}
	if info.GoVersion != "" {
		about = append(about, info.GoVersion)
	}
	line := "jobwatch " + cmp.Or(info.Main.Version, "(devel)")
	if len(about) > 0 {
		line += " (" + strings.Join(about, "; ") + ")"
	}
	return line
}
