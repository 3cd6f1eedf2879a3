package vrrpd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lvsd/lvsd/internal/announce"
	"github.com/lvsd/lvsd/vrrp"
	"golang.org/x/sys/unix"
)

// DefaultVIPCheckInterval is how often a master looks for virtual addresses
// deleted behind its back when no netlink event asks sooner (see
// [Instance.CheckVIPs]). The daemon watches the interface's address
// deletions and checks at once on each, and again whenever that watch
// fails and is renewed, so the periodic check is only a safety net. Every
// check dumps the interface's addresses, a cost that grows with the VIPs
// held, so it runs as seldom as IPVS's drift repair (reconcile_interval's
// default).
const DefaultVIPCheckInterval = 10 * time.Second

// receiveBackoff is the pause after a socket error that is not the close at
// shutdown (an interface gone, a buffer shortage), so that a persistent error
// does not spin the reader.
const receiveBackoff = 100 * time.Millisecond

// masterDownEarly is how long before the Master_Down_Timer runs out its
// time.Timer fires; Run sleeps the rest in nanosleep(2)
// (preciseSleepUntil). An idle Go process waits for its next timer in
// epoll_pwait, whose timeout counts whole milliseconds, so a time.Timer
// alone fires up to a millisecond late: a fifth of the takeover tolerance
// at a 10 ms advert interval, where keepalived is on time to 0.2 ms.
const masterDownEarly = 2 * time.Millisecond

// maxDrain bounds how many queued packets Run takes in before it fires the
// Master_Down_Timer, so that a flood cannot hold it off forever.
const maxDrain = 16

// queuedWait bounds how long Run waits, when the Master_Down_Timer runs out
// with a packet still in the socket, for the reader to pass that packet on.
// The reader needs only to be scheduled: it waits this long only on a
// machine too busy to run it, where taking over on an advert that did
// arrive would be a false failover.
const queuedWait = 10 * time.Millisecond

// queuer is a Transport that can tell whether a packet waits in its socket;
// *vrrp.Conn is one.
type queuer interface {
	Pending() (bool, error)
}

// maxAdvertLen is the largest advert: 8 bytes of header, 8 of version 2
// authentication data and 255 IPv6 addresses.
const maxAdvertLen = 8 + 8 + 255*16

// timerIDs are the machine's timers; the driver keeps one time.Timer each.
var timerIDs = [...]vrrp.TimerID{vrrp.MasterDownTimer, vrrp.AdvertTimer, vrrp.PreemptDelayTimer, vrrp.ReleaseTimer, vrrp.LingerTimer, vrrp.ReclaimTimer}

// Option tunes an Instance.
type Option func(*options)

type options struct {
	own []netip.Addr
}

// WithOwnAddrs names further addresses of this router besides the
// transport's source. Adverts from them are our own (counted as
// [vrrp.DropOwn]), and unicast_peers entries among them get no advert.
func WithOwnAddrs(addrs ...netip.Addr) Option {
	return func(o *options) { o.own = append(o.own, addrs...) }
}

// Instance drives one VRRP virtual router. New builds it; Run runs it.
//
// The priority ([Instance.UpdatePriority]) and the garp block
// ([Instance.UpdateGARP]) can change while it runs; a reload that changes
// the election (interface, VRID, version, interval, preemption, peers,
// addresses) needs a new Instance: stop the old one (its Run returns once
// the addresses are handed over) and run the new one.
type Instance struct {
	cfg    Config
	deps   Deps
	log    *slog.Logger
	vips   []netip.Prefix
	dsts   []netip.Addr // multicast group, or the unicast peers that are not us
	filter vrrp.Filter
	advert vrrp.Advert // template; Priority set per send

	started atomic.Bool

	// Owned by the Run goroutine.
	m           *vrrp.Machine
	timers      [len(timerIDs)]*time.Timer
	vipTimer    *time.Timer
	garp        announce.Schedule
	annCancel   context.CancelFunc
	annStart    time.Time // when the running schedule began
	annWG       sync.WaitGroup
	sendFailing bool
	vipFailing  bool
	addrsDiffer bool
	dropLogged  map[vrrp.DropReason]bool

	// The Master_Down_Timer runs out at mdDeadline; its time.Timer
	// fires masterDownEarly before. Every arming or stop bumps mdGen.
	mdDeadline time.Time
	mdGen      uint64
	// eventAt is when the event being stepped happened: the receive time
	// of an advert, which the Master_Down_Timer counts from, not the
	// later moment Run got to it. Zero for other events (now).
	eventAt time.Time
	// advertDue is when the running AdvertTimer is due; lastAdvertAt is
	// when the last advert from another router was accepted (both for the
	// log lines that tell a starved master from a lost network).
	advertDue    time.Time
	lastAdvertAt time.Time
	// lateLoggedAt is when a late advert was last logged; lateNotLogged
	// counts those since that were not.
	lateLoggedAt  time.Time
	lateNotLogged int

	wake chan struct{} // capacity 1: something was queued under mu

	mu       sync.Mutex
	pending  []vrrp.Event
	checkReq bool
	newGARP  *announce.Schedule // set by UpdateGARP, taken by Run
	linkDown map[string]bool
	st       InstanceStatus
	ifDown   bool
	hook     func(vrrp.Transition)
	// Tracking (track.go): what is followed, what is known of it, and
	// what was last told to the machine.
	tracks   trackSet
	scriptOK map[string]bool // absent: no result yet
	fileVal  map[string]int64
	faulted  bool
	effPrio  uint8
}

// trackSet is what an instance follows.
type trackSet struct {
	ifaces, scripts, files []Track
}

// New builds an instance from its configuration. It starts nothing: no
// goroutine runs and no packet is sent until Run. Transport and VIPs must be
// set in deps.
func New(cfg Config, deps Deps, opts ...Option) (*Instance, error) {
	if deps.Transport == nil {
		return nil, fmt.Errorf("vrrp instance %s: no transport", cfg.Name)
	}
	if deps.VIPs == nil {
		return nil, fmt.Errorf("vrrp instance %s: no virtual address manager", cfg.Name)
	}
	if len(cfg.VirtualIPs) == 0 {
		return nil, fmt.Errorf("vrrp instance %s: no virtual addresses", cfg.Name)
	}
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	log := deps.Logger
	if log == nil {
		log = slog.Default()
	}
	version := cfg.Version
	if version == 0 {
		version = 3
	}
	src := deps.Transport.Source().Unmap().WithZone("")
	own := []netip.Addr{src}
	for _, a := range o.own {
		own = append(own, a.Unmap().WithZone(""))
	}

	in := &Instance{
		cfg:        cfg,
		deps:       deps,
		log:        log.With("instance", cfg.Name),
		vips:       slices.Clone(cfg.VirtualIPs),
		garp:       cfg.Announce,
		dropLogged: make(map[vrrp.DropReason]bool),
		wake:       make(chan struct{}, 1),
		linkDown:   make(map[string]bool),
		tracks:     trackSet{ifaces: slices.Clone(cfg.TrackInterfaces), scripts: slices.Clone(cfg.TrackScripts), files: slices.Clone(cfg.TrackFiles)},
		scriptOK:   make(map[string]bool),
		fileVal:    make(map[string]int64),
		effPrio:    EffectivePriority(cfg.Priority, 0),
	}

	var peers []netip.Addr
	for _, p := range cfg.UnicastPeers {
		p = p.Unmap().WithZone("")
		// The peer list names every director, us included.
		if !slices.Contains(own, p) {
			peers = append(peers, p)
		}
	}
	if len(cfg.UnicastPeers) > 0 {
		in.dsts = peers
	} else {
		in.dsts = []netip.Addr{vrrp.MulticastGroup(cfg.IPv6())}
	}

	in.advert = vrrp.Advert{
		Version:           version,
		Type:              vrrp.TypeAdvertisement,
		VRID:              cfg.VRID,
		MaxAdvertInterval: cfg.AdvertInterval,
	}
	for _, p := range cfg.VirtualIPs {
		in.advert.Addresses = append(in.advert.Addresses, p.Addr())
	}
	in.filter = vrrp.Filter{VRID: cfg.VRID, Version: version, Own: own, Peers: peers}
	if version == 2 && cfg.AuthPass != "" {
		in.advert.AuthType = vrrp.AuthSimple
		in.advert.AuthData = vrrp.PasswordAuthData(cfg.AuthPass)
		in.filter.AuthType = in.advert.AuthType
		in.filter.AuthData = in.advert.AuthData
	}

	in.m = vrrp.NewMachine(vrrp.Params{
		Version:        version,
		VRID:           cfg.VRID,
		Priority:       in.effPrio,
		AdvertInterval: cfg.AdvertInterval,
		Preempt:        cfg.Preempt,
		PreemptDelay:   cfg.PreemptDelay,
		Accept:         cfg.Accept,
		PrimaryAddr:    src,
	})

	dropped := make(map[vrrp.DropReason]uint64)
	for _, r := range vrrp.DropReasons() {
		dropped[r] = 0
	}
	in.st = InstanceStatus{
		Name:              cfg.Name,
		State:             vrrp.Init,
		VRID:              cfg.VRID,
		Interface:         cfg.Interface,
		Version:           version,
		Priority:          cfg.Priority,
		EffectivePriority: in.effPrio,
		VirtualIPs:        slices.Clone(cfg.VirtualIPs),
		TransitionsTo:     make(map[vrrp.State]uint64),
		Dropped:           dropped,
	}
	// Weights of what counts as up until reported (interfaces, files at
	// 0) apply from the start.
	in.mu.Lock()
	in.retrackLocked()
	in.mu.Unlock()
	return in, nil
}

// Name returns the instance's configured name.
func (in *Instance) Name() string { return in.cfg.Name }

// Status returns a snapshot of the instance. It is safe to call at any time
// from any goroutine.
func (in *Instance) Status() InstanceStatus {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.st.clone()
}

// SetLink reports the operational state of an interface. Names other than
// the instance's interface and its tracked interfaces are ignored. The
// instance's own interface down, or a tracked one of weight 0, puts it in
// FAULT until all are up again; a weighted one moves the priority.
// Interfaces never reported count as up; reports made before Run are
// applied before the instance starts, so an interface known to be down
// keeps it from ever becoming BACKUP.
func (in *Instance) SetLink(ifname string, up bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if ifname != in.cfg.Interface && !slices.ContainsFunc(in.tracks.ifaces, func(t Track) bool { return t.Name == ifname }) {
		return
	}
	if up {
		delete(in.linkDown, ifname)
	} else {
		in.linkDown[ifname] = true
	}
	in.retrackLocked()
}

// SetScript reports the state of a track_script (ScriptState); scripts the
// instance does not follow are ignored.
func (in *Instance) SetScript(name string, ok bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if was, known := in.scriptOK[name]; known && was == ok {
		return
	}
	in.scriptOK[name] = ok
	if slices.ContainsFunc(in.tracks.scripts, func(t Track) bool { return t.Name == name }) {
		in.log.Info("tracked script", "script", name, "ok", ok)
	}
	in.retrackLocked()
	in.signalLocked() // an instance held in INIT may start now
}

// SetFile reports the number a track_file holds.
func (in *Instance) SetFile(name string, value int64) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if was, known := in.fileVal[name]; known && was == value {
		return
	}
	in.fileVal[name] = value
	if slices.ContainsFunc(in.tracks.files, func(t Track) bool { return t.Name == name }) {
		in.log.Info("tracked file", "file", name, "value", value)
	}
	in.retrackLocked()
}

// UpdateTracking sets what the instance follows, as a reload that changes
// only tracking or its weights does: no restart, the state is kept; a new
// effective priority is advertised at once by a master.
func (in *Instance) UpdateTracking(ifaces, scripts, files []Track) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.tracks = trackSet{ifaces: slices.Clone(ifaces), scripts: slices.Clone(scripts), files: slices.Clone(files)}
	for name := range in.linkDown {
		if name != in.cfg.Interface && !slices.ContainsFunc(ifaces, func(t Track) bool { return t.Name == name }) {
			delete(in.linkDown, name)
		}
	}
	in.retrackLocked()
}

// UpdatePriority sets a new base priority, as a reload that changes only
// the priority does: the instance keeps its state and timers, and a master
// advertises the new effective priority at once. 0 is ignored.
func (in *Instance) UpdatePriority(p uint8) {
	if p == 0 {
		return
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	in.st.Priority = p
	in.retrackLocked()
}

// retrackLocked works out the fault and the effective priority from what
// is tracked and tells the machine what changed.
func (in *Instance) retrackLocked() {
	fault := in.linkDown[in.cfg.Interface]
	delta := 0
	var why []string
	add := func(kind, name string, e effect) {
		delta += e.delta
		if e.fault {
			fault = true
			why = append(why, kind+" "+name)
		}
	}
	for _, t := range in.tracks.ifaces {
		add("interface", t.Name, upEffect(t.Weight, !in.linkDown[t.Name]))
	}
	for _, t := range in.tracks.scripts {
		if ok, known := in.scriptOK[t.Name]; known {
			add("script", t.Name, upEffect(t.Weight, ok))
		}
	}
	for _, t := range in.tracks.files {
		add("file", t.Name, fileEffect(t.Weight, in.fileVal[t.Name]))
	}
	if fault != in.faulted {
		in.faulted = fault
		if fault {
			in.log.Info("tracking puts the instance in FAULT", "down", why, "interface_down", in.linkDown[in.cfg.Interface])
			in.enqueueLocked(vrrp.InterfaceDown{})
		} else {
			in.enqueueLocked(vrrp.InterfaceUp{})
		}
	}
	if p := EffectivePriority(in.st.Priority, delta); p != in.effPrio {
		in.log.Info("effective priority change", "from", in.effPrio, "to", p)
		in.effPrio = p
		in.enqueueLocked(vrrp.PriorityChanged{Priority: p})
	}
}

// holdingLocked reports whether a script of weight 0 has no result yet:
// the instance then waits in INIT, as keepalived's does, rather than
// start as BACKUP and fall into FAULT a moment later.
func (in *Instance) holdingLocked() bool {
	for _, t := range in.tracks.scripts {
		if _, known := in.scriptOK[t.Name]; t.Weight == 0 && !known {
			return true
		}
	}
	return false
}

// UpdateGARP sets a new garp block, as a reload that changes it does: no
// transition and no announcement out of schedule. A master's running
// schedule goes on under the new block, counted from when it became
// master; a later schedule uses it from the start.
func (in *Instance) UpdateGARP(g announce.Schedule) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.newGARP = &g
	in.signalLocked()
}

// CheckVIPs asks a master to look for deleted virtual addresses now, for
// instance on a netlink address-deleted event; it does not wait.
func (in *Instance) CheckVIPs() {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.checkReq = true
	in.signalLocked()
}

// enqueue hands an event to the Run goroutine without waiting for it.
func (in *Instance) enqueue(ev vrrp.Event) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.enqueueLocked(ev)
}

func (in *Instance) enqueueLocked(ev vrrp.Event) {
	in.pending = append(in.pending, ev)
	in.signalLocked()
}

func (in *Instance) signalLocked() {
	select {
	case in.wake <- struct{}{}:
	default:
	}
}

func (in *Instance) takePending() ([]vrrp.Event, bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	evs, check := in.pending, in.checkReq
	in.pending, in.checkReq = nil, false
	return evs, check
}

// takeGARP returns a garp block set by UpdateGARP since the last call.
func (in *Instance) takeGARP() (announce.Schedule, bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	g := in.newGARP
	in.newGARP = nil
	if g == nil {
		return announce.Schedule{}, false
	}
	return *g, true
}

// syncView is what a sync group needs of a member.
func (in *Instance) syncView() (vrrp.State, bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.st.State, in.ifDown
}

type received struct {
	p   vrrp.Packet
	err error
	at  time.Time // when Receive returned it
}

// Run starts the instance and runs it until ctx ends, then stops it: a
// master sends a priority-0 advert and keeps its addresses until another
// router's advert arrives or the release timer (at most
// vrrp.MaxReleaseWait) runs out, then removes them. Run returns
// after that, having closed the transport and waited for every goroutine it
// started. It returns nil after a clean stop; an Instance runs once.
func (in *Instance) Run(ctx context.Context) error {
	if !in.started.CompareAndSwap(false, true) {
		return fmt.Errorf("vrrp instance %s: already run", in.cfg.Name)
	}
	in.mu.Lock()
	in.st.Since = time.Now()
	in.mu.Unlock()

	for i := range in.timers {
		in.timers[i] = stoppedTimer()
	}
	in.vipTimer = stoppedTimer()

	rx := make(chan received)
	quit := make(chan struct{})
	var readerDone sync.WaitGroup
	readerDone.Go(func() { in.read(rx, quit) })
	defer func() {
		in.stopAnnouncing()
		close(quit)
		if err := in.deps.Transport.Close(); err != nil {
			in.log.Warn("closing vrrp transport", "err", err)
		}
		readerDone.Wait()
		in.annWG.Wait()
		for _, t := range in.timers {
			t.Stop()
		}
		in.vipTimer.Stop()
	}()

	// Link reports and a priority set before Run come first, so an
	// interface already down leads Startup to FAULT.
	if g, ok := in.takeGARP(); ok {
		in.garp = g
	}
	evs, _ := in.takePending()
	for _, ev := range evs {
		in.step(ev)
	}
	started := false
	start := func() {
		in.mu.Lock()
		hold := in.holdingLocked()
		in.mu.Unlock()
		if !started && !hold {
			started = true
			in.step(vrrp.Startup{})
		}
	}
	start()

	done := ctx.Done()
	stopping := false
	for !stopping || in.m.Stopping() {
		select {
		case <-done:
			done = nil
			stopping = true
			// No more announcements: the new master is about to
			// announce the same addresses.
			in.stopAnnouncing()
			in.step(vrrp.Shutdown{})
		case r := <-rx:
			in.receive(r)
		case <-in.timers[0].C: // MasterDownTimer, masterDownEarly early
			in.masterDownFired(rx)
		case <-in.timers[1].C:
			in.advertFired()
		case <-in.timers[2].C:
			in.step(vrrp.TimerFired{Timer: timerIDs[2]})
		case <-in.timers[3].C:
			in.step(vrrp.TimerFired{Timer: timerIDs[3]})
		case <-in.timers[4].C:
			in.step(vrrp.TimerFired{Timer: timerIDs[4]})
		case <-in.timers[5].C:
			in.step(vrrp.TimerFired{Timer: timerIDs[5]})
		case <-in.wake:
			if g, ok := in.takeGARP(); ok {
				in.setGARP(g)
			}
			evs, check := in.takePending()
			for _, ev := range evs {
				in.step(ev)
			}
			if check {
				in.checkVIPs()
			}
			if !stopping {
				start()
			}
		case <-in.vipTimer.C:
			in.checkVIPs()
			if in.m.State() == vrrp.Master {
				in.vipTimer.Reset(DefaultVIPCheckInterval)
			}
		}
	}
	return nil
}

func stoppedTimer() *time.Timer {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return t
}

// read feeds received packets to Run until the transport is closed.
func (in *Instance) read(rx chan<- received, quit <-chan struct{}) {
	buf := make([]byte, maxAdvertLen)
	failing := false
	for {
		p, err := in.deps.Transport.Receive(buf)
		at := time.Now()
		if err != nil && p == (vrrp.Packet{}) {
			select {
			case <-quit:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if !failing {
				in.log.Warn("receiving vrrp adverts", "err", err)
				failing = true
			}
			t := time.NewTimer(receiveBackoff)
			select {
			case <-quit:
				t.Stop()
				return
			case <-t.C:
			}
			continue
		}
		failing = false
		select {
		case rx <- received{p: p, err: err, at: at}:
		case <-quit:
			return
		}
	}
}

// receive applies the receive checks of RFC 5798 §7.1 that the codec could
// not (vrrp.Accept) and feeds what passes to the machine. A dropped packet is
// counted by reason and never reaches the machine.
func (in *Instance) receive(r received) {
	err := r.err
	if err == nil {
		err = vrrp.Accept(r.p, in.filter)
	}
	if err != nil {
		reason := vrrp.ReasonOf(err)
		in.mu.Lock()
		in.st.Dropped[reason]++
		in.mu.Unlock()
		if !in.dropLogged[reason] {
			// One line for the first drop of each kind, not one per
			// packet: a misconfigured neighbour sends every second.
			in.dropLogged[reason] = true
			in.log.Warn("dropping vrrp packets", "reason", string(reason), "err", err)
		}
		return
	}
	a := r.p.Advert
	in.mu.Lock()
	in.st.AdvertsReceived++
	in.mu.Unlock()
	if differ := !vrrp.AddressesMatch(a, in.advert.Addresses); differ != in.addrsDiffer {
		in.addrsDiffer = differ
		if differ {
			in.log.Warn("advert lists other virtual addresses than ours", "from", r.p.Src.String(), "advert", a.String())
		}
	}
	in.eventAt = r.at
	in.lastAdvertAt = r.at
	in.step(vrrp.AdvertReceived{From: r.p.Src.Unmap().WithZone(""), Priority: a.Priority, Interval: a.MaxAdvertInterval})
	in.eventAt = time.Time{}
}

// step feeds one event to the machine and carries out its actions in order.
func (in *Instance) step(ev vrrp.Event) {
	acts := in.m.Step(ev)
	now := time.Now()
	in.mu.Lock()
	in.st.State = in.m.State()
	// The transition's bookkeeping is published with the state it leads
	// to, so a status read never sees the new state with the old count.
	for _, a := range acts {
		if t, ok := a.(vrrp.Transition); ok {
			in.st.Since = now
			in.st.Transitions++
			in.st.TransitionsTo[t.To]++
		}
	}
	in.st.MasterAddress = in.m.MasterAddr()
	in.st.EffectivePriority = in.m.Priority()
	if in.m.Stopping() {
		in.st.EffectivePriority = 0
	}
	in.ifDown = in.m.InterfacesDown()
	in.mu.Unlock()
	for _, a := range acts {
		in.do(a)
	}
}

func (in *Instance) do(a vrrp.Action) {
	switch a := a.(type) {
	case vrrp.SendAdvert:
		in.send(a.Priority)
	case vrrp.SetTimer:
		if a.Timer == vrrp.AdvertTimer {
			in.advertDue = time.Now().Add(a.After)
		}
		if a.Timer == vrrp.MasterDownTimer {
			in.armMasterDown(a.After)
		} else if t := in.timer(a.Timer); t != nil {
			t.Reset(a.After)
		}
	case vrrp.StopTimer:
		if a.Timer == vrrp.MasterDownTimer {
			in.mdGen++
		}
		if t := in.timer(a.Timer); t != nil {
			t.Stop()
		}
	case vrrp.AddVIPs:
		if err := in.deps.VIPs.Add(in.cfg.Interface, in.vips); err != nil {
			in.log.Error("adding virtual addresses", "interface", in.cfg.Interface, "err", err)
		}
	case vrrp.RemoveVIPs:
		// Never announce an address we no longer hold.
		in.stopAnnouncing()
		if err := in.deps.VIPs.Remove(in.cfg.Interface, in.vips); err != nil {
			in.log.Error("removing virtual addresses", "interface", in.cfg.Interface, "err", err)
		}
	case vrrp.Announce:
		in.startAnnouncing()
	case vrrp.Transition:
		in.transition(a)
	}
}

// armMasterDown (re)starts the Master_Down_Timer: it runs out after, counted
// from the event being stepped (an advert's receive time), and its
// time.Timer fires masterDownEarly before that.
func (in *Instance) armMasterDown(after time.Duration) {
	from := in.eventAt
	if from.IsZero() {
		from = time.Now()
	}
	in.mdGen++
	in.mdDeadline = from.Add(after)
	in.timers[0].Reset(max(time.Until(in.mdDeadline)-masterDownEarly, 0))
}

// masterDownFired sleeps the last stretch of the Master_Down_Timer in Run
// itself, so that the first advert leaves as soon as the thread wakes, with
// no second goroutine to schedule. Adverts that arrived meanwhile are taken
// in first (takeQueued): one from the master re-arms the timer, which then
// does not fire.
func (in *Instance) masterDownFired(rx <-chan received) {
	gen := in.mdGen
	preciseSleepUntil(in.mdDeadline)
	in.takeQueued(rx)
	if in.mdGen == gen {
		args := []any{"master_down_interval", in.m.MasterDownInterval().String()}
		if !in.lastAdvertAt.IsZero() {
			args = append(args, "last_advert", time.Since(in.lastAdvertAt).Round(time.Millisecond).String()+" ago")
		}
		in.log.Info("no advertisement from the master within Master_Down_Interval", args...)
		in.step(vrrp.TimerFired{Timer: vrrp.MasterDownTimer})
	}
}

// lateLogEvery spaces the log lines of late adverts.
const lateLogEvery = 10 * time.Second

// advertFired sends the master's periodic advert. One that leaves more
// than an advert interval after it was due means this process was not
// run in time (an overloaded or frozen host): at three intervals the
// backups take over, so it is counted and logged, which tells a starved
// master from a lost network after the fact.
func (in *Instance) advertFired() {
	late := time.Since(in.advertDue)
	if !in.advertDue.IsZero() && late > in.cfg.AdvertInterval {
		in.mu.Lock()
		in.st.AdvertsLate++
		in.st.LastLateAdvert = LateAdvert{At: time.Now(), Late: late}
		in.mu.Unlock()
		// One line per lateLogEvery at most: a starved host is late
		// again and again, and its log should not add to the load.
		if now := time.Now(); now.Sub(in.lateLoggedAt) >= lateLogEvery {
			in.log.Warn("advertisement sent late: the process was not run in time",
				"late", late.Round(time.Millisecond).String(), "advert_interval", in.cfg.AdvertInterval.String(),
				"late_adverts_not_logged", in.lateNotLogged)
			in.lateLoggedAt, in.lateNotLogged = now, 0
		} else {
			in.lateNotLogged++
		}
	}
	in.step(vrrp.TimerFired{Timer: vrrp.AdvertTimer})
}

// takeQueued takes in, up to maxDrain, the packets that arrived before the
// Master_Down_Timer ran out: those the reader has passed on, and those
// still in the socket. A timer and a packet that fall due together wake
// two goroutines, and on a busy machine the timer's often runs first,
// with the master's advert read by nobody yet; the RFC's backup would
// have heard it. For a packet in the socket Run waits for the reader at
// most queuedWait. A dead master sends nothing, so its takeover is not
// delayed.
func (in *Instance) takeQueued(rx <-chan received) {
	q, _ := in.deps.Transport.(queuer)
	var wait *time.Timer
	defer func() {
		if wait != nil {
			wait.Stop()
		}
	}()
	for range maxDrain {
		select {
		case r := <-rx:
			in.receive(r)
			continue
		default:
		}
		if q == nil {
			return
		}
		if pending, err := q.Pending(); err != nil || !pending {
			return
		}
		if wait == nil {
			wait = time.NewTimer(queuedWait)
		}
		select {
		case r := <-rx:
			in.receive(r)
		case <-wait.C:
			return
		}
	}
}

// preciseSleepUntil sleeps until deadline in nanosleep(2), which blocks the
// goroutine's thread (for at most masterDownEarly) but wakes on time to the
// kernel's timer slack (50 µs).
// A fake clock (testing/synctest) does not move during the syscall: the
// runtime's sleep then finishes the wait on it.
func preciseSleepUntil(deadline time.Time) {
	if d := time.Until(deadline); d > 0 {
		ts := unix.NsecToTimespec(int64(d))
		_ = unix.Nanosleep(&ts, nil) // on EINTR the sleep below finishes
	}
	if d := time.Until(deadline); d > 0 {
		time.Sleep(d)
	}
}

// timer returns the time.Timer of id. Since Go 1.23, Reset and Stop discard
// an expiry that has not been received yet, so a replaced arming is never
// delivered, as vrrp.SetTimer requires.
func (in *Instance) timer(id vrrp.TimerID) *time.Timer {
	i := slices.Index(timerIDs[:], id)
	if i < 0 {
		// The machine's set of timers is closed; a new one needs an
		// entry in timerIDs and a case in Run's select.
		in.log.Error("vrrp machine asked for an unknown timer", "timer", id.String())
		return nil
	}
	return in.timers[i]
}

// send sends one advert with priority prio to the multicast group or to each
// unicast peer.
func (in *Instance) send(prio uint8) {
	a := in.advert
	a.Priority = prio
	var sent, failed uint64
	var firstErr error
	for _, dst := range in.dsts {
		if err := in.deps.Transport.Send(&a, dst); err != nil {
			failed++
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		sent++
	}
	in.mu.Lock()
	in.st.AdvertsSent += sent
	in.st.SendErrors += failed
	in.mu.Unlock()
	// Log when sending starts and stops failing, not every interval.
	switch {
	case firstErr != nil && !in.sendFailing:
		in.sendFailing = true
		in.log.Error("sending vrrp advert", "err", firstErr)
	case firstErr == nil && in.sendFailing:
		in.sendFailing = false
		in.log.Info("sending vrrp adverts again")
	}
}

// transition records a state change, logs it, runs the notify hook and tells
// the sync group.
func (in *Instance) transition(t vrrp.Transition) {
	switch {
	case t.To == vrrp.Master:
		in.vipTimer.Reset(DefaultVIPCheckInterval)
	case t.From == vrrp.Master:
		in.vipTimer.Stop()
		in.stopAnnouncing()
	}
	in.mu.Lock()
	hook := in.hook
	in.mu.Unlock()

	in.log.Info("vrrp state change", "from", t.From.String(), "to", t.To.String())
	if in.deps.Notifier != nil {
		in.deps.Notifier.Notify(in.cfg.Name, t.To, in.m.Priority())
	}
	if hook != nil {
		hook(t)
	}
}

// checkVIPs puts back virtual addresses that disappeared while we are master
// (someone deleted a VIP by hand, or a DHCP client flushed the
// interface).
func (in *Instance) checkVIPs() {
	if in.m.State() != vrrp.Master || in.m.Stopping() {
		return
	}
	missing, err := in.deps.VIPs.Missing(in.cfg.Interface, in.vips)
	if err != nil {
		if !in.vipFailing {
			in.vipFailing = true
			in.log.Error("checking virtual addresses", "interface", in.cfg.Interface, "err", err)
		}
		return
	}
	in.vipFailing = false
	if len(missing) == 0 {
		return
	}
	for _, p := range missing {
		in.log.Warn("virtual address was removed while master; adding it back", "vip", p.String(), "interface", in.cfg.Interface)
	}
	if err := in.deps.VIPs.Add(in.cfg.Interface, missing); err != nil {
		in.log.Error("adding virtual addresses back", "interface", in.cfg.Interface, "err", err)
		return
	}
	in.mu.Lock()
	in.st.VIPsRestored += uint64(len(missing))
	in.mu.Unlock()
}
