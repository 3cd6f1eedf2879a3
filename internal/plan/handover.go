package plan

import (
	"net/netip"
	"slices"

	"github.com/lvsd/lvsd/config"
	"github.com/lvsd/lvsd/ipvs"
)

// Relayable reports whether a stopping master can relay the connections
// of vs to its peer director: the peer's IPVS must see the client's packet
// unchanged, addressed to the VIP, which direct routing to the peer gives,
// whatever vs's own method. A NAT virtual server's real servers answer
// through the stopping director, which then routes the answers it cannot
// translate to the peer (the daemon's part). A fwmark service has no VIP
// of its own.
func Relayable(vs *config.VirtualServer) bool {
	return vs.FWMark == 0
}

// RelayVIPs lists the VIPs of vi that a director holds on lo when vi hands
// over by relay: those that are the address of a relayable virtual server,
// in the order of vi's virtual_ips. It is empty unless vi.Handover is
// config.Relay.
func RelayVIPs(cfg *config.Config, vi *config.VRRPInstance) []netip.Addr {
	if vi.Handover != config.Relay {
		return nil
	}
	var out []netip.Addr
	for _, p := range vi.VirtualIPs {
		vip := p.Addr()
		if slices.Contains(out, vip) {
			continue
		}
		for i := range cfg.VirtualServers {
			vs := &cfg.VirtualServers[i]
			if Relayable(vs) && vs.Address.Addr() == vip {
				out = append(out, vip)
				break
			}
		}
	}
	return out
}

// Handover maps each VIP that a stopping master relays to the peer
// director taking it over.
type Handover map[netip.Addr]netip.Addr

// Relay returns services, the desired table of cfg in config order as
// Services returns it, with every relayable virtual server on a VIP of h
// handed to the peer: its real servers (and sorry server) get weight 0, so
// they keep the connections they have and get no new one, and the peer
// director is added by direct routing with weight 1, so its IPVS schedules
// every new connection. The other services are returned as they are; the
// relayed ones get destinations of their own, so services is not modified.
func (h Handover) Relay(cfg *config.Config, services []ipvs.Service) []ipvs.Service {
	if len(h) == 0 {
		return services
	}
	out := slices.Clone(services)
	for i := range out {
		if i >= len(cfg.VirtualServers) {
			break
		}
		vs := &cfg.VirtualServers[i]
		peer, ok := h[vs.Address.Addr()]
		if !ok || !Relayable(vs) {
			continue
		}
		to := netip.AddrPortFrom(peer, vs.Address.Port())
		dests := make([]ipvs.Destination, 0, len(out[i].Destinations)+1)
		for _, d := range out[i].Destinations {
			if d.Addr == to {
				continue // the peer is a real server too: it is added below
			}
			d.Weight = 0
			dests = append(dests, d)
		}
		out[i].Destinations = append(dests, ipvs.Destination{Addr: to, Forward: ipvs.Route, Weight: 1})
	}
	return out
}
