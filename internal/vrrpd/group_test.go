package vrrpd

import (
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/lvsd/lvsd/vrrp"
)

// Two directors, each with an outside instance X (VRID 1 on eth0) and an
// inside instance Y (VRID 2 on eth1) in one sync group: when the inside link
// of the master fails, both of its instances go to FAULT and the other
// director takes over both; when it comes back, both return together and
// preempt.
func TestSyncGroupMovesTogether(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		j := &journal{}
		outside, inside := newFakeNet(j), newFakeNet(j)
		cy := func(prio uint8) (cfg Config) {
			cfg = instanceConfig("Y", 2, prio)
			cfg.Interface = "eth1"
			return cfg
		}
		x1 := newRouter(t, outside, "x1", addrA, instanceConfig("X", 1, 150))
		y1 := newRouter(t, inside, "y1", addrA, cy(150))
		x2 := newRouter(t, outside, "x2", addrB, instanceConfig("X", 1, 100))
		y2 := newRouter(t, inside, "y2", addrB, cy(100))
		g1, err := NewGroup("G1", nil, x1.inst, y1.inst)
		if err != nil {
			t.Fatal(err)
		}
		var gmu sync.Mutex
		var groupNotes []string
		g1.OnChange(func(to vrrp.State) {
			gmu.Lock()
			groupNotes = append(groupNotes, to.String())
			gmu.Unlock()
		})
		if _, err := NewGroup("G1", nil, x2.inst, y2.inst); err != nil {
			t.Fatal(err)
		}
		all := []*router{x1, y1, x2, y2}
		states := func() map[string]vrrp.State {
			m := map[string]vrrp.State{}
			for _, r := range all {
				m[r.name] = r.state()
			}
			return m
		}
		for _, r := range all {
			r.start()
		}
		time.Sleep(10 * time.Second)
		synctest.Wait()
		want := map[string]vrrp.State{"x1": vrrp.Master, "y1": vrrp.Master, "x2": vrrp.Backup, "y2": vrrp.Backup}
		if diff := cmp.Diff(want, states()); diff != "" {
			t.Fatalf("after the election (-want +got):\n%s", diff)
		}

		failAt := time.Now()
		y1.inst.SetLink("eth1", false)
		time.Sleep(10 * time.Second)
		synctest.Wait()
		want = map[string]vrrp.State{"x1": vrrp.Fault, "y1": vrrp.Fault, "x2": vrrp.Master, "y2": vrrp.Master}
		if diff := cmp.Diff(want, states()); diff != "" {
			t.Errorf("after y1's link failed (-want +got):\n%s", diff)
		}
		// x1 was forced to FAULT at once and said so with priority 0,
		// so x2 took over after Skew_Time.
		if got, want := x2.firstSendAs(100).Sub(failAt), vrrp.SkewTime(100, time.Second); got != want {
			t.Errorf("x2 took over %v after the failure, want Skew_Time %v", got, want)
		}
		for _, r := range []*router{x1, y1} {
			if got := r.vips.on(r.inst.cfg.Interface); len(got) != 0 {
				t.Errorf("%s in FAULT holds %v", r.name, got)
			}
		}

		y1.inst.SetLink("eth1", true)
		time.Sleep(10 * time.Second)
		synctest.Wait()
		want = map[string]vrrp.State{"x1": vrrp.Master, "y1": vrrp.Master, "x2": vrrp.Backup, "y2": vrrp.Backup}
		if diff := cmp.Diff(want, states()); diff != "" {
			t.Errorf("after y1's link came back (-want +got):\n%s", diff)
		}
		wantNotes := []string{"X BACKUP", "X MASTER", "X FAULT", "X BACKUP", "X MASTER"}
		if diff := cmp.Diff(wantNotes, x1.notes.recorded()); diff != "" {
			t.Errorf("x1's notifications (-want +got):\n%s", diff)
		}
		for _, r := range all {
			r.stop(t)
		}
		// The group's own state, for its notify commands: FAULT with
		// the first member in FAULT, else the state all members share;
		// INIT once both stopped.
		gmu.Lock()
		defer gmu.Unlock()
		if diff := cmp.Diff([]string{"BACKUP", "MASTER", "FAULT", "BACKUP", "MASTER", "INIT"}, groupNotes); diff != "" {
			t.Errorf("group G1's states (-want +got):\n%s", diff)
		}
	})
}

// A member becoming MASTER pulls the others to MASTER at the same instant,
// before their own Master_Down_Interval would run out.
func TestSyncGroupPullsToMaster(t *testing.T) {
	for _, grouped := range []bool{true, false} {
		name := "grouped"
		if !grouped {
			name = "alone"
		}
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := newFakeNet(&journal{})
				x := newRouter(t, n, "x", addrA, instanceConfig("X", 1, 200))
				y := newRouter(t, n, "y", addrA, instanceConfig("Y", 2, 100))
				if grouped {
					if _, err := NewGroup("G", nil, x.inst, y.inst); err != nil {
						t.Fatal(err)
					}
				}
				t0 := time.Now()
				x.start()
				y.start()
				time.Sleep(10 * time.Second)
				synctest.Wait()
				want := vrrp.MasterDownInterval(200, time.Second)
				if !grouped {
					want = vrrp.MasterDownInterval(100, time.Second)
				}
				if got := y.firstSendAs(100).Sub(t0); got != want {
					t.Errorf("y became master at +%v, want +%v", got, want)
				}
				x.stop(t)
				y.stop(t)
			})
		})
	}
}

func TestNewGroupRejectsSharedOrRunningMembers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newFakeNet(&journal{})
		x := newRouter(t, n, "x", addrA, instanceConfig("X", 1, 200))
		y := newRouter(t, n, "y", addrA, instanceConfig("Y", 2, 100))
		z := newRouter(t, n, "z", addrA, instanceConfig("Z", 3, 100))
		if _, err := NewGroup("G", nil, x.inst, y.inst); err != nil {
			t.Fatal(err)
		}
		if _, err := NewGroup("H", nil, y.inst, z.inst); err == nil {
			t.Error("an instance joined two groups")
		}
		z.start()
		synctest.Wait()
		w := newRouter(t, n, "w", addrA, instanceConfig("W", 4, 100))
		if _, err := NewGroup("H", nil, w.inst, z.inst); err == nil {
			t.Error("a running instance joined a group")
		}
		z.stop(t)
	})
}
