// Command hcvs compares the CPU cost of HTTP health checks in `lvsd run`
// and in keepalived's checker (its healthcheck child process, HTTP_GET),
// and renders the "Health checks: lvsd and keepalived" section of
// BENCHMARKS.md.
//
// keepalived's checker programs IPVS and exits where the kernel has none,
// so the work happens in the project's lab VM: the command runs the
// host-side test TestBenchHealthChecksVS of ./integration (build tag
// hcbench), which boots the VM once per run with keepalived in it and runs
// the vmtests benchmark there. In one boot both checkers run at the same
// time, each checking its own set of N HTTP servers (listeners on loopback
// addresses, in a process of their own) at the same interval, and each
// checker's process CPU time is read from /proc over the same windows: the
// emulated machine's speed varies with the shared host's load, and only a
// common window gives both the same conditions.
//
// Run it as root from the module:
//
//	go run ./bench/hcvs -reps 3 -runs 2
//
// It prints the section; -write FILE also puts it into FILE.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/lvsd/lvsd/bench/benchresult"
	"github.com/lvsd/lvsd/bench/internal/benchrun"
)

func main() {
	var o options
	flag.IntVar(&o.Servers, "servers", 100, "real servers per checker (keep both well below the emulated CPUs' limit)")
	flag.DurationVar(&o.Interval, "interval", 2*time.Second, "check interval (keepalived's delay_loop), above the timeout")
	flag.DurationVar(&o.Timeout, "timeout", time.Second, "check timeout (keepalived's connect_timeout)")
	flag.DurationVar(&o.Duration, "duration", 30*time.Second, "measurement window of each checker")
	flag.DurationVar(&o.Warmup, "warmup", 5*time.Second, "time between every server healthy and the window")
	flag.IntVar(&o.Reps, "reps", 1, "measurement windows per boot, one after the other")
	flag.IntVar(&o.Runs, "runs", 1, "VM boots, each a complete comparison")
	flag.StringVar(&o.Write, "write", "", "file whose section is rewritten (e.g. BENCHMARKS.md, relative to the module root); empty to only print it")
	flag.BoolVar(&o.Verbose, "v", false, "relay the test's and the VM's output")
	flag.Parse()
	if err := benchmark(o); err != nil {
		fmt.Fprintln(os.Stderr, "hcvs:", err)
		os.Exit(1)
	}
}

type options struct {
	Servers                             int
	Interval, Timeout, Duration, Warmup time.Duration
	Reps, Runs                          int
	Write                               string
	Verbose                             bool
}

// command is the command line that reproduces a run with these options,
// as the section quotes it.
func (o options) command() string {
	s := "go run ./bench/hcvs"
	if o.Servers != 100 {
		s += fmt.Sprintf(" -servers %d", o.Servers)
	}
	if o.Interval != 2*time.Second {
		s += " -interval " + o.Interval.String()
	}
	if o.Duration != 30*time.Second {
		s += " -duration " + o.Duration.String()
	}
	if o.Timeout != time.Second {
		s += " -timeout " + o.Timeout.String()
	}
	if o.Warmup != 5*time.Second {
		s += " -warmup " + o.Warmup.String()
	}
	if o.Reps != 1 {
		s += fmt.Sprintf(" -reps %d", o.Reps)
	}
	if o.Runs != 1 {
		s += fmt.Sprintf(" -runs %d", o.Runs)
	}
	return s
}

func benchmark(o options) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("needs root: the lab VM does")
	}
	if o.Servers < 1 || o.Reps < 1 || o.Runs < 1 || o.Interval <= 0 || o.Timeout <= 0 || o.Duration <= 0 || o.Warmup < 0 {
		return fmt.Errorf("-servers, -reps, -runs, -interval, -timeout and -duration must be positive")
	}
	if o.Timeout >= o.Interval {
		return fmt.Errorf("-timeout %v must be below -interval %v, as lvsd needs", o.Timeout, o.Interval)
	}
	root, err := benchrun.ModuleRoot()
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "hcvs")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	var boots []boot
	for i := 0; i < o.Runs; i++ {
		load := benchresult.LoadAverage()
		// Before the boot, whose go test builds the working tree.
		rev := revision(root)
		out := filepath.Join(tmp, fmt.Sprintf("run%d.json", i))
		fmt.Fprintf(os.Stderr, "hcvs: run %d of %d (load average %s)\n", i+1, o.Runs, load)
		start := time.Now()
		if err := runVM(root, out, o); err != nil {
			return fmt.Errorf("run %d: %w", i+1, err)
		}
		var r boot
		if err := benchrun.ReadResult(out, &r.Result); err != nil {
			return fmt.Errorf("run %d: %w", i+1, err)
		}
		if err := validate(r.Result); err != nil {
			return fmt.Errorf("run %d: %w", i+1, err)
		}
		r.LoadBefore, r.LoadAfter, r.Wall, r.Rev = load, benchresult.LoadAverage(), time.Since(start), rev
		boots = append(boots, r)
		ka, lv := figuresOf(r.Result, keepalived), figuresOf(r.Result, lvsd)
		fmt.Fprintf(os.Stderr, "hcvs: run %d: keepalived %.0f µs/check, lvsd %.0f µs/check, ratio %.2f, %s\n",
			i+1, ka.CPUPerCheckUS, lv.CPUPerCheckUS, ratio(ka.CPUPerCheckUS, lv.CPUPerCheckUS), r.Wall.Round(time.Second))
	}

	sec := section(boots, machine{CPUs: runtime.NumCPU(), Date: time.Now().UTC()}, o.command())
	return benchrun.Publish(root, o.Write, "hcvs", sec)
}

// runVM runs the host-side benchmark test, which boots the VM.
func runVM(root, out string, o options) error {
	return benchrun.GoTest(root, o.Verbose, "TestBenchHealthChecksVS", "-tags", "hcbench", "-count=1", "-timeout=60m", "-v",
		"-run", "^TestBenchHealthChecksVS$", "./integration/",
		"-args",
		"-hc-bench.out="+out,
		fmt.Sprintf("-hc-bench.servers=%d", o.Servers),
		"-hc-bench.interval="+o.Interval.String(),
		"-hc-bench.timeout="+o.Timeout.String(),
		"-hc-bench.duration="+o.Duration.String(),
		"-hc-bench.warmup="+o.Warmup.String(),
		fmt.Sprintf("-hc-bench.reps=%d", o.Reps),
	)
}

// revision names the lvsd code being measured: the commit, and whether
// the working tree's Go files differ from it (the figures are those of
// the working tree).
func revision(root string) string {
	out, err := exec.Command("git", "-C", root, "log", "-1", "--format=%h").Output()
	if err != nil {
		return "unknown"
	}
	rev := strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "-C", root, "status", "--porcelain", "--", "*.go").Output(); err == nil && len(bytes.TrimSpace(st)) > 0 {
		rev += " + uncommitted changes"
	}
	return rev
}
