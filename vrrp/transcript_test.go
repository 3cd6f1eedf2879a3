package vrrp

import (
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var updateTranscripts = flag.Bool("update", false, "rewrite the golden transcripts in testdata/transcripts")

// The transcript tests wire several machines to one simulated LAN with a
// fake clock: an advertisement reaches every other live router at the
// instant it is sent, and events run in order of due time, ties in the order
// they were queued. Each scenario writes what happened as text, one line per
// effect, and compares it with testdata/transcripts/NAME.txt; run
// `go test ./vrrp/ -run Transcript -update` to rewrite the files after an
// intended change, and read the diff.
//
// To keep transcripts readable, a SetTimer is written only when it arms a
// timer that is not running or changes the delay: a backup resetting its
// Master_Down_Timer on every advertisement is not news, nor is a master
// re-arming its Adver_Timer after each "send advert". For the same reason the
// Adver_Timer's expiry is not written, the other timers' is. Received
// advertisements are implied by the sender's line.

type simOp int

const (
	simStart    simOp = iota // a fresh machine, then Startup (also a restart)
	simShutdown              // Shutdown: a clean stop
	simKill                  // the router vanishes without a word
	simLinkDown              // a tracked interface goes down
	simLinkUp
)

func (o simOp) String() string {
	return [...]string{"start", "shutdown", "killed", "link down", "link up"}[o]
}

type simStep struct {
	at     time.Duration
	router int
	op     simOp
}

type simRouter struct {
	name  string
	p     Params
	m     *Machine
	alive bool
	gen   [numTimers]int
	// last delay each timer was set to, while it runs.
	armed [numTimers]time.Duration
}

type simEvent struct {
	at     time.Duration
	seq    int
	router int
	ev     Event
	gen    int // TimerFired only: the arming it belongs to
	script *simStep
}

type simTransition struct {
	at     time.Duration
	router string
	tr     Transition
}

type sim struct {
	now         time.Duration
	seq         int
	routers     []*simRouter
	queue       []simEvent
	lines       []string
	transitions []simTransition
	sent        map[string][]time.Duration // advertisement times per router, priority > 0
}

func (s *sim) push(e simEvent) {
	s.seq++
	e.seq = s.seq
	i := sort.Search(len(s.queue), func(i int) bool {
		q := s.queue[i]
		return q.at > e.at || (q.at == e.at && q.seq > e.seq)
	})
	s.queue = append(s.queue, simEvent{})
	copy(s.queue[i+1:], s.queue[i:])
	s.queue[i] = e
}

func (s *sim) logf(r *simRouter, format string, args ...any) {
	s.lines = append(s.lines, fmt.Sprintf("t=%v %s %s", s.now, r.name, fmt.Sprintf(format, args...)))
}

func (s *sim) run(until time.Duration) {
	for len(s.queue) > 0 && s.queue[0].at <= until {
		e := s.queue[0]
		s.queue = s.queue[1:]
		s.now = e.at
		r := s.routers[e.router]
		if e.script != nil {
			s.script(r, *e.script)
			continue
		}
		if !r.alive {
			continue
		}
		if tf, ok := e.ev.(TimerFired); ok {
			if r.gen[tf.Timer] != e.gen {
				continue // stopped or re-armed since
			}
			if tf.Timer != AdvertTimer {
				r.armed[tf.Timer] = 0 // no longer running: re-arming it is news
				s.logf(r, "timer %v fired", tf.Timer)
			}
		}
		s.step(e.router, e.ev)
	}
	s.now = until
}

func (s *sim) script(r *simRouter, st simStep) {
	s.logf(r, "%s", st.op)
	var ev Event
	switch st.op {
	case simStart:
		r.m = NewMachine(r.p)
		r.alive = true
		ev = Startup{}
	case simKill:
		r.alive = false
		for t := range r.gen {
			r.gen[t]++
			r.armed[t] = 0
		}
		return
	case simShutdown:
		ev = Shutdown{}
	case simLinkDown:
		ev = InterfaceDown{}
	case simLinkUp:
		ev = InterfaceUp{}
	}
	if r.alive {
		s.step(st.router, ev)
	}
}

func (s *sim) step(i int, ev Event) {
	r := s.routers[i]
	for _, a := range r.m.Step(ev) {
		switch a := a.(type) {
		case SendAdvert:
			s.logf(r, "%v", a)
			if a.Priority > 0 {
				s.sent[r.name] = append(s.sent[r.name], s.now)
			}
			for j, o := range s.routers {
				if j != i && o.alive {
					s.push(simEvent{at: s.now, router: j, ev: AdvertReceived{From: r.p.PrimaryAddr, Priority: a.Priority, Interval: r.p.AdvertInterval}})
				}
			}
		case SetTimer:
			if r.armed[a.Timer] != a.After {
				s.logf(r, "%v", a)
			}
			r.armed[a.Timer] = a.After
			r.gen[a.Timer]++
			s.push(simEvent{at: s.now + a.After, router: i, ev: TimerFired{Timer: a.Timer}, gen: r.gen[a.Timer]})
		case StopTimer:
			s.logf(r, "%v", a)
			r.armed[a.Timer] = 0
			r.gen[a.Timer]++
		case Transition:
			s.logf(r, "%v", a)
			s.transitions = append(s.transitions, simTransition{at: s.now, router: r.name, tr: a})
		default:
			s.logf(r, "%v", a)
		}
	}
}

func (s *sim) state(name string) State {
	for _, r := range s.routers {
		if r.name == name {
			if !r.alive {
				return Init
			}
			return r.m.State()
		}
	}
	return Init
}

// becameMaster returns when router name last entered Master, or -1.
func (s *sim) becameMaster(name string) time.Duration {
	at := time.Duration(-1)
	for _, t := range s.transitions {
		if t.router == name && t.tr.To == Master {
			at = t.at
		}
	}
	return at
}

// lastAdvertBefore returns the time of router name's last advertisement (with
// a non-zero priority) sent before t.
func (s *sim) lastAdvertBefore(name string, t time.Duration) time.Duration {
	last := time.Duration(-1)
	for _, at := range s.sent[name] {
		if at < t {
			last = at
		}
	}
	return last
}

type simScenario struct {
	name    string
	title   string
	routers []Params
	script  []simStep
	until   time.Duration
	// final states, by router name; the transcript shows the rest.
	final map[string]State
	// check asserts the timing the scenario is about, independently of the
	// golden file, so -update cannot bless a wrong election.
	check func(t *testing.T, s *sim)
}

func simParams(i int, prio uint8, mod ...func(*Params)) Params {
	p := Params{
		Version:        3,
		VRID:           51,
		Priority:       prio,
		AdvertInterval: time.Second,
		Preempt:        true,
		Accept:         true,
		PrimaryAddr:    netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}),
	}
	for _, f := range mod {
		f(&p)
	}
	return p
}

func startAll(n int) []simStep {
	var steps []simStep
	for i := range n {
		steps = append(steps, simStep{at: 0, router: i, op: simStart})
	}
	return steps
}

func simExpectAt(t *testing.T, what string, got, want time.Duration) {
	t.Helper()
	if got != want {
		t.Errorf("%s at %v, want %v", what, got, want)
	}
}

func transcriptScenarios() []simScenario {
	noPreempt := func(p *Params) { p.Preempt = false }
	return []simScenario{
		{
			name:    "two_priorities",
			title:   "RFC 5798 §6.4.1, §6.4.2: the higher priority's shorter Skew_Time elects it",
			routers: []Params{simParams(1, 200), simParams(2, 100)},
			script:  startAll(2),
			until:   6 * time.Second,
			final:   map[string]State{"r1": Master, "r2": Backup},
			check: func(t *testing.T, s *sim) {
				simExpectAt(t, "r1 MASTER", s.becameMaster("r1"), MasterDownInterval(200, time.Second))
			},
		},
		{
			name:    "equal_priority",
			title:   "RFC 5798 §6.4.3: equal priorities, the greater primary address stays master",
			routers: []Params{simParams(1, 100), simParams(2, 100)},
			script:  startAll(2),
			until:   6 * time.Second,
			final:   map[string]State{"r1": Backup, "r2": Master},
		},
		{
			name:    "master_killed",
			title:   "RFC 5798 §6.4.2: a silent master is replaced after Master_Down_Interval",
			routers: []Params{simParams(1, 200), simParams(2, 100)},
			script:  append(startAll(2), simStep{at: 10 * time.Second, router: 0, op: simKill}),
			until:   16 * time.Second,
			final:   map[string]State{"r1": Init, "r2": Master},
			check: func(t *testing.T, s *sim) {
				last := s.lastAdvertBefore("r1", 10*time.Second)
				simExpectAt(t, "r2 MASTER", s.becameMaster("r2"), last+MasterDownInterval(100, time.Second))
			},
		},
		{
			name:    "master_shutdown",
			title:   "RFC 5798 §6.4.2, §6.4.3: a clean stop hands over after Skew_Time, addresses kept until the new master has announced",
			routers: []Params{simParams(1, 200), simParams(2, 100)},
			script:  append(startAll(2), simStep{at: 10 * time.Second, router: 0, op: simShutdown}),
			until:   13 * time.Second,
			final:   map[string]State{"r1": Init, "r2": Master},
			check: func(t *testing.T, s *sim) {
				takeover := 10*time.Second + SkewTime(100, time.Second)
				simExpectAt(t, "r2 MASTER", s.becameMaster("r2"), takeover)
				for _, tr := range s.transitions {
					if tr.router == "r1" && tr.tr.To == Init {
						// The new master announces right after its first
						// advert; the old one answers a linger longer.
						simExpectAt(t, "r1 release", tr.at, takeover+MaxReleaseLinger)
					}
				}
			},
		},
		{
			name:    "preempt",
			title:   "RFC 5798 §6.4.2: a restarted higher priority discards the lower master and preempts",
			routers: []Params{simParams(1, 200), simParams(2, 100)},
			script: append(startAll(2),
				simStep{at: 5 * time.Second, router: 0, op: simKill},
				simStep{at: 10 * time.Second, router: 0, op: simStart}),
			until: 16 * time.Second,
			final: map[string]State{"r1": Master, "r2": Backup},
			check: func(t *testing.T, s *sim) {
				simExpectAt(t, "r1 MASTER again", s.becameMaster("r1"), 10*time.Second+MasterDownInterval(200, time.Second))
			},
		},
		{
			name:    "no_preempt",
			title:   "RFC 5798 §6.4.2: with Preempt_Mode off the restarted higher priority stays backup",
			routers: []Params{simParams(1, 200, noPreempt), simParams(2, 100, noPreempt)},
			script: append(startAll(2),
				simStep{at: 5 * time.Second, router: 0, op: simKill},
				simStep{at: 10 * time.Second, router: 0, op: simStart}),
			until: 16 * time.Second,
			final: map[string]State{"r1": Backup, "r2": Master},
		},
		{
			name:  "preempt_delay",
			title: "preempt_delay 4s: the restarted higher priority accepts the lower master for 4s, then preempts",
			routers: []Params{
				simParams(1, 200, func(p *Params) { p.PreemptDelay = 4 * time.Second }),
				simParams(2, 100),
			},
			script: append(startAll(2),
				simStep{at: 5 * time.Second, router: 0, op: simKill},
				simStep{at: 10 * time.Second, router: 0, op: simStart}),
			until: 20 * time.Second,
			final: map[string]State{"r1": Master, "r2": Backup},
			check: func(t *testing.T, s *sim) {
				// The last advertisement accepted is the last one inside the window.
				last := s.lastAdvertBefore("r2", 14*time.Second)
				simExpectAt(t, "r1 MASTER again", s.becameMaster("r1"), last+MasterDownInterval(200, time.Second))
			},
		},
		{
			name:    "three_routers",
			title:   "RFC 5798 §6.4.2: of two backups the higher priority times out first",
			routers: []Params{simParams(1, 200), simParams(2, 150), simParams(3, 100)},
			script:  append(startAll(3), simStep{at: 8 * time.Second, router: 0, op: simKill}),
			until:   14 * time.Second,
			final:   map[string]State{"r1": Init, "r2": Master, "r3": Backup},
			check: func(t *testing.T, s *sim) {
				last := s.lastAdvertBefore("r1", 8*time.Second)
				simExpectAt(t, "r2 MASTER", s.becameMaster("r2"), last+MasterDownInterval(150, time.Second))
				if at := s.becameMaster("r3"); at >= 0 {
					t.Errorf("r3 became MASTER at %v", at)
				}
			},
		},
		{
			name:    "owner",
			title:   "RFC 5798 §6.4.1: the priority-255 owner is master at once, also when it comes back",
			routers: []Params{simParams(1, 255), simParams(2, 100)},
			script: append(startAll(2),
				simStep{at: 5 * time.Second, router: 0, op: simKill},
				simStep{at: 10 * time.Second, router: 0, op: simStart}),
			until: 12 * time.Second,
			final: map[string]State{"r1": Master, "r2": Backup},
			check: func(t *testing.T, s *sim) {
				simExpectAt(t, "r1 MASTER again", s.becameMaster("r1"), 10*time.Second)
			},
		},
		{
			name:  "learned_interval",
			title: "RFC 5798 §6.4.2: a v3 backup learns the master's 500ms interval and times out on it",
			routers: []Params{
				simParams(1, 200, func(p *Params) { p.AdvertInterval = 500 * time.Millisecond }),
				simParams(2, 100),
			},
			script: append(startAll(2), simStep{at: 5 * time.Second, router: 0, op: simKill}),
			until:  7 * time.Second,
			final:  map[string]State{"r1": Init, "r2": Master},
			check: func(t *testing.T, s *sim) {
				last := s.lastAdvertBefore("r1", 5*time.Second)
				simExpectAt(t, "r2 MASTER", s.becameMaster("r2"), last+MasterDownInterval(100, 500*time.Millisecond))
			},
		},
		{
			name:  "v2_interval",
			title: "RFC 3768 §6.1: version 2 at 2s, Skew_Time stays (256-Priority)/256 s",
			routers: []Params{
				simParams(1, 200, func(p *Params) { p.Version, p.AdvertInterval = 2, 2*time.Second }),
				simParams(2, 100, func(p *Params) { p.Version, p.AdvertInterval = 2, 2*time.Second }),
			},
			script: append(startAll(2), simStep{at: 12 * time.Second, router: 0, op: simKill}),
			until:  20 * time.Second,
			final:  map[string]State{"r1": Init, "r2": Master},
			check: func(t *testing.T, s *sim) {
				simExpectAt(t, "r1 MASTER", s.becameMaster("r1"), 6*time.Second+SkewTimeV2(200))
				last := s.lastAdvertBefore("r1", 12*time.Second)
				simExpectAt(t, "r2 MASTER", s.becameMaster("r2"), last+6*time.Second+SkewTimeV2(100))
			},
		},
		{
			name:    "fault",
			title:   "tracked interface down: the master leaves with priority 0, comes back as backup and preempts",
			routers: []Params{simParams(1, 200), simParams(2, 100)},
			script: append(startAll(2),
				simStep{at: 6 * time.Second, router: 0, op: simLinkDown},
				simStep{at: 9 * time.Second, router: 0, op: simLinkUp}),
			until: 14 * time.Second,
			final: map[string]State{"r1": Master, "r2": Backup},
			check: func(t *testing.T, s *sim) {
				simExpectAt(t, "r1 MASTER again", s.becameMaster("r1"), 9*time.Second+MasterDownInterval(200, time.Second))
			},
		},
	}
}

func TestTranscripts(t *testing.T) {
	for _, sc := range transcriptScenarios() {
		t.Run(sc.name, func(t *testing.T) {
			s := &sim{sent: map[string][]time.Duration{}}
			s.lines = append(s.lines, "# "+sc.title)
			for i, p := range sc.routers {
				r := &simRouter{name: fmt.Sprintf("r%d", i+1), p: p}
				s.routers = append(s.routers, r)
				s.lines = append(s.lines, fmt.Sprintf("# %s v%d prio=%d addr=%v interval=%v preempt=%v preempt_delay=%v",
					r.name, p.version(), p.Priority, p.PrimaryAddr, p.AdvertInterval, p.Preempt, p.PreemptDelay))
			}
			for i := range sc.script {
				st := sc.script[i]
				s.push(simEvent{at: st.at, router: st.router, script: &st})
			}
			s.run(sc.until)
			var end []string
			for _, r := range s.routers {
				end = append(end, fmt.Sprintf("%s %v", r.name, s.state(r.name)))
			}
			s.lines = append(s.lines, fmt.Sprintf("t=%v end: %s", s.now, strings.Join(end, ", ")))
			got := strings.Join(s.lines, "\n") + "\n"

			for name, want := range sc.final {
				if st := s.state(name); st != want {
					t.Errorf("%s ends in %v, want %v", name, st, want)
				}
			}
			if sc.check != nil {
				sc.check(t, s)
			}

			path := filepath.Join("testdata", "transcripts", sc.name+".txt")
			if *updateTranscripts {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatalf("writing golden transcript: %v", err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("reading golden transcript (run with -update to create it): %v", err)
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("transcript %s (-want +got):\n%s", path, diff)
			}
		})
	}
}
