package soak

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Window is a time in which a fault explains failed requests.
type Window struct {
	From, To time.Time
	Fault    string
	Kind     Kind
}

// ClientWindow is when fault f, begun, healed and settled at those times,
// explains a failed request: one started up to grace before it (a request
// lasts at most grace, and one in flight may be cut), until grace after
// the cluster settled for the faults that move or cut the service. A dead
// real server explains failures until its detection (detect); a reload
// that removes a real server, the requests in flight to it. Other reloads
// explain none.
func ClientWindow(f Fault, begun, healed, settled time.Time, detect, grace time.Duration) (Window, bool) {
	w := Window{From: begun.Add(-grace), Fault: f.String(), Kind: f.Kind}
	switch {
	case f.Kind == ServerDown:
		w.To = begun.Add(detect)
	case f.Kind == ReloadRemove:
		w.To = healed
	case f.Kind.VRRP() || f.Kind == Flush:
		w.To = settled.Add(grace)
	default:
		return Window{}, false
	}
	return w, true
}

// Starved is not a fault the soak injects: the host did not run a master
// in time, so that its backup took over, as a SIGSTOP past
// Master_Down_Interval would have made it. The master's own status shows
// it (last_late_advert).
const Starved Kind = "master not run in time (not injected)"

// StarvedWindow is when an advert that master sent late by late, at at,
// explains failed requests. Only a lateness of at least enough (the
// backup's Master_Down_Interval less one advert interval: the gap at
// which a backup takes over) explains anything; then the requests from
// grace before the stall began until grace after the advert left, which
// sent the backup back and the traffic with it.
func StarvedWindow(master string, at time.Time, late, enough, grace time.Duration) (Window, bool) {
	if late < enough {
		return Window{}, false
	}
	return Window{
		From:  at.Add(-late - grace),
		To:    at.Add(grace),
		Fault: fmt.Sprintf("%s's advert %v late", master, late.Round(time.Millisecond)),
		Kind:  Starved,
	}, true
}

// Failure is a failed request of the client.
type Failure struct {
	Start time.Time
	Port  int
	Err   string
}

// Unexplained returns the failures that no window explains as violations,
// one for each run of them less than a second apart.
func Unexplained(fails []Failure, windows []Window) []Violation {
	var out []Violation
	var run []Failure
	flush := func() {
		if len(run) == 0 {
			return
		}
		v := Violation{Invariant: "every request answered or explained by a fault", Fault: "no fault", Since: run[0].Start, Until: run[len(run)-1].Start}
		for _, w := range windows {
			if !w.From.After(run[0].Start) {
				v.Fault, v.Kind = "the end of "+w.Fault, w.Kind
			}
		}
		var b strings.Builder
		fmt.Fprintf(&b, "%d requests failed:", len(run))
		for i, f := range run {
			if i == 5 {
				b.WriteString(" ...")
				break
			}
			fmt.Fprintf(&b, " [+%v port %d: %s]", f.Start.Sub(run[0].Start).Round(time.Millisecond), f.Port, f.Err)
		}
		v.Detail = b.String()
		out = append(out, v)
		run = nil
	}
	for _, f := range fails {
		explained := slices.ContainsFunc(windows, func(w Window) bool { return !f.Start.Before(w.From) && !f.Start.After(w.To) })
		if explained {
			continue
		}
		if len(run) > 0 && f.Start.Sub(run[len(run)-1].Start) > time.Second {
			flush()
		}
		run = append(run, f)
	}
	flush()
	return out
}

// Usage is a daemon's use of the machine at one instant.
type Usage struct {
	FDs, Threads, Goroutines int
	RSSKiB                   int
}

func (u Usage) String() string {
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

// Resources is one director's last daemon, measured when it had settled
// (Base) and at the end of the run (End).
type Resources struct {
	Director  string
	Pid       int
	Restarts  int
	Base, End Usage
	// Over is how long the last daemon ran between the two.
	Over time.Duration
}

// Growth lists what grew past its tolerance from Base to End.
func (r Resources) Growth() []string {
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

// Outcome is one fault as it ran: Recovery is from its heal until the
// cluster settled (Sample.Settled).
type Outcome struct {
	Fault    Fault
	Recovery time.Duration
}

// Row is one line of the report's table.
type Row struct {
	Kind        Kind
	Count       int
	MaxRecovery time.Duration
	Violations  int
}

// Result is a soak's report, printed by the guest on one line after
// Marker and read back by the host.
type Result struct {
	Seed      uint64
	Planned   time.Duration
	Wall      time.Duration
	Faults    int
	Rows      []Row
	Requests  int
	Failed    int
	Resources []Resources
	// Starved lists, with their offsets, the times the host did not run
	// a master in time (StarvedWindow): not faults of the schedule.
	Starved    []string
	Violations []string
}

// Marker starts the line of the guest's result.
const Marker = "SOAK-RESULT "

// NewResult tabulates the outcomes and violations of a run.
func NewResult(seed uint64, planned, wall time.Duration, outcomes []Outcome, violations []Violation, start time.Time) Result {
	r := Result{Seed: seed, Planned: planned, Wall: wall, Faults: len(outcomes)}
	rows := map[Kind]*Row{}
	row := func(k Kind) *Row {
		if rows[k] == nil {
			rows[k] = &Row{Kind: k}
		}
		return rows[k]
	}
	for _, o := range outcomes {
		x := row(o.Fault.Kind)
		x.Count++
		x.MaxRecovery = max(x.MaxRecovery, o.Recovery)
	}
	for _, v := range violations {
		row(v.Kind).Violations++
		r.Violations = append(r.Violations, v.Format(start))
	}
	for _, k := range append([]Kind{""}, Kinds...) {
		if x := rows[k]; x != nil {
			r.Rows = append(r.Rows, *x)
		}
	}
	return r
}

// Passed reports whether nothing was violated (a daemon's growth is
// recorded as a violation by the run).
func (r Result) Passed() bool { return len(r.Violations) == 0 }

// Table is the report as the test prints it.
func (r Result) Table() string {
	var b strings.Builder
	fmt.Fprintf(&b, "soak: seed %d, %d faults in %v (planned %v); %d requests, %d failed\n",
		r.Seed, r.Faults, r.Wall.Round(time.Second), r.Planned, r.Requests, r.Failed)
	fmt.Fprintf(&b, "%-34s %5s %13s %10s\n", "fault", "count", "max recovery", "violations")
	for _, x := range r.Rows {
		fmt.Fprintf(&b, "%-34s %5d %13v %10d\n", kindName(x.Kind), x.Count, x.MaxRecovery.Round(time.Millisecond), x.Violations)
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

func kindName(k Kind) string {
	if k == "" {
		return "(before the first fault)"
	}
	return string(k)
}
