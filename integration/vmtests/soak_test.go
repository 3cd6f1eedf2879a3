//go:build vm

package vmtests

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lvsd/bench/benchresult"
	"github.com/lvsd/lvsd/config"
	"github.com/lvsd/lvsd/integration/lab"
	"github.com/lvsd/lvsd/integration/soak"
	"github.com/lvsd/lvsd/integration/vm"
	"github.com/lvsd/lvsd/internal/status"
	"github.com/lvsd/lvsd/vrrp"
)

// The soak: the e2e DR cluster (directors a and b, real servers, a client
// sending a request every 20 ms) under a seeded random schedule of faults
// (soak.Plan), one at a time: each is injected, held, healed, and the
// cluster is waited for until it settles before a quiet gap and the next.
// A sampler reads every director from outside every soakPoll (the
// daemon's status document, the VIP on its interface over netlink, its
// kernel's table by ipvsadm -S -n) and a soak.Monitor checks the
// invariants on each sample; the client's record is checked against the
// faults at the end, and the daemons' file descriptors, threads,
// goroutines and memory are compared between a settled start and the end.
var (
	soakDuration = flag.Duration("soak.duration", 0, "TestSoak: how long the schedule of faults lasts; 0 skips the test (TestSoakInVM sets it)")
	soakSeed     = flag.Uint64("soak.seed", 1, "TestSoak: the seed of the schedule; the same seed gives the same schedule")
	soakKinds    = flag.String("soak.kinds", "", "TestSoak: only these kinds of fault, comma-separated parts of their names; empty for all")
)

const (
	// soakRestartDelay is the supervisor's delay before it starts a dead
	// daemon again, as systemd's Restart=on-failure with RestartSec.
	soakRestartDelay = time.Second
	// soakPoll is the sampler's period. The kernel's table is read every
	// soakTableEvery samples only: ipvsadm is a process started through
	// ip netns exec, costly on the guest's emulated CPUs, and the table's
	// bound is seconds.
	soakPoll       = 100 * time.Millisecond
	soakTableEvery = 5
	// soakReconcile is the cluster's reconcile_interval: a flushed table
	// comes back within it.
	soakReconcile = 2 * time.Second
	// soakSettleWithin bounds the wait for the cluster to settle after a
	// heal: a restart, preempt_delay and rise checks take a few seconds.
	soakSettleWithin = 30 * time.Second
	// soakHugeFile is the size of the huge reload's file: over the
	// limit every command applies to a cluster file (config.MaxFileSize),
	// so a daemon must refuse it at once, without reading it whole. It is
	// written sparse: the test costs no disk. (How long a large file that
	// fits takes to parse is measured by the load benchmarks, not here:
	// on the emulated guest a few MiB take many seconds of CPU.)
	soakHugeFile = config.MaxFileSize + 1
	// The health checks: slower than the e2e test's, so that a live
	// server does not flap when the guest's emulated CPUs, which the
	// soak's sampler also loads, are starved by the host for a moment.
	soakInterval = time.Second
	soakTimeout  = 800 * time.Millisecond
	soakFall     = 3
)

// soakDetect bounds a dead real server's detection: fall checks, the last
// ending at its timeout, and one interval of slack (as e2eDetectBound).
const soakDetect = soakFall*soakInterval + soakTimeout + soakInterval

// soakBounds are the invariants' bounds. The election settles within the
// backup's Master_Down_Interval after a heal; 500 ms more covers the
// sampler's period and the emulated guest's pauses (see e2eAttempts). A
// table is repaired within the reconcile interval, and is read every
// 500 ms.
var soakBounds = soak.Bounds{
	VRRP:  vrrp.MasterDownInterval(e2ePrioB, e2eAdvert) + 500*time.Millisecond,
	Table: soakReconcile + 1500*time.Millisecond,
}

// soakRun is one run of the soak.
type soakRun struct {
	t     *testing.T
	l     *e2eLab
	c     *e2eClientLoop
	start time.Time
	sups  map[string]*soakSupervisor
	probe map[string]*soakProbe

	mu      sync.Mutex // guards the fields below
	mon     *soak.Monitor
	cluster soak.Cluster
	// lateSeen is the last late advert each director reported; starved
	// the windows of those late enough for a takeover.
	lateSeen map[string]time.Time
	starved  []soakLate
	// lates are every late advert a director reported; changes the
	// times a director's VRRP state changed between two samples, as its
	// transitions counter shows (trans: the counter and when it was read).
	lates   []soakLate
	changes []soakChange
	trans   map[string]soakTrans
	// calmFrom is when the last fault stopped explaining failures (zero
	// while one runs).
	calmFrom time.Time
}

// soakLate is a director's advert sent late enough for a takeover.
type soakLate struct {
	director    string
	stalled, at time.Time // the advert was due at stalled and left at at
	w           soak.Window
}

// soakChange is a change of a director's VRRP state seen between two
// samples.
type soakChange struct {
	director string
	from, to time.Time
}

type soakTrans struct {
	n  uint64
	at time.Time
}

// TestSoak runs the soak for -soak.duration with the schedule of
// -soak.seed and fails on any violation of the invariants; it prints the
// per-fault table and, after benchresult.SoakMarker, the result for bench/soak.
func TestSoak(t *testing.T) {
	if *soakDuration == 0 {
		t.Skip("run by TestSoakInVM (-soak.duration)")
	}
	vm.RequireGuest(t)
	run(t, "modprobe", "sch_netem")
	tm := soak.Timing{
		MasterDown:    vrrp.MasterDownInterval(e2ePrioB, e2eAdvert),
		MasterDownMin: vrrp.MasterDownInterval(e2ePrioA, e2eAdvert),
		Settle:        e2ePreemptDelay + 2*time.Second,
	}
	kinds, err := soak.ParseKinds(*soakKinds)
	if err != nil {
		t.Fatalf("-soak.kinds: %v", err)
	}
	tm.Kinds = kinds
	// The schedule's estimate of the cluster's pace is rough both ways:
	// it is drawn for twice the duration, and the run lasts the duration,
	// a prefix of it.
	plan := soak.Plan(*soakSeed, 2**soakDuration, tm)
	var sched strings.Builder
	for _, f := range plan {
		fmt.Fprintf(&sched, "\n  %s, then %v quiet", f, f.Gap)
	}
	t.Logf("soak: seed %d, duration %v (-soak.seed %d reproduces this schedule): %d faults%s", *soakSeed, *soakDuration, *soakSeed, len(plan), sched.String())

	r := newSoakRun(t)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
	}()
	for _, s := range r.sups {
		wg.Go(func() { s.run(ctx) })
	}
	wg.Go(func() { r.sampleLoop(ctx) })

	settled, ok := r.waitSettled(time.Now())
	if !ok {
		t.Fatalf("the cluster did not settle before the first fault: %s", r.last())
	}
	r.c = e2eStartClient(t, r.l.client)
	r.c.onFail = r.atFailure
	r.start = settled
	base := r.usage()
	var outcomes []soak.Outcome
	var windows []soak.Window
	for _, f := range plan {
		if time.Since(r.start) > *soakDuration {
			t.Logf("soak: %v spent, %d of the %d faults of the schedule ran", *soakDuration, len(outcomes), len(plan))
			break
		}
		o, w := r.inject(f)
		outcomes = append(outcomes, o)
		if w != nil {
			windows = append(windows, *w)
		}
		base = r.rebase(base)
		time.Sleep(f.Gap)
	}
	wall := time.Since(r.start)
	r.c.stop()
	cancel()
	wg.Wait()

	res := r.result(outcomes, windows, base, wall)
	t.Logf("\n%s", res.Table())
	if err := benchresult.Print(os.Stdout, benchresult.SoakMarker, res); err != nil {
		t.Fatal(err)
	}
	if !res.Passed() {
		t.Errorf("soak: %d violations (seed %d; -soak.seed %d runs the same schedule)", len(res.Violations), *soakSeed, *soakSeed)
	}
}

func newSoakRun(t *testing.T) *soakRun {
	r := &soakRun{
		t:        t,
		l:        newE2ELab(t),
		sups:     map[string]*soakSupervisor{},
		probe:    map[string]*soakProbe{},
		mon:      soak.NewMonitor(soakBounds),
		cluster:  soak.Initial(),
		lateSeen: map[string]time.Time{},
		trans:    map[string]soakTrans{},
	}
	r.l.writeFile([]byte(r.file(r.cluster)))
	// a first, as in the e2e test: started together on emulated CPUs both
	// may run out their Master_Down_Timer before hearing the other.
	for _, name := range []string{"a", "b"} {
		d := r.l.dirs[name]
		r.l.start(d)
		want := status.StateMaster
		if name == "b" {
			want = status.StateBackup
		}
		r.l.waitState(d, want, 10*time.Second)
		r.sups[name] = &soakSupervisor{l: r.l, d: d, proc: d.proc, exited: r.exited}
		r.probe[name] = &soakProbe{d: d}
	}
	return r
}

// file is the cluster file for c.
func (r *soakRun) file(c soak.Cluster) string {
	return e2eFile{weights: c.Weights, garpRepeat: c.GARPRepeat, interval: soakInterval, timeout: soakTimeout, fall: soakFall, reconcile: soakReconcile}.String()
}

// exited is the supervisors' report of a daemon's death that the soak did
// not cause.
func (r *soakRun) exited(at time.Time, why string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.mon.Record("no daemon dies", at, why)
}

func (r *soakRun) last() soak.Sample {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.mon.Last()
}

// sampleLoop feeds the monitor a sample every soakPoll until ctx ends.
func (r *soakRun) sampleLoop(ctx context.Context) {
	tick := time.NewTicker(soakPoll)
	defer tick.Stop()
	for n := 0; ; n++ {
		s := soak.Sample{At: time.Now(), Dirs: make([]soak.Director, 2)}
		var wg sync.WaitGroup
		for i, name := range []string{"a", "b"} {
			wg.Go(func() { s.Dirs[i] = r.probe[name].read(ctx, n%soakTableEvery == 0) })
		}
		wg.Wait()
		r.mu.Lock()
		for i := range s.Dirs {
			if s.Dirs[i].Up {
				s.Dirs[i].Want, s.Dirs[i].Unhealthy = r.want(r.probe[s.Dirs[i].Name].doc)
				r.noteLate(s.Dirs[i].Name, r.probe[s.Dirs[i].Name].doc)
				r.noteChange(s.Dirs[i].Name, r.probe[s.Dirs[i].Name].doc, s.At)
			}
		}
		r.mon.Observe(s)
		r.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// noteLate records the window of a late advert in doc that is new and late
// enough for the backup to have taken over (soak.StarvedWindow). The
// caller holds r.mu.
func (r *soakRun) noteLate(name string, doc status.Document) {
	in, ok := e2eInstance(doc)
	if !ok || in.LastLateAdvert == nil || in.LastLateAdvert.At.Equal(r.lateSeen[name]) {
		return
	}
	l := in.LastLateAdvert
	r.lateSeen[name] = l.At
	late := time.Duration(l.LateMS * float64(time.Millisecond))
	r.lates = append(r.lates, soakLate{director: name, stalled: l.At.Add(-late), at: l.At})
	enough := vrrp.MasterDownInterval(e2ePrioA, e2eAdvert) - e2eAdvert
	if w, ok := soak.StarvedWindow(name, l.At, late, enough, e2eReqGrace); ok {
		r.starved = append(r.starved, soakLate{director: name, stalled: l.At.Add(-late), at: l.At, w: w})
	}
}

// noteChange records that a director's VRRP state changed since the last
// sample that read its status (a restarted daemon counts from zero). The
// caller holds r.mu.
func (r *soakRun) noteChange(name string, doc status.Document, at time.Time) {
	in, ok := e2eInstance(doc)
	if !ok {
		return
	}
	prev, seen := r.trans[name]
	r.trans[name] = soakTrans{n: in.Transitions, at: at}
	if seen && in.Transitions > prev.n {
		r.changes = append(r.changes, soakChange{director: name, from: prev.at, to: at})
	}
}

// want is the table that the cluster file and the health in doc ask for,
// and how many of the file's real servers doc does not show healthy. The
// caller holds r.mu.
func (r *soakRun) want(doc status.Document) ([]string, int) {
	var rules []string
	unhealthy := len(r.cluster.Weights)
	for _, vs := range doc.VirtualServers {
		rules = append(rules, vs.Address)
		for _, rs := range vs.RealServers {
			if !rs.Healthy {
				continue
			}
			weight := rs.ConfiguredWeight
			if vs.Name == "web" {
				name := soakServerName(rs.Address)
				w, ok := r.cluster.Weights[name]
				if !ok {
					continue // not in the file: must not be in the table
				}
				weight = w
				unhealthy--
			}
			rules = append(rules, soak.Rule(vs.Address, rs.Address, strconv.Itoa(weight)))
		}
	}
	slices.Sort(rules)
	return rules, unhealthy
}

func soakServerName(addrPort string) string {
	host, _, _ := strings.Cut(addrPort, ":")
	for name, addr := range e2eServerAddrs {
		if addr == host {
			return name
		}
	}
	return addrPort
}

// soakProbe reads one director from outside. Its fields belong to the
// sampler's goroutine of that director, doc to the sampler under r.mu.
type soakProbe struct {
	d        *e2eDirector
	doc      status.Document
	last     soak.Director // the last answer
	answered time.Time
}

// soakStatusWait is how long the sampler waits for a status document, and
// soakStale how long it takes a daemon that does not answer for the one
// it last heard: on the emulated guest a loaded daemon can take a second
// to answer, and a stopped or dead one is its fault's business.
const (
	soakStatusWait = time.Second
	soakStale      = 2 * time.Second
)

// read samples the director; the kernel's table is read with table only,
// right after the status, so that the two are compared at one instant.
func (p *soakProbe) read(ctx context.Context, table bool) soak.Director {
	out := soak.Director{Name: p.d.name}
	vip, vipErr := p.d.host.HasAddr("eth0", net.ParseIP(e2eVIP))
	sctx, cancel := context.WithTimeout(ctx, soakStatusWait)
	doc, err := status.Get(sctx, p.d.socket)
	cancel()
	switch {
	case err == nil:
		p.doc, p.answered, out.Up = doc, time.Now(), true
		if in, ok := e2eInstance(doc); ok {
			out.State = in.State
		}
		if table {
			out.Table = p.ipvsTable()
		}
		p.last = out
	case time.Since(p.answered) < soakStale:
		out = p.last
		out.Table = nil
	}
	out.VIP = vip || vipErr != nil && p.last.VIP
	return out
}

// ipvsTable is the director's kernel table as ipvsadm -S -n prints it;
// nil if it cannot be read. ipvsadm runs on a thread in the director's
// namespace: through `ip netns exec` it would cost two programs' start on
// the emulated CPUs instead of one.
func (p *soakProbe) ipvsTable() []string {
	var save []byte
	err := p.d.host.Do(func() (err error) {
		save, err = exec.Command("ipvsadm", "-S", "-n").Output()
		return err
	})
	if err != nil {
		return nil
	}
	return soak.Rules(string(save))
}

// waitSettled waits until a sample taken after from shows the cluster
// settled and returns when; after soakSettleWithin it records a
// violation and returns false.
func (r *soakRun) waitSettled(from time.Time) (time.Time, bool) {
	deadline := from.Add(soakSettleWithin)
	for {
		s := r.last()
		if s.At.After(from) && s.Settled("a") {
			return s.At, true
		}
		if time.Now().After(deadline) {
			r.mu.Lock()
			r.mon.Record("the cluster settles after a fault", from, fmt.Sprintf("not settled within %v; last seen %s; tables %s", soakSettleWithin, s, soakTables(s)))
			r.mu.Unlock()
			return time.Now(), false
		}
		time.Sleep(soakPoll / 2)
	}
}

func soakTables(s soak.Sample) string {
	var b strings.Builder
	for _, d := range s.Dirs {
		fmt.Fprintf(&b, "[%s: %d unhealthy, kernel %q, want %q]", d.Name, d.Unhealthy, d.Table, d.Want)
	}
	return b.String()
}

// inject runs fault f: begins it, holds it, heals it, waits for the
// cluster to settle. It returns the outcome and the window in which f
// explains failed requests, if any.
func (r *soakRun) inject(f soak.Fault) (soak.Outcome, *soak.Window) {
	r.mu.Lock()
	r.mon.Begin(f)
	r.calmFrom = time.Time{}
	r.mu.Unlock()
	begun := time.Now()
	r.apply(f)
	healed := time.Now()
	r.mu.Lock()
	r.mon.Heal()
	r.mu.Unlock()
	settled, _ := r.waitSettled(healed)
	r.mu.Lock()
	r.calmFrom = settled.Add(e2eReqGrace)
	r.mu.Unlock()
	r.t.Logf("soak: +%v %s: healed +%v, settled +%v", begun.Sub(r.start).Round(time.Millisecond), f,
		healed.Sub(r.start).Round(time.Millisecond), settled.Sub(r.start).Round(time.Millisecond))
	o := soak.Outcome{Fault: f, Recovery: settled.Sub(healed)}
	if w, ok := soak.ClientWindow(f, begun, healed, settled, soakDetect, e2eReqGrace); ok {
		return o, &w
	}
	return o, nil
}

// apply does f's harm and undoes it; it returns once f is healed.
func (r *soakRun) apply(f soak.Fault) {
	t := r.t
	switch f.Kind {
	case soak.Kill:
		s := r.sups[f.Target]
		old := s.kill()
		// Healed when the supervisor's new daemon answers itself: the
		// sampler may still hold the killed one's last answer (soakStale),
		// and the new one answers only once it has removed what the old
		// one left and bound its sockets (README, After a crash).
		deadline := time.Now().Add(soakRestartDelay + 15*time.Second)
		for s.current().Pid() == old || !r.answers(f.Target) {
			if time.Now().After(deadline) {
				r.record(fmt.Sprintf("lvsd on %s restarted after kill -9", f.Target), "no answering daemon within 15 s")
				return
			}
			time.Sleep(soakPoll / 2)
		}
	case soak.StopShort, soak.StopLong:
		p := r.sups[f.Target].current()
		if err := p.Signal(syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		time.Sleep(f.Hold)
		if err := p.Signal(syscall.SIGCONT); err != nil {
			t.Fatal(err)
		}
	case soak.LinkDown:
		h := r.l.dirs[f.Target].host
		r.hold(f, func() error { return h.LinkDown("eth0") }, func() error { return h.LinkUp("eth0") })
	case soak.Netem:
		h := r.l.dirs[f.Target].host
		r.hold(f, func() error { return h.Netem("eth0", float32(f.Loss), f.Delay) }, func() error { return h.ClearNetem("eth0") })
	case soak.Partition:
		isolate := func(on bool) func() error {
			return func() error {
				for _, d := range []string{"a", "b"} {
					if err := r.l.lan.Isolate(d, on); err != nil {
						return err
					}
				}
				return nil
			}
		}
		r.hold(f, isolate(true), isolate(false))
	case soak.Flush:
		r.l.dirs[f.Target].host.MustExec(t, "ipvsadm", "-C")
	case soak.ServerDown:
		s := r.l.servers[f.Target]
		r.hold(f, func() error { s.proc.Kill(); return nil }, func() error { s.start(); return nil })
	default:
		r.reload(f)
	}
}

// hold does harm, waits f.Hold and undoes it.
func (r *soakRun) hold(f soak.Fault, harm, undo func() error) {
	if err := harm(); err != nil {
		r.t.Fatalf("%s: %v", f, err)
	}
	time.Sleep(f.Hold)
	if err := undo(); err != nil {
		r.t.Fatalf("%s: healing: %v", f, err)
	}
}

// atFailure tells where a failed request's packets went, when no fault
// explains it (from grace after the last fault settled until the next
// begins): the client's neighbour entry of the VIP (whose MAC it sends
// to), each director's MAC, VRRP state and IPVS connection of the
// client's port.
func (r *soakRun) atFailure(q *e2eRequest) string {
	r.mu.Lock()
	calm := !r.calmFrom.IsZero() && q.Start.After(r.calmFrom)
	r.mu.Unlock()
	if !calm {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var b strings.Builder
	neigh, _ := r.l.client.Exec(ctx, "ip", "neigh", "show", e2eVIP)
	fmt.Fprintf(&b, "client's neighbour %q", strings.TrimSpace(neigh))
	last := r.last()
	for _, name := range []string{"a", "b"} {
		d := r.l.dirs[name]
		conns, _ := d.host.Exec(ctx, "ipvsadm", "-Lnc")
		var mine []string
		for _, l := range strings.Split(conns, "\n") {
			if strings.Contains(l, fmt.Sprintf(":%d ", q.Port)) {
				mine = append(mine, strings.Join(strings.Fields(l), " "))
			}
		}
		fmt.Fprintf(&b, "; %s %s", name, d.host.MAC())
		for _, x := range last.Dirs {
			if x.Name == name {
				fmt.Fprintf(&b, " %s vip=%v", x.State, x.VIP)
			}
		}
		fmt.Fprintf(&b, " conns %q", mine)
	}
	return b.String()
}

// answers reports whether the director's daemon answers a status request
// now.
func (r *soakRun) answers(director string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), soakStatusWait)
	defer cancel()
	_, err := status.Get(ctx, r.l.dirs[director].socket)
	return err == nil
}

func (r *soakRun) record(invariant, detail string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.mon.Record(invariant, time.Now(), detail)
}

// reload writes the file of reload f, asks both daemons to reload it and
// checks what they did: a valid change applied, a broken or pathological
// file refused, every daemon alive and its VRRP instance untouched. A
// file that must not run is replaced by the running config at once, so a
// daemon that died of it starts again on a good one.
func (r *soakRun) reload(f soak.Fault) {
	var file []byte
	switch f.Kind {
	case soak.ReloadSyntax:
		file = []byte(r.file(f.Config) + "\nvirtual_server \"broken\" {\n")
	case soak.ReloadDeep:
		file = []byte("x = " + strings.Repeat("[", 100_000) + strings.Repeat("]", 100_000) + "\n")
	default:
		file = []byte(r.file(f.Config))
	}
	before := map[string]status.Instance{}
	for _, name := range []string{"a", "b"} {
		before[name] = r.instance(name)
	}
	r.l.writeFile(file)
	if f.Kind == soak.ReloadHuge {
		// Zeros after the file's text, up to the size: a sparse file.
		if err := os.Truncate(r.l.cfg, soakHugeFile); err != nil {
			r.t.Fatal(err)
		}
	}
	for _, name := range []string{"a", "b"} {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		applied, diags, err := status.Reload(ctx, r.l.dirs[name].socket)
		cancel()
		switch {
		case err != nil:
			r.record("every reload answered", fmt.Sprintf("lvsd on %s: %v", name, err))
		case f.Kind.Rejected() && applied:
			r.record("a broken file refused", fmt.Sprintf("lvsd on %s applied it", name))
		case !f.Kind.Rejected() && !applied:
			r.record("a valid file applied", fmt.Sprintf("lvsd on %s refused it: %s", name, diags))
		}
	}
	r.l.writeFile([]byte(r.file(f.Config)))
	r.mu.Lock()
	r.cluster = f.Config
	r.mu.Unlock()
	for _, name := range []string{"a", "b"} {
		was, now := before[name], r.instance(name)
		if now.Transitions != was.Transitions || !now.Since.Equal(was.Since) {
			r.record("a reload leaves VRRP untouched", fmt.Sprintf("VI_1 on %s: %s since %s after %d transitions before, %s since %s after %d after",
				name, was.State, was.Since.Format(time.StampMilli), was.Transitions, now.State, now.Since.Format(time.StampMilli), now.Transitions))
		}
	}
}

// instance is VI_1 as director name's daemon reports it; empty if it
// does not answer.
func (r *soakRun) instance(name string) status.Instance {
	doc, err := r.l.status(r.l.dirs[name])
	if err != nil {
		return status.Instance{State: "down"}
	}
	in, _ := e2eInstance(doc)
	return in
}

// soakUsage is a daemon's usage with the process it was read from.
type soakUsage struct {
	pid, restarts int
	at            time.Time
	u             benchresult.SoakUsage
}

// usage reads each director's daemon.
func (r *soakRun) usage() map[string]soakUsage {
	out := map[string]soakUsage{}
	for name, s := range r.sups {
		p := s.current()
		u, err := soakProcUsage(p.Pid(), r.l.dirs[name].socket)
		if err != nil {
			r.record("the daemons' usage readable", fmt.Sprintf("lvsd on %s: %v", name, err))
		}
		out[name] = soakUsage{pid: p.Pid(), restarts: s.restartCount(), at: time.Now(), u: u}
	}
	return out
}

// rebase takes a new start figure for a director whose daemon was
// restarted since base: the leak check compares one process with itself.
func (r *soakRun) rebase(base map[string]soakUsage) map[string]soakUsage {
	now := r.usage()
	for name, b := range base {
		if now[name].pid != b.pid {
			base[name] = now[name]
		}
	}
	return base
}

func (r *soakRun) result(outcomes []soak.Outcome, windows []soak.Window, base map[string]soakUsage, wall time.Duration) benchresult.Soak {
	var fails []soak.Failure
	reqs := r.c.requests()
	for _, q := range reqs {
		if q.Err != nil {
			fails = append(fails, soak.Failure{Start: q.Start, Port: q.Port, Err: q.Err.Error()})
		}
	}
	end := r.usage()
	r.mu.Lock()
	var resources []benchresult.SoakResources
	for _, name := range []string{"a", "b"} {
		b, e := base[name], end[name]
		x := benchresult.SoakResources{Director: name, Pid: e.pid, Restarts: e.restarts, Base: b.u, End: e.u, Over: e.at.Sub(b.at)}
		if g := x.Growth(); len(g) > 0 {
			r.mon.Record("no growth of a daemon's resources", b.at, fmt.Sprintf("lvsd on %s (pid %d) over %v: %s", name, e.pid, x.Over.Round(time.Second), strings.Join(g, ", ")))
		}
		resources = append(resources, x)
	}
	// A late advert of a director that the schedule itself stopped is
	// that fault's, already explained; the others were not injected.
	type notInjected struct {
		at   time.Time
		what string
	}
	var starvedAt []notInjected
	for _, l := range r.starved {
		injected := slices.ContainsFunc(windows, func(w soak.Window) bool {
			return (w.Kind == soak.StopShort || w.Kind == soak.StopLong) && strings.Contains(w.Fault, " on "+l.director+" ") &&
				!l.at.Before(w.From) && !l.stalled.After(w.To)
		})
		if !injected {
			windows = append(windows, l.w)
			starvedAt = append(starvedAt, notInjected{l.at, l.w.Fault})
		}
	}
	// A takeover that no fault of the schedule explains, by a peer of a
	// director whose adverts were late at the time: the host starved
	// the guest (soak.TakeoverWindow).
	mdi := vrrp.MasterDownInterval(e2ePrioB, e2eAdvert)
	for _, c := range r.changes {
		injected := slices.ContainsFunc(windows, func(w soak.Window) bool {
			return w.Kind.VRRP() && !c.to.Before(w.From) && !c.from.After(w.To)
		})
		if injected {
			continue
		}
		for _, l := range r.lates {
			if l.director == c.director {
				continue
			}
			if w, ok := soak.TakeoverWindow(l.director, l.at, l.at.Sub(l.stalled), c.from, c.to, mdi, e2eReqGrace); ok {
				windows = append(windows, w)
				starvedAt = append(starvedAt, notInjected{l.at, w.Fault})
				break
			}
		}
	}
	slices.SortFunc(starvedAt, func(a, b notInjected) int { return a.at.Compare(b.at) })
	var starved []string
	for _, x := range starvedAt {
		starved = append(starved, fmt.Sprintf("+%v %s", x.at.Sub(r.start).Round(time.Millisecond), x.what))
	}
	slices.SortFunc(windows, func(a, b soak.Window) int { return a.From.Compare(b.From) })
	violations := append(r.mon.Violations(), soak.Unexplained(fails, windows)...)
	r.mu.Unlock()
	res := soak.NewResult(*soakSeed, *soakDuration, wall, outcomes, violations, r.start)
	res.Requests, res.Failed, res.Resources, res.Starved = len(reqs), len(fails), resources, starved
	return res
}

// soakProcUsage reads a daemon's file descriptors, threads and resident
// memory from /proc and its goroutines from its pprof endpoint.
func soakProcUsage(pid int, socket string) (benchresult.SoakUsage, error) {
	var u benchresult.SoakUsage
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return u, err
	}
	u.FDs = len(fds)
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return u, err
	}
	for line := range strings.SplitSeq(string(st), "\n") {
		k, v, _ := strings.Cut(line, ":")
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		switch k {
		case "VmRSS":
			u.RSSKiB, _ = strconv.Atoi(f[0])
		case "Threads":
			u.Threads, _ = strconv.Atoi(f[0])
		}
	}
	u.Goroutines, err = soakGoroutines(socket)
	return u, err
}

// soakGoroutines reads "goroutine profile: total N" from the daemon's
// /debug/pprof/goroutine?debug=1 on its control socket.
func soakGoroutines(socket string) (int, error) {
	c := http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
	}}
	resp, err := c.Get("http://lvsd/debug/pprof/goroutine?debug=1")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "goroutine profile: total")))
	if err != nil {
		return 0, fmt.Errorf("goroutine profile %q: %w", line, err)
	}
	return n, nil
}

// soakSupervisor starts a director's daemon again soakRestartDelay after it
// died, as systemd's Restart=on-failure does, and reports a death the
// soak did not cause.
type soakSupervisor struct {
	l      *e2eLab
	d      *e2eDirector
	exited func(at time.Time, why string)

	mu       sync.Mutex
	proc     *lab.Proc
	killing  bool // the next exit is the soak's kill -9
	restarts int
}

func (s *soakSupervisor) run(ctx context.Context) {
	for {
		p := s.current()
		select {
		case <-ctx.Done():
			return
		case <-p.Done():
		}
		s.mu.Lock()
		expected := s.killing
		s.killing = false
		s.mu.Unlock()
		if !expected {
			s.exited(time.Now(), fmt.Sprintf("lvsd on %s (pid %d) exited: %v; its last lines:\n%s", s.d.name, p.Pid(), p.Err(), soakTail(p.Output(), 12)))
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(soakRestartDelay):
		}
		s.l.start(s.d)
		s.mu.Lock()
		s.proc = s.d.proc
		s.restarts++
		s.mu.Unlock()
	}
}

// kill sends SIGKILL to the daemon and returns its pid.
func (s *soakSupervisor) kill() int {
	s.mu.Lock()
	s.killing = true
	p := s.proc
	s.mu.Unlock()
	_ = p.Signal(syscall.SIGKILL)
	return p.Pid()
}

func (s *soakSupervisor) current() *lab.Proc {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proc
}

func (s *soakSupervisor) restartCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.restarts
}

// soakTail is the last n lines of out.
func soakTail(out string, n int) string {
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
