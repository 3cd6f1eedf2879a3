package soak

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Director is one director as the soak sees it from outside at one
// instant: its daemon's status document, the addresses of its interface
// and its kernel's IPVS table.
type Director struct {
	Name string
	// Up: its lvsd answered the status request.
	Up bool
	// State is VI_1's state in that answer.
	State string
	// VIP: the VIP is on the director's interface.
	VIP bool
	// Table is the kernel's table as Rules reads it (ipvsadm -S -n), nil
	// when it was not read with this sample; Want is what the config and
	// the health that the status shows ask for. Both only when Up.
	Table, Want []string
	// Unhealthy counts the configured real servers the status does not
	// show healthy.
	Unhealthy int
}

func (d Director) String() string {
	s := d.Name + "="
	if d.Up {
		s += d.State
	} else {
		s += "down"
	}
	if d.VIP {
		s += "+VIP"
	}
	return s
}

// Sample is every director at one instant.
type Sample struct {
	At   time.Time
	Dirs []Director
}

func (s Sample) String() string {
	parts := make([]string, len(s.Dirs))
	for i, d := range s.Dirs {
		parts[i] = d.String()
	}
	return strings.Join(parts, " ")
}

// Settled reports whether the cluster is back in its steady state:
// every daemon up, preferred the only MASTER and the only holder of the
// VIP, every configured real server healthy and every table as asked.
func (s Sample) Settled(preferred string) bool {
	for _, d := range s.Dirs {
		master := d.Name == preferred
		if !d.Up || d.VIP != master || (d.State == "MASTER") != master || d.Unhealthy != 0 || !slices.Equal(d.Table, d.Want) {
			return false
		}
	}
	return true
}

// Bounds are how long an invariant may be broken before it is a
// violation: VRRP after a VRRP fault healed (one MASTER, the VIP only on
// it), Table after any change (the reconcile interval and some slack).
type Bounds struct {
	VRRP, Table time.Duration
}

// Violation is an invariant broken for longer than its bound, or an event
// that must not happen (a daemon's death, a reload's wrong outcome).
type Violation struct {
	Invariant string
	// Fault is the fault in progress, or the last one before, and Kind
	// its kind ("" before the first).
	Fault string
	Kind  Kind
	// Since is when it began; Until when it ended (zero: at the end of
	// the run, or an event).
	Since, Until time.Time
	// Detail says what was seen: the states and addresses at the start
	// and when the bound ran out.
	Detail string
}

// Format describes v with times from the run's start.
func (v Violation) Format(start time.Time) string {
	s := fmt.Sprintf("+%v %s (during or after %s)", v.Since.Sub(start).Round(time.Millisecond), v.Invariant, v.Fault)
	if !v.Until.IsZero() {
		s += fmt.Sprintf(", for %v", v.Until.Sub(v.Since).Round(time.Millisecond))
	}
	return s + ": " + v.Detail
}

// episode is a broken invariant not yet over.
type episode struct {
	since time.Time
	first string
	fired int // index in Monitor.violations; -1 until the bound ran out
}

// Monitor checks the invariants on the samples it is fed. The caller says
// when a fault begins and when it is healed: during a VRRP fault the
// election invariants are suspended, and after the heal they must hold
// again within Bounds.VRRP.
type Monitor struct {
	bounds     Bounds
	fault      string
	kind       Kind
	excused    bool
	open       map[string]*episode
	violations []Violation
	last       Sample
}

// NewMonitor returns a monitor with the given bounds.
func NewMonitor(b Bounds) *Monitor {
	return &Monitor{bounds: b, fault: "the start", open: map[string]*episode{}}
}

// Begin notes that fault f starts.
func (m *Monitor) Begin(f Fault) {
	m.fault, m.kind = f.String(), f.Kind
	m.excused = f.Kind.VRRP()
}

// Heal notes that the fault is over: its effects must end within bounds.
func (m *Monitor) Heal() { m.excused = false }

// Record adds a violation that is an event, not a state.
func (m *Monitor) Record(invariant string, at time.Time, detail string) {
	m.violations = append(m.violations, Violation{Invariant: invariant, Fault: m.fault, Kind: m.kind, Since: at, Detail: detail})
}

// Violations returns what was found so far.
func (m *Monitor) Violations() []Violation { return slices.Clone(m.violations) }

// Last returns the last sample observed.
func (m *Monitor) Last() Sample { return m.last }

// Observe checks one sample.
func (m *Monitor) Observe(s Sample) {
	m.last = s
	bad := map[string]string{}
	judged := map[string]time.Duration{}
	if !m.excused {
		for k, v := range electionFaults(s) {
			bad[k] = v
		}
		for _, k := range electionKeys(s) {
			judged[k] = m.bounds.VRRP
		}
	}
	unread := map[string]bool{}
	for _, d := range s.Dirs {
		k := "IPVS table of " + d.Name + " is config + health"
		switch {
		case !d.Up:
			judged[k] = m.bounds.Table // a daemon that is not running asks for nothing
		case d.Table == nil:
			unread[k] = true // not read this time: judged on the next read
		default:
			judged[k] = m.bounds.Table
			if !slices.Equal(d.Table, d.Want) {
				bad[k] = tableDiff(d.Table, d.Want)
			}
		}
	}
	// In a fixed order, so that violations of one sample are reported
	// the same way every time.
	for _, k := range slices.Sorted(maps.Keys(judged)) {
		m.judge(k, judged[k], bad[k], s)
	}
	// Keys no longer judged (a fault began) are over.
	for k := range m.open {
		if _, ok := judged[k]; !ok && !unread[k] {
			m.close(k, s.At)
		}
	}
}

func (m *Monitor) judge(key string, bound time.Duration, bad string, s Sample) {
	ep := m.open[key]
	if bad == "" {
		if ep != nil {
			m.close(key, s.At)
		}
		return
	}
	if ep == nil {
		ep = &episode{since: s.At, first: fmt.Sprintf("%s; %s", s, bad), fired: -1}
		m.open[key] = ep
	}
	if ep.fired < 0 && s.At.Sub(ep.since) > bound {
		ep.fired = len(m.violations)
		m.violations = append(m.violations, Violation{
			Invariant: key, Fault: m.fault, Kind: m.kind, Since: ep.since,
			Detail: fmt.Sprintf("first seen: %s; still after %v: %s; %s", ep.first, bound, s, bad),
		})
	}
}

func (m *Monitor) close(key string, at time.Time) {
	if ep := m.open[key]; ep.fired >= 0 {
		m.violations[ep.fired].Until = at
	}
	delete(m.open, key)
}

// The election invariants, by key.
const (
	oneMaster = "exactly one MASTER"
	vipOnce   = "the VIP on one director"
)

func vipOnMaster(d string) string  { return "the VIP on " + d + " only while its lvsd is MASTER" }
func masterHasVIP(d string) string { return "the MASTER " + d + " holds the VIP" }

func electionKeys(s Sample) []string {
	keys := []string{oneMaster, vipOnce}
	for _, d := range s.Dirs {
		keys = append(keys, vipOnMaster(d.Name), masterHasVIP(d.Name))
	}
	return keys
}

// electionFaults returns the election invariants s breaks, each with
// what breaks it.
func electionFaults(s Sample) map[string]string {
	bad := map[string]string{}
	var masters, holders []string
	for _, d := range s.Dirs {
		master := d.Up && d.State == "MASTER"
		if master {
			masters = append(masters, d.Name)
		}
		if d.VIP {
			holders = append(holders, d.Name)
		}
		switch {
		case d.VIP && !master:
			bad[vipOnMaster(d.Name)] = d.String()
		case master && !d.VIP:
			bad[masterHasVIP(d.Name)] = d.String()
		}
	}
	if len(masters) != 1 {
		bad[oneMaster] = fmt.Sprintf("MASTER on %v", masters)
	}
	if len(holders) > 1 {
		bad[vipOnce] = fmt.Sprintf("VIP on %v", holders)
	}
	return bad
}

// tableDiff says how the kernel's table differs from the wanted one.
func tableDiff(got, want []string) string {
	var missing, extra []string
	for _, w := range want {
		if !slices.Contains(got, w) {
			missing = append(missing, w)
		}
	}
	for _, g := range got {
		if !slices.Contains(want, g) {
			extra = append(extra, g)
		}
	}
	return fmt.Sprintf("kernel lacks %q, has extra %q", missing, extra)
}

// Rules reads `ipvsadm -S -n` into sorted rules: "SERVICE" for a virtual
// service, "SERVICE -> SERVER weight W" for a real server. Scheduler and
// forwarding flags are left out: the config's are fixed in the soak.
func Rules(ipvsadmSave string) []string {
	out := []string{}
	for line := range strings.SplitSeq(ipvsadmSave, "\n") {
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		switch f[0] {
		case "-A":
			out = append(out, f[2])
		case "-a":
			server, weight := flag(f, "-r"), flag(f, "-w")
			out = append(out, Rule(f[2], server, weight))
		}
	}
	slices.Sort(out)
	return out
}

// Rule is a real server's rule as Rules writes it.
func Rule(service, server, weight string) string {
	return service + " -> " + server + " weight " + weight
}

func flag(f []string, name string) string {
	if i := slices.Index(f, name); i >= 0 && i+1 < len(f) {
		return f[i+1]
	}
	return ""
}
