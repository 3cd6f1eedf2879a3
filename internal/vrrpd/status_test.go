package vrrpd

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/lvsd/lvsd/vrrp"
)

// The status snapshot carries the fields of the status document's vrrp_instances[] and the
// counters of the metrics.
func TestStatusSnapshot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newFakeNet(&journal{})
		a := newRouter(t, n, "a", addrA, instanceConfig("VI_1", 51, 200))
		b := newRouter(t, n, "b", addrB, instanceConfig("VI_1", 51, 100))
		a0 := time.Now()
		before := b.inst.Status()
		if before.State != vrrp.Init || !before.Since.IsZero() || before.Transitions != 0 {
			t.Errorf("before Run: %+v", before)
		}
		a.start()
		b.start()
		time.Sleep(10*time.Second + 500*time.Millisecond)
		b.conn.deliver(packetFrom(t, vrrp.Advert{Version: 3, VRID: 51, Priority: 200, MaxAdvertInterval: time.Second,
			Addresses: []netip.Addr{testVIP.Addr()}}, netip.MustParseAddr(addrA), vrrp.MulticastGroup(false), 1, nil))
		synctest.Wait()

		masterAt := a0.Add(vrrp.MasterDownInterval(200, time.Second))
		sent := uint64(len(a.conn.sends()))
		got := a.inst.Status()
		want := InstanceStatus{
			Name: "VI_1", State: vrrp.Master, VRID: 51, Interface: "eth0", Version: 3,
			Priority: 200, EffectivePriority: 200,
			MasterAddress: netip.MustParseAddr(addrA),
			VirtualIPs:    []netip.Prefix{testVIP},
			Since:         masterAt,
			Transitions:   2,
			TransitionsTo: map[vrrp.State]uint64{vrrp.Backup: 1, vrrp.Master: 1},
			AdvertsSent:   sent,
			Dropped:       zeroDrops(),
		}
		if diff := cmp.Diff(want, got, addrOpt); diff != "" {
			t.Errorf("master status (-want +got):\n%s", diff)
		}
		gotB := b.inst.Status()
		wantB := want
		wantB.State, wantB.Priority, wantB.EffectivePriority = vrrp.Backup, 100, 100
		wantB.Since, wantB.Transitions = a0, 1
		wantB.TransitionsTo = map[vrrp.State]uint64{vrrp.Backup: 1}
		wantB.AdvertsSent, wantB.AdvertsReceived = 0, sent
		wantB.Dropped = zeroDrops()
		wantB.Dropped[vrrp.DropTTL] = 1
		if diff := cmp.Diff(wantB, gotB, addrOpt); diff != "" {
			t.Errorf("backup status (-want +got):\n%s", diff)
		}

		// The snapshot is a copy.
		gotB.Dropped[vrrp.DropTTL] = 99
		gotB.VirtualIPs[0] = netip.Prefix{}
		if again := b.inst.Status(); again.Dropped[vrrp.DropTTL] != 1 || again.VirtualIPs[0] != testVIP {
			t.Error("changing a snapshot changed the instance")
		}
		a.stop(t)
		b.stop(t)
	})
}

func zeroDrops() map[vrrp.DropReason]uint64 {
	m := map[vrrp.DropReason]uint64{}
	for _, r := range vrrp.DropReasons() {
		m[r] = 0
	}
	return m
}

func TestStatusJSON(t *testing.T) {
	st := InstanceStatus{
		Name: "VI_1", State: vrrp.Master, VRID: 51, Interface: "eth0", Version: 3,
		Priority: 150, EffectivePriority: 150,
		MasterAddress: netip.MustParseAddr("10.10.10.11"),
		VirtualIPs:    []netip.Prefix{netip.MustParsePrefix("10.10.10.100/32")},
		Since:         time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600)),
		Transitions:   1, AdvertsSent: 7, AdvertsReceived: 3,
		Dropped: map[vrrp.DropReason]uint64{vrrp.DropTTL: 2, vrrp.DropChecksum: 0},
	}
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"name": "VI_1", "state": "MASTER", "vrid": 51.0, "interface": "eth0", "version": 3.0,
		"priority": 150.0, "effective_priority": 150.0, "master_address": "10.10.10.11",
		"virtual_ips": []any{"10.10.10.100/32"}, "since": "2026-01-02T02:04:05Z", "transitions": 1.0,
		"adverts_sent": 7.0, "adverts_received": 3.0, "dropped": map[string]any{"ttl": 2.0, "checksum": 0.0},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("JSON (-want +got):\n%s", diff)
	}

	st.MasterAddress = netip.Addr{}
	st.Since = time.Time{}
	b, err = json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	got = nil
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got["master_address"] != nil || got["since"] != nil {
		t.Errorf("unknown master and time: master_address=%v since=%v, want null", got["master_address"], got["since"])
	}
}

// Run in real time: a pair elects, hands over on stop within the release
// bound, and leaves no goroutine behind.
func TestRunLeaksNoGoroutines(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	n := newFakeNet(&journal{})
	ca := instanceConfig("VI_1", 51, 200)
	ca.AdvertInterval = 10 * time.Millisecond
	ca.Announce.Refresh = 20 * time.Millisecond
	cb := instanceConfig("VI_1", 51, 100)
	cb.AdvertInterval = 10 * time.Millisecond
	a := newRouter(t, n, "a", addrA, ca)
	b := newRouter(t, n, "b", addrB, cb)
	a.start()
	b.start()
	deadline := time.Now().Add(5 * time.Second)
	for a.state() != vrrp.Master || b.state() != vrrp.Backup {
		if time.Now().After(deadline) {
			t.Fatalf("no election in 5 s: a=%v b=%v", a.state(), b.state())
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	if took := a.stop(t); took > 1100*time.Millisecond {
		t.Errorf("master's Run took %v to return, want at most 1.1 s", took)
	}
	if took := b.stop(t); took > 1100*time.Millisecond {
		t.Errorf("second Run took %v to return, want at most 1.1 s", took)
	}
	if len(a.ann.recorded()) == 0 {
		t.Error("the master announced nothing")
	}
}

// statusProbeVIPs reads the instance's status while the instance adds its
// VIPs, that is in the middle of becoming master.
type statusProbeVIPs struct {
	*fakeVIPs
	inst *Instance
	seen []InstanceStatus
}

func (p *statusProbeVIPs) Add(ifname string, vips []netip.Prefix) error {
	p.seen = append(p.seen, p.inst.Status())
	return p.fakeVIPs.Add(ifname, vips)
}

// A status read while a transition is being carried out shows the new
// state together with its count and time, never the new state with the
// old count.
func TestStatusTransitionIsAtomic(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newFakeNet(&journal{})
		probe := &statusProbeVIPs{fakeVIPs: newFakeVIPs(n.j, "a")}
		inst, err := New(instanceConfig("VI_1", 51, 200), Deps{
			Transport: n.attach("a", netip.MustParseAddr(addrA)),
			VIPs:      probe,
			Logger:    slog.New(slog.DiscardHandler),
		})
		if err != nil {
			t.Fatal(err)
		}
		probe.inst = inst
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- inst.Run(ctx) }()
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if len(probe.seen) == 0 {
			t.Fatal("the instance never added its VIPs")
		}
		got := probe.seen[0]
		if got.State != vrrp.Master || got.Transitions != 2 || got.TransitionsTo[vrrp.Master] != 1 {
			t.Errorf("status while becoming master: state %v, transitions %d (to MASTER %d); want MASTER, 2, 1",
				got.State, got.Transitions, got.TransitionsTo[vrrp.Master])
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}
