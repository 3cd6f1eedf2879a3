package vrrp

import (
	"fmt"
	"net/netip"
	"time"
)

// State is the protocol state of one virtual router instance.
type State int

// The states of RFC 5798 §6.4 plus Fault, which a tracked or VRRP interface
// going down puts the instance in.
const (
	Init State = iota
	Backup
	Master
	Fault
)

// String returns the state name used in status output, logs and metrics.
func (s State) String() string {
	switch s {
	case Init:
		return "INIT"
	case Backup:
		return "BACKUP"
	case Master:
		return "MASTER"
	case Fault:
		return "FAULT"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// OwnerPriority is the priority of the router that owns the virtual
// addresses; it goes straight to Master on startup (RFC 5798 §6.4.1).
const OwnerPriority = 255

// MaxReleaseWait bounds how long a stopping master keeps its virtual addresses
// while it waits for the new master's advertisement (product contract: at most
// 3 × the advertisement interval and never more than one second).
const MaxReleaseWait = time.Second

// MaxReleaseLinger bounds how long a stopping master keeps its virtual
// addresses after it has heard the new master's advertisement; the linger is
// min(3 × Advertisement_Interval, MaxReleaseLinger) and never runs past the
// release bound. The new master adds and announces the addresses only after
// that advertisement; on a loaded host its announcement has been seen to
// land 230 ms after it, and until it lands the neighbours still send to
// the stopping master. Both holding the addresses for a moment costs
// nothing: the neighbours follow the announcement.
const MaxReleaseLinger = 300 * time.Millisecond

// Params are the configured parameters of one instance (RFC 5798 §6.1).
type Params struct {
	// Version is 2 (RFC 3768) or 3 (RFC 5798); 0 means 3.
	Version int
	// VRID is the virtual router identifier, 1..255.
	VRID uint8
	// Priority is 1..255; 255 marks the address owner.
	Priority uint8
	// AdvertInterval is Advertisement_Interval: whole seconds in version 2,
	// a multiple of 10 ms in version 3.
	AdvertInterval time.Duration
	// Preempt is Preempt_Mode: a Backup router of higher priority takes over
	// from a lower-priority master.
	Preempt bool
	// PreemptDelay holds preemption back after startup; see [Machine].
	PreemptDelay time.Duration
	// Accept is Accept_Mode. The machine does not use it; the driver does,
	// when it decides whether a Master accepts packets for the virtual
	// addresses.
	Accept bool
	// PrimaryAddr is this router's own address on the interface, the one its
	// advertisements come from; it breaks ties between equal priorities.
	PrimaryAddr netip.Addr
}

func (p Params) version() int {
	if p.Version == 0 {
		return 3
	}
	return p.Version
}

// SkewTime returns Skew_Time of RFC 5798 §6.1:
// ((256 − Priority) × Master_Adver_Interval) / 256.
//
// The RFC counts Master_Adver_Interval in centiseconds (the 12-bit field of
// the advertisement), so the interval is first truncated to whole
// centiseconds. The division by 256 rarely comes out even in centiseconds
// (priority 100 at 1 s gives 60.9375 cs); dividing in centiseconds would cut
// up to 10 ms off every failover. The quotient is kept to the microsecond
// instead, truncated, which is what keepalived computes
// ((256 − p) × cs × 625 / 16 µs), so an lvsd backup and a keepalived backup
// of the same priority time out together.
func SkewTime(priority uint8, interval time.Duration) time.Duration {
	cs := int64(interval / (10 * time.Millisecond))
	us := (256 - int64(priority)) * cs * 10_000 / 256
	return time.Duration(us) * time.Microsecond
}

// MasterDownInterval returns Master_Down_Interval of RFC 5798 §6.1:
// 3 × Master_Adver_Interval + Skew_Time, with the interval in whole
// centiseconds as [SkewTime] takes it.
func MasterDownInterval(priority uint8, interval time.Duration) time.Duration {
	cs := interval / (10 * time.Millisecond)
	return 3*cs*10*time.Millisecond + SkewTime(priority, interval)
}

// SkewTimeV2 returns Skew_Time of RFC 3768 §6.1: (256 − Priority) / 256
// seconds. Unlike version 3 it does not scale with the advertisement
// interval. It is kept to the microsecond, truncated, as keepalived does.
func SkewTimeV2(priority uint8) time.Duration {
	us := (256 - int64(priority)) * 1_000_000 / 256
	return time.Duration(us) * time.Microsecond
}

// MasterDownIntervalV2 returns Master_Down_Interval of RFC 3768 §6.1:
// 3 × Advertisement_Interval + Skew_Time.
func MasterDownIntervalV2(priority uint8, interval time.Duration) time.Duration {
	return 3*interval + SkewTimeV2(priority)
}

// TimerID names one of the machine's timers.
type TimerID int

// The machine's timers. MasterDown and Advert are RFC 5798 §6.2's
// Master_Down_Timer and Adver_Timer; the others are this implementation's.
const (
	MasterDownTimer TimerID = iota + 1
	AdvertTimer
	// PreemptDelayTimer ends the window in which a Backup still accepts a
	// lower-priority master.
	PreemptDelayTimer
	// ReleaseTimer bounds how long a stopping master keeps its addresses.
	ReleaseTimer
	// LingerTimer ends the short wait of a stopping master between hearing
	// the new master and letting go of the addresses. It runs alongside
	// ReleaseTimer, so the release bound holds whenever the new master
	// is heard.
	LingerTimer
	// ReclaimTimer spaces a master's answers to lower-priority masters
	// (see masterAdvert): one per Master_Down_Interval.
	ReclaimTimer
	numTimers
)

// String returns a short name for logs and transcripts.
func (t TimerID) String() string {
	switch t {
	case MasterDownTimer:
		return "master-down"
	case AdvertTimer:
		return "advert"
	case PreemptDelayTimer:
		return "preempt-delay"
	case ReleaseTimer:
		return "release"
	case LingerTimer:
		return "linger"
	case ReclaimTimer:
		return "reclaim"
	}
	return fmt.Sprintf("TimerID(%d)", int(t))
}

// Event is an input to [Machine.Step]. The set is closed: only the types of
// this package implement it.
type Event interface {
	isEvent()
}

// Startup starts the instance (RFC 5798 §6.4.1).
type Startup struct{}

// Shutdown stops the instance (RFC 5798 §6.4.2, §6.4.3).
type Shutdown struct{}

// AdvertReceived is an advertisement from another router, already validated
// by the receive path.
type AdvertReceived struct {
	// From is the sender's primary address (the IP source address).
	From netip.Addr
	// Priority is the sender's priority; 0 means the master is stopping.
	Priority uint8
	// Interval is the Max Adver Int field; version 3 backups learn it.
	Interval time.Duration
}

// TimerFired reports that a timer armed by [SetTimer] has run out.
type TimerFired struct {
	Timer TimerID
}

// InterfaceDown reports that the VRRP interface or a tracked interface went
// down. The driver sends it when the first of them goes down.
type InterfaceDown struct{}

// InterfaceUp reports that the VRRP interface and every tracked interface are
// up again.
type InterfaceUp struct{}

// PriorityChanged sets a new priority, for instance after a reload.
type PriorityChanged struct {
	Priority uint8
}

// SyncForce is an order from the instance's sync group (see [SyncGroup]): go
// to state To because another member did.
type SyncForce struct {
	To State
}

func (Startup) isEvent()         {}
func (Shutdown) isEvent()        {}
func (AdvertReceived) isEvent()  {}
func (TimerFired) isEvent()      {}
func (InterfaceDown) isEvent()   {}
func (InterfaceUp) isEvent()     {}
func (PriorityChanged) isEvent() {}
func (SyncForce) isEvent()       {}

// Action is an effect [Machine.Step] asks the driver to carry out. The set is
// closed: only the types of this package implement it.
type Action interface {
	isAction()
	String() string
}

// SendAdvert asks for one advertisement with the given priority; 0 tells the
// backups that this master is stopping. The interval field is the instance's
// own Advertisement_Interval.
type SendAdvert struct {
	Priority uint8
}

// SetTimer arms timer Timer to fire After from now, replacing any pending
// expiry of the same timer. The driver must not deliver an expiry of the
// replaced arming (a time.Timer's Reset guarantees that since Go 1.23): the
// machine cannot tell it from the new one.
type SetTimer struct {
	Timer TimerID
	After time.Duration
}

// StopTimer cancels timer Timer. A TimerFired for it that was already on its
// way is ignored by the machine.
type StopTimer struct {
	Timer TimerID
}

// AddVIPs asks for the virtual addresses to be added to the interface.
type AddVIPs struct{}

// RemoveVIPs asks for the virtual addresses to be removed.
type RemoveVIPs struct{}

// Announce asks for the gratuitous ARP / unsolicited NA burst of the virtual
// addresses (RFC 5798 §6.4.1, §6.4.2), as the garp settings shape it.
type Announce struct{}

// Transition reports a state change. It comes after the effects of the
// change in the same action list.
type Transition struct {
	From, To State
}

func (SendAdvert) isAction() {}
func (SetTimer) isAction()   {}
func (StopTimer) isAction()  {}
func (AddVIPs) isAction()    {}
func (RemoveVIPs) isAction() {}
func (Announce) isAction()   {}
func (Transition) isAction() {}

func (a SendAdvert) String() string { return fmt.Sprintf("send advert prio=%d", a.Priority) }
func (a SetTimer) String() string   { return fmt.Sprintf("set timer %s %s", a.Timer, a.After) }
func (a StopTimer) String() string  { return fmt.Sprintf("stop timer %s", a.Timer) }
func (AddVIPs) String() string      { return "add vips" }
func (RemoveVIPs) String() string   { return "remove vips" }
func (Announce) String() string     { return "announce" }
func (a Transition) String() string { return a.From.String() + "->" + a.To.String() }

// preemptPhase tracks the preempt_delay window of a Backup.
type preemptPhase int

const (
	// preemptIdle: no window runs; a lower-priority master opens one.
	preemptIdle preemptPhase = iota
	// preemptWaiting: the window runs; lower-priority masters are accepted.
	preemptWaiting
	// preemptReady: the window has closed; lower-priority masters are
	// discarded, as RFC 5798 §6.4.2 says for Preempt_Mode.
	preemptReady
)

// Machine is the VRRP state machine of one instance (RFC 5798 §6.4, RFC 3768
// §6.4). It is not safe for concurrent use; the driver owns it.
//
// preempt_delay follows keepalived: with Preempt on and PreemptDelay > 0, a
// window of PreemptDelay opens when the instance enters Backup from Init or
// Fault, or when a Backup first sees a lower-priority master. While it runs,
// a lower-priority master's advertisements reset the Master_Down_Timer as if
// Preempt were off; once it closes they are discarded and the timer runs out,
// so the takeover comes PreemptDelay plus at most one Master_Down_Interval
// after the window opened. An advertisement of equal or higher priority
// closes the window without preempting. Leaving Master resets it.
type Machine struct {
	p     Params
	state State

	// stopping: Shutdown arrived in Master; the addresses are kept until
	// shortly after the new master is heard (LingerTimer) or until the
	// ReleaseTimer fires.
	stopping bool
	// ifDown: an interface is down; Startup and SyncForce lead to Fault.
	ifDown bool
	// held: the sync group keeps the instance in Fault for another member;
	// only SyncForce{Backup} (or a fault of its own) ends that.
	held bool

	masterAddr          netip.Addr
	masterAdverInterval time.Duration

	armed   [numTimers]bool
	preempt preemptPhase
	// reclaiming: this master answered a lower-priority master less than
	// a Master_Down_Interval ago (ReclaimTimer runs).
	reclaiming bool
}

// NewMachine returns a machine in Init. p.Priority must be 1..255 and
// p.AdvertInterval positive; the config package guarantees both.
func NewMachine(p Params) *Machine {
	return &Machine{p: p, masterAdverInterval: p.AdvertInterval}
}

// State returns the current state. A master that is stopping stays Master
// until it lets go of its addresses.
func (m *Machine) State() State { return m.state }

// Stopping reports whether a Shutdown is waiting for the new master before
// the addresses are released.
func (m *Machine) Stopping() bool { return m.stopping }

// Params returns the parameters, with the priority as last changed.
func (m *Machine) Params() Params { return m.p }

// InterfacesDown reports whether the last interface event was InterfaceDown.
func (m *Machine) InterfacesDown() bool { return m.ifDown }

// Priority returns the current priority.
func (m *Machine) Priority() uint8 { return m.p.Priority }

// MasterAddr returns the primary address of the router believed to be master:
// our own in Master, the last advertisement's sender in Backup, and the zero
// Addr when no master is known.
func (m *Machine) MasterAddr() netip.Addr { return m.masterAddr }

// MasterAdvertInterval returns Master_Adver_Interval: in version 3 a Backup
// learns it from the master's advertisements; otherwise it is the configured
// Advertisement_Interval.
func (m *Machine) MasterAdvertInterval() time.Duration { return m.masterAdverInterval }

// SkewTime returns the instance's current Skew_Time.
func (m *Machine) SkewTime() time.Duration {
	if m.p.version() == 2 {
		return SkewTimeV2(m.p.Priority)
	}
	return SkewTime(m.p.Priority, m.masterAdverInterval)
}

// MasterDownInterval returns the instance's current Master_Down_Interval.
func (m *Machine) MasterDownInterval() time.Duration {
	if m.p.version() == 2 {
		return MasterDownIntervalV2(m.p.Priority, m.p.AdvertInterval)
	}
	return MasterDownInterval(m.p.Priority, m.masterAdverInterval)
}

// Step feeds one event to the machine and returns the actions the driver
// must carry out, in order. Events that mean nothing in the current state
// (an advertisement in Init, a timer that was stopped) return no actions.
func (m *Machine) Step(ev Event) []Action {
	var out []Action
	if t, ok := ev.(TimerFired); ok {
		if t.Timer <= 0 || t.Timer >= numTimers || !m.armed[t.Timer] {
			// Stale: stopped or re-armed after the driver's timer fired.
			return nil
		}
		m.armed[t.Timer] = false
	}
	if m.stopping {
		m.stepStopping(&out, ev)
		return out
	}
	switch ev := ev.(type) {
	case Startup:
		if m.state == Init {
			m.start(&out)
		}
	case Shutdown:
		m.shutdown(&out)
	case AdvertReceived:
		switch m.state {
		case Backup:
			m.backupAdvert(&out, ev)
		case Master:
			m.masterAdvert(&out, ev)
		}
	case TimerFired:
		m.timer(&out, ev.Timer)
	case InterfaceDown:
		m.ifDown = true
		m.held = false
		m.toFault(&out)
	case InterfaceUp:
		m.ifDown = false
		if m.state == Fault && !m.held {
			m.start(&out)
		}
	case PriorityChanged:
		m.priorityChanged(&out, ev.Priority)
	case SyncForce:
		m.syncForce(&out, ev.To)
	}
	return out
}

// start is RFC 5798 §6.4.1 "If a Startup event is received", also used when
// the interfaces come back from Fault.
func (m *Machine) start(out *[]Action) {
	if m.ifDown {
		if m.state != Fault {
			m.transition(out, Fault)
		}
		return
	}
	if m.p.Priority == OwnerPriority {
		m.becomeMaster(out)
		return
	}
	m.enterBackup(out)
}

// enterBackup moves Init or Fault to Backup (RFC 5798 §6.4.1): the master's
// interval is not known yet, so Master_Adver_Interval starts as our own.
func (m *Machine) enterBackup(out *[]Action) {
	m.masterAdverInterval = m.p.AdvertInterval
	m.masterAddr = netip.Addr{}
	m.setTimer(out, MasterDownTimer, m.MasterDownInterval())
	m.preempt = preemptIdle
	if m.p.Preempt && m.p.PreemptDelay > 0 {
		m.openPreemptWindow(out)
	}
	m.transition(out, Backup)
}

// becomeMaster is RFC 5798 §6.4.1 (owner) and §6.4.2 "If the
// Master_Down_Timer fires". The advertisement goes out before the addresses
// and announcements so that the old master, if any, lets go first.
func (m *Machine) becomeMaster(out *[]Action) {
	m.stopTimer(out, MasterDownTimer)
	m.stopTimer(out, PreemptDelayTimer)
	m.preempt = preemptIdle
	m.masterAddr = m.p.PrimaryAddr
	m.masterAdverInterval = m.p.AdvertInterval
	*out = append(*out, SendAdvert{Priority: m.p.Priority}, AddVIPs{}, Announce{})
	m.setTimer(out, AdvertTimer, m.p.AdvertInterval)
	m.transition(out, Master)
}

// leaveMaster is RFC 5798 §6.4.3 for a higher-priority advertisement: cancel
// the Adver_Timer, arm the Master_Down_Timer, stop answering for the
// addresses. learned is the advertisement's interval (0 if none).
func (m *Machine) leaveMaster(out *[]Action, from netip.Addr, learned time.Duration) {
	m.stopTimer(out, AdvertTimer)
	m.masterAddr = from
	if m.p.version() == 3 && learned > 0 {
		m.masterAdverInterval = learned
	}
	m.setTimer(out, MasterDownTimer, m.MasterDownInterval())
	*out = append(*out, RemoveVIPs{})
	m.preempt = preemptIdle
	m.transition(out, Backup)
}

// backupAdvert is RFC 5798 §6.4.2 "If an ADVERTISEMENT is received".
func (m *Machine) backupAdvert(out *[]Action, ev AdvertReceived) {
	if ev.Priority == 0 {
		// The master is stopping: take over after Skew_Time only, so the
		// highest-priority backup answers first.
		m.setTimer(out, MasterDownTimer, m.SkewTime())
		return
	}
	m.masterAddr = ev.From
	lower := ev.Priority < m.p.Priority
	accept := !m.p.Preempt || !lower
	if m.p.Preempt && m.p.PreemptDelay > 0 {
		switch {
		case !lower:
			m.closePreemptWindow(out)
		case m.preempt == preemptIdle:
			m.openPreemptWindow(out)
			accept = true
		case m.preempt == preemptWaiting:
			accept = true
		}
	}
	if !accept {
		// Discard: let the Master_Down_Timer run out and preempt.
		return
	}
	if m.p.version() == 3 && ev.Interval > 0 {
		m.masterAdverInterval = ev.Interval
	}
	m.setTimer(out, MasterDownTimer, m.MasterDownInterval())
}

// masterAdvert is RFC 5798 §6.4.3 "If an ADVERTISEMENT is received".
func (m *Machine) masterAdvert(out *[]Action, ev AdvertReceived) {
	if ev.Priority == 0 {
		// Another router claims to be master and is stopping: assert
		// ourselves at once so the backups do not take over.
		*out = append(*out, SendAdvert{Priority: m.p.Priority})
		m.setTimer(out, AdvertTimer, m.p.AdvertInterval)
		return
	}
	if ev.Priority > m.p.Priority ||
		(ev.Priority == m.p.Priority && ev.From.Compare(m.p.PrimaryAddr) > 0) {
		m.leaveMaster(out, ev.From, ev.Interval)
		return
	}
	// Otherwise RFC 5798 discards the advertisement (Preempt_Mode is not
	// considered in Master). But a router that advertises as master with
	// less has missed ours (lost packets, a starved host) and taken over:
	// it added the addresses and announced them, so the neighbours now send
	// to it, and it gives them up when it hears us without announcing
	// anything. Discarding alone would leave the traffic with a router
	// that no longer holds the addresses until the neighbours' caches
	// expire. So advertise now, which sends it back to Backup at once, and
	// announce the addresses again (keepalived's garp_lower_prio_repeat
	// does the same); at most once per Master_Down_Interval, so a router
	// that cannot hear us does not turn it into a storm.
	if !m.reclaiming {
		m.reclaiming = true
		*out = append(*out, SendAdvert{Priority: m.p.Priority})
		m.setTimer(out, AdvertTimer, m.p.AdvertInterval)
		*out = append(*out, Announce{})
		m.setTimer(out, ReclaimTimer, m.MasterDownInterval())
	}
}

func (m *Machine) timer(out *[]Action, t TimerID) {
	if t == ReclaimTimer {
		m.reclaiming = false
		return
	}
	switch {
	case t == MasterDownTimer && m.state == Backup:
		m.becomeMaster(out)
	case t == AdvertTimer && m.state == Master:
		*out = append(*out, SendAdvert{Priority: m.p.Priority})
		m.setTimer(out, AdvertTimer, m.p.AdvertInterval)
	case t == PreemptDelayTimer && m.state == Backup:
		m.preempt = preemptReady
	}
}

// shutdown is RFC 5798 §6.4.2 and §6.4.3 "If a Shutdown event is received",
// with make-before-break in Master: the priority-0 advertisement goes out now,
// the addresses stay until stepStopping lets them go.
func (m *Machine) shutdown(out *[]Action) {
	switch m.state {
	case Backup:
		m.stopTimer(out, MasterDownTimer)
		m.stopTimer(out, PreemptDelayTimer)
		m.masterAddr = netip.Addr{}
		m.transition(out, Init)
	case Fault:
		m.held = false
		m.transition(out, Init)
	case Master:
		m.stopTimer(out, AdvertTimer)
		*out = append(*out, SendAdvert{Priority: 0})
		m.setTimer(out, ReleaseTimer, min(3*m.p.AdvertInterval, MaxReleaseWait))
		m.stopping = true
	}
}

// stepStopping handles events while a stopping master waits to let go.
func (m *Machine) stepStopping(out *[]Action, ev Event) {
	switch ev := ev.(type) {
	case AdvertReceived:
		if ev.Priority == 0 || m.armed[LingerTimer] {
			return
		}
		// Not yet: the new master sends its first advertisement before it
		// adds the addresses and announces them (RFC 5798 §6.4.2), and the
		// clients' neighbour entries point at us until that announcement
		// arrives. Letting go now would drop what they send meanwhile, so
		// keep answering a little longer. The ReleaseTimer keeps running
		// and still bounds the whole stop.
		m.setTimer(out, LingerTimer, min(3*m.p.AdvertInterval, MaxReleaseLinger))
	case TimerFired:
		if ev.Timer == ReleaseTimer || ev.Timer == LingerTimer {
			m.release(out, Init)
		}
	case InterfaceDown:
		// Forwarding is gone anyway; there is nothing left to wait for.
		m.ifDown = true
		m.release(out, Init)
	case InterfaceUp:
		m.ifDown = false
	case PriorityChanged:
		if ev.Priority != 0 {
			m.p.Priority = ev.Priority
		}
	}
}

func (m *Machine) release(out *[]Action, to State) {
	m.stopTimer(out, ReleaseTimer)
	m.stopTimer(out, LingerTimer)
	*out = append(*out, RemoveVIPs{})
	m.stopping = false
	m.masterAddr = netip.Addr{}
	m.transition(out, to)
}

// toFault parks the instance. A master sends a priority-0 advertisement on
// the way out, as at shutdown, so a backup on a working path takes over after
// Skew_Time; if the VRRP interface itself is down the send fails and the
// backups wait out Master_Down_Interval instead.
func (m *Machine) toFault(out *[]Action) {
	switch m.state {
	case Backup:
		m.stopTimer(out, MasterDownTimer)
		m.stopTimer(out, PreemptDelayTimer)
	case Master:
		m.stopTimer(out, AdvertTimer)
		*out = append(*out, SendAdvert{Priority: 0}, RemoveVIPs{})
	default:
		return
	}
	m.masterAddr = netip.Addr{}
	m.preempt = preemptIdle
	m.transition(out, Fault)
}

// priorityChanged applies a new priority. A master advertises it at once so
// that the backups compare against the new value without waiting an interval;
// a backup uses it from the next advertisement on.
func (m *Machine) priorityChanged(out *[]Action, p uint8) {
	if p == 0 || p == m.p.Priority {
		return
	}
	m.p.Priority = p
	if m.state == Master {
		*out = append(*out, SendAdvert{Priority: p})
		m.setTimer(out, AdvertTimer, m.p.AdvertInterval)
	}
}

// syncForce obeys the instance's sync group. Init is never forced: a member
// that is not running stays so.
func (m *Machine) syncForce(out *[]Action, to State) {
	switch to {
	case Master:
		if m.state == Backup {
			m.becomeMaster(out)
		}
	case Backup:
		switch m.state {
		case Master:
			m.leaveMaster(out, netip.Addr{}, 0)
		case Fault:
			m.held = false
			if !m.ifDown {
				m.enterBackup(out)
			}
		}
	case Fault:
		if m.state != Init {
			m.held = true
			m.toFault(out)
		}
	}
}

func (m *Machine) openPreemptWindow(out *[]Action) {
	m.preempt = preemptWaiting
	m.setTimer(out, PreemptDelayTimer, m.p.PreemptDelay)
}

func (m *Machine) closePreemptWindow(out *[]Action) {
	m.stopTimer(out, PreemptDelayTimer)
	m.preempt = preemptIdle
}

func (m *Machine) setTimer(out *[]Action, t TimerID, d time.Duration) {
	m.armed[t] = true
	*out = append(*out, SetTimer{Timer: t, After: d})
}

// stopTimer asks to cancel t only if it is running, so action lists carry no
// noise.
func (m *Machine) stopTimer(out *[]Action, t TimerID) {
	if !m.armed[t] {
		return
	}
	m.armed[t] = false
	*out = append(*out, StopTimer{Timer: t})
}

func (m *Machine) transition(out *[]Action, to State) {
	from := m.state
	m.state = to
	*out = append(*out, Transition{From: from, To: to})
}

// SyncGroup is the rule of a vrrp_sync_group: instances that change state
// together, such as the outside VIP and the inside gateway VIP of a NAT
// director. States and Down describe every member, in the order the config
// lists them: its state and whether its own VRRP or tracked interfaces are
// down ([Machine.InterfacesDown]).
//
// The rule is keepalived's. While any member's interfaces are down the whole
// group is in Fault: every other running member is held there. Otherwise a
// member going to Master pulls the Backup members to Master; a master
// stepping down to Backup pushes the other masters to Backup; a member coming
// back from Fault brings the held members back to Backup. A member starting
// up or stopping moves nobody. Members should share one priority per node, as
// the config's node priority gives them; otherwise the group can follow one
// member into Master while another member's peer is still preferred.
//
// One wrinkle remains: a member whose own interfaces come back while another
// member's are still down steps FAULT->BACKUP and is sent straight back to
// FAULT (no addresses are added in between; notify scripts see both).
type SyncGroup struct {
	States []State
	Down   []bool
}

// SyncOrder is an event for one member of a [SyncGroup].
type SyncOrder struct {
	Member int
	Event  Event
}

// Follow returns the orders that follow from member's transition t, with
// States already showing t. The driver feeds each order to its member and
// calls Follow again for the transitions that causes; members already where
// the group wants them get no order, so the exchange ends after one round.
func (g SyncGroup) Follow(member int, t Transition) []SyncOrder {
	var orders []SyncOrder
	order := func(i int, to State) {
		orders = append(orders, SyncOrder{Member: i, Event: SyncForce{To: to}})
	}
	faulted := false
	for _, d := range g.Down {
		faulted = faulted || d
	}
	if faulted {
		if t.To == Init {
			return nil
		}
		for i, s := range g.States {
			if (s == Master || s == Backup) && !g.down(i) {
				order(i, Fault)
			}
		}
		return orders
	}
	switch {
	case t.To == Master:
		for i, s := range g.States {
			if i != member && s == Backup {
				order(i, Master)
			}
		}
	case t.To == Backup && t.From == Master:
		for i, s := range g.States {
			if i != member && s == Master {
				order(i, Backup)
			}
		}
	case t.To == Backup && t.From == Fault:
		for i, s := range g.States {
			if i != member && s == Fault {
				order(i, Backup)
			}
		}
	}
	return orders
}

func (g SyncGroup) down(i int) bool { return i < len(g.Down) && g.Down[i] }
