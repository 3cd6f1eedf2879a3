package daemon

import (
	"context"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lvsd/lvsd/config"
	"github.com/lvsd/lvsd/internal/status"
)

func TestRelayPeer(t *testing.T) {
	a := netip.MustParseAddr
	vi := func(peers ...string) config.VRRPInstance {
		var v config.VRRPInstance
		for _, p := range peers {
			v.UnicastPeers = append(v.UnicastPeers, a(p))
		}
		return v
	}
	own := []netip.Addr{a("192.0.2.1")}
	for _, tc := range []struct {
		name string
		vi   config.VRRPInstance
		want netip.Addr
	}{
		{"both directors listed", vi("192.0.2.1", "192.0.2.2"), a("192.0.2.2")},
		{"only the peer listed", vi("192.0.2.2"), a("192.0.2.2")},
		{"a mapped address", vi("::ffff:192.0.2.1", "::ffff:192.0.2.2"), a("192.0.2.2")},
		{"multicast", vi(), netip.Addr{}},
		{"two peers", vi("192.0.2.1", "192.0.2.2", "192.0.2.3"), netip.Addr{}},
		{"only ourselves", vi("192.0.2.1"), netip.Addr{}},
	} {
		if got := relayPeer(tc.vi, own); got != tc.want {
			t.Errorf("%s: relayPeer = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// relayPair's adverts every 100 ms give a Master_Down_Interval of about
// 360 ms: a busy test machine (-race, other packages) must not stall a's
// adverts long enough for b to take over on its own.
const relayPair = pairHeader + `vrrp_instance "VI_1" {
  interface       = "eth0"
  vrid            = 51
  advert_interval = "100ms"
  unicast_peers   = ["192.0.2.1", "192.0.2.2"]
  virtual_ips     = ["192.0.2.100/32"]
  handover        = "relay"
}
virtual_server "web" {
  address = "192.0.2.100:80"
  method  = "dr"
  real_server "192.0.2.11:80" {}
  real_server "192.0.2.12:80" {}
}
virtual_server "mail" {
  address = "192.0.2.100:25"
  method  = "nat"
  real_server "10.0.0.11:25" {}
}
ipvs {
  sync_daemon {
    interface     = "eth0"
    vrrp_instance = "VI_1"
  }
}
status {
  metrics_listen = ""
}
`

// A stopping master of a relay instance first sends new connections of its
// DR and NAT services to the peer (routing the NAT answers of the peer's
// connections to it), and hands over only once its own have ended.
func TestRunRelayHandover(t *testing.T) {
	verifyNoLeaks(t)
	for _, tc := range []struct {
		name string
		// end is when the master's own connections end; 0: never.
		end time.Duration
	}{
		{"own connections end", 200 * time.Millisecond},
		{"own connections outlast the bound", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			seg := &fakeSegment{}
			sysA := newFakeSystem(seg, "192.0.2.1", "eth0")
			sysB := newFakeSystem(seg, "192.0.2.2", "eth0")
			a := startDaemonAs(t, relayPair, sysA, "a")
			b := startDaemonAs(t, relayPair, sysB, "b")
			eventually(t, 3*time.Second, "a MASTER, b BACKUP", func() bool {
				return a.instance().State == status.StateMaster && b.instance().State == status.StateBackup
			})
			vip := []netip.Addr{netip.MustParseAddr("192.0.2.100")}
			for name, sys := range map[string]*fakeSystem{"a": sysA, "b": sysB} {
				if got := sys.heldCalls(); !cmp.Equal(got, [][]netip.Addr{vip}, cmp.Comparer(func(x, y netip.Addr) bool { return x == y })) {
					t.Fatalf("%s held %v on lo, want the VIP once", name, got)
				}
			}
			plain := []string{"10.0.0.11:25 w1", "192.0.2.11:80 w1", "192.0.2.12:80 w1"}
			eventually(t, 2*time.Second, "a's table programmed", func() bool { return slices.Equal(sysA.kernel.dests(), plain) })

			sysA.kernel.setActive("192.0.2.11:80", 2)
			sysA.kernel.setActive("10.0.0.11:25", 1)
			sysA.kernel.setActive("192.0.2.2:80", 5) // the peer's: never waited for
			start := time.Now()
			a.cancel()
			relayed := []string{"10.0.0.11:25 w0", "192.0.2.11:80 w0", "192.0.2.12:80 w0", "192.0.2.2:25 w1", "192.0.2.2:80 w1"}
			eventually(t, time.Second, "a relaying to b", func() bool { return slices.Equal(sysA.kernel.dests(), relayed) })
			relayAt := time.Since(start)
			// No sync daemon in the master role once the relay began: it
			// would have told b of the relayed connections bound to b
			// itself. (The transition to MASTER may have set the role
			// before the stop, or be told after it: then it is ignored.)
			atRelay := sysA.kernel.syncCalls()
			if syncMasterRunning(atRelay) {
				t.Errorf("a's sync daemon calls %v when the relay began, want no master running", atRelay)
			}
			// The NAT real server answers through a: the answers of b's
			// connections are routed to b.
			nat := []replyRoute{{From: netip.MustParseAddr("10.0.0.11"), Iface: "eth0", Via: netip.MustParseAddr("192.0.2.2")}}
			if got := sysA.redirectCalls(); !cmp.Equal(got, [][]replyRoute{nil, nat}, cmp.Comparer(func(x, y netip.Addr) bool { return x == y })) {
				t.Errorf("a's RedirectReplies calls %v, want the start's clean-up, then %v", got, nat)
			}

			wait := tc.end
			if wait == 0 {
				wait = relayBound
			} else {
				time.Sleep(tc.end - relayAt)
				if sysA.transports[0].sentZero() {
					t.Fatalf("a handed over while its own connections were active (b %s)", b.instance().State)
				}
				sysA.kernel.setActive("192.0.2.11:80", 0)
				sysA.kernel.setActive("10.0.0.11:25", 0)
			}
			eventually(t, time.Second, "b MASTER", func() bool { return b.instance().State == status.StateMaster })
			took := time.Since(start)
			// b takes over Skew_Time (about 30 ms) after the priority-0
			// advert.
			if took < wait || took > wait+400*time.Millisecond {
				t.Errorf("b MASTER %v after a's stop, want %v to %v", took, wait, wait+400*time.Millisecond)
			}
			a.done <- <-a.done
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("a exited %v after the stop, want within 2 s", d)
			}
			if n := sysA.kernel.services(); n != 0 {
				t.Errorf("a left %d services (cleanup_on_exit)", n)
			}
			if later := sysA.kernel.syncCalls()[len(atRelay):]; slices.Contains(later, "start master") {
				t.Errorf("a's sync daemon calls after the relay began %v: the master started again", later)
			}
			if got := sysA.heldCalls(); len(got) != 2 || len(got[1]) != 0 {
				t.Errorf("a's HoldVIPs calls %v, want the VIP, then none at the stop", got)
			}
			if got := sysA.redirectCalls(); len(got) != 3 || len(got[2]) != 0 {
				t.Errorf("a's RedirectReplies calls %v, want the routes removed at the end", got)
			}
			// b, now master, kept its own table and its VIP on lo.
			if got := sysB.kernel.dests(); !slices.Equal(got, plain) {
				t.Errorf("b's table %v, want %v", got, plain)
			}
			b.stop()
		})
	}
}

// Turning relay on and off by reload holds and releases the VIPs on lo,
// with no VRRP transition.
func TestReloadHandover(t *testing.T) {
	verifyNoLeaks(t)
	release := strings.Replace(relayPair, `handover        = "relay"`, `handover        = "release"`, 1)
	seg := &fakeSegment{}
	sys := newFakeSystem(seg, "192.0.2.1", "eth0")
	a := startDaemonAs(t, release, sys, "a")
	eventually(t, 3*time.Second, "a MASTER", func() bool { return a.instance().State == status.StateMaster })
	transitions := a.instance().Transitions

	reload := func(src string) {
		t.Helper()
		a.write(src)
		if applied, diags, err := a.d.Reload(context.Background()); !applied || err != nil {
			t.Fatalf("Reload = %v, %q, %v", applied, diags, err)
		}
	}
	reload(relayPair)
	reload(release)
	vip := []netip.Addr{netip.MustParseAddr("192.0.2.100")}
	want := [][]netip.Addr{nil, vip, nil} // start (undo a crashed run's), relay on, relay off
	if got := sys.heldCalls(); !cmp.Equal(got, want, cmp.Comparer(func(x, y netip.Addr) bool { return x == y })) {
		t.Errorf("HoldVIPs calls %v, want %v", got, want)
	}
	if in := a.instance(); in.State != status.StateMaster || in.Transitions != transitions {
		t.Errorf("after the reloads: %s with %d transitions, want MASTER with %d", in.State, in.Transitions, transitions)
	}
	a.stop()
	// Nothing held: the stop still asks to release (an earlier failure's
	// leftovers included).
	if got := sys.heldCalls(); len(got) != 4 || len(got[3]) != 0 {
		t.Errorf("HoldVIPs calls after the stop %v", got)
	}
}

// A NAT virtual server whose real servers sit behind an interface with no
// relaying instance cannot have its answers routed to the peer: its VIP
// hands over by release, at once.
func TestRunRelayNATWithoutPeer(t *testing.T) {
	verifyNoLeaks(t)
	seg := &fakeSegment{}
	sysA := newFakeSystem(seg, "192.0.2.1", "eth0")
	sysA.routeIfaces = map[netip.Addr]string{netip.MustParseAddr("10.0.0.11"): "eth1"}
	sysB := newFakeSystem(seg, "192.0.2.2", "eth0")
	a := startDaemonAs(t, relayPair, sysA, "a")
	b := startDaemonAs(t, relayPair, sysB, "b")
	eventually(t, 3*time.Second, "a MASTER, b BACKUP", func() bool {
		return a.instance().State == status.StateMaster && b.instance().State == status.StateBackup
	})
	sysA.kernel.setActive("192.0.2.11:80", 2) // would hold a relay for 500 ms
	start := time.Now()
	a.cancel()
	eventually(t, time.Second, "b MASTER", func() bool { return b.instance().State == status.StateMaster })
	if took := time.Since(start); took > relayBound {
		t.Errorf("b MASTER %v after the stop: a relayed, want a handover by release", took)
	}
	a.done <- <-a.done
	if got := sysA.redirectCalls(); len(got) != 1 || len(got[0]) != 0 {
		t.Errorf("a's RedirectReplies calls %v, want only the start's clean-up", got)
	}
	b.stop()
}

// syncMasterRunning reports whether the sync daemon calls leave a master
// running: a "start master" not followed by a "stop master".
func syncMasterRunning(calls []string) bool {
	running := false
	for _, c := range calls {
		switch c {
		case "start master":
			running = true
		case "stop master":
			running = false
		}
	}
	return running
}
