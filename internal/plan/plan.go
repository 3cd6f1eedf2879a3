// Package plan turns a validated configuration plus the health of its real
// servers into the IPVS table a director should have. The result is pure
// data: the IPVS programmer diffs it against the kernel, `lvsd plan` prints
// it, and the status document reports it.
package plan

import (
	"fmt"
	"io"
	"net/netip"
	"strings"

	"github.com/lvsd/lvsd/config"
	"github.com/lvsd/lvsd/ipvs"
)

// Health reports whether a real server of a virtual server is healthy.
type Health func(service string, server netip.AddrPort) bool

// AllHealthy is the Health of `lvsd plan`: every real server up.
func AllHealthy(string, netip.AddrPort) bool { return true }

// Weights reports the weight the check of a healthy real server asks for,
// if it asks for one (an exec check with dynamic_weight); the configured
// weight applies otherwise. A nil Weights asks for none.
type Weights func(service string, server netip.AddrPort) (weight int, ok bool)

// ServiceState is what the plan decided for one virtual server, beyond
// its rules: the facts the status document reports.
type ServiceState struct {
	Healthy     int  // real servers passing their checks
	QuorumMet   bool // Healthy >= quorum
	SorryActive bool // the sorry server is in the table
}

// Services returns the desired IPVS table for cfg, in config order.
func Services(cfg *config.Config, health Health) []ipvs.Service {
	return WeightedServices(cfg, health, nil)
}

// WeightedServices is Services with the weights the checks ask for.
func WeightedServices(cfg *config.Config, health Health, weights Weights) []ipvs.Service {
	out := make([]ipvs.Service, 0, len(cfg.VirtualServers))
	for i := range cfg.VirtualServers {
		svc, _ := WeightedService(&cfg.VirtualServers[i], health, weights)
		out = append(out, svc)
	}
	return out
}

// Service returns the desired IPVS service for one virtual server.
//
// An unhealthy real server is left out (on_failure = "remove") or kept
// with weight 0 (on_failure = "quiescent"). When fewer than quorum real
// servers are healthy and a sorry server is configured, the sorry server
// takes the whole service, as keepalived does: the remaining healthy
// servers are treated as failed, so clients see one consistent answer
// rather than a mix of a degraded pool and the sorry page.
func Service(vs *config.VirtualServer, health Health) (ipvs.Service, ServiceState) {
	return WeightedService(vs, health, nil)
}

// State is the ServiceState of vs that Service would report, without the
// service's table: a reload and the status line need only this.
func State(vs *config.VirtualServer, health Health) ServiceState {
	var st ServiceState
	for _, rs := range vs.RealServers {
		if rs.Check == nil || health(vs.Name, rs.Address) {
			st.Healthy++
		}
	}
	st.QuorumMet = st.Healthy >= vs.Quorum
	st.SorryActive = !st.QuorumMet && vs.SorryServer.IsValid()
	return st
}

// WeightedService is Service with the weights the checks ask for: a
// healthy real server whose check asks for a weight gets it instead of
// its configured one, so a change of it is one edit of the destination.
func WeightedService(vs *config.VirtualServer, health Health, weights Weights) (ipvs.Service, ServiceState) {
	svc := ipvs.Service{
		ServiceKey: Key(vs),
		Scheduler:  vs.Scheduler,
		Netmask:    vs.PersistenceNetmask,
	}
	if svc.Netmask == 0 {
		svc.Netmask = 32
		if svc.Family() == 10 {
			svc.Netmask = 128
		}
	}
	if vs.Persistence > 0 {
		svc.Flags |= ipvs.FlagPersistent
		svc.Timeout = vs.Persistence
	}
	svc.Flags |= Flags(vs)
	fwd := Forward(vs.Method)

	// One pass builds the pool as if quorum held, with a failed server's
	// weight at -1 ("not in the pool"); a second pass over the result
	// settles quorum. That is one allocation per service.
	var st ServiceState
	dests := make([]ipvs.Destination, 0, len(vs.RealServers)+1)
	for _, rs := range vs.RealServers {
		d := ipvs.Destination{
			Addr:           DestAddr(vs, rs.Address),
			Forward:        fwd,
			Weight:         rs.Weight,
			UpperThreshold: rs.UpperThreshold,
			LowerThreshold: rs.LowerThreshold,
		}
		if fwd == ipvs.Tunnel {
			setTunnel(&d, rs.Tunnel)
		}
		if rs.Check == nil || health(vs.Name, rs.Address) {
			st.Healthy++
			if weights != nil && rs.Check != nil {
				if w, ok := weights(vs.Name, rs.Address); ok {
					d.Weight = w
				}
			}
		} else {
			d.Weight = -1
		}
		dests = append(dests, d)
	}
	st.QuorumMet = st.Healthy >= vs.Quorum
	st.SorryActive = !st.QuorumMet && vs.SorryServer.IsValid()

	kept := dests[:0]
	for _, d := range dests {
		if d.Weight < 0 || st.SorryActive {
			if vs.OnFailure != config.Quiescent {
				continue
			}
			d.Weight = 0
		}
		kept = append(kept, d)
	}
	if st.SorryActive {
		kept = append(kept, ipvs.Destination{Addr: DestAddr(vs, vs.SorryServer), Forward: fwd, Weight: 1})
	}
	if len(kept) > 0 {
		svc.Destinations = kept
	}
	return svc, st
}

// DestAddr is the destination a real server (or the sorry server) of vs
// is in IPVS. It is the server's address, except in a member of a
// virtual_server_group forwarding by DR or TUN: there, as keepalived
// programs it, every member's destinations take the member's port (0 for
// an fwmark member), since IPVS cannot map ports anyway, and the server's
// own port is only what its checks use.
func DestAddr(vs *config.VirtualServer, server netip.AddrPort) netip.AddrPort {
	if vs.Group == "" || vs.Method == config.NAT {
		return server
	}
	return netip.AddrPortFrom(server.Addr(), vs.Address.Port())
}

// Flags returns the IPVS service flags of vs's options: one-packet
// scheduling and the scheduler flags (persistence is the caller's).
func Flags(vs *config.VirtualServer) uint32 {
	var f uint32
	if vs.OnePacket {
		f |= ipvs.FlagOnePacket
	}
	for _, name := range vs.SchedFlags {
		switch name {
		case "sh-fallback", "mh-fallback", "flag-1":
			f |= ipvs.FlagSchedFlag1
		case "sh-port", "mh-port", "flag-2":
			f |= ipvs.FlagSchedFlag2
		case "flag-3":
			f |= ipvs.FlagSchedFlag3
		}
	}
	return f
}

// setTunnel sets a TUN destination's encapsulation.
func setTunnel(d *ipvs.Destination, t config.Tunnel) {
	switch t.Type {
	case config.TunnelGUE:
		d.TunnelType, d.TunnelPort = ipvs.TunnelGUE, t.Port
	case config.TunnelGRE:
		d.TunnelType = ipvs.TunnelGRE
	}
	switch t.Checksum {
	case config.TunnelChecksumOn:
		d.TunnelFlags = ipvs.TunnelChecksum
	case config.TunnelRemoteChecksum:
		d.TunnelFlags = ipvs.TunnelRemoteChecksum
	}
}

// Key returns the kernel's identity of a virtual server.
func Key(vs *config.VirtualServer) ipvs.ServiceKey {
	if vs.FWMark != 0 {
		return ipvs.ServiceKey{FWMark: vs.FWMark, IPv6: vs.IPv6}
	}
	return ipvs.ServiceKey{Protocol: Protocol(vs.Protocol), Addr: vs.Address}
}

// Protocol maps a config protocol to its IPPROTO number.
func Protocol(p config.Protocol) ipvs.Protocol {
	switch p {
	case config.UDP:
		return ipvs.UDP
	case config.SCTP:
		return ipvs.SCTP
	}
	return ipvs.TCP
}

// Forward maps a config method to the kernel's forwarding method.
func Forward(m config.Method) ipvs.Forward {
	switch m {
	case config.NAT:
		return ipvs.Masquerade
	case config.TUN:
		return ipvs.Tunnel
	}
	return ipvs.Route
}

// Write prints what this node would program with every real server
// healthy: the IPVS rules exactly as `ipvsadm-save -n` prints them, then
// one line per VRRP instance.
func Write(w io.Writer, cfg *config.Config) error {
	if err := ipvs.WriteSave(w, Services(cfg, AllHealthy)); err != nil {
		return err
	}
	for i := range cfg.VRRPInstances {
		if _, err := fmt.Fprintln(w, InstanceLine(&cfg.VRRPInstances[i])); err != nil {
			return err
		}
	}
	return WriteBGP(w, cfg)
}

// InstanceLine summarises a VRRP instance as this node runs it.
func InstanceLine(v *config.VRRPInstance) string {
	vips := make([]string, len(v.VirtualIPs))
	for i, p := range v.VirtualIPs {
		vips[i] = p.String()
	}
	mode := "multicast"
	if len(v.UnicastPeers) > 0 {
		peers := make([]string, len(v.UnicastPeers))
		for i, p := range v.UnicastPeers {
			peers[i] = p.String()
		}
		mode = "unicast " + strings.Join(peers, ",")
	}
	line := fmt.Sprintf("vrrp_instance %s interface %s vrid %d version %d priority %d advert_interval %s %s virtual_ips %s",
		v.Name, v.Interface, v.VRID, v.Version, v.Priority, v.AdvertInterval, mode, strings.Join(vips, ","))
	if v.Handover == config.Relay {
		line += " handover relay"
	}
	return line
}
