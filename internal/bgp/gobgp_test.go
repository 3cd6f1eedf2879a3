package bgp

import (
	"log/slog"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	gobgp "github.com/osrg/gobgp/v4/pkg/packet/bgp"
)

func TestPathAttributes(t *testing.T) {
	g := NewGoBGP(Config{ASN: 65010, MED: 10, Communities: []uint32{65010<<16 | 7}}, slog.Default())
	tests := []struct {
		name      string
		vip       string
		graceful  bool
		wantNLRI  string
		wantFam   gobgp.Family
		wantComms []uint32
	}{
		{"v4", "203.0.113.10", false, "203.0.113.10/32", gobgp.RF_IPv4_UC, []uint32{65010<<16 | 7}},
		{"v4 graceful", "203.0.113.10", true, "203.0.113.10/32", gobgp.RF_IPv4_UC, []uint32{65010<<16 | 7, 0xFFFF0000}},
		{"v6", "2001:db8::10", false, "2001:db8::10/128", gobgp.RF_IPv6_UC, []uint32{65010<<16 | 7}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := g.path(netip.MustParseAddr(tt.vip), tt.graceful)
			if err != nil {
				t.Fatal(err)
			}
			if got := p.Nlri.String(); got != tt.wantNLRI {
				t.Errorf("NLRI = %s, want %s", got, tt.wantNLRI)
			}
			if p.Family != tt.wantFam {
				t.Errorf("family = %v, want %v", p.Family, tt.wantFam)
			}
			var comms []uint32
			var med uint32
			var nh netip.Addr
			for _, a := range p.Attrs {
				switch a := a.(type) {
				case *gobgp.PathAttributeCommunities:
					comms = a.Value
				case *gobgp.PathAttributeMultiExitDisc:
					med = a.Value
				case *gobgp.PathAttributeNextHop:
					nh = a.Value
				case *gobgp.PathAttributeMpReachNLRI:
					nh = a.Nexthop
				}
			}
			if diff := cmp.Diff(tt.wantComms, comms); diff != "" {
				t.Errorf("communities (-want +got):\n%s", diff)
			}
			if med != 10 {
				t.Errorf("MED = %d, want 10", med)
			}
			// An unspecified next hop is what GoBGP turns into the
			// session's own address: next hop self.
			if !nh.IsUnspecified() {
				t.Errorf("next hop = %v, want unspecified (next hop self)", nh)
			}
		})
	}
}

func TestPeerConfig(t *testing.T) {
	g := NewGoBGP(Config{ASN: 65010, HoldTime: 9e9}, slog.Default())
	p := g.peer(Neighbor{Name: "tor1", Address: netip.MustParseAddr("2001:db8::1"), ASN: 65000, BFD: true, Port: 1179})
	if got := p.AfiSafis[0].Config.Family.Afi.String(); got != "AFI_IP6" {
		t.Errorf("family = %s, want AFI_IP6", got)
	}
	if p.Timers.Config.HoldTime != 9 || p.Timers.Config.KeepaliveInterval != 3 {
		t.Errorf("hold/keepalive = %d/%d, want 9/3", p.Timers.Config.HoldTime, p.Timers.Config.KeepaliveInterval)
	}
	if p.Transport.GetRemotePort() != 1179 || !p.Bfd.GetEnabled() || p.Conf.PeerAsn != 65000 {
		t.Errorf("peer = %v", p)
	}
}
