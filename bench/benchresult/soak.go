package benchresult

import (
	"fmt"
	"strings"
	"time"
)

// SoakMarker starts the line of the fault-injection soak's result.
const SoakMarker = "SOAK-RESULT "

// Soak is the fault-injection soak's report (integration/soak builds it,
// bench/soak writes it into BENCHMARKS.md).
type Soak struct {
	Seed      uint64
	Planned   time.Duration
	Wall      time.Duration
	Faults    int
	Rows      []SoakRow
	Requests  int
	Failed    int
	Resources []SoakResources
	// Starved lists, with their offsets, the times the host did not run
	// a master in time: not faults of the schedule.
	Starved    []string
	Violations []string
}

// SoakRow is one kind of fault's line of the report's table.
type SoakRow struct {
	Kind        string // "" before the first fault
	Count       int
	MaxRecovery time.Duration
	Violations  int
}

// SoakUsage is a daemon's use of the machine at one instant.
type SoakUsage struct {
	FDs, Threads, Goroutines int
	RSSKiB                   int
}

func (u SoakUsage) String() string {
	return fmt.Sprintf("%d fds, %d threads, %d goroutines, %.1f MiB", u.FDs, u.Threads, u.Goroutines, float64(u.RSSKiB)/1024)
}

// Tolerances of the leak check, end against start of the same process.
// A daemon at rest still has work in flight that comes and goes: a health
// check holds a socket and a goroutine or two per real server (three),
// the soak's own status request a connection and its handler, and Go
// adds a thread while a system call blocks. Memory: the heap's garbage
// and what the runtime has not yet handed back after a reload stay
// resident for a while.
const (
	fdSlack        = 4
	threadSlack    = 4
	goroutineSlack = 16
	rssSlackKiB    = 16 * 1024
)

// SoakResources is one director's last daemon, measured when it had
// settled (Base) and at the end of the run (End).
type SoakResources struct {
	Director  string
	Pid       int
	Restarts  int
	Base, End SoakUsage
	// Over is how long the last daemon ran between the two.
	Over time.Duration
}

// Growth lists what grew past its tolerance from Base to End.
func (r SoakResources) Growth() []string {
	var out []string
	check := func(what string, base, end, slack int) {
		if end > base+slack {
			out = append(out, fmt.Sprintf("%s %d -> %d (tolerance +%d)", what, base, end, slack))
		}
	}
	check("fds", r.Base.FDs, r.End.FDs, fdSlack)
	check("threads", r.Base.Threads, r.End.Threads, threadSlack)
	check("goroutines", r.Base.Goroutines, r.End.Goroutines, goroutineSlack)
	check("RSS KiB", r.Base.RSSKiB, r.End.RSSKiB, max(rssSlackKiB, r.Base.RSSKiB/4))
	return out
}

// Passed reports whether nothing was violated (a daemon's growth is
// recorded as a violation by the run).
func (r Soak) Passed() bool { return len(r.Violations) == 0 }

// Table is the report as the soak test prints it.
func (r Soak) Table() string {
	var b strings.Builder
	fmt.Fprintf(&b, "soak: seed %d, %d faults in %v (planned %v); %d requests, %d failed\n",
		r.Seed, r.Faults, r.Wall.Round(time.Second), r.Planned, r.Requests, r.Failed)
	fmt.Fprintf(&b, "%-34s %5s %13s %10s\n", "fault", "count", "max recovery", "violations")
	for _, x := range r.Rows {
		fmt.Fprintf(&b, "%-34s %5d %13v %10d\n", x.Name(), x.Count, x.MaxRecovery.Round(time.Millisecond), x.Violations)
	}
	for _, x := range r.Resources {
		fmt.Fprintf(&b, "director %s: pid %d after %d restarts, over %v: %s -> %s", x.Director, x.Pid, x.Restarts, x.Over.Round(time.Second), x.Base, x.End)
		if g := x.Growth(); len(g) > 0 {
			fmt.Fprintf(&b, "; GREW: %s", strings.Join(g, ", "))
		}
		b.WriteString("\n")
	}
	for _, s := range r.Starved {
		fmt.Fprintf(&b, "NOT INJECTED %s\n", s)
	}
	for _, v := range r.Violations {
		fmt.Fprintf(&b, "VIOLATION %s\n", v)
	}
	if r.Passed() {
		b.WriteString("verdict: PASS\n")
	} else {
		fmt.Fprintf(&b, "verdict: FAIL (%d violations)\n", len(r.Violations))
	}
	return b.String()
}

// Name is the row's kind as the tables show it.
func (x SoakRow) Name() string {
	if x.Kind == "" {
		return "(before the first fault)"
	}
	return x.Kind
}
