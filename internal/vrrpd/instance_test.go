package vrrpd

import (
	"context"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/lvsd/lvsd/vrrp"
)

// addrOpt lets cmp compare netip values, whose fields are unexported.
var addrOpt = cmpopts.EquateComparable(netip.Addr{}, netip.Prefix{})

const (
	addrA = "192.0.2.1"
	addrB = "192.0.2.2"
	addrC = "192.0.2.3"
)

// RFC 5798 §6.4.1, §6.4.2: every router starts as Backup; the one whose
// Master_Down_Interval (shortest for the highest priority) runs out first
// becomes Master and its adverts hold the others in Backup.
func TestElectionHighestPriorityWins(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		j := &journal{}
		n := newFakeNet(j)
		a := newRouter(t, n, "a", addrA, instanceConfig("VI_1", 51, 150))
		b := newRouter(t, n, "b", addrB, instanceConfig("VI_1", 51, 100))
		c := newRouter(t, n, "c", addrC, instanceConfig("VI_1", 51, 200))
		t0 := time.Now()
		for _, r := range []*router{a, b, c} {
			r.start()
		}
		time.Sleep(20 * time.Second)
		synctest.Wait()

		got := map[string]vrrp.State{"a": a.state(), "b": b.state(), "c": c.state()}
		want := map[string]vrrp.State{"a": vrrp.Backup, "b": vrrp.Backup, "c": vrrp.Master}
		if diff := cmp.Diff(want, got, addrOpt); diff != "" {
			t.Errorf("states (-want +got):\n%s", diff)
		}
		// c's Master_Down_Interval is the first to run out.
		if got, want := c.firstSendAs(200).Sub(t0), vrrp.MasterDownInterval(200, time.Second); got != want {
			t.Errorf("c became master after %v, want Master_Down_Interval %v", got, want)
		}
		for _, r := range []*router{a, b} {
			if got := len(r.conn.sends()); got != 0 {
				t.Errorf("backup %s sent %d adverts, want 0", r.name, got)
			}
			if got := r.vips.on("eth0"); len(got) != 0 {
				t.Errorf("backup %s holds %v", r.name, got)
			}
			if got, want := r.inst.Status().MasterAddress, netip.MustParseAddr(addrC); got != want {
				t.Errorf("%s sees master %v, want %v", r.name, got, want)
			}
		}
		if diff := cmp.Diff([]netip.Prefix{testVIP}, c.vips.on("eth0"), addrOpt); diff != "" {
			t.Errorf("master's VIPs (-want +got):\n%s", diff)
		}
		// One advert per interval after becoming master.
		if got := len(c.conn.sends()); got < 16 || got > 18 {
			t.Errorf("master sent %d adverts in ~16.8 s, want one per second", got)
		}
		for _, r := range []*router{a, b, c} {
			r.stop(t)
		}
	})
}

// RFC 5798 §6.4.3: of two masters with equal priority, the one with the
// higher primary address stays.
func TestElectionTieBrokenByAddress(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newFakeNet(&journal{})
		a := newRouter(t, n, "a", addrA, instanceConfig("VI_1", 51, 100))
		b := newRouter(t, n, "b", addrB, instanceConfig("VI_1", 51, 100))
		a.start()
		b.start()
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if a.state() != vrrp.Backup || b.state() != vrrp.Master {
			t.Errorf("states a=%v b=%v, want a=BACKUP b=MASTER", a.state(), b.state())
		}
		a.stop(t)
		b.stop(t)
	})
}

// RFC 5798 §6.4.2: a backup that stops hearing the master takes over when
// Master_Down_Interval has passed since the last advert, to the microsecond.
func TestMasterCrashTakeoverAfterMasterDownInterval(t *testing.T) {
	for _, tc := range []struct {
		name     string
		interval time.Duration
		prio     uint8
	}{
		{"1s prio 100", time.Second, 100},
		{"1s prio 110", time.Second, 110},
		{"100ms prio 100", 100 * time.Millisecond, 100},
		{"50ms prio 254", 50 * time.Millisecond, 254},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := newFakeNet(&journal{})
				ca := instanceConfig("VI_1", 51, 255)
				ca.AdvertInterval = tc.interval
				cb := instanceConfig("VI_1", 51, tc.prio)
				cb.AdvertInterval = tc.interval
				a := newRouter(t, n, "a", addrA, ca)
				b := newRouter(t, n, "b", addrB, cb)
				a.start()
				b.start()
				time.Sleep(10*time.Second + tc.interval/3)
				synctest.Wait()
				if a.state() != vrrp.Master || b.state() != vrrp.Backup {
					t.Fatalf("before the crash a=%v b=%v", a.state(), b.state())
				}

				a.conn.detach()
				sends := a.conn.sends()
				last := sends[len(sends)-1].at
				time.Sleep(10 * time.Second)
				synctest.Wait()

				if b.state() != vrrp.Master {
					t.Fatalf("b is %v after the master crashed", b.state())
				}
				got := b.firstSendAs(tc.prio).Sub(last)
				if want := vrrp.MasterDownInterval(tc.prio, tc.interval); got != want {
					t.Errorf("takeover %v after the last advert, want Master_Down_Interval %v", got, want)
				}
				if diff := cmp.Diff([]netip.Prefix{testVIP}, b.vips.on("eth0"), addrOpt); diff != "" {
					t.Errorf("new master's VIPs (-want +got):\n%s", diff)
				}
				// a hears nobody: it gives up its addresses when the
				// release timer runs out.
				if got, want := a.stop(t), min(3*tc.interval, vrrp.MaxReleaseWait); got != want {
					t.Errorf("unheard master's Run returned after %v, want %v", got, want)
				}
				b.stop(t)
			})
		})
	}
}

// Stop, RFC 5798 §6.4.3: a stopping master sends priority 0; the
// backup takes over after Skew_Time; the old master keeps its addresses until
// a linger after it hears the new master (make-before-break: the new master
// adds and announces the addresses only after its first advert), then lets go
// and Run returns.
func TestCleanStopHandsOverAfterSkewTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		j := &journal{}
		n := newFakeNet(j)
		a := newRouter(t, n, "a", addrA, instanceConfig("VI_1", 51, 200))
		b := newRouter(t, n, "b", addrB, instanceConfig("VI_1", 51, 100))
		a.start()
		b.start()
		time.Sleep(10*time.Second + 300*time.Millisecond)
		synctest.Wait()
		if a.state() != vrrp.Master {
			t.Fatalf("a is %v, want MASTER", a.state())
		}

		stopAt := time.Now()
		took := a.stop(t)
		synctest.Wait()

		if got := a.firstSendAs(0).Sub(stopAt); got != 0 {
			t.Errorf("priority-0 advert %v after the stop, want at once", got)
		}
		skew := vrrp.SkewTime(100, time.Second)
		if got := b.firstSendAs(100).Sub(stopAt); got != skew {
			t.Errorf("b took over %v after the stop, want Skew_Time %v", got, skew)
		}
		// Interval 1 s: the linger is min(1 s, 100 ms).
		release := skew + vrrp.MaxReleaseLinger
		if took != release {
			t.Errorf("a's Run returned %v after the stop, want %v (a linger after b's advert arrived)", took, release)
		}
		took2 := j.index("b", "send prio 100")
		added := j.index("b", "add vips [192.0.2.100/32]")
		removed := j.index("a", "remove vips [192.0.2.100/32]")
		if took2 < 0 || added < 0 || removed < 0 || removed < took2 || removed < added {
			t.Errorf("a removed its VIPs at journal entry %d, b's first advert is entry %d, b added them at %d: want removal after both", removed, took2, added)
		}
		calls := a.vips.recorded()
		if last := calls[len(calls)-1]; last.op != "remove" || last.at.Sub(stopAt) != release {
			t.Errorf("a's last VIP call %s at +%v, want remove at +%v", last.op, last.at.Sub(stopAt), release)
		}
		if rounds := b.ann.recorded(); len(rounds) == 0 || rounds[0].Sub(stopAt) != skew {
			t.Errorf("b's announcement rounds %v, want the first at +%v, before a lets go at +%v", rounds, skew, release)
		}
		if got := a.vips.on("eth0"); len(got) != 0 {
			t.Errorf("a still holds %v", got)
		}
		if diff := cmp.Diff([]string{"VI_1 BACKUP", "VI_1 MASTER", "VI_1 INIT"}, a.notes.recorded(), addrOpt); diff != "" {
			t.Errorf("a's notifications (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"VI_1 BACKUP", "VI_1 MASTER"}, b.notes.recorded(), addrOpt); diff != "" {
			t.Errorf("b's notifications (-want +got):\n%s", diff)
		}
		st := a.inst.Status()
		if st.Transitions != uint64(len(a.notes.recorded())) {
			t.Errorf("%d transitions, %d notifications: want one per transition", st.Transitions, len(a.notes.recorded()))
		}
		b.stop(t)
	})
}

// A new master heard late in the release wait cuts the linger short: the
// stop never runs past min(3 × interval, 1 s).
func TestStopLingerEndsAtReleaseBound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		j := &journal{}
		n := newFakeNet(j)
		a := newRouter(t, n, "a", addrA, instanceConfig("VI_1", 51, 200))
		b := newRouter(t, n, "b", addrB, instanceConfig("VI_1", 51, 1))
		a.start()
		b.start()
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if a.state() != vrrp.Master || b.state() != vrrp.Backup {
			t.Fatalf("before the stop a=%v b=%v", a.state(), b.state())
		}

		stopAt := time.Now()
		took := a.stop(t)
		synctest.Wait()

		// Priority 1 at 1 s: b takes over 996.09375 ms after the stop, a
		// linger of 100 ms would end past the 1 s bound.
		skew := vrrp.SkewTime(1, time.Second)
		if got := b.firstSendAs(1).Sub(stopAt); got != skew {
			t.Errorf("b took over %v after the stop, want Skew_Time %v", got, skew)
		}
		if took != vrrp.MaxReleaseWait {
			t.Errorf("a's Run returned %v after the stop, want the release bound %v", took, vrrp.MaxReleaseWait)
		}
		if sent, removed := j.index("b", "send prio 1"), j.index("a", "remove vips [192.0.2.100/32]"); sent < 0 || removed < sent {
			t.Errorf("a removed its VIPs at journal entry %d, b's first advert is entry %d: want removal after", removed, sent)
		}
		b.stop(t)
	})
}

// A master alone lets go when the release timer fires: 3 × the interval, at
// most a second.
func TestStopAloneReleasesAfterReleaseWait(t *testing.T) {
	for _, interval := range []time.Duration{100 * time.Millisecond, time.Second, 3 * time.Second} {
		t.Run(interval.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				cfg := instanceConfig("VI_1", 51, 255)
				cfg.AdvertInterval = interval
				a := newRouter(t, newFakeNet(&journal{}), "a", addrA, cfg)
				a.start()
				time.Sleep(5 * time.Second)
				synctest.Wait()
				stopAt := time.Now()
				took := a.stop(t)
				want := min(3*interval, time.Second)
				if took != want {
					t.Errorf("Run returned after %v, want %v", took, want)
				}
				calls := a.vips.recorded()
				if last := calls[len(calls)-1]; last.op != "remove" || last.at.Sub(stopAt) != want {
					t.Errorf("last VIP call %s at +%v, want remove at +%v", last.op, last.at.Sub(stopAt), want)
				}
			})
		})
	}
}

// A backup stops at once: it holds nothing.
func TestStopBackupIsImmediate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newFakeNet(&journal{})
		a := newRouter(t, n, "a", addrA, instanceConfig("VI_1", 51, 200))
		b := newRouter(t, n, "b", addrB, instanceConfig("VI_1", 51, 100))
		a.start()
		b.start()
		time.Sleep(5 * time.Second)
		if took := b.stop(t); took != 0 {
			t.Errorf("backup's Run returned after %v, want at once", took)
		}
		if got := len(b.vips.recorded()); got != 0 {
			t.Errorf("backup made %d VIP calls, want none", got)
		}
		if diff := cmp.Diff([]string{"VI_1 BACKUP", "VI_1 INIT"}, b.notes.recorded(), addrOpt); diff != "" {
			t.Errorf("notifications (-want +got):\n%s", diff)
		}
		a.stop(t)
	})
}

// A VIP deleted while MASTER is put back, by the periodic check or
// at once when CheckVIPs is called.
func TestDeletedVIPIsPutBack(t *testing.T) {
	other := netip.MustParsePrefix("192.0.2.101/32")
	for _, tc := range []struct {
		name      string
		poke      bool
		wantAfter time.Duration // after the deletion
	}{
		// The checks run at whole periods after becoming master; the
		// deletion comes 100 ms after one.
		{"periodic", false, DefaultVIPCheckInterval - 100*time.Millisecond},
		{"CheckVIPs", true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				cfg := instanceConfig("VI_1", 51, 255)
				cfg.VirtualIPs = []netip.Prefix{testVIP, other}
				a := newRouter(t, newFakeNet(&journal{}), "a", addrA, cfg)
				a.start()
				// Delete between two checks, never at the instant of one.
				time.Sleep(2*DefaultVIPCheckInterval + 100*time.Millisecond)
				synctest.Wait()
				a.vips.deleteBehindBack("eth0", other)
				deletedAt := time.Now()
				if tc.poke {
					a.inst.CheckVIPs()
				}
				time.Sleep(DefaultVIPCheckInterval)
				synctest.Wait()

				var restores []vipCall
				for _, c := range a.vips.recorded() {
					if c.op == "add" && !c.at.Before(deletedAt) {
						restores = append(restores, c)
					}
				}
				if len(restores) != 1 {
					t.Fatalf("%d adds after the deletion, want 1: %v", len(restores), restores)
				}
				if got := restores[0].at.Sub(deletedAt); got != tc.wantAfter {
					t.Errorf("put back %v after the deletion, want %v", got, tc.wantAfter)
				}
				if diff := cmp.Diff([]netip.Prefix{other}, restores[0].vips, addrOpt); diff != "" {
					t.Errorf("put back (-want +got):\n%s", diff)
				}
				if got := a.inst.Status().VIPsRestored; got != 1 {
					t.Errorf("VIPsRestored = %d, want 1", got)
				}
				a.stop(t)
			})
		})
	}
}

// A master whose loop is held up past an advert interval (a starved
// process) counts the late advert and says by how much; adverts that leave
// on time count nothing.
func TestLateAdvertIsCounted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := newRouter(t, newFakeNet(&journal{}), "a", addrA, instanceConfig("VI_1", 51, 255))
		a.start()
		// Adverts at 0 s, 1 s, ... 10 s, each on time.
		time.Sleep(10*time.Second + 500*time.Millisecond)
		synctest.Wait()
		if st := a.inst.Status(); st.AdvertsLate != 0 || !st.LastLateAdvert.At.IsZero() {
			t.Fatalf("before any stall: %d late adverts, last %+v; want none", st.AdvertsLate, st.LastLateAdvert)
		}
		sent := a.inst.Status().AdvertsSent

		// The loop is held from 10.5 s to 13 s: the advert due at 11 s
		// leaves at 13 s, 2 s late; the next is due a second later again.
		a.vips.stallNextCheck(2500 * time.Millisecond)
		a.inst.CheckVIPs()
		stalledAt := time.Now()
		time.Sleep(5 * time.Second)
		synctest.Wait()

		st := a.inst.Status()
		if st.AdvertsLate != 1 {
			t.Errorf("AdvertsLate = %d, want 1", st.AdvertsLate)
		}
		if want := (LateAdvert{At: stalledAt.Add(2500 * time.Millisecond), Late: 2 * time.Second}); st.LastLateAdvert != want {
			t.Errorf("LastLateAdvert = %+v, want %+v", st.LastLateAdvert, want)
		}
		// 13 s, 14 s, 15 s: none skipped, none doubled.
		if got := st.AdvertsSent - sent; got != 3 {
			t.Errorf("%d adverts sent from 10.5 s to 15.5 s, want 3 (at 13, 14, 15 s)", got)
		}
		a.stop(t)
	})
}

// RFC 5798 §7.1: packets that fail decoding or the receive checks
// are counted by reason and never reach the machine: a lone backup becomes
// master at its own Master_Down_Interval whatever it was sent. The last case
// is a valid advert, which does hold the backup back.
func TestDroppedPacketsAreCountedAndChangeNothing(t *testing.T) {
	self := netip.MustParseAddr(addrB)
	peer := netip.MustParseAddr(addrA)
	group := vrrp.MulticastGroup(false)
	good := vrrp.Advert{Version: 3, VRID: 51, Priority: 254, MaxAdvertInterval: time.Second, Addresses: []netip.Addr{testVIP.Addr()}}
	withVRID := good
	withVRID.VRID = 52
	v2 := good
	v2.Version = 2
	for _, tc := range []struct {
		name   string
		advert vrrp.Advert
		src    netip.Addr
		ttl    int
		mutate func([]byte) []byte
		want   vrrp.DropReason // "" for an accepted advert
	}{
		{"truncated", good, peer, 255, func(b []byte) []byte { return b[:6] }, vrrp.DropLength},
		{"bad checksum", good, peer, 255, func(b []byte) []byte { b[7] ^= 0xff; return b }, vrrp.DropChecksum},
		{"address count", good, peer, 255, func(b []byte) []byte { b[3] = 2; return b }, vrrp.DropAddrCount},
		{"wrong vrid", withVRID, peer, 255, nil, vrrp.DropVRID},
		{"ttl 254", good, peer, 254, nil, vrrp.DropTTL},
		{"version 2 to a version 3 instance", v2, peer, 255, nil, vrrp.DropVersion},
		{"own advert looped back", good, self, 255, nil, vrrp.DropOwn},
		{"valid", good, peer, 255, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b := newRouter(t, newFakeNet(&journal{}), "b", addrB, instanceConfig("VI_1", 51, 100))
				t0 := time.Now()
				b.start()
				var lastAt time.Time
				for range 3 {
					time.Sleep(time.Second)
					p, err := packetFrom(t, tc.advert, tc.src, group, tc.ttl, tc.mutate)
					b.conn.deliver(p, err)
					lastAt = time.Now()
				}
				time.Sleep(10 * time.Second)
				synctest.Wait()

				st := b.inst.Status()
				wantDropped := map[vrrp.DropReason]uint64{}
				for _, r := range vrrp.DropReasons() {
					wantDropped[r] = 0
				}
				wantReceived := uint64(0)
				wantMaster := t0.Add(vrrp.MasterDownInterval(100, time.Second))
				if tc.want != "" {
					wantDropped[tc.want] = 3
				} else {
					wantReceived = 3
					wantMaster = lastAt.Add(vrrp.MasterDownInterval(100, time.Second))
				}
				if diff := cmp.Diff(wantDropped, st.Dropped, addrOpt); diff != "" {
					t.Errorf("dropped (-want +got):\n%s", diff)
				}
				if st.AdvertsReceived != wantReceived {
					t.Errorf("adverts received %d, want %d", st.AdvertsReceived, wantReceived)
				}
				if got := b.firstSendAs(100); !got.Equal(wantMaster) {
					t.Errorf("became master at +%v, want +%v", got.Sub(t0), wantMaster.Sub(t0))
				}
				if diff := cmp.Diff([]string{"VI_1 BACKUP", "VI_1 MASTER"}, b.notes.recorded(), addrOpt); diff != "" {
					t.Errorf("notifications (-want +got):\n%s", diff)
				}
				b.stop(t)
			})
		})
	}
}

// RFC 5798 §5.2.5: Count IPvX Addr is at least 1. A master that receives a
// priority-254 advert with a valid checksum and no address drops it as
// "addr_count" and stays master; the same advert with its address makes it
// step down, so the drop is what kept it.
func TestMasterIgnoresAdvertWithoutAddress(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := newRouter(t, newFakeNet(&journal{}), "a", addrA, instanceConfig("VI_1", 51, 100))
		a.start()
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if a.state() != vrrp.Master {
			t.Fatalf("state %v before the advert, want MASTER", a.state())
		}

		peer, group := netip.MustParseAddr(addrB), vrrp.MulticastGroup(false)
		higher := vrrp.Advert{Version: 3, VRID: 51, Priority: 254, MaxAdvertInterval: time.Second, Addresses: []netip.Addr{testVIP.Addr()}}
		a.conn.deliver(packetFrom(t, higher, peer, group, 255, func(b []byte) []byte {
			// Count 0, the address cut off, the checksum made right
			// again for the shorter message.
			b = b[:8]
			b[3], b[6], b[7] = 0, 0, 0
			return checksummed(b, peer, group)
		}))
		time.Sleep(time.Second)
		synctest.Wait()

		st := a.inst.Status()
		if st.State != vrrp.Master || st.Transitions != 2 {
			t.Errorf("state %v after %d transitions, want MASTER after 2 (BACKUP, MASTER)", st.State, st.Transitions)
		}
		if st.Dropped[vrrp.DropAddrCount] != 1 || st.AdvertsReceived != 0 {
			t.Errorf("dropped %v, received %d; want addr_count 1, received 0", st.Dropped, st.AdvertsReceived)
		}

		a.conn.deliver(packetFrom(t, higher, peer, group, 255, nil))
		time.Sleep(time.Second)
		synctest.Wait()
		if a.state() != vrrp.Backup {
			t.Errorf("state %v after the advert with its address, want BACKUP", a.state())
		}
		a.stop(t)
	})
}

// RFC 2338 §7.1 (version 2 simple password, which keepalived sends): an
// advert with another password is dropped as "auth"; one with the right
// password is accepted; the instance's own adverts carry the password.
func TestVersion2Password(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newFakeNet(&journal{})
		cfg := instanceConfig("VI_1", 51, 100)
		cfg.Version = 2
		cfg.AuthPass = "secret"
		b := newRouter(t, n, "b", addrB, cfg)
		b.start()
		group := vrrp.MulticastGroup(false)
		adv := vrrp.Advert{Version: 2, VRID: 51, Priority: 200, MaxAdvertInterval: time.Second,
			AuthType: vrrp.AuthSimple, AuthData: vrrp.PasswordAuthData("wrong"), Addresses: []netip.Addr{testVIP.Addr()}}
		time.Sleep(time.Second)
		b.conn.deliver(packetFrom(t, adv, netip.MustParseAddr(addrA), group, 255, nil))
		adv.AuthData = vrrp.PasswordAuthData("secret")
		b.conn.deliver(packetFrom(t, adv, netip.MustParseAddr(addrA), group, 255, nil))
		synctest.Wait()
		st := b.inst.Status()
		if st.Dropped[vrrp.DropAuth] != 1 || st.AdvertsReceived != 1 {
			t.Errorf("dropped auth %d, received %d; want 1 and 1", st.Dropped[vrrp.DropAuth], st.AdvertsReceived)
		}
		time.Sleep(10 * time.Second)
		synctest.Wait()
		sends := b.conn.sends()
		if len(sends) == 0 {
			t.Fatal("no adverts sent")
		}
		if got := sends[0].advert; got.AuthType != vrrp.AuthSimple || got.AuthData != vrrp.PasswordAuthData("secret") || got.Version != 2 {
			t.Errorf("sent %v with auth data %q, want version 2 with the password", &got, got.AuthData)
		}
		b.stop(t)
	})
}

// Unicast mode: adverts go to each peer but ourselves, and adverts from
// addresses that are not peers are dropped.
func TestUnicastPeers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newFakeNet(&journal{})
		peers := []netip.Addr{netip.MustParseAddr(addrA), netip.MustParseAddr(addrB), netip.MustParseAddr(addrC)}
		ca := instanceConfig("VI_1", 51, 200)
		ca.UnicastPeers = peers
		cb := instanceConfig("VI_1", 51, 100)
		cb.UnicastPeers = peers
		a := newRouter(t, n, "a", addrA, ca)
		b := newRouter(t, n, "b", addrB, cb)
		a.start()
		b.start()
		time.Sleep(5 * time.Second)
		// Not in the peer list.
		stranger := vrrp.Advert{Version: 3, VRID: 51, Priority: 254, MaxAdvertInterval: time.Second, Addresses: []netip.Addr{testVIP.Addr()}}
		b.conn.deliver(packetFrom(t, stranger, netip.MustParseAddr("192.0.2.9"), netip.MustParseAddr(addrB), 255, nil))
		synctest.Wait()

		if a.state() != vrrp.Master || b.state() != vrrp.Backup {
			t.Errorf("a=%v b=%v, want MASTER and BACKUP", a.state(), b.state())
		}
		dsts := map[netip.Addr]int{}
		for _, s := range a.conn.sends() {
			dsts[s.dst]++
		}
		if len(dsts) != 2 || dsts[peers[1]] == 0 || dsts[peers[2]] == 0 || dsts[peers[1]] != dsts[peers[2]] {
			t.Errorf("a sent to %v, want the same number to %v and %v only", dsts, peers[1], peers[2])
		}
		st := a.inst.Status()
		if st.AdvertsSent != uint64(len(a.conn.sends())) {
			t.Errorf("AdvertsSent %d, transport saw %d", st.AdvertsSent, len(a.conn.sends()))
		}
		if got := b.inst.Status().Dropped[vrrp.DropOther]; got != 1 {
			t.Errorf("b dropped %d adverts from a stranger, want 1", got)
		}
		a.stop(t)
		b.stop(t)
	})
}

// A tracked or VRRP interface down puts the instance in FAULT (addresses
// removed); all up again returns it to BACKUP. An interface known down before
// Run keeps the instance out of BACKUP from the start.
func TestLinkStateFault(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := instanceConfig("VI_1", 51, 255)
		cfg.TrackInterfaces = []Track{{Name: "eth1"}}
		a := newRouter(t, newFakeNet(&journal{}), "a", addrA, cfg)
		a.inst.SetLink("eth1", false)
		a.inst.SetLink("lo", false) // not ours: ignored
		a.start()
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if a.state() != vrrp.Fault {
			t.Fatalf("state %v with eth1 down at start, want FAULT", a.state())
		}
		a.inst.SetLink("eth1", true)
		time.Sleep(time.Second)
		synctest.Wait()
		if a.state() != vrrp.Master {
			t.Fatalf("state %v after eth1 came up, want MASTER (owner)", a.state())
		}
		a.inst.SetLink("eth0", false)
		a.inst.SetLink("eth1", false)
		a.inst.SetLink("eth0", true) // eth1 is still down
		time.Sleep(time.Second)
		synctest.Wait()
		if a.state() != vrrp.Fault {
			t.Errorf("state %v with eth1 down, want FAULT", a.state())
		}
		if got := a.vips.on("eth0"); len(got) != 0 {
			t.Errorf("FAULT instance holds %v", got)
		}
		a.stop(t)
		if diff := cmp.Diff([]string{"VI_1 FAULT", "VI_1 MASTER", "VI_1 FAULT", "VI_1 INIT"}, a.notes.recorded(), addrOpt); diff != "" {
			t.Errorf("notifications (-want +got):\n%s", diff)
		}
	})
}

// Reload of the priority alone: a backup raised above the master preempts
// it; a master advertises a new priority at once.
func TestUpdatePriority(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newFakeNet(&journal{})
		a := newRouter(t, n, "a", addrA, instanceConfig("VI_1", 51, 200))
		b := newRouter(t, n, "b", addrB, instanceConfig("VI_1", 51, 100))
		a.start()
		b.start()
		time.Sleep(5*time.Second + 500*time.Millisecond)
		synctest.Wait()

		at := time.Now()
		a.inst.UpdatePriority(210)
		synctest.Wait()
		if got := a.firstSendAs(210); !got.Equal(at) {
			t.Errorf("master advertised its new priority at +%v, want at once", got.Sub(at))
		}
		if st := a.inst.Status(); st.Priority != 210 || st.EffectivePriority != 210 {
			t.Errorf("status priority %d effective %d, want 210", st.Priority, st.EffectivePriority)
		}

		b.inst.UpdatePriority(250)
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if a.state() != vrrp.Backup || b.state() != vrrp.Master {
			t.Errorf("after raising b: a=%v b=%v, want BACKUP and MASTER", a.state(), b.state())
		}
		// b discards a's adverts, lower now (Preempt_Mode), so the
		// Master_Down_Timer that a's last accepted advert armed, at the
		// moment of the change, runs out.
		if got, want := b.firstSendAs(250).Sub(at), vrrp.MasterDownInterval(100, time.Second); got != want {
			t.Errorf("b took over +%v after the change, want +%v", got, want)
		}
		a.stop(t)
		b.stop(t)
	})
}

func TestRunTwice(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := newRouter(t, newFakeNet(&journal{}), "a", addrA, instanceConfig("VI_1", 51, 100))
		a.start()
		synctest.Wait() // the first Run has started
		if err := a.inst.Run(context.Background()); err == nil {
			t.Error("second Run returned nil, want an error")
		}
		a.stop(t)
	})
}

func TestNewRequiresDeps(t *testing.T) {
	n := newFakeNet(&journal{})
	conn := n.attach("a", netip.MustParseAddr(addrA))
	cfg := instanceConfig("VI_1", 51, 100)
	if _, err := New(cfg, Deps{VIPs: newFakeVIPs(n.j, "a")}); err == nil {
		t.Error("New without a transport: nil error")
	}
	if _, err := New(cfg, Deps{Transport: conn}); err == nil {
		t.Error("New without a VIP manager: nil error")
	}
	cfg.VirtualIPs = nil
	if _, err := New(cfg, Deps{Transport: conn, VIPs: newFakeVIPs(n.j, "a")}); err == nil {
		t.Error("New without virtual addresses: nil error")
	}
}

// IPv6 (RFC 5798 §5.1.2): adverts go from the link-local address to
// ff02::12 and carry the IPv6 virtual addresses.
func TestElectionIPv6(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newFakeNet(&journal{})
		vip6 := netip.MustParsePrefix("2001:db8::100/128")
		cfg := func(prio uint8) Config {
			c := instanceConfig("VI_6", 61, prio)
			c.VirtualIPs = []netip.Prefix{vip6}
			return c
		}
		a := newRouter(t, n, "a", "fe80::1", cfg(100))
		b := newRouter(t, n, "b", "fe80::2", cfg(200))
		a.start()
		b.start()
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if a.state() != vrrp.Backup || b.state() != vrrp.Master {
			t.Fatalf("a=%v b=%v, want BACKUP and MASTER", a.state(), b.state())
		}
		s := b.conn.sends()[0]
		if s.dst != vrrp.MulticastGroup(true) {
			t.Errorf("advert sent to %v, want ff02::12", s.dst)
		}
		if diff := cmp.Diff([]netip.Addr{vip6.Addr()}, s.advert.Addresses, addrOpt); diff != "" {
			t.Errorf("advert addresses (-want +got):\n%s", diff)
		}
		if got := a.inst.Status().AdvertsReceived; got == 0 {
			t.Error("backup received no adverts")
		}
		a.stop(t)
		b.stop(t)
	})
}
