package main

import (
	"fmt"
	"runtime"
	"strings"
	"time"
)

// The targets lvsd holds itself to for 5,000 real servers checked every
// second (checks must scale to thousands of real servers on a
// small director).
const (
	targetCPUShare = 0.15
	targetPeakRSS  = 150 << 20
	targetP99Late  = 50 * time.Millisecond
)

const sectionHeading = "## Health checks at scale"

func gomaxprocs() int { return runtime.GOMAXPROCS(0) }

// met reports a target as met or missed.
func met(ok bool) string {
	if ok {
		return "met"
	}
	return "**missed**"
}

// table renders the report as a markdown table.
func (r report) table() string {
	var b strings.Builder
	c := r.Config
	b.WriteString("| measure | target | measured | |\n|---|---|---|---|\n")
	fmt.Fprintf(&b, "| real servers (HTTP, `GET /healthz`) | | %d | |\n", c.Servers)
	fmt.Fprintf(&b, "| interval / timeout / rise / fall | | %v / %v / %d / %d | |\n", c.Interval, c.Timeout, c.Rise, c.Fall)
	fmt.Fprintf(&b, "| checks completed | | %d in %v (%.0f/s) | |\n", r.Checks, r.Wall.Round(time.Millisecond), r.ChecksPerSec)
	fmt.Fprintf(&b, "| failed checks | 0 | %d | %s |\n", r.Failed, met(r.Failed == 0))
	fmt.Fprintf(&b, "| servers healthy at the end | %d | %d | %s |\n", c.Servers, r.Healthy, met(r.Healthy == c.Servers))
	fmt.Fprintf(&b, "| checker CPU, share of one core | < %.0f %% | %.1f %% | %s |\n", targetCPUShare*100, r.CPUShare()*100, met(r.CPUShare() < targetCPUShare))
	fmt.Fprintf(&b, "| checker peak RSS (VmHWM) | < %d MB | %.1f MB | %s |\n", targetPeakRSS>>20, float64(r.PeakRSS)/(1<<20), met(r.PeakRSS < targetPeakRSS))
	fmt.Fprintf(&b, "| check start lateness p50 / p99 / max | p99 < %v | %v / %v / %v | %s |\n", targetP99Late, r.Late.P50, r.Late.P99, r.Late.Max.Round(time.Microsecond), met(r.Late.P99 < targetP99Late))
	fmt.Fprintf(&b, "| checks started ahead of their slot, to share a wake-up | | %d of %d | |\n", r.Late.Early, r.Late.Count)
	fmt.Fprintf(&b, "| kernel floor: bare socket/connect/write/read/close | | %v CPU per check, %.1f %% of one core at %.0f checks/s | |\n",
		r.Floor.Round(100*time.Nanosecond), r.Floor.Seconds()*r.ChecksPerSec*100, r.ChecksPerSec)
	share := 0.0
	if r.Wall > 0 {
		share = r.ListenerCPU.Seconds() / r.Wall.Seconds()
	}
	fmt.Fprintf(&b, "| listener process CPU (not the checker's) | | %.1f %% of one core, %d requests | |\n", share*100, r.Served)
	return b.String()
}

// section renders the BENCHMARKS.md section for the report.
func (r report) section(command string) string {
	var b strings.Builder
	b.WriteString(sectionHeading + "\n\n")
	fmt.Fprintf(&b, "`%s` (add `-write BENCHMARKS.md` to replace this section)\n\n", command)
	b.WriteString(`Every real server is an HTTP listener on its own loopback address
(127.1.x.y; Linux routes all of 127.0.0.0/8 to lo) in a child process, so the
checker's CPU time (getrusage) and peak RSS (VmHWM) are its own. The checker
is lvsd's ` + "`healthcheck.Scheduler`" + ` running one ` + "`healthcheck.NewHTTP`" + ` job per
server, built as the daemon builds a ` + "`health_check \"http\"`" + ` block: a fresh
connection and "Connection: close" on every check, a hard timeout per check,
all run on the Scheduler's one event loop. Lateness is how far each check
started behind its slot on its job's grid (first slot plus k × interval, the
Result's Due), so a schedule that drifts shows up as lateness; a check the
loop starts up to min(interval/10, 200 ms) ahead of its slot, to share a
wake-up with one that is due, counts as on time and is counted apart. The
kernel floor is the CPU the same exchange costs in bare blocking system calls,
one exchange after the other, measured in the checker before the run: over
loopback the kernel does both ends' TCP work in the caller's system calls, so
it puts the checker's figure in proportion. It is not a strict bound: the
loop overlaps many exchanges and sleeps and wakes less than one blocking
exchange at a time, and can come in under it.
`)
	fmt.Fprintf(&b, "\nRun at %s on %s/%s with %d CPUs (GOMAXPROCS %d), %s; load average (1, 5, 15 min) %s before, %s after. Other work shared the machine.\n\n",
		r.Started.UTC().Format("2006-01-02 15:04 MST"), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), r.GoMaxProcs, runtime.Version(), r.LoadBefore, r.LoadAfter)
	b.WriteString(r.table())
	return b.String()
}
