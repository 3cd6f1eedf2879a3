package main

import (
	"fmt"
	"runtime"
	"strings"
	"time"

	"github.com/lvsd/lvsd/bench/internal/benchrun"
)

type report struct {
	Date          time.Time
	Runs, Reloads int
	Load, Commit  string
	Sizes         []sizeRow
	Nodes         *nodesRow // nil when not measured
}

// nodesRow is lvsd validate of a file of many node blocks.
type nodesRow struct {
	Nodes    int
	Bytes    int64
	Validate summary
}

type sizeRow struct {
	Services                  int
	HCLBytes, KeepalivedBytes int64
	Commands                  []summary // validate, plan, keepalived
	Reload                    reloadResult
}

// summary is one command's runs at one size: medians, and the raw CPU
// times for the pairwise ratio.
type summary struct {
	Name                 string
	Wall, User, Sys, CPU float64 // seconds, medians
	PeakMiB              float64 // median
	cpus, peaksMiB       []float64
}

func summarise(name string, ss []sample) summary {
	var w, u, s, c, p []float64
	for _, x := range ss {
		w = append(w, x.Wall.Seconds())
		u = append(u, x.User.Seconds())
		s = append(s, x.Sys.Seconds())
		c = append(c, (x.User + x.Sys).Seconds())
		p = append(p, float64(x.PeakKiB)/1024)
	}
	return summary{Name: name, Wall: benchrun.Median(w), User: benchrun.Median(u), Sys: benchrun.Median(s), CPU: benchrun.Median(c), PeakMiB: benchrun.Median(p), cpus: c, peaksMiB: p}
}

// ratio is the median of a/b taken run by run (run i of each was made in
// the same round).
func ratio(a, b []float64) float64 {
	var r []float64
	for i := range min(len(a), len(b)) {
		if b[i] > 0 {
			r = append(r, a[i]/b[i])
		}
	}
	return benchrun.Median(r)
}

func liveHeapKiB() int64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc / 1024)
}

func ms(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d)/1e6) }

func medianDur(ds []time.Duration) time.Duration {
	var f []float64
	for _, d := range ds {
		f = append(f, float64(d))
	}
	return time.Duration(benchrun.Median(f))
}

// hclFloorNote says what the HCL syntax alone row is for.
const hclFloorNote = `"HCL syntax alone" is this command's own process parsing lvsd.hcl with
HCL's syntax parser and nothing else (pieces of about 4 KiB at top-level
blocks, one after the other, nothing kept, so the garbage of each piece
is collected in a small heap): the least reading the file through HCL
costs, before lvsd decodes, checks and keeps anything. Its ratio to
keepalived -t was the floor under lvsd's while lvsd read every byte
through HCL; lvsd now reads the plain part of a file with a reader of
its own and gives HCL only the rest (README), which these files do not
have.
`

func (r *report) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, `## Config load

What a user waits for while lvsd reads its cluster file: at start, on
`+"`lvsd validate`"+` and `+"`lvsd plan`"+`, and on a reload; against keepalived
reading the same services (`+"`keepalived -t`"+`, which parses and checks its
configuration and exits).

Command (from the module's root, with keepalived on PATH; it builds lvsd,
generates the files and prints this section, which `+"`-write BENCHMARKS.md`"+`
puts in place):

    go run ./bench/configload -runs %d -write BENCHMARKS.md

Method. For each size the command writes one cluster file and the
equivalent keepalived.conf: one VRRP instance and N TCP NAT services of 4
real servers each, every real server checked by HTTP GET (lvsd: one
`+"`health_check \"http\"`"+` per service; keepalived: an `+"`HTTP_GET`"+` per real
server, as keepalived has no per-service check). Each command runs %d
times per size, the four in turn, keepalived first in every other round;
the figures are the kernel's accounting of each reaped process (user and
system CPU, peak resident memory), medians of the runs; the ratio is
taken run by run (lvsd plan's over keepalived's of the same round), then
its median. Reload: a process loads the file as the daemon does (a
config.Loader kept from the start, the memory of a big load handed back),
then reads it again %d times unchanged and %d times with one real
server's weight changed; CPU is that process's user + system time across
each reload (read, parse of what changed, build and checks of the whole
config), memory its VmRSS and VmHWM.

Results (%s, %d-core host, load before %s, lvsd %s):

| services | lvsd.hcl | keepalived.conf | command | user | system | CPU | peak RSS |
|---|---|---|---|---|---|---|---|
`, r.Runs, r.Runs, r.Reloads, r.Reloads, r.Date.Format("2006-01-02"), runtime.NumCPU(), r.Load, r.Commit)
	for _, s := range r.Sizes {
		for _, c := range s.Commands {
			fmt.Fprintf(&b, "| %d | %.1f MB | %.1f MB | %s | %.2f s | %.2f s | %.2f s | %.0f MiB |\n",
				s.Services, float64(s.HCLBytes)/1e6, float64(s.KeepalivedBytes)/1e6, c.Name, c.User, c.Sys, c.CPU, c.PeakMiB)
		}
	}
	b.WriteString("\n| services | CPU, lvsd plan / keepalived -t | peak RSS, lvsd plan / keepalived -t | CPU, lvsd validate / keepalived -t | peak RSS, lvsd validate / keepalived -t | CPU, HCL syntax alone / keepalived -t |\n|---|---|---|---|---|---|\n")
	for _, s := range r.Sizes {
		v, p, k, h := s.Commands[0], s.Commands[1], s.Commands[2], s.Commands[3]
		fmt.Fprintf(&b, "| %d | %.2f | %.2f | %.2f | %.2f | %.2f |\n", s.Services,
			ratio(p.cpus, k.cpus), ratio(p.peaksMiB, k.peaksMiB), ratio(v.cpus, k.cpus), ratio(v.peaksMiB, k.peaksMiB), ratio(h.cpus, k.cpus))
	}
	b.WriteString("\n" + hclFloorNote)
	if len(r.Sizes) > 1 {
		b.WriteString("\nGrowth from one size to the next (medians' ratios):\n\n| services | services × | lvsd plan CPU × | lvsd plan peak RSS × | keepalived -t CPU × | keepalived -t peak RSS × |\n|---|---|---|---|---|---|\n")
		for i := 1; i < len(r.Sizes); i++ {
			a, z := r.Sizes[i-1], r.Sizes[i]
			fmt.Fprintf(&b, "| %d → %d | %.2f | %.2f | %.2f | %.2f | %.2f |\n", a.Services, z.Services,
				float64(z.Services)/float64(a.Services),
				z.Commands[1].CPU/a.Commands[1].CPU, z.Commands[1].PeakMiB/a.Commands[1].PeakMiB,
				z.Commands[2].CPU/a.Commands[2].CPU, z.Commands[2].PeakMiB/a.Commands[2].PeakMiB)
		}
	}
	if n := r.Nodes; n != nil {
		fmt.Fprintf(&b, "\n`lvsd validate` of a file of %d node blocks (each with its own priority in\n"+
			"one VRRP instance, and one service; %.1f MB), %d runs, medians:\n\n"+
			"| node blocks | wall time | user | system | peak RSS |\n|---|---|---|---|---|\n"+
			"| %d | %.2f s | %.2f s | %.2f s | %.0f MiB |\n",
			n.Nodes, float64(n.Bytes)/1e6, r.Runs, n.Nodes, n.Validate.Wall, n.Validate.User, n.Validate.Sys, n.Validate.PeakMiB)
	}
	b.WriteString("\nReload, in one process (medians of the reloads):\n\n| services | start CPU | RSS after start | no-op reload CPU | one-weight reload CPU | RSS after reloads | peak RSS | Go heap in use |\n|---|---|---|---|---|---|---|---|\n")
	for _, s := range r.Sizes {
		rl := s.Reload
		fmt.Fprintf(&b, "| %d | %s | %.0f MiB | %s | %s | %.0f MiB | %.0f MiB | %.0f MiB |\n", s.Services,
			ms(rl.StartCPU), float64(rl.RSSAfterKiB)/1024, ms(medianDur(rl.NoOp)), ms(medianDur(rl.OneWeight)),
			float64(rl.RSSEndKiB)/1024, float64(rl.PeakKiB)/1024, float64(rl.LiveHeapKiB)/1024)
	}
	return b.String()
}
