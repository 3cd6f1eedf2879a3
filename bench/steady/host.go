package main

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/lvsd/lvsd/bench/internal/benchrun"
)

// runVM runs the host-side test TestSteadyState, which boots the lab VM
// and runs this command's guest side in it (lvsd's real servers on the
// host, across the VM's network card, with remote), with the full load and the
// test's bounds switched off (this command reports against the targets
// instead), and returns the guest's report.
func runVM(root, tmp string, l load, remote, profile, verbose bool) (guestReport, error) {
	out := filepath.Join(tmp, "guest.json")
	err := benchrun.GoTest(root, verbose, "TestSteadyState", "-count=1", "-timeout=30m", "-v",
		"-run", "^TestSteadyState$", "./integration/",
		"-args",
		"-steady.out="+out,
		fmt.Sprintf("-steady.profile=%t", profile),
		fmt.Sprintf("-steady.remote=%t", remote),
		fmt.Sprintf("-steady.services=%d", l.Services),
		fmt.Sprintf("-steady.dests=%d", l.Dests),
		"-steady.interval="+l.Interval.String(),
		"-steady.timeout="+l.Timeout.String(),
		"-steady.warmup="+l.Warmup.String(),
		"-steady.duration="+l.Duration.String(),
		"-steady.max-cpu=0", "-steady.max-rss=0",
	)
	if err != nil {
		return guestReport{}, err
	}
	var g guestReport
	if err := benchrun.ReadResult(out, &g); err != nil {
		return guestReport{}, fmt.Errorf("the guest's result: %w", err)
	}
	return g, nil
}

// runHost measures the check load alone natively: bench/healthload with
// the same jobs, measured from outside as lvsd is in the VM.
func runHost(ctx context.Context, root, tmp string, l load) (measurement, error) {
	bin := filepath.Join(tmp, "healthload")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./bench/healthload")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return measurement{}, fmt.Errorf("go build ./bench/healthload: %w\n%s", err, out)
	}
	// Port 0: each listener takes a free port, so the run cannot collide
	// with anything else listening on loopback.
	return measureHealthload(ctx, bin, l, netip.MustParseAddr("127.77.0.1"), 0)
}

// report is one run of the command.
type report struct {
	Load                  load
	Started               time.Time
	HostCPUs              int
	LoadBefore, LoadAfter string
	Command               string
	// Guest has lvsd with its real servers on the guest's loopback,
	// Remote with them across the VM's network card.
	Guest, Remote *guestReport
	Host          *measurement
}
