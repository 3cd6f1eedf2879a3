// Package soak is the pure part of lvsd's fault-injection soak
// (integration/vmtests TestSoak, run in the lab VM by TestSoakInVM and by
// bench/soak): the seeded schedule of faults, the invariants checked on
// what the test observes from outside the daemons, and the report.
//
// Nothing here touches a process, a namespace or the clock: the VM side
// executes the schedule, samples the directors and feeds the samples to a
// Monitor, so the rules are table-tested on any machine.
package soak

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// Kind is a kind of fault; the report has one row per kind.
type Kind string

// The faults of the soak. A director is "a" (the preferred master) or
// "b"; a real server is "rs1", "rs2" or "rs3".
const (
	Kill       Kind = "kill -9, restart after 1 s"
	StopShort  Kind = "SIGSTOP < Master_Down_Interval"
	StopLong   Kind = "SIGSTOP > Master_Down_Interval"
	LinkDown   Kind = "link down"
	Netem      Kind = "netem loss and delay"
	Partition  Kind = "partition of the directors"
	Flush      Kind = "ipvsadm -C"
	ServerDown Kind = "real server down"
	// Reloads: valid changes, then files that must be rejected.
	ReloadWeight Kind = "reload: weight"
	ReloadAdd    Kind = "reload: real server added"
	ReloadRemove Kind = "reload: real server removed"
	ReloadGARP   Kind = "reload: garp only"
	ReloadSyntax Kind = "reload: syntax error"
	ReloadDeep   Kind = "reload: 100,000-deep nesting"
	ReloadHuge   Kind = "reload: file over the size limit"
)

// Kinds lists every kind in the report's order.
var Kinds = []Kind{Kill, StopShort, StopLong, LinkDown, Netem, Partition, Flush, ServerDown,
	ReloadWeight, ReloadAdd, ReloadRemove, ReloadGARP, ReloadSyntax, ReloadDeep, ReloadHuge}

// VRRP reports whether a fault of kind k may take the election off its
// steady state while it lasts: a director without adverts, without its
// link or cut off from its peer. Only then may the cluster have no master
// or two, or a VIP on a director that is not MASTER.
func (k Kind) VRRP() bool {
	switch k {
	case Kill, StopShort, StopLong, LinkDown, Netem, Partition:
		return true
	}
	return false
}

// Rejected reports whether a reload of kind k must be refused (the daemon
// keeps its configuration).
func (k Kind) Rejected() bool { return k == ReloadSyntax || k == ReloadDeep || k == ReloadHuge }

// Reload reports whether k is a reload.
func (k Kind) Reload() bool {
	switch k {
	case ReloadWeight, ReloadAdd, ReloadRemove, ReloadGARP, ReloadSyntax, ReloadDeep, ReloadHuge:
		return true
	}
	return false
}

// Fault is one step of the schedule.
type Fault struct {
	Seq    int // from 1
	Kind   Kind
	Target string
	// Hold is how long the fault lasts before it is healed (a stopped
	// process continued, a link up again); 0 for the instant ones.
	Hold time.Duration
	// Gap is the quiet time after the cluster settled, before the next.
	Gap time.Duration
	// Loss (percent) and Delay of a netem fault.
	Loss  int
	Delay time.Duration
	// Config is the cluster the file describes after a valid reload (and
	// before any other fault): the schedule follows the file.
	Config Cluster
}

func (f Fault) String() string {
	s := fmt.Sprintf("#%d %s", f.Seq, f.Kind)
	if f.Target != "" {
		s += " on " + f.Target
	}
	if f.Hold > 0 {
		s += fmt.Sprintf(" for %v", f.Hold)
	}
	if f.Kind == Netem {
		s += fmt.Sprintf(" (loss %d %%, delay %v)", f.Loss, f.Delay)
	}
	if f.Kind == ReloadWeight {
		s += fmt.Sprintf(" (weights %v)", f.Config.Weights)
	}
	return s
}

// Cluster is what the soak changes in the cluster file by reloads.
type Cluster struct {
	// Weights of the real servers of the checked service, by name
	// ("rs1"); a server not in the map is not in the file.
	Weights map[string]int
	// GARPRepeat is the garp block's repeat.
	GARPRepeat int
}

func (c Cluster) clone() Cluster {
	w := make(map[string]int, len(c.Weights))
	for k, v := range c.Weights {
		w[k] = v
	}
	return Cluster{Weights: w, GARPRepeat: c.GARPRepeat}
}

// Servers is the real servers in the file, in name order.
func (c Cluster) Servers() []string {
	var out []string
	for _, s := range []string{"rs1", "rs2", "rs3"} {
		if _, ok := c.Weights[s]; ok {
			out = append(out, s)
		}
	}
	return out
}

// Initial is the cluster the soak starts with: rs1 and rs2 at weight 1.
func Initial() Cluster {
	return Cluster{Weights: map[string]int{"rs1": 1, "rs2": 1}, GARPRepeat: 3}
}

// Timing is what the schedule needs of the cluster's timers.
type Timing struct {
	// MasterDown is the longer Master_Down_Interval of the two
	// directors; a short stop lasts less than the shorter, MasterDownMin.
	MasterDown, MasterDownMin time.Duration
	// Settle estimates how long the cluster takes to come back after a
	// fault that moved the master (restart, preempt_delay, rise checks):
	// the plan spends its duration with it.
	Settle time.Duration
	// Kinds limits the schedule to these kinds of fault; nil draws every
	// kind. A narrow schedule hunts one kind's rare failure.
	Kinds []Kind
}

// ParseKinds reads a comma-separated list of kinds, each named by a part
// of its name ("SIGSTOP >", "ipvsadm"); every part must name one kind.
func ParseKinds(list string) ([]Kind, error) {
	var out []Kind
	for _, part := range strings.Split(list, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		var found []Kind
		for _, k := range Kinds {
			if strings.Contains(strings.ToLower(string(k)), strings.ToLower(part)) {
				found = append(found, k)
			}
		}
		if len(found) != 1 {
			return nil, fmt.Errorf("%q names %d kinds of fault, want one of %q", part, len(found), Kinds)
		}
		out = append(out, found[0])
	}
	return out, nil
}

// Plan returns the schedule of seed: faults drawn one after the other,
// every kind once in each round of len(Kinds), until their estimated time
// (hold, settling, gap) fills duration. The
// same seed, duration and timing give the same schedule; a run whose
// cluster settles more slowly than estimated runs a prefix of it.
func Plan(seed uint64, duration time.Duration, tm Timing) []Fault {
	rng := rand.New(rand.NewPCG(seed, seed^0x5eed))
	between := func(lo, hi time.Duration) time.Duration {
		return (lo + time.Duration(rng.Int64N(int64(hi-lo)+1))).Round(10 * time.Millisecond)
	}
	director := func() string { return []string{"a", "b"}[rng.IntN(2)] }
	// Kinds are drawn in rounds, each a shuffle of every kind, so that a
	// short run meets every kind of fault once in each len(Kinds) faults.
	kinds := Kinds
	if len(tm.Kinds) > 0 {
		kinds = tm.Kinds
	}
	var round []Kind
	next := func() Kind {
		if len(round) == 0 {
			round = append(round, kinds...)
			rng.Shuffle(len(round), func(i, j int) { round[i], round[j] = round[j], round[i] })
		}
		k := round[0]
		round = round[1:]
		return k
	}
	cfg := Initial()
	var out []Fault
	var spent time.Duration
	for spent < duration {
		f := Fault{Seq: len(out) + 1, Kind: next(), Gap: between(500*time.Millisecond, 2*time.Second)}
		settle := 2 * time.Second // a reload or a health change, on the emulated guest
		switch f.Kind {
		case Kill:
			f.Target, settle = director(), time.Second+tm.Settle
		case StopShort:
			f.Target, f.Hold = director(), between(tm.MasterDownMin/4, tm.MasterDownMin*3/4)
		case StopLong:
			f.Target, f.Hold, settle = director(), between(tm.MasterDown*3/2, 3*time.Second), tm.Settle
		case LinkDown:
			f.Target, f.Hold, settle = director(), between(500*time.Millisecond, 3*time.Second), tm.Settle
		case Netem:
			f.Target, f.Hold, settle = director(), between(2*time.Second, 6*time.Second), tm.Settle
			f.Loss, f.Delay = 5+rng.IntN(26), between(10*time.Millisecond, 50*time.Millisecond)
		case Partition:
			f.Hold, settle = between(time.Second, 4*time.Second), tm.Settle
		case Flush:
			f.Target = director()
		case ServerDown:
			servers := cfg.Servers()
			f.Target, f.Hold = servers[rng.IntN(len(servers))], between(2*time.Second, 5*time.Second)
		case ReloadWeight:
			servers := cfg.Servers()
			cfg = cfg.clone()
			cfg.Weights[servers[rng.IntN(len(servers))]] = 1 + rng.IntN(5)
		case ReloadAdd, ReloadRemove:
			// One kind for the toggle of rs3, named by what it does.
			cfg = cfg.clone()
			if _, ok := cfg.Weights["rs3"]; ok {
				f.Kind = ReloadRemove
				delete(cfg.Weights, "rs3")
			} else {
				f.Kind = ReloadAdd
				cfg.Weights["rs3"] = 1
			}
		case ReloadGARP:
			cfg = cfg.clone()
			cfg.GARPRepeat = 2 + rng.IntN(4)
		}
		f.Config = cfg
		out = append(out, f)
		spent += f.Hold + settle + f.Gap
	}
	return out
}
