package main

import (
	"fmt"
	"github.com/lvsd/lvsd/bench/internal/benchrun"
	"slices"
	"strings"
	"time"

	"github.com/lvsd/lvsd/bench/benchresult"
)

// heading is the section of BENCHMARKS.md this command owns.
const heading = "## IPVS programming"

// result is the guest's JSON line.
type result = benchresult.IPVS

// benchRun is one VM boot's result and the host's load around it.
type benchRun struct {
	Result                result
	LoadBefore, LoadAfter string
	Wall                  time.Duration
}

// machine describes where the benchmark ran.
type machine struct {
	CPUs int
	Date time.Time
}

func seconds(ms float64) string { return fmt.Sprintf("%.2f s", ms/1000) }

func millis(ms float64) string { return fmt.Sprintf("%.0f ms", ms) }

// section renders the IPVS programming section of BENCHMARKS.md.
func section(runs []benchRun, m machine) string {
	var b strings.Builder
	first := runs[0].Result
	fmt.Fprintf(&b, "%s\n\n", heading)
	fmt.Fprintf(&b, "How long lvsd takes to program a large IPVS table into an empty kernel\n"+
		"table, against ipvsadm-restore (`ipvsadm -R`) of the same rules; and how\n"+
		"long one real server's weight change takes.\n\n")
	b.WriteString("Command (root, from the module's root; it boots the lab VM once per run\n" +
		"and rewrites this section):\n\n" +
		"    go run ./bench/ipvsprog\n\n")
	fmt.Fprintf(&b, "Method. The table is %d TCP NAT services with %d real servers each\n"+
		"(%d rules); the guest kernel is Debian's %s. In one VM boot,\n"+
		"%d repetitions, alternating which of the two goes first, each into the\n"+
		"empty table of a new network namespace, as at a director's first start:\n\n",
		first.Services, first.Destinations/max(first.Services, 1), first.Services+first.Destinations, first.Kernel, first.Reps)
	fmt.Fprintf(&b, "- **lvsd**: a new reconciler (`internal/reconcile`) is given the table;\n"+
		"  the time runs from `SetDesired` to the end of its first round: the dump\n"+
		"  of the empty table, the diff and %d netlink requests, sent many per\n"+
		"  `sendmsg`, the kernel answering only those that fail and one read\n"+
		"  closing each batch (the `ipvs` client's batching).\n", first.LVSDRequests)
	b.WriteString("- **ipvsadm -R**: `ipvsadm -R < rules`, the rules being `ipvs.WriteSave`\n" +
		"  of the same table (what `lvsd plan` prints); the time of the process.\n\n" +
		"After each, `ipvsadm -S -n` must print exactly the rules, and the table\n" +
		"is flushed (untimed) so that its rate estimators stop loading the guest.\n" +
		"Then, once each, the same programming into a table that held the same\n" +
		"rules and was flushed just before (see below). Then, on the full table,\n" +
		"five single weight changes by each: lvsd from `SetDesired` to the end\n" +
		"of the reconcile round (a diff of the whole table against the remembered\n" +
		"one, then one request), and one `ipvsadm -e` process. Figures are\n" +
		"medians; CPU times are user and system time from getrusage, the system\n" +
		"time being mostly the kernel's IPVS work.\n\n")
	fmt.Fprintf(&b, "Results (%s, %d-core host, qemu TCG without KVM):\n\n", m.Date.Format("2006-01-02"), m.CPUs)
	b.WriteString("| run | host load before | lvsd cold | ipvsadm -R cold | lvsd faster by | lvsd weight change | ipvsadm -e |\n")
	b.WriteString("|---|---|---|---|---|---|---|\n")
	for i, r := range runs {
		l, a := benchrun.Median(r.Result.LVSDms), benchrun.Median(r.Result.IPVSAdmms)
		fmt.Fprintf(&b, "| %d | %s | %s | %s | %.1f× | %s | %s |\n", i+1, r.LoadBefore, seconds(l), seconds(a), ratio(a, l),
			millis(benchrun.Median(r.Result.WeightLVSDms)), millis(benchrun.Median(r.Result.WeightAdmms)))
	}
	b.WriteString(observations(runs))
	b.WriteString("\nEach repetition (wall time, then user + system CPU time):\n\n")
	b.WriteString("| run | rep | lvsd | lvsd CPU | ipvsadm -R | ipvsadm -R CPU |\n")
	b.WriteString("|---|---|---|---|---|---|\n")
	for i, r := range runs {
		res := r.Result
		for j := range res.LVSDms {
			fmt.Fprintf(&b, "| %d | %d | %s | %s | %s | %s |\n", i+1, j+1,
				seconds(res.LVSDms[j]), cpu(res.LVSDUserms, res.LVSDSysms, j),
				seconds(at(res.IPVSAdmms, j)), cpu(res.IPVSAdmUserms, res.IPVSAdmSysms, j))
		}
	}
	b.WriteString("\nRight after a flush (one of each per run, each into a namespace whose\n" +
		"table held the same rules and was flushed just before, as at a restart\n" +
		"with `cleanup_on_exit` or after `ipvsadm -C`). The kernel then still\n" +
		"keeps the deleted destinations in a per-namespace trash, which it\n" +
		"searches for every destination added:\n\n")
	b.WriteString("| run | lvsd | ipvsadm -R | lvsd faster by |\n")
	b.WriteString("|---|---|---|---|\n")
	for i, r := range runs {
		l, a := benchrun.Median(r.Result.LVSDFlushedms), benchrun.Median(r.Result.IPVSAdmFlushedms)
		fmt.Fprintf(&b, "| %d | %s | %s | %.1f× |\n", i+1, seconds(l), seconds(a), ratio(a, l))
	}
	b.WriteString("\nThe machine is shared with other builds and VMs: compare runs by their\n" +
		"load, and the two programs within a run, whose repetitions alternate.\n")
	return b.String()
}

// observations says in words what the summary table shows, from the
// figures themselves, so that a rerun cannot leave a stale claim behind.
func observations(runs []benchRun) string {
	var cold, weight []float64
	slower := 0
	for _, r := range runs {
		l := benchrun.Median(r.Result.LVSDms)
		cold = append(cold, ratio(benchrun.Median(r.Result.IPVSAdmms), l))
		weight = append(weight, benchrun.Median(r.Result.WeightLVSDms))
		if benchrun.Median(r.Result.WeightLVSDms) > benchrun.Median(r.Result.WeightAdmms) {
			slower++
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\nCold, lvsd was %.1f× to %.1f× faster than ipvsadm -R: it sends the\n"+
		"rules in batches, where ipvsadm makes one request and waits for its\n"+
		"answer per rule.", slices.Min(cold), slices.Max(cold))
	if slower == len(runs) {
		fmt.Fprintf(&b, " One weight change took lvsd %s to %s, more than one\n"+
			"ipvsadm -e process: the kernel gets one request either way, but the\n"+
			"reconciler diffs the whole table in memory for it, which under\n"+
			"emulation costs more than starting ipvsadm.", millis(slices.Min(weight)), millis(slices.Max(weight)))
	}
	b.WriteString("\n")
	return b.String()
}

// ratio is slow/fast, 0 when fast is unknown.
func ratio(slow, fast float64) float64 {
	if fast == 0 {
		return 0
	}
	return slow / fast
}

func at(xs []float64, i int) float64 {
	if i < len(xs) {
		return xs[i]
	}
	return 0
}

func cpu(user, sys []float64, i int) string {
	return fmt.Sprintf("%s + %s", seconds(at(user, i)), seconds(at(sys, i)))
}
