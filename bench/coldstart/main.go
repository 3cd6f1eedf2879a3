// Command coldstart benchmarks what an operator waits for when a director
// starts: `lvsd run` from process start to the whole IPVS table in the
// kernel, against ipvsadm -R of the same rules, at several table sizes;
// it writes the "Cold start" section of BENCHMARKS.md.
//
// The work happens in the project's lab VM (the host kernel may lack
// IPVS): the command runs the host-side test TestBenchColdStart of
// ./integration, which boots the VM once and runs the vmtests benchmark
// inside it.
//
// Run it as root from the module:
//
//	go run ./bench/coldstart
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/lvsd/lvsd/bench/benchresult"
	"github.com/lvsd/lvsd/bench/internal/benchrun"
)

func main() {
	var o options
	flag.StringVar(&o.Sizes, "sizes", "2000,5000,20000", "numbers of services (of four real servers each), comma-separated")
	flag.IntVar(&o.Reps, "reps", 2, "alternating repetitions of each cold start")
	flag.StringVar(&o.Out, "benchmarks", "BENCHMARKS.md", "file whose Cold start section is written, relative to the module root; empty to write nothing")
	flag.BoolVar(&o.Verbose, "v", false, "relay the test's and the VM's output")
	flag.Parse()
	if err := benchmark(o); err != nil {
		fmt.Fprintln(os.Stderr, "coldstart:", err)
		os.Exit(1)
	}
}

type options struct {
	Sizes   string
	Reps    int
	Out     string
	Verbose bool
}

func benchmark(o options) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("needs root: the lab VM and its namespaces do")
	}
	root, err := benchrun.ModuleRoot()
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "coldstart")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	out := filepath.Join(tmp, "result.json")
	loadBefore := benchresult.LoadAverage()
	start := time.Now()
	if err := benchrun.GoTest(root, o.Verbose, "TestBenchColdStart", "-tags", "ipvsbench", "-count=1", "-timeout=70m", "-v",
		"-run", "^TestBenchColdStart$", "./integration/",
		"-args", "-cold-bench.out="+out, "-cold-bench.sizes="+o.Sizes, fmt.Sprintf("-cold-bench.reps=%d", o.Reps)); err != nil {
		return err
	}
	var r benchresult.ColdStart
	if err := benchrun.ReadResult(out, &r); err != nil {
		return err
	}
	sec := section(r, benchrun.Machine{LoadBefore: loadBefore, LoadAfter: benchresult.LoadAverage(), Wall: time.Since(start), CPUs: runtime.NumCPU(), Date: time.Now().UTC()})
	return benchrun.Publish(root, o.Out, "coldstart", sec)
}

// heading is the section of BENCHMARKS.md this command owns.
const heading = "## Cold start"

func secs(ms float64) string { return fmt.Sprintf("%.2f s", ms/1000) }

// section renders the Cold start section of BENCHMARKS.md.
func section(r benchresult.ColdStart, m benchrun.Machine) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n\n", heading)
	b.WriteString("What an operator waits for when a director starts: from `lvsd run`'s\n" +
		"process start to the whole table in the kernel, against `ipvsadm -R` of\n" +
		"the same rules.\n\n")
	b.WriteString("Command (root, from the module's root; it boots the lab VM once and\n" +
		"rewrites this section):\n\n    go run ./bench/coldstart\n\n")
	fmt.Fprintf(&b, "Method. In one VM boot (Debian's %s under qemu TCG, no KVM: every\n"+
		"guest instruction emulated, so ratios carry over, absolute times do not),\n"+
		"for each size a cluster file of N TCP NAT services of four unchecked real\n"+
		"servers (so all are up at once) and the rules `lvsd plan` prints for it.\n"+
		"%d repetitions per size, alternating which goes first, each into the empty\n"+
		"table of a new network namespace. lvsd's time runs from its process start\n"+
		"to its `ready` log line, which it writes after the first reconcile round,\n"+
		"and its CPU time and peak RSS are read from /proc at that line; ipvsadm's\n"+
		"is its process's. After each, `ipvsadm -S -n` must hold exactly the rules.\n"+
		"The phases are lvsd's own account on its ready line: the file loaded\n"+
		"(read, parsed, resolved), IPVS dialled and checked, the first round.\n"+
		"Figures are medians; CPU is user + system, the system part being mostly\n"+
		"the kernel's IPVS work.\n\n", r.Kernel, r.Reps)
	fmt.Fprintf(&b, "Results (%s, %d-core host; load average %s before, %s after; %s):\n\n",
		m.Date.Format("2006-01-02"), m.CPUs, m.LoadBefore, m.LoadAfter, m.Wall.Round(time.Second))
	b.WriteString("| services | rules | lvsd | ipvsadm -R | lvsd / ipvsadm -R | lvsd CPU (user + sys) | ipvsadm -R CPU (user + sys) | lvsd: load / IPVS setup / first round | lvsd peak RSS |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|\n")
	for _, s := range r.Sizes {
		lv, adm := benchrun.Median(s.LVSDms), benchrun.Median(s.IPVSAdmms)
		var rss []float64
		for _, k := range s.PeakRSSKiB {
			rss = append(rss, float64(k))
		}
		fmt.Fprintf(&b, "| %d | %d | %s | %s | %.2f | %s + %s | %s + %s | %s / %s / %s | %.0f MiB |\n",
			s.Services, s.Rules, secs(lv), secs(adm), lv/adm,
			secs(benchrun.Median(s.LVSDUserms)), secs(benchrun.Median(s.LVSDSysms)),
			secs(benchrun.Median(s.IPVSAdmUserms)), secs(benchrun.Median(s.IPVSAdmSysms)),
			secs(benchrun.Median(s.LoadMS)), secs(benchrun.Median(s.IPVSSetupMS)), secs(benchrun.Median(s.FirstRoundMS)),
			benchrun.Median(rss)/1024)
	}
	b.WriteString("\nThen, on each started daemon, `lvsd reload` of the unchanged file, of\n" +
		"the file with one real server's weight changed, and of the file with one\n" +
		"service in a hundred changed (a real server's weight): the command's wall\n" +
		"time, and until the kernel has the last changed weight (read over\n" +
		"netlink every millisecond; every changed weight is then checked in the\n" +
		"kernel); then the daemon's resident size (VmRSS). Medians; the shares\n" +
		"are of lvsd's cold start above:\n\n")
	b.WriteString("| services | reload, unchanged | share | reload, one weight | in the kernel | share | reload, 1 % of services | in the kernel | share | resident after |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|\n")
	for _, s := range r.Sizes {
		lv := benchrun.Median(s.LVSDms)
		noop, weight, kernel := benchrun.Median(s.ReloadNoopMS), benchrun.Median(s.ReloadWeightMS), benchrun.Median(s.ReloadWeightKernelMS)
		share, shareKernel := benchrun.Median(s.ReloadShareMS), benchrun.Median(s.ReloadShareKernelMS)
		var rss []float64
		for _, k := range s.SettledRSSKiB {
			rss = append(rss, float64(k))
		}
		fmt.Fprintf(&b, "| %d | %.0f ms | %.1f %% | %.0f ms | %.0f ms | %.1f %% | %.0f ms | %.0f ms | %.1f %% | %.0f MiB |\n",
			s.Services, noop, 100*noop/lv, weight, kernel, 100*kernel/lv,
			share, shareKernel, 100*shareKernel/lv, benchrun.Median(rss)/1024)
	}
	b.WriteString("\nThe same reloads asked the way `systemctl reload lvsd` asks (the unit's\n" +
		"`ExecReload` sends SIGHUP): from the signal to the daemon's `config\n" +
		"reloaded` line for the unchanged file, and to the changed weight in the\n" +
		"kernel for one weight; and the `lvsd` command's own start, the wall time\n" +
		"of `lvsd version` in the same boot, which every `lvsd reload` above\n" +
		"includes:\n\n")
	b.WriteString("| services | SIGHUP, unchanged | share | SIGHUP, one weight in the kernel | share | `lvsd version` | share |\n")
	b.WriteString("|---|---|---|---|---|---|---|\n")
	for _, s := range r.Sizes {
		lv := benchrun.Median(s.LVSDms)
		noop, kernel, start := benchrun.Median(s.SignalNoopMS), benchrun.Median(s.SignalWeightKernelMS), benchrun.Median(s.CommandStartMS)
		fmt.Fprintf(&b, "| %d | %.0f ms | %.1f %% | %.0f ms | %.1f %% | %.0f ms | %.1f %% |\n",
			s.Services, noop, 100*noop/lv, kernel, 100*kernel/lv, start, 100*start/lv)
	}
	b.WriteString("\nEach repetition (wall time):\n\n| services | lvsd | ipvsadm -R |\n|---|---|---|\n")
	for _, s := range r.Sizes {
		var lv, adm []string
		for _, v := range s.LVSDms {
			lv = append(lv, secs(v))
		}
		for _, v := range s.IPVSAdmms {
			adm = append(adm, secs(v))
		}
		fmt.Fprintf(&b, "| %d | %s | %s |\n", s.Services, strings.Join(lv, ", "), strings.Join(adm, ", "))
	}
	b.WriteString("\n")
	return b.String()
}
