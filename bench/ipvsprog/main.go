// Command ipvsprog benchmarks how fast lvsd programs a large IPVS table
// into a real kernel, against ipvsadm-restore (ipvsadm -R) of the same
// rules, and writes the "IPVS programming" section of BENCHMARKS.md.
//
// The host kernel may lack IPVS, so the work happens in the project's lab
// VM: the command runs the host-side test TestBenchIPVSProgramming of
// ./integration, which boots the VM once per run and runs the vmtests
// benchmark inside it. Each boot times, into a freshly flushed table, the
// cold programming of the table by lvsd's reconciler and by ipvsadm -R,
// alternating which goes first, then single weight changes by each.
//
// Run it as root from the module:
//
//	go run ./bench/ipvsprog
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/lvsd/lvsd/bench/benchresult"
	"github.com/lvsd/lvsd/bench/internal/benchrun"
)

func main() {
	var o options
	flag.IntVar(&o.Runs, "runs", 2, "VM boots, each a complete benchmark (the box is shared: timings vary)")
	flag.IntVar(&o.Reps, "reps", 3, "alternating repetitions of each cold programming per boot")
	flag.IntVar(&o.Services, "services", 5000, "virtual services in the table")
	flag.IntVar(&o.Dests, "dests", 4, "real servers per virtual service")
	flag.StringVar(&o.Out, "benchmarks", "BENCHMARKS.md", "file whose IPVS programming section is written, relative to the module root; empty to write nothing")
	flag.BoolVar(&o.Verbose, "v", false, "relay the test's and the VM's output")
	flag.Parse()
	if err := benchmark(o); err != nil {
		fmt.Fprintln(os.Stderr, "ipvsprog:", err)
		os.Exit(1)
	}
}

type options struct {
	Runs, Reps, Services, Dests int
	Out                         string
	Verbose                     bool
}

func benchmark(o options) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("needs root: the lab VM and its namespaces do")
	}
	if o.Runs < 1 || o.Reps < 1 {
		return fmt.Errorf("-runs and -reps must be at least 1")
	}
	root, err := benchrun.ModuleRoot()
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "ipvsprog")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	var runs []benchRun
	for i := 0; i < o.Runs; i++ {
		load := benchresult.LoadAverage()
		out := filepath.Join(tmp, fmt.Sprintf("run%d.json", i))
		fmt.Fprintf(os.Stderr, "ipvsprog: run %d of %d (load average %s)\n", i+1, o.Runs, load)
		start := time.Now()
		if err := runVM(root, out, o); err != nil {
			return fmt.Errorf("run %d: %w", i+1, err)
		}
		var r benchRun
		if err := benchrun.ReadResult(out, &r.Result); err != nil {
			return fmt.Errorf("run %d: %w", i+1, err)
		}
		r.LoadBefore, r.LoadAfter, r.Wall = load, benchresult.LoadAverage(), time.Since(start)
		runs = append(runs, r)
		fmt.Fprintf(os.Stderr, "ipvsprog: run %d: lvsd %.0f ms, ipvsadm -R %.0f ms (medians), %s\n",
			i+1, benchrun.Median(r.Result.LVSDms), benchrun.Median(r.Result.IPVSAdmms), r.Wall.Round(time.Second))
	}

	sec := section(runs, machine{CPUs: runtime.NumCPU(), Date: time.Now().UTC()})
	return benchrun.Publish(root, o.Out, "ipvsprog", sec)
}

// runVM runs the host-side benchmark test, which boots the VM.
func runVM(root, out string, o options) error {
	return benchrun.GoTest(root, o.Verbose, "TestBenchIPVSProgramming", "-tags", "ipvsbench", "-count=1", "-timeout=30m", "-v",
		"-run", "^TestBenchIPVSProgramming$", "./integration/",
		"-args",
		"-ipvs-bench.out="+out,
		fmt.Sprintf("-ipvs-bench.reps=%d", o.Reps),
		fmt.Sprintf("-ipvs-bench.services=%d", o.Services),
		fmt.Sprintf("-ipvs-bench.dests=%d", o.Dests),
	)
}
