package daemon

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lvsd/lvsd/internal/status"
	"github.com/lvsd/lvsd/vrrp"
)

// twoInstances runs VRIDs 51 and 52 on eth0, so they share one socket.
const twoInstances = `cluster = "unit"
vrrp_instance "VI_51" {
  interface       = "eth0"
  vrid            = 51
  advert_interval = "50ms"
  virtual_ips     = ["192.0.2.100/32"]
}
vrrp_instance "VI_52" {
  interface       = "eth0"
  vrid            = 52
  advert_interval = "50ms"
  virtual_ips     = ["192.0.2.101/32"]
}
status {
  metrics_listen = ""
}
`

// drops sums a status document's drop counters: by instance, and by
// interface under "if:NAME".
func drops(doc status.Document) map[string]map[string]uint64 {
	out := make(map[string]map[string]uint64)
	add := func(who string, dropped map[string]uint64) {
		for r, n := range dropped {
			if n == 0 {
				continue
			}
			if out[who] == nil {
				out[who] = make(map[string]uint64)
			}
			out[who][r] += n
		}
	}
	for _, in := range doc.VRRPInstances {
		add(in.Name, in.Dropped)
	}
	for _, f := range doc.VRRPInterfaces {
		add("if:"+f.Interface, f.Dropped)
	}
	return out
}

// Every malformed packet on an interface shared by two instances is counted
// once: by the instance its VRID names, or else by the interface.
func TestDroppedPacketCountedOnce(t *testing.T) {
	verifyNoLeaks(t)
	sys := newFakeSystem(&fakeSegment{}, "192.0.2.1", "eth0")
	h := startDaemon(t, twoInstances, sys)
	eventually(t, 3*time.Second, "both instances MASTER", func() bool {
		doc := h.d.Status()
		return len(doc.VRRPInstances) == 2 && doc.VRRPInstances[0].State == status.StateMaster && doc.VRRPInstances[1].State == status.StateMaster
	})
	if len(sys.transports) != 1 {
		t.Fatalf("%d sockets for two instances on eth0, want 1", len(sys.transports))
	}
	wire := sys.transports[0]
	peer, group := netip.MustParseAddr("192.0.2.9"), vrrp.MulticastGroup(false)
	from := func(vrid uint8) vrrp.Packet {
		return vrrp.Packet{Src: peer, Dst: group, TTL: vrrp.AdvertTTL, IfIndex: 1, VRID: vrid}
	}
	received := func(name string) uint64 {
		for _, in := range h.d.Status().VRRPInstances {
			if in.Name == name {
				return in.AdvertsReceived
			}
		}
		return 0
	}
	// barrier sends each instance a valid low-priority advert and waits
	// until both have taken it: every packet sent before is then counted.
	barrier := func() {
		t.Helper()
		before := map[string]uint64{"VI_51": received("VI_51"), "VI_52": received("VI_52")}
		for _, id := range []uint8{51, 52} {
			p := from(id)
			p.Advert = &vrrp.Advert{Version: 3, Type: vrrp.TypeAdvertisement, VRID: id, Priority: 1, MaxAdvertInterval: 50 * time.Millisecond,
				Addresses: []netip.Addr{netip.MustParseAddr(fmt.Sprintf("192.0.2.%d", 100+id-51))}}
			wire.inject(p, nil)
		}
		eventually(t, 2*time.Second, "both instances took the barrier advert", func() bool {
			return received("VI_51") > before["VI_51"] && received("VI_52") > before["VI_52"]
		})
	}

	unknown := from(99)
	unknown.Advert = &vrrp.Advert{Version: 3, Type: vrrp.TypeAdvertisement, VRID: 99, Priority: 200, MaxAdvertInterval: time.Second,
		Addresses: []netip.Addr{netip.MustParseAddr("192.0.2.199")}}

	want := map[string]map[string]uint64{}
	for _, step := range []struct {
		name   string
		p      vrrp.Packet
		err    error
		who    string
		reason string
	}{
		{"bad checksum, VRID 51", from(51), vrrp.ErrChecksum, "VI_51", "checksum"},
		{"valid advert of VRID 99", unknown, nil, "if:eth0", "vrid"},
		{"bad checksum, VRID 99", from(99), vrrp.ErrChecksum, "if:eth0", "checksum"},
		{"truncated before the VRID", from(0), vrrp.ErrTooShort, "if:eth0", "length"},
	} {
		err := step.err
		if err != nil {
			err = fmt.Errorf("from the wire: %w", err)
		}
		wire.inject(step.p, err)
		barrier()
		if want[step.who] == nil {
			want[step.who] = make(map[string]uint64)
		}
		want[step.who][step.reason]++
		if diff := cmp.Diff(want, drops(h.d.Status())); diff != "" {
			t.Fatalf("after %s: drops (-want +got):\n%s", step.name, diff)
		}
	}
	h.stop()
}
