package soak

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/lvsd/lvsd/bench/benchresult"
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

// TakeoverWindow is when a takeover that the schedule did not inject
// explains failed requests: master sent an advert late by late, at at,
// and its peer changed state between two samples, from and to, while that
// stall could have kept the adverts from it (the stall, from at - late to
// at, overlaps from - mdi to to). The master's lateness is only
// what its own process saw: on a starved host the adverts also wait in
// the kernel on their way, so the peer may hear nothing for a
// Master_Down_Interval although the master was late by less. The
// failures explained are those from grace before the stall until grace
// after the peer's change was seen, which covers the way back.
func TakeoverWindow(master string, at time.Time, late time.Duration, from, to time.Time, mdi, grace time.Duration) (Window, bool) {
	stalled := at.Add(-late)
	if late <= 0 || stalled.After(to) || at.Before(from.Add(-mdi)) {
		return Window{}, false
	}
	return Window{
		From:  stalled.Add(-grace),
		To:    to.Add(grace),
		Fault: fmt.Sprintf("%s's advert %v late, and its peer took over", master, late.Round(time.Millisecond)),
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

// Outcome is one fault as it ran: Recovery is from its heal until the
// cluster settled (Sample.Settled).
type Outcome struct {
	Fault    Fault
	Recovery time.Duration
}

// NewResult tabulates the outcomes and violations of a run.
func NewResult(seed uint64, planned, wall time.Duration, outcomes []Outcome, violations []Violation, start time.Time) benchresult.Soak {
	r := benchresult.Soak{Seed: seed, Planned: planned, Wall: wall, Faults: len(outcomes)}
	rows := map[Kind]*benchresult.SoakRow{}
	row := func(k Kind) *benchresult.SoakRow {
		if rows[k] == nil {
			rows[k] = &benchresult.SoakRow{Kind: string(k)}
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
