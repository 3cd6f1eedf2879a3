package vrrp

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestSkewTimeAndMasterDownInterval(t *testing.T) {
	// Expected values worked by hand from RFC 5798 §6.1 / RFC 3768 §6.1,
	// truncated to the microsecond; the 110-priority rows are the failover
	// gaps measured against keepalived in the lab (3.570 s, 0.357 s, 0.179 s).
	tests := []struct {
		name     string
		version  int
		priority uint8
		interval time.Duration
		wantSkew time.Duration
		wantMDI  time.Duration
	}{
		// RFC 5798 §6.1: (256-100)*100cs/256 = 60.9375 cs.
		{"v3 prio 100 at 1s", 3, 100, time.Second, 609375 * time.Microsecond, 3609375 * time.Microsecond},
		{"v3 prio 110 at 1s", 3, 110, time.Second, 570312 * time.Microsecond, 3570312 * time.Microsecond},
		// 146*10cs/256 = 5.703125 cs.
		{"v3 prio 110 at 100ms", 3, 110, 100 * time.Millisecond, 57031 * time.Microsecond, 357031 * time.Microsecond},
		{"v3 prio 100 at 100ms", 3, 100, 100 * time.Millisecond, 60937 * time.Microsecond, 360937 * time.Microsecond},
		{"v3 prio 110 at 50ms", 3, 110, 50 * time.Millisecond, 28515 * time.Microsecond, 178515 * time.Microsecond},
		{"v3 owner at 1s", 3, 255, time.Second, 3906 * time.Microsecond, 3003906 * time.Microsecond},
		{"v3 prio 1 at the 40.95s maximum", 3, 1, 4095 * 10 * time.Millisecond, 40790039 * time.Microsecond, (3*40950000 + 40790039) * time.Microsecond},
		{"v3 prio 200 at the 10ms minimum", 3, 200, 10 * time.Millisecond, 2187 * time.Microsecond, 32187 * time.Microsecond},
		// The wire carries whole centiseconds: 1.005 s is 100 cs.
		{"v3 sub-centisecond part ignored", 3, 100, 1005 * time.Millisecond, 609375 * time.Microsecond, 3609375 * time.Microsecond},
		// RFC 3768 §6.1: (256-Priority)/256 seconds, whatever the interval.
		{"v2 prio 100 at 1s", 2, 100, time.Second, 609375 * time.Microsecond, 3609375 * time.Microsecond},
		{"v2 prio 100 at 3s", 2, 100, 3 * time.Second, 609375 * time.Microsecond, 9609375 * time.Microsecond},
		{"v2 owner at 1s", 2, 255, time.Second, 3906 * time.Microsecond, 3003906 * time.Microsecond},
		{"v2 prio 1 at 1s", 2, 1, time.Second, 996093 * time.Microsecond, 3996093 * time.Microsecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var skew, mdi time.Duration
			if tt.version == 2 {
				skew, mdi = SkewTimeV2(tt.priority), MasterDownIntervalV2(tt.priority, tt.interval)
			} else {
				skew, mdi = SkewTime(tt.priority, tt.interval), MasterDownInterval(tt.priority, tt.interval)
			}
			if skew != tt.wantSkew {
				t.Errorf("Skew_Time = %v, want %v", skew, tt.wantSkew)
			}
			if mdi != tt.wantMDI {
				t.Errorf("Master_Down_Interval = %v, want %v", mdi, tt.wantMDI)
			}
			// The machine must use the same arithmetic for its own version.
			m := NewMachine(Params{Version: tt.version, Priority: tt.priority, AdvertInterval: tt.interval})
			if got := m.SkewTime(); got != tt.wantSkew {
				t.Errorf("Machine.SkewTime() = %v, want %v", got, tt.wantSkew)
			}
			if got := m.MasterDownInterval(); got != tt.wantMDI {
				t.Errorf("Machine.MasterDownInterval() = %v, want %v", got, tt.wantMDI)
			}
		})
	}
}

var (
	mAddrLow  = netip.MustParseAddr("192.0.2.1")
	mAddrSelf = netip.MustParseAddr("192.0.2.2")
	mAddrHigh = netip.MustParseAddr("192.0.2.3")
)

// machineBase is priority 100 at 1 s, preempt on: Skew_Time 609.375 ms,
// Master_Down_Interval 3.609375 s.
func machineBase() Params {
	return Params{Version: 3, VRID: 51, Priority: 100, AdvertInterval: time.Second, Preempt: true, Accept: true, PrimaryAddr: mAddrSelf}
}

const (
	machineMDI100  = 3609375 * time.Microsecond
	machineSkew100 = 609375 * time.Microsecond
)

func machineAdvert(from netip.Addr, prio uint8) AdvertReceived {
	return AdvertReceived{From: from, Priority: prio, Interval: time.Second}
}

var (
	machineToMaster = []Action{SendAdvert{Priority: 100}, AddVIPs{}, Announce{}, SetTimer{Timer: AdvertTimer, After: time.Second}}
	// machineAsMaster drives a machine from Init to Master through its
	// Master_Down_Timer.
	machineAsMaster = []Event{Startup{}, TimerFired{Timer: MasterDownTimer}}
	machineAsBackup = []Event{Startup{}}
)

func TestMachineRules(t *testing.T) {
	tests := []struct {
		name      string
		params    func(*Params)
		setup     []Event
		event     Event
		want      []Action
		wantState State
	}{
		{
			name:      "RFC 5798 §6.4.1 startup goes to Backup and arms Master_Down_Timer",
			event:     Startup{},
			want:      []Action{SetTimer{Timer: MasterDownTimer, After: machineMDI100}, Transition{From: Init, To: Backup}},
			wantState: Backup,
		},
		{
			name:   "RFC 5798 §6.4.1 address owner goes straight to Master",
			params: func(p *Params) { p.Priority = 255 },
			event:  Startup{},
			want: []Action{SendAdvert{Priority: 255}, AddVIPs{}, Announce{}, SetTimer{Timer: AdvertTimer, After: time.Second},
				Transition{From: Init, To: Master}},
			wantState: Master,
		},
		{
			name:      "RFC 5798 §6.4.1 startup is ignored once started",
			setup:     machineAsBackup,
			event:     Startup{},
			wantState: Backup,
		},
		{
			name:      "RFC 5798 §6.4.2 Master_Down_Timer fires: advertise, add and announce, become Master",
			setup:     machineAsBackup,
			event:     TimerFired{Timer: MasterDownTimer},
			want:      append(machineToMaster[:4:4], Transition{From: Backup, To: Master}),
			wantState: Master,
		},
		{
			name:      "RFC 5798 §6.4.2 priority 0 sets Master_Down_Timer to Skew_Time",
			setup:     machineAsBackup,
			event:     machineAdvert(mAddrHigh, 0),
			want:      []Action{SetTimer{Timer: MasterDownTimer, After: machineSkew100}},
			wantState: Backup,
		},
		{
			name:      "RFC 5798 §6.4.2 higher priority resets Master_Down_Timer",
			setup:     machineAsBackup,
			event:     machineAdvert(mAddrLow, 150),
			want:      []Action{SetTimer{Timer: MasterDownTimer, After: machineMDI100}},
			wantState: Backup,
		},
		{
			name:      "RFC 5798 §6.4.2 equal priority resets Master_Down_Timer whatever the address",
			setup:     machineAsBackup,
			event:     machineAdvert(mAddrLow, 100),
			want:      []Action{SetTimer{Timer: MasterDownTimer, After: machineMDI100}},
			wantState: Backup,
		},
		{
			name:      "RFC 5798 §6.4.2 Master_Adver_Interval is learned from the advertisement",
			setup:     machineAsBackup,
			event:     AdvertReceived{From: mAddrHigh, Priority: 150, Interval: 500 * time.Millisecond},
			want:      []Action{SetTimer{Timer: MasterDownTimer, After: MasterDownInterval(100, 500*time.Millisecond)}},
			wantState: Backup,
		},
		{
			name:      "RFC 3768 §6.4.2 version 2 keeps its own Adver_Interval",
			params:    func(p *Params) { p.Version = 2 },
			setup:     machineAsBackup,
			event:     AdvertReceived{From: mAddrHigh, Priority: 150, Interval: 3 * time.Second},
			want:      []Action{SetTimer{Timer: MasterDownTimer, After: machineMDI100}},
			wantState: Backup,
		},
		{
			name:      "RFC 5798 §6.4.2 lower priority with Preempt_Mode is discarded",
			setup:     machineAsBackup,
			event:     machineAdvert(mAddrHigh, 50),
			wantState: Backup,
		},
		{
			name:      "RFC 5798 §6.4.2 lower priority without Preempt_Mode resets Master_Down_Timer",
			params:    func(p *Params) { p.Preempt = false },
			setup:     machineAsBackup,
			event:     machineAdvert(mAddrHigh, 50),
			want:      []Action{SetTimer{Timer: MasterDownTimer, After: machineMDI100}},
			wantState: Backup,
		},
		{
			name:      "RFC 5798 §6.4.2 Shutdown in Backup cancels Master_Down_Timer",
			setup:     machineAsBackup,
			event:     Shutdown{},
			want:      []Action{StopTimer{Timer: MasterDownTimer}, Transition{From: Backup, To: Init}},
			wantState: Init,
		},
		{
			name:      "RFC 5798 §6.4.3 Adver_Timer fires: advertise and re-arm",
			setup:     machineAsMaster,
			event:     TimerFired{Timer: AdvertTimer},
			want:      []Action{SendAdvert{Priority: 100}, SetTimer{Timer: AdvertTimer, After: time.Second}},
			wantState: Master,
		},
		{
			name:  "RFC 5798 §6.4.3 higher priority: cancel Adver_Timer, learn interval, become Backup",
			setup: machineAsMaster,
			event: AdvertReceived{From: mAddrLow, Priority: 150, Interval: 2 * time.Second},
			want: []Action{StopTimer{Timer: AdvertTimer}, SetTimer{Timer: MasterDownTimer, After: MasterDownInterval(100, 2*time.Second)},
				RemoveVIPs{}, Transition{From: Master, To: Backup}},
			wantState: Backup,
		},
		{
			name:  "RFC 5798 §6.4.3 equal priority from a greater address wins",
			setup: machineAsMaster,
			event: machineAdvert(mAddrHigh, 100),
			want: []Action{StopTimer{Timer: AdvertTimer}, SetTimer{Timer: MasterDownTimer, After: machineMDI100},
				RemoveVIPs{}, Transition{From: Master, To: Backup}},
			wantState: Backup,
		},
		{
			name:      "RFC 5798 §6.4.3 equal priority from a smaller address: stay master, reclaim the addresses",
			setup:     machineAsMaster,
			event:     machineAdvert(mAddrLow, 100),
			want:      reclaim,
			wantState: Master,
		},
		{
			name:      "RFC 5798 §6.4.3 lower priority: stay master whatever Preempt_Mode, reclaim the addresses",
			params:    func(p *Params) { p.Preempt = false },
			setup:     machineAsMaster,
			event:     machineAdvert(mAddrHigh, 99),
			want:      reclaim,
			wantState: Master,
		},
		{
			name:      "RFC 5798 §6.4.3 priority 0 received: advertise at once and reset Adver_Timer",
			setup:     machineAsMaster,
			event:     machineAdvert(mAddrHigh, 0),
			want:      []Action{SendAdvert{Priority: 100}, SetTimer{Timer: AdvertTimer, After: time.Second}},
			wantState: Master,
		},
		{
			name:  "RFC 5798 §6.4.3 Shutdown in Master: priority 0 now, addresses kept until released",
			setup: machineAsMaster,
			event: Shutdown{},
			want: []Action{StopTimer{Timer: AdvertTimer}, SendAdvert{Priority: 0},
				SetTimer{Timer: ReleaseTimer, After: time.Second}},
			wantState: Master,
		},
		{
			name:   "RFC 5798 §6.4.3 release bound is 3 advert intervals when shorter than 1s",
			params: func(p *Params) { p.AdvertInterval = 100 * time.Millisecond },
			setup:  machineAsMaster,
			event:  Shutdown{},
			want: []Action{StopTimer{Timer: AdvertTimer}, SendAdvert{Priority: 0},
				SetTimer{Timer: ReleaseTimer, After: 300 * time.Millisecond}},
			wantState: Master,
		},
		{
			// RFC 5798 §6.4.2: the new master adds and announces the
			// addresses only after its first advertisement; until the
			// announcement lands, clients still send to us.
			name:      "stopping master lingers after the new master's advert because it announces the addresses after that advert",
			setup:     append(machineAsMaster[:2:2], Shutdown{}),
			event:     machineAdvert(mAddrLow, 50),
			want:      []Action{SetTimer{Timer: LingerTimer, After: MaxReleaseLinger}},
			wantState: Master,
		},
		{
			name:      "stopping master lingers three advert intervals when that is shorter than 300ms",
			params:    func(p *Params) { p.AdvertInterval = 30 * time.Millisecond },
			setup:     append(machineAsMaster[:2:2], Shutdown{}),
			event:     machineAdvert(mAddrLow, 50),
			want:      []Action{SetTimer{Timer: LingerTimer, After: 90 * time.Millisecond}},
			wantState: Master,
		},
		{
			name:      "RFC 5798 §6.4.3 stopping master lets go when the linger after the new master's advert ends",
			setup:     append(machineAsMaster[:2:2], Shutdown{}, machineAdvert(mAddrLow, 50)),
			event:     TimerFired{Timer: LingerTimer},
			want:      []Action{StopTimer{Timer: ReleaseTimer}, RemoveVIPs{}, Transition{From: Master, To: Init}},
			wantState: Init,
		},
		{
			name:      "stopping master's linger is not pushed back by further adverts",
			setup:     append(machineAsMaster[:2:2], Shutdown{}, machineAdvert(mAddrLow, 50)),
			event:     machineAdvert(mAddrLow, 50),
			wantState: Master,
		},
		{
			name:      "stopping master's release bound still holds while it lingers",
			setup:     append(machineAsMaster[:2:2], Shutdown{}, machineAdvert(mAddrLow, 50)),
			event:     TimerFired{Timer: ReleaseTimer},
			want:      []Action{StopTimer{Timer: LingerTimer}, RemoveVIPs{}, Transition{From: Master, To: Init}},
			wantState: Init,
		},
		{
			name:      "stopping master lets go at once when an interface goes down while it lingers",
			setup:     append(machineAsMaster[:2:2], Shutdown{}, machineAdvert(mAddrLow, 50)),
			event:     InterfaceDown{},
			want:      []Action{StopTimer{Timer: ReleaseTimer}, StopTimer{Timer: LingerTimer}, RemoveVIPs{}, Transition{From: Master, To: Init}},
			wantState: Init,
		},
		{
			name:      "RFC 5798 §6.4.3 stopping master lets go at the release bound",
			setup:     append(machineAsMaster[:2:2], Shutdown{}),
			event:     TimerFired{Timer: ReleaseTimer},
			want:      []Action{RemoveVIPs{}, Transition{From: Master, To: Init}},
			wantState: Init,
		},
		{
			name:      "RFC 5798 §6.4.3 stopping master ignores another stopping router and its own stale timers",
			setup:     append(machineAsMaster[:2:2], Shutdown{}, machineAdvert(mAddrLow, 0), TimerFired{Timer: AdvertTimer}, Shutdown{}),
			event:     TimerFired{Timer: MasterDownTimer},
			wantState: Master,
		},
		{
			name:      "RFC 5798 §6.2 a stopped timer that still fires is ignored",
			setup:     machineAsMaster,
			event:     TimerFired{Timer: MasterDownTimer},
			wantState: Master,
		},
		{
			name:      "RFC 5798 §6.4.1 advertisements are ignored in Initialize",
			event:     machineAdvert(mAddrHigh, 200),
			wantState: Init,
		},
		{
			name:      "RFC 5798 §6.4.2 Backup faults on interface down",
			setup:     machineAsBackup,
			event:     InterfaceDown{},
			want:      []Action{StopTimer{Timer: MasterDownTimer}, Transition{From: Backup, To: Fault}},
			wantState: Fault,
		},
		{
			name:  "RFC 5798 §6.4.3 Master faults on interface down: priority 0, addresses removed",
			setup: machineAsMaster,
			event: InterfaceDown{},
			want: []Action{StopTimer{Timer: AdvertTimer}, SendAdvert{Priority: 0}, RemoveVIPs{},
				Transition{From: Master, To: Fault}},
			wantState: Fault,
		},
		{
			name:      "RFC 5798 §6.4.1 interface up leaves Fault as a Startup does",
			setup:     []Event{Startup{}, InterfaceDown{}},
			event:     InterfaceUp{},
			want:      []Action{SetTimer{Timer: MasterDownTimer, After: machineMDI100}, Transition{From: Fault, To: Backup}},
			wantState: Backup,
		},
		{
			name:      "RFC 5798 §6.4.1 startup with an interface down goes to Fault",
			setup:     []Event{InterfaceDown{}},
			event:     Startup{},
			want:      []Action{Transition{From: Init, To: Fault}},
			wantState: Fault,
		},
		{
			name:      "RFC 5798 §6.4.1 Fault ignores advertisements and timers",
			setup:     []Event{Startup{}, InterfaceDown{}, machineAdvert(mAddrHigh, 0)},
			event:     TimerFired{Timer: MasterDownTimer},
			wantState: Fault,
		},
		{
			name:      "RFC 5798 §6.4.1 Shutdown in Fault returns to Initialize",
			setup:     []Event{Startup{}, InterfaceDown{}},
			event:     Shutdown{},
			want:      []Action{Transition{From: Fault, To: Init}},
			wantState: Init,
		},
		{
			name:      "RFC 5798 §6.4.3 a master advertises a changed priority at once",
			setup:     machineAsMaster,
			event:     PriorityChanged{Priority: 120},
			want:      []Action{SendAdvert{Priority: 120}, SetTimer{Timer: AdvertTimer, After: time.Second}},
			wantState: Master,
		},
		{
			name:      "RFC 5798 §6.4.2 a backup with a raised priority discards the now lower master",
			setup:     []Event{Startup{}, machineAdvert(mAddrHigh, 150), PriorityChanged{Priority: 200}},
			event:     machineAdvert(mAddrHigh, 150),
			wantState: Backup,
		},
		{
			name:      "RFC 5798 §6.1 priority 0 is not a configurable priority",
			setup:     machineAsMaster,
			event:     PriorityChanged{Priority: 0},
			wantState: Master,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := machineBase()
			if tt.params != nil {
				tt.params(&p)
			}
			m := NewMachine(p)
			for _, ev := range tt.setup {
				m.Step(ev)
			}
			got := m.Step(tt.event)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Step(%#v) actions (-want +got):\n%s", tt.event, diff)
			}
			if m.State() != tt.wantState {
				t.Errorf("State() = %v, want %v", m.State(), tt.wantState)
			}
		})
	}
}

// RFC 5798 §6.4.2: the master's address and interval are what a Backup
// reports; in Master they are our own.
func TestMachineMasterAddrAndInterval(t *testing.T) {
	m := NewMachine(machineBase())
	m.Step(Startup{})
	if m.MasterAddr().IsValid() {
		t.Errorf("MasterAddr() before any advert = %v, want none", m.MasterAddr())
	}
	m.Step(AdvertReceived{From: mAddrHigh, Priority: 150, Interval: 250 * time.Millisecond})
	if m.MasterAddr() != mAddrHigh || m.MasterAdvertInterval() != 250*time.Millisecond {
		t.Errorf("after advert: MasterAddr()=%v MasterAdvertInterval()=%v, want %v 250ms", m.MasterAddr(), m.MasterAdvertInterval(), mAddrHigh)
	}
	// Priority 0 leaves the learned interval alone: Skew_Time uses it.
	got := m.Step(machineAdvert(mAddrHigh, 0))
	want := []Action{SetTimer{Timer: MasterDownTimer, After: SkewTime(100, 250*time.Millisecond)}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("priority 0 (-want +got):\n%s", diff)
	}
	m.Step(TimerFired{Timer: MasterDownTimer})
	if m.MasterAddr() != mAddrSelf || m.MasterAdvertInterval() != time.Second {
		t.Errorf("as Master: MasterAddr()=%v MasterAdvertInterval()=%v, want %v 1s", m.MasterAddr(), m.MasterAdvertInterval(), mAddrSelf)
	}
	if !m.Params().Accept || m.Priority() != 100 {
		t.Errorf("Params().Accept=%v Priority()=%d, want true 100", m.Params().Accept, m.Priority())
	}
}

// Preempt delay, keepalived-style (see Machine): RFC 5798 §6.4.2 preemption
// held back for PreemptDelay.
func TestMachinePreemptDelay(t *testing.T) {
	p := machineBase()
	p.Priority = 200
	p.PreemptDelay = 10 * time.Second
	mdi200 := MasterDownInterval(200, time.Second)
	m := NewMachine(p)

	steps := []struct {
		name string
		ev   Event
		want []Action
	}{
		{"startup opens the window", Startup{}, []Action{
			SetTimer{Timer: MasterDownTimer, After: mdi200},
			SetTimer{Timer: PreemptDelayTimer, After: 10 * time.Second},
			Transition{From: Init, To: Backup},
		}},
		{"lower master accepted inside the window", machineAdvert(mAddrLow, 100), []Action{
			SetTimer{Timer: MasterDownTimer, After: mdi200},
		}},
		{"window closes", TimerFired{Timer: PreemptDelayTimer}, nil},
		{"lower master now discarded", machineAdvert(mAddrLow, 100), nil},
		{"higher master resets the timer and the window", machineAdvert(mAddrHigh, 250), []Action{
			SetTimer{Timer: MasterDownTimer, After: mdi200},
		}},
		{"lower master seen again opens a new window", machineAdvert(mAddrLow, 100), []Action{
			SetTimer{Timer: PreemptDelayTimer, After: 10 * time.Second},
			SetTimer{Timer: MasterDownTimer, After: mdi200},
		}},
		{"higher master closes the open window", machineAdvert(mAddrHigh, 250), []Action{
			StopTimer{Timer: PreemptDelayTimer},
			SetTimer{Timer: MasterDownTimer, After: mdi200},
		}},
		{"master down fires", TimerFired{Timer: MasterDownTimer}, []Action{
			SendAdvert{Priority: 200}, AddVIPs{}, Announce{}, SetTimer{Timer: AdvertTimer, After: time.Second},
			Transition{From: Backup, To: Master},
		}},
	}
	for _, s := range steps {
		got := m.Step(s.ev)
		if diff := cmp.Diff(s.want, got); diff != "" {
			t.Fatalf("%s: (-want +got):\n%s", s.name, diff)
		}
	}
}

// A window still open when the master goes silent does not stop the
// takeover: RFC 5798 §6.4.2 Master_Down_Timer always wins.
func TestMachinePreemptDelaySilentMaster(t *testing.T) {
	p := machineBase()
	p.PreemptDelay = 5 * time.Second
	m := NewMachine(p)
	m.Step(Startup{})
	got := m.Step(TimerFired{Timer: MasterDownTimer})
	want := []Action{StopTimer{Timer: PreemptDelayTimer}, SendAdvert{Priority: 100}, AddVIPs{}, Announce{},
		SetTimer{Timer: AdvertTimer, After: time.Second}, Transition{From: Backup, To: Master}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestMachineSyncForce(t *testing.T) {
	tests := []struct {
		name      string
		setup     []Event
		event     Event
		want      []Action
		wantState State
	}{
		{
			name:      "Backup forced to Master",
			setup:     machineAsBackup,
			event:     SyncForce{To: Master},
			want:      append([]Action{StopTimer{Timer: MasterDownTimer}}, append(machineToMaster[:4:4], Transition{From: Backup, To: Master})...),
			wantState: Master,
		},
		{
			name:  "Master forced to Backup",
			setup: machineAsMaster,
			event: SyncForce{To: Backup},
			want: []Action{StopTimer{Timer: AdvertTimer}, SetTimer{Timer: MasterDownTimer, After: machineMDI100},
				RemoveVIPs{}, Transition{From: Master, To: Backup}},
			wantState: Backup,
		},
		{
			name:      "held Fault does not leave on its own interface up",
			setup:     []Event{Startup{}, SyncForce{To: Fault}},
			event:     InterfaceUp{},
			wantState: Fault,
		},
		{
			name:      "held Fault released by the group",
			setup:     []Event{Startup{}, SyncForce{To: Fault}},
			event:     SyncForce{To: Backup},
			want:      []Action{SetTimer{Timer: MasterDownTimer, After: machineMDI100}, Transition{From: Fault, To: Backup}},
			wantState: Backup,
		},
		{
			name:      "own fault is not released by the group",
			setup:     []Event{Startup{}, InterfaceDown{}},
			event:     SyncForce{To: Backup},
			wantState: Fault,
		},
		{
			name:      "Init is never forced",
			event:     SyncForce{To: Master},
			wantState: Init,
		},
		{
			name:      "Fault is not forced to Master",
			setup:     []Event{Startup{}, InterfaceDown{}},
			event:     SyncForce{To: Master},
			wantState: Fault,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewMachine(machineBase())
			for _, ev := range tt.setup {
				m.Step(ev)
			}
			got := m.Step(tt.event)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if m.State() != tt.wantState {
				t.Errorf("State() = %v, want %v", m.State(), tt.wantState)
			}
		})
	}
}

func TestSyncGroupFollow(t *testing.T) {
	force := func(i int, to State) SyncOrder { return SyncOrder{Member: i, Event: SyncForce{To: to}} }
	tests := []struct {
		name   string
		states []State
		down   []bool
		member int
		tr     Transition
		want   []SyncOrder
	}{
		{
			name:   "one to Master pulls the backups",
			states: []State{Master, Backup, Backup},
			tr:     Transition{From: Backup, To: Master},
			want:   []SyncOrder{force(1, Master), force(2, Master)},
		},
		{
			name:   "already all Master: nothing",
			states: []State{Master, Master},
			tr:     Transition{From: Backup, To: Master},
		},
		{
			name:   "master steps down: other masters follow",
			states: []State{Backup, Master, Init},
			tr:     Transition{From: Master, To: Backup},
			want:   []SyncOrder{force(1, Backup)},
		},
		{
			name:   "startup into Backup moves nobody",
			states: []State{Backup, Master},
			tr:     Transition{From: Init, To: Backup},
		},
		{
			name:   "a fault holds the others in Fault",
			states: []State{Fault, Master, Backup},
			down:   []bool{true, false, false},
			tr:     Transition{From: Master, To: Fault},
			want:   []SyncOrder{force(1, Fault), force(2, Fault)},
		},
		{
			name:   "a member starting while another is down goes to Fault",
			states: []State{Backup, Fault},
			down:   []bool{false, true},
			tr:     Transition{From: Init, To: Backup},
			want:   []SyncOrder{force(0, Fault)},
		},
		{
			name:   "recovery from Fault brings held members back",
			states: []State{Backup, Fault, Fault},
			down:   []bool{false, false, false},
			tr:     Transition{From: Fault, To: Backup},
			want:   []SyncOrder{force(1, Backup), force(2, Backup)},
		},
		{
			name:   "stopping moves nobody, even in a fault",
			states: []State{Init, Fault},
			down:   []bool{false, true},
			tr:     Transition{From: Master, To: Init},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := SyncGroup{States: tt.states, Down: tt.down}
			got := g.Follow(tt.member, tt.tr)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Follow (-want +got):\n%s", diff)
			}
		})
	}
}

// TestSyncGroupMachines runs the group rule against real machines: the
// driver loop the rule is written for must settle, and the group must move
// together.
func TestSyncGroupMachines(t *testing.T) {
	ms := []*Machine{NewMachine(machineBase()), NewMachine(machineBase())}
	feed := func(i int, ev Event) {
		t.Helper()
		type item struct {
			i  int
			ev Event
		}
		queue := []item{{i, ev}}
		for n := 0; len(queue) > 0; n++ {
			if n > 20 {
				t.Fatal("sync group did not settle")
			}
			it := queue[0]
			queue = queue[1:]
			for _, a := range ms[it.i].Step(it.ev) {
				tr, ok := a.(Transition)
				if !ok {
					continue
				}
				g := SyncGroup{}
				for _, m := range ms {
					g.States = append(g.States, m.State())
					g.Down = append(g.Down, m.InterfacesDown())
				}
				for _, o := range g.Follow(it.i, tr) {
					queue = append(queue, item{o.Member, o.Event})
				}
			}
		}
	}
	states := func() []State { return []State{ms[0].State(), ms[1].State()} }
	check := func(step string, want ...State) {
		t.Helper()
		if diff := cmp.Diff(want, states()); diff != "" {
			t.Errorf("%s: states (-want +got):\n%s", step, diff)
		}
	}
	feed(0, Startup{})
	feed(1, Startup{})
	check("startup", Backup, Backup)
	feed(0, TimerFired{Timer: MasterDownTimer})
	check("first master-down", Master, Master)
	feed(1, machineAdvert(mAddrHigh, 200))
	check("peer preferred on one member", Backup, Backup)
	feed(1, InterfaceDown{})
	check("interface down", Fault, Fault)
	feed(0, InterfaceDown{})
	feed(1, InterfaceUp{})
	check("one of two faults cleared", Fault, Fault)
	feed(0, InterfaceUp{})
	check("all clear", Backup, Backup)
}

func TestStateString(t *testing.T) {
	got := []string{Init.String(), Backup.String(), Master.String(), Fault.String()}
	want := []string{"INIT", "BACKUP", "MASTER", "FAULT"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// RFC 3768 §6.4.2: a version 2 backup never takes the master's interval;
// Adver_Interval is fixed by configuration.
func TestMachineV2DoesNotLearnInterval(t *testing.T) {
	p := machineBase()
	p.Version = 2
	m := NewMachine(p)
	m.Step(Startup{})
	m.Step(AdvertReceived{From: mAddrHigh, Priority: 150, Interval: 3 * time.Second})
	if got := m.MasterAdvertInterval(); got != time.Second {
		t.Errorf("MasterAdvertInterval() = %v, want 1s", got)
	}
	m.Step(TimerFired{Timer: MasterDownTimer})
	got := m.Step(AdvertReceived{From: mAddrHigh, Priority: 150, Interval: 3 * time.Second})
	want := []Action{StopTimer{Timer: AdvertTimer}, SetTimer{Timer: MasterDownTimer, After: MasterDownIntervalV2(100, time.Second)},
		RemoveVIPs{}, Transition{From: Master, To: Backup}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if got := m.MasterAdvertInterval(); got != time.Second {
		t.Errorf("after stepping down: MasterAdvertInterval() = %v, want 1s", got)
	}
}

// RFC 5798 §6.4.3: only a strictly greater address wins a tie; an advert
// that claims our own address (a misconfigured peer; the receive path drops
// our own packets) must not demote us.
func TestMachineTieOnOwnAddress(t *testing.T) {
	m := NewMachine(machineBase())
	for _, ev := range machineAsMaster {
		m.Step(ev)
	}
	got := m.Step(machineAdvert(mAddrSelf, 100))
	if diff := cmp.Diff(reclaim, got); diff != "" || m.State() != Master {
		t.Errorf("state %v, actions (-want +got):\n%s; want MASTER, reclaiming", m.State(), diff)
	}
}

// reclaim is what a master does on hearing a master with less: advertise
// at once, announce its addresses again, and wait a Master_Down_Interval
// before doing so again.
var reclaim = []Action{
	SendAdvert{Priority: 100}, SetTimer{Timer: AdvertTimer, After: time.Second},
	Announce{}, SetTimer{Timer: ReclaimTimer, After: machineMDI100},
}

// A router that cannot hear the master keeps advertising as master with
// less: the master answers once per Master_Down_Interval, not to every
// advertisement.
func TestMachineReclaimIsSpaced(t *testing.T) {
	m := NewMachine(machineBase())
	for _, ev := range machineAsMaster {
		m.Step(ev)
	}
	steps := []struct {
		event Event
		want  []Action
	}{
		{machineAdvert(mAddrLow, 50), reclaim},
		{machineAdvert(mAddrLow, 50), nil},
		{TimerFired{Timer: AdvertTimer}, []Action{SendAdvert{Priority: 100}, SetTimer{Timer: AdvertTimer, After: time.Second}}},
		{machineAdvert(mAddrLow, 50), nil},
		{TimerFired{Timer: ReclaimTimer}, nil},
		{machineAdvert(mAddrLow, 50), reclaim},
	}
	for i, st := range steps {
		if diff := cmp.Diff(st.want, m.Step(st.event)); diff != "" {
			t.Errorf("step %d, %v (-want +got):\n%s", i+1, st.event, diff)
		}
		if m.State() != Master {
			t.Fatalf("step %d: state %v, want MASTER", i+1, m.State())
		}
	}
}

// A driver feeds events and carries out the actions in order; here a backup
// of priority 100 starts and, hearing no master, takes over.
func ExampleMachine() {
	m := NewMachine(Params{
		Version:        3,
		VRID:           51,
		Priority:       100,
		AdvertInterval: time.Second,
		Preempt:        true,
		PrimaryAddr:    netip.MustParseAddr("192.0.2.2"),
	})
	for _, ev := range []Event{Startup{}, TimerFired{Timer: MasterDownTimer}} {
		for _, a := range m.Step(ev) {
			fmt.Println(a)
		}
	}
	// Output:
	// set timer master-down 3.609375s
	// INIT->BACKUP
	// send advert prio=100
	// add vips
	// announce
	// set timer advert 1s
	// BACKUP->MASTER
}
