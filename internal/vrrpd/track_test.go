package vrrpd

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lvsd/lvsd/vrrp"
)

// A script's state follows keepalived's counter (vrrp_scheduler.c): the
// first result counts at once, then rise passes or fall failures in a row
// change it; a result that agrees with the state resets the run.
func TestScriptState(t *testing.T) {
	for _, tc := range []struct {
		name       string
		rise, fall int
		results    string // p = pass, f = fail
		want       string // state after each result, changes in capitals: O/ok, F/fail
	}{
		{"first pass counts", 3, 3, "p", "O"},
		{"first failure counts", 3, 3, "f", "F"},
		{"fall 1", 1, 1, "pfp", "OFO"},
		{"fall 2", 1, 2, "pfpff", "OoooF"},
		{"rise 3", 3, 1, "fpppf", "FffOF"},
		{"a failure resets the rise", 2, 1, "fpfpp", "FfffO"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := ScriptState{Rise: tc.rise, Fall: tc.fall}
			var got []byte
			for _, r := range tc.results {
				ok, changed := s.Observe(r == 'p')
				c := byte('f')
				if ok {
					c = 'o'
				}
				if changed {
					c -= 'a' - 'A'
				}
				got = append(got, c)
			}
			if string(got) != tc.want {
				t.Errorf("results %s: states %s, want %s", tc.results, got, tc.want)
			}
		})
	}
}

// What one tracked object does (keepalived's vrrp_track.c and
// track_file.c), and the clamp of the effective priority.
func TestTrackEffects(t *testing.T) {
	for _, tc := range []struct {
		name string
		got  effect
		want effect
	}{
		{"weight 0 up", upEffect(0, true), effect{}},
		{"weight 0 down faults", upEffect(0, false), effect{fault: true}},
		{"negative weight while failing", upEffect(-20, false), effect{delta: -20}},
		{"negative weight while succeeding", upEffect(-20, true), effect{}},
		{"positive weight while succeeding", upEffect(15, true), effect{delta: 15}},
		{"positive weight while failing", upEffect(15, false), effect{}},
		{"file times weight", fileEffect(-5, 3), effect{delta: -15}},
		{"file weight 0, value 0", fileEffect(0, 0), effect{}},
		{"file weight 0, any other value faults", fileEffect(0, -1), effect{fault: true}},
		{"file product capped at 253", fileEffect(100, 9), effect{delta: 253}},
		{"file product of -254 faults", fileEffect(-2, 127), effect{fault: true}},
		{"file product of -253 does not", fileEffect(-1, 253), effect{delta: -253}},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.name, tc.got, tc.want)
		}
	}
	for _, tc := range []struct {
		base  uint8
		delta int
		want  uint8
	}{
		{100, -20, 80}, {100, 20, 120}, {100, -200, 1}, {200, 100, 254}, {254, 1, 254},
		{255, -100, 255}, // the address owner is never moved
	} {
		if got := EffectivePriority(tc.base, tc.delta); got != tc.want {
			t.Errorf("EffectivePriority(%d, %d) = %d, want %d", tc.base, tc.delta, got, tc.want)
		}
	}
}

// A failing script of negative weight lowers the master below the backup:
// the master advertises the lower priority at once, the backup (preempt)
// discards it and takes over when its Master_Down_Timer runs out (RFC 5798
// §6.4.2); the script succeeding again raises the old master, which
// preempts back. No restart: the status shows the configured priority and
// the effective one.
func TestTrackScriptWeightMovesMastership(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newFakeNet(&journal{})
		ca := instanceConfig("VI_1", 51, 200)
		ca.TrackScripts = []Track{{Name: "chk", Weight: -60}}
		a := newRouter(t, n, "a", addrA, ca)
		b := newRouter(t, n, "b", addrB, instanceConfig("VI_1", 51, 150))
		a.start()
		b.start()
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if a.state() != vrrp.Master || b.state() != vrrp.Backup {
			t.Fatalf("a=%v b=%v, want MASTER and BACKUP", a.state(), b.state())
		}

		at := time.Now()
		a.inst.SetScript("chk", false)
		synctest.Wait()
		if got := a.firstSendAs(140); !got.Equal(at) {
			t.Errorf("a advertised 140 at +%v, want at once", got.Sub(at))
		}
		if st := a.inst.Status(); st.Priority != 200 || st.EffectivePriority != 140 {
			t.Errorf("a: priority %d effective %d, want 200 and 140", st.Priority, st.EffectivePriority)
		}
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if a.state() != vrrp.Backup || b.state() != vrrp.Master {
			t.Fatalf("after the script failed: a=%v b=%v, want BACKUP and MASTER", a.state(), b.state())
		}
		took := b.firstSendAs(150).Sub(at)
		if want := vrrp.MasterDownInterval(150, time.Second); took < want-time.Second || took > want+time.Second {
			t.Errorf("b took over %v after the drop, want about Master_Down_Interval %v", took, want)
		}

		a.inst.SetScript("chk", true)
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if a.state() != vrrp.Master || b.state() != vrrp.Backup {
			t.Errorf("after the script passed again: a=%v b=%v, want MASTER and BACKUP", a.state(), b.state())
		}
		a.stop(t)
		b.stop(t)
		if diff := cmp.Diff([]string{"VI_1 BACKUP", "VI_1 MASTER", "VI_1 BACKUP", "VI_1 MASTER", "VI_1 INIT"}, a.notes.recorded()); diff != "" {
			t.Errorf("a's notifications (-want +got):\n%s", diff)
		}
		// The notifier is told the effective priority of each change.
		if diff := cmp.Diff([]uint8{200, 200, 140, 200, 200}, a.notes.prios); diff != "" {
			t.Errorf("a's notified priorities (-want +got):\n%s", diff)
		}
	})
}

// A script of weight 0 keeps the instance in INIT until its first result,
// then its failure means FAULT and its success BACKUP again.
func TestTrackScriptWeightZero(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := instanceConfig("VI_1", 51, 100)
		cfg.TrackScripts = []Track{{Name: "chk"}}
		a := newRouter(t, newFakeNet(&journal{}), "a", addrA, cfg)
		a.start()
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if a.state() != vrrp.Init || len(a.conn.sends()) != 0 {
			t.Fatalf("state %v, %d adverts before the script's first result, want INIT and none", a.state(), len(a.conn.sends()))
		}
		a.inst.SetScript("other", true) // not followed
		a.inst.SetScript("chk", true)
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if a.state() != vrrp.Master {
			t.Fatalf("state %v after the script passed, want MASTER (alone)", a.state())
		}
		a.inst.SetScript("chk", false)
		synctest.Wait()
		if a.state() != vrrp.Fault || len(a.vips.on("eth0")) != 0 {
			t.Errorf("state %v holding %v after the script failed, want FAULT without addresses", a.state(), a.vips.on("eth0"))
		}
		a.inst.SetScript("chk", true)
		synctest.Wait()
		if a.state() != vrrp.Backup {
			t.Errorf("state %v after the script passed again, want BACKUP", a.state())
		}
		a.stop(t)
	})
}

// A weighted interface and a file move the priority; the owner at 255
// keeps it; a reload of the weights applies in place, without a
// transition.
func TestTrackInterfaceFileAndUpdate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := instanceConfig("VI_1", 51, 100)
		cfg.TrackInterfaces = []Track{{Name: "eth1", Weight: -10}, {Name: "eth2", Weight: 5}}
		cfg.TrackFiles = []Track{{Name: "maint", Weight: -4}}
		a := newRouter(t, newFakeNet(&journal{}), "a", addrA, cfg)
		a.start()
		time.Sleep(5 * time.Second)
		synctest.Wait()
		eff := func() uint8 { return a.inst.Status().EffectivePriority }
		// eth2 counts as up until reported: +5.
		if eff() != 105 {
			t.Fatalf("effective priority %d, want 105", eff())
		}
		a.inst.SetLink("eth1", false)
		a.inst.SetLink("eth2", false)
		a.inst.SetFile("maint", 5)
		synctest.Wait()
		if eff() != 70 || a.state() != vrrp.Master {
			t.Errorf("effective priority %d state %v, want 70 and still MASTER", eff(), a.state())
		}
		a.inst.SetFile("maint", 100) // -400: FAULT
		synctest.Wait()
		if a.state() != vrrp.Fault {
			t.Errorf("state %v with the file at -400, want FAULT", a.state())
		}
		a.inst.SetFile("maint", 0)
		time.Sleep(5 * time.Second)
		synctest.Wait()
		transitions := a.inst.Status().Transitions
		a.inst.UpdateTracking([]Track{{Name: "eth1", Weight: -30}}, nil, nil)
		synctest.Wait()
		if eff() != 70 || a.inst.Status().Transitions != transitions {
			t.Errorf("after the reload: effective priority %d, %d transitions, want 70 and none new", eff(), a.inst.Status().Transitions-transitions)
		}
		a.inst.UpdatePriority(255)
		synctest.Wait()
		if eff() != 255 {
			t.Errorf("owner's effective priority %d, want 255", eff())
		}
		a.stop(t)
	})
}
