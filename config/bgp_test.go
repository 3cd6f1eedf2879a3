package config

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestBGPResolve(t *testing.T) {
	for _, tt := range []struct {
		node     string
		routerID netip.Addr
	}{
		{"lb1", netip.MustParseAddr("192.0.2.11")},
		{"lb2", netip.MustParseAddr("192.0.2.12")},
		{"lb3", netip.Addr{}}, // auto
	} {
		cfg := mustResolve(t, "testdata/valid/bgp.hcl", tt.node)
		if cfg.BGP.RouterID != tt.routerID {
			t.Errorf("%s: router ID = %v, want %v", tt.node, cfg.BGP.RouterID, tt.routerID)
		}
		if cfg.BGP.WithdrawWhen != AnyServiceDown || cfg.BGP.DrainWait != defaultDrainWait || cfg.BGP.HoldTime != defaultHoldTime {
			t.Errorf("%s: defaults = %+v", tt.node, cfg.BGP)
		}
	}
	cfg := mustResolve(t, "testdata/valid/bgp.hcl", "lb3")
	want := []netip.Addr{netip.MustParseAddr("203.0.113.10"), netip.MustParseAddr("2001:db8:10::10")}
	if diff := cmp.Diff(want, cfg.AnnouncedVIPs(), netipOpts); diff != "" {
		t.Errorf("AnnouncedVIPs (-want +got):\n%s", diff)
	}
	// A failed real server of an announced service stays at weight 0:
	// every director must keep the same Maglev table.
	for _, vs := range cfg.VirtualServers {
		if vs.Announce != AnnounceBGP || vs.OnFailure != Quiescent {
			t.Errorf("%s: announce %q, on_failure %q; want bgp, quiescent", vs.Name, vs.Announce, vs.OnFailure)
		}
	}
	if cfg.IPVS.ExpireNodestConn || !cfg.IPVS.ExpireQuiescentTemplate {
		t.Errorf("expire_nodest_conn %v, expire_quiescent_template %v; want false, true", cfg.IPVS.ExpireNodestConn, cfg.IPVS.ExpireQuiescentTemplate)
	}
}
