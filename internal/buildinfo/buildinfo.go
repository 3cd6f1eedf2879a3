// Package buildinfo holds the version stamped into the binary at link time.
package buildinfo

import (
	"runtime"
	"runtime/debug"
)

// Set with -ldflags "-X github.com/lvsd/lvsd/internal/buildinfo.Version=v0.1.0 -X ...Commit=abc123".
var (
	Version = "dev"
	Commit  = ""
)

// String is the one-line version report of `lvsd version`.
func String() string {
	commit := Commit
	if commit == "" {
		commit = vcsRevision()
	}
	if commit == "" {
		commit = "unknown"
	}
	return "lvsd " + Version + " commit " + commit + " " + runtime.Version()
}

func vcsRevision() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" {
			return s.Value
		}
	}
	return ""
}
