package soak

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

var timing = Timing{MasterDown: 361 * time.Millisecond, MasterDownMin: 341 * time.Millisecond, Settle: 5 * time.Second}

func TestPlanIsReproducible(t *testing.T) {
	a, b := Plan(42, 3*time.Minute, timing), Plan(42, 3*time.Minute, timing)
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("two plans of seed 42 differ")
	}
	if reflect.DeepEqual(a, Plan(43, 3*time.Minute, timing)) {
		t.Errorf("seeds 42 and 43 give the same plan")
	}
	var spent time.Duration
	for _, f := range a {
		spent += f.Hold + f.Gap
		if f.Kind == StopShort && f.Hold >= timing.MasterDownMin {
			t.Errorf("%s: a short stop as long as Master_Down_Interval", f)
		}
		if f.Kind == StopLong && f.Hold <= timing.MasterDown {
			t.Errorf("%s: a long stop shorter than Master_Down_Interval", f)
		}
		if f.Kind == ServerDown {
			if _, ok := f.Config.Weights[f.Target]; !ok {
				t.Errorf("%s: the server is not in the file", f)
			}
		}
	}
	if spent > 3*time.Minute {
		t.Errorf("holds and gaps of %v in a plan of 3m", spent)
	}
}

// Every round of len(Kinds) faults has each kind once, so that CI's short
// soak meets them all.
func TestPlanDrawsEveryKind(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		plan := Plan(seed, 30*time.Minute, timing)
		for start := 0; start+len(Kinds) <= len(plan); start += len(Kinds) {
			seen := map[Kind]bool{}
			for _, f := range plan[start : start+len(Kinds)] {
				seen[f.Kind] = true
			}
			for _, k := range Kinds {
				if !seen[k] {
					t.Errorf("seed %d: faults %d to %d lack %q", seed, start+1, start+len(Kinds), k)
				}
			}
		}
	}
}

func TestPlanOfSomeKinds(t *testing.T) {
	kinds, err := ParseKinds("sigstop >, ipvsadm")
	if err != nil {
		t.Fatal(err)
	}
	if want := []Kind{StopLong, Flush}; !reflect.DeepEqual(kinds, want) {
		t.Fatalf("ParseKinds = %q, want %q", kinds, want)
	}
	tm := timing
	tm.Kinds = kinds
	seen := map[Kind]int{}
	for _, f := range Plan(7, 10*time.Minute, tm) {
		seen[f.Kind]++
	}
	if len(seen) != 2 || seen[StopLong] == 0 || seen[Flush] == 0 {
		t.Errorf("a plan of %q has %v", kinds, seen)
	}
	for _, bad := range []string{"reload", "no such fault"} {
		if _, err := ParseKinds(bad); err == nil {
			t.Errorf("ParseKinds(%q) accepted a name of %s", bad, map[bool]string{true: "several kinds", false: "no kind"}[bad == "reload"])
		}
	}
}

func dir(name, state string, vip bool) Director {
	return Director{Name: name, Up: state != "down", State: state, VIP: vip}
}

func TestMonitor(t *testing.T) {
	t0 := time.Unix(1000, 0)
	bounds := Bounds{VRRP: 500 * time.Millisecond, Table: 3 * time.Second}
	kill := Fault{Seq: 1, Kind: Kill, Target: "a"}
	flush := Fault{Seq: 1, Kind: Flush, Target: "a"}
	steady := []Director{dir("a", "MASTER", true), dir("b", "BACKUP", false)}
	type step struct {
		at    time.Duration
		begin *Fault
		heal  bool
		dirs  []Director
	}
	tests := []struct {
		name  string
		steps []step
		want  []string // invariants violated, in order
	}{{
		name:  "steady",
		steps: []step{{at: 0, dirs: steady}, {at: time.Second, dirs: steady}},
	}, {
		name: "a killed: its stale VIP and b's are excused until the heal",
		steps: []step{
			{at: 0, begin: &kill, dirs: []Director{dir("a", "down", true), dir("b", "MASTER", true)}},
			{at: 3 * time.Second, dirs: []Director{dir("a", "down", true), dir("b", "MASTER", true)}},
			{at: 3100 * time.Millisecond, heal: true, dirs: []Director{dir("a", "BACKUP", false), dir("b", "MASTER", true)}},
		},
	}, {
		name: "a restarted BACKUP keeps its stale VIP past the bound",
		steps: []step{
			{at: 0, begin: &kill, dirs: []Director{dir("a", "down", true), dir("b", "MASTER", true)}},
			{at: time.Second, heal: true, dirs: []Director{dir("a", "BACKUP", true), dir("b", "MASTER", true)}},
			{at: 1400 * time.Millisecond, dirs: []Director{dir("a", "BACKUP", true), dir("b", "MASTER", true)}},
			{at: 1600 * time.Millisecond, dirs: []Director{dir("a", "BACKUP", true), dir("b", "MASTER", true)}},
		},
		want: []string{vipOnMaster("a"), vipOnce},
	}, {
		name: "two masters outside a fault, shorter than the bound",
		steps: []step{
			{at: 0, dirs: []Director{dir("a", "MASTER", true), dir("b", "MASTER", true)}},
			{at: 400 * time.Millisecond, dirs: steady},
		},
	}, {
		name: "a flushed table not repaired within its bound",
		steps: []step{
			{at: 0, begin: &flush, heal: true, dirs: []Director{{Name: "a", Up: true, State: "MASTER", VIP: true, Table: []string{}, Want: []string{"x"}}, dir("b", "BACKUP", false)}},
			{at: 3100 * time.Millisecond, dirs: []Director{{Name: "a", Up: true, State: "MASTER", VIP: true, Table: []string{}, Want: []string{"x"}}, dir("b", "BACKUP", false)}},
		},
		want: []string{"IPVS table of a is config + health"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewMonitor(bounds)
			for _, s := range tt.steps {
				if s.begin != nil {
					m.Begin(*s.begin)
				}
				if s.heal {
					m.Heal()
				}
				m.Observe(Sample{At: t0.Add(s.at), Dirs: s.dirs})
			}
			var got []string
			for _, v := range m.Violations() {
				got = append(got, v.Invariant)
			}
			if strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Errorf("violations %q, want %q", got, tt.want)
			}
		})
	}
}

func TestRules(t *testing.T) {
	save := "-A -t 192.0.2.100:80 -s rr\n-a -t 192.0.2.100:80 -r 192.0.2.21:80 -g -w 2\n"
	want := []string{"192.0.2.100:80", Rule("192.0.2.100:80", "192.0.2.21:80", "2")}
	if got := Rules(save); !reflect.DeepEqual(got, want) {
		t.Errorf("Rules = %q, want %q", got, want)
	}
}

func TestUnexplained(t *testing.T) {
	t0 := time.Unix(1000, 0)
	kill := Fault{Seq: 1, Kind: Kill, Target: "a"}
	w, ok := ClientWindow(kill, t0, t0.Add(time.Second), t0.Add(5*time.Second), 0, 1500*time.Millisecond)
	if !ok {
		t.Fatal("a kill explains no failure")
	}
	if _, ok := ClientWindow(Fault{Kind: ReloadWeight}, t0, t0, t0, 0, time.Second); ok {
		t.Error("a weight reload explains failures")
	}
	fails := []Failure{
		{Start: t0.Add(-time.Second)},    // in flight at the kill
		{Start: t0.Add(6 * time.Second)}, // settled + grace
		{Start: t0.Add(7 * time.Second)}, // not explained
		{Start: t0.Add(7200 * time.Millisecond)},
		{Start: t0.Add(20 * time.Second)}, // another run
	}
	got := Unexplained(fails, []Window{w})
	if len(got) != 2 || !strings.HasPrefix(got[0].Detail, "2 requests failed") || got[0].Kind != Kill {
		t.Errorf("Unexplained = %+v, want two runs, the first of two failures after the kill", got)
	}
}

// A master's advert late enough for its backup to take over explains the
// requests cut meanwhile; a shorter lateness explains nothing.
func TestStarvedWindow(t *testing.T) {
	at := time.Unix(1000, 0)
	enough, grace := 240*time.Millisecond, 1500*time.Millisecond
	if _, ok := StarvedWindow("a", at, 200*time.Millisecond, enough, grace); ok {
		t.Error("an advert 200 ms late (no takeover) explains failures")
	}
	w, ok := StarvedWindow("a", at, 400*time.Millisecond, enough, grace)
	if !ok {
		t.Fatal("an advert 400 ms late explains no failure")
	}
	fails := []Failure{
		{Start: at.Add(-1899 * time.Millisecond)}, // in flight when the stall began
		{Start: at.Add(1500 * time.Millisecond)},  // grace after the advert
		{Start: at.Add(1600 * time.Millisecond)},  // not explained
	}
	got := Unexplained(fails, []Window{w})
	if len(got) != 1 || !strings.HasPrefix(got[0].Detail, "1 requests failed") || got[0].Kind != Starved {
		t.Errorf("Unexplained = %+v, want the last failure only, after the late advert", got)
	}
}

func TestTakeoverWindow(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 23, 56, 48, 0, time.UTC)
	ms := time.Millisecond
	mdi, grace := 361*ms, 1500*ms
	tests := []struct {
		name     string
		at       time.Time
		late     time.Duration
		from, to time.Time
		want     bool
	}{
		// The soak's case: a's advert 127 ms late at .493, b's change
		// seen between samples at .4 and 1.1.
		{"stall before the change", t0.Add(493 * ms), 127 * ms, t0.Add(400 * ms), t0.Add(1100 * ms), true},
		{"stall within mdi before the samples", t0.Add(100 * ms), 50 * ms, t0.Add(400 * ms), t0.Add(1100 * ms), true},
		{"stall long before", t0.Add(-time.Second), 127 * ms, t0.Add(400 * ms), t0.Add(1100 * ms), false},
		{"stall after the change was seen", t0.Add(1300 * ms), 127 * ms, t0.Add(400 * ms), t0.Add(1100 * ms), false},
		{"not late", t0.Add(493 * ms), 0, t0.Add(400 * ms), t0.Add(1100 * ms), false},
	}
	for _, tc := range tests {
		w, ok := TakeoverWindow("a", tc.at, tc.late, tc.from, tc.to, mdi, grace)
		if ok != tc.want {
			t.Errorf("%s: explains = %v, want %v", tc.name, ok, tc.want)
			continue
		}
		if ok && (!w.From.Equal(tc.at.Add(-tc.late-grace)) || !w.To.Equal(tc.to.Add(grace)) || w.Kind != Starved) {
			t.Errorf("%s: window %+v", tc.name, w)
		}
	}
}
