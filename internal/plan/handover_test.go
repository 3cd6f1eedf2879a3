package plan

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/lvsd/lvsd/config"
	"github.com/lvsd/lvsd/ipvs"
)

// relayConfig has a DR, a TUN, a NAT and a fwmark virtual server; the
// first three share the instance's VIP 192.0.2.100, the fourth names none.
func relayConfig(handover config.Handover) *config.Config {
	dr := testVS(config.Remove, 1, "192.0.2.50:80")
	tun := testVS(config.Remove, 1, "")
	tun.Name, tun.Method, tun.Address = "tun", config.TUN, netip.MustParseAddrPort("192.0.2.100:443")
	for i := range tun.RealServers {
		rs := &tun.RealServers[i]
		rs.Address = netip.AddrPortFrom(rs.Address.Addr(), 443) // TUN cannot map ports
	}
	nat := testVS(config.Remove, 1, "")
	nat.Name, nat.Method, nat.Address = "nat", config.NAT, netip.MustParseAddrPort("192.0.2.100:25")
	mark := testVS(config.Remove, 1, "")
	mark.Name, mark.Address, mark.FWMark = "mark", netip.AddrPort{}, 7
	return &config.Config{
		VRRPInstances: []config.VRRPInstance{{
			Name: "VI_1", Handover: handover,
			VirtualIPs: []netip.Prefix{netip.MustParsePrefix("192.0.2.100/32"), netip.MustParsePrefix("192.0.2.101/32"), netip.MustParsePrefix("192.0.2.100/24")},
		}},
		VirtualServers: []config.VirtualServer{*dr, *tun, *nat, *mark},
	}
}

func TestRelayVIPs(t *testing.T) {
	cfg := relayConfig(config.Relay)
	// 192.0.2.101 carries no virtual server; the VIP listed twice (two
	// prefixes) is held once.
	if got, want := RelayVIPs(cfg, &cfg.VRRPInstances[0]), []netip.Addr{netip.MustParseAddr("192.0.2.100")}; !cmp.Equal(got, want, netipEqual) {
		t.Errorf("RelayVIPs = %v, want %v", got, want)
	}
	cfg = relayConfig(config.Release)
	if got := RelayVIPs(cfg, &cfg.VRRPInstances[0]); len(got) != 0 {
		t.Errorf("RelayVIPs with handover = release: %v, want none", got)
	}
	cfg = relayConfig(config.Relay)
	cfg.VirtualServers = cfg.VirtualServers[3:] // fwmark only
	if got := RelayVIPs(cfg, &cfg.VRRPInstances[0]); len(got) != 0 {
		t.Errorf("RelayVIPs with only a fwmark service: %v, want none", got)
	}
}

func TestHandoverRelay(t *testing.T) {
	cfg := relayConfig(config.Relay)
	peer := netip.MustParseAddr("192.0.2.14")
	services := Services(cfg, down("192.0.2.12:80"))
	before := cloneDests(services)
	got := Handover{netip.MustParseAddr("192.0.2.100"): peer}.Relay(cfg, services)

	if !cmp.Equal(cloneDests(services), before, netipEqual) {
		t.Fatal("Relay modified the services it was given")
	}
	tunnel := func(d ipvs.Destination) ipvs.Destination { d.Forward = ipvs.Tunnel; return d }
	masq := func(d ipvs.Destination) ipvs.Destination { d.Forward = ipvs.Masquerade; return d }
	withThreshold := func(d ipvs.Destination) ipvs.Destination { d.UpperThreshold = 10; return d }
	want := [][]ipvs.Destination{
		// DR: own servers quiesced, the peer (also a real server here: one
		// entry, the relay's) added with weight 1. The sorry server is
		// not in the table while quorum holds.
		{withThreshold(dest("192.0.2.13:80", 0)), dest("192.0.2.14:80", 1)},
		// TUN: the peer is reached by direct routing all the same.
		{tunnel(dest("192.0.2.12:443", 0)), tunnel(withThreshold(dest("192.0.2.13:443", 0))), dest("192.0.2.14:443", 1)},
		// NAT: relayed too (the daemon routes the answers).
		{masq(withThreshold(dest("192.0.2.13:80", 0))), masq(dest("192.0.2.14:80", 0)), dest("192.0.2.14:25", 1)},
		// fwmark: untouched.
		services[3].Destinations,
	}
	for i := range want {
		if !cmp.Equal(got[i].Destinations, want[i], netipEqual) {
			t.Errorf("%s: destinations %v, want %v", cfg.VirtualServers[i].Name, got[i].Destinations, want[i])
		}
	}

	// A VIP not handed over, and an empty handover, change nothing.
	other := Handover{netip.MustParseAddr("192.0.2.101"): peer}.Relay(cfg, services)
	if !cmp.Equal(other, services, netipEqual) {
		t.Errorf("a handover of another VIP changed the table:\n%v", cmp.Diff(services, other, netipEqual))
	}
	if got := Handover(nil).Relay(cfg, services); !cmp.Equal(got, services, netipEqual) {
		t.Error("an empty handover changed the table")
	}

	// With quorum lost the sorry server serves: it is quiesced as well.
	cfg.VirtualServers[0].Quorum = 3
	lost := Services(cfg, down("192.0.2.12:80", "192.0.2.13:80"))
	relayed := Handover{netip.MustParseAddr("192.0.2.100"): peer}.Relay(cfg, lost)
	if want := []ipvs.Destination{dest("192.0.2.50:80", 0), dest("192.0.2.14:80", 1)}; !cmp.Equal(relayed[0].Destinations, want, netipEqual) {
		t.Errorf("sorry server active: destinations %v, want %v", relayed[0].Destinations, want)
	}
}

func cloneDests(svcs []ipvs.Service) [][]ipvs.Destination {
	out := make([][]ipvs.Destination, len(svcs))
	for i, s := range svcs {
		out[i] = append([]ipvs.Destination(nil), s.Destinations...)
	}
	return out
}
