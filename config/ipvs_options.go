package config

import (
	"net/netip"
	"slices"
	"strings"
)

// The IPVS options of a virtual server beyond address and scheduler:
// scheduler flags, one-packet scheduling and tunnel encapsulation; and the
// sync daemon's multicast options.

// schedFlagScheduler maps each scheduler-specific flag to its scheduler;
// the flag-N names apply to every scheduler (ipvsadm's rule).
var schedFlagScheduler = map[string]string{
	"sh-fallback": "sh", "sh-port": "sh",
	"mh-fallback": "mh", "mh-port": "mh",
	"flag-1": "", "flag-2": "", "flag-3": "",
}

// SchedFlagNames lists the accepted sched_flags.
var SchedFlagNames = []string{"mh-fallback", "mh-port", "sh-fallback", "sh-port", "flag-1", "flag-2", "flag-3"}

func (b *builder) serviceOptions(vb *block, vs *VirtualServer) {
	if v := vb.get("sched_flags"); v != nil {
		for _, it := range v.list {
			sched, known := schedFlagScheduler[it.str]
			switch {
			case !known:
				b.errorf(it.rng, "unknown scheduler flag %q (want one of %s)", it.str, strings.Join(SchedFlagNames, ", "))
			case sched != "" && sched != vs.Scheduler && vb.ok("scheduler"):
				b.errorf(it.rng, "scheduler flag %s needs scheduler = %q, not %q", it.str, sched, vs.Scheduler)
			case slices.Contains(vs.SchedFlags, it.str):
				b.errorf(it.rng, "scheduler flag %s is listed twice", it.str)
			default:
				vs.SchedFlags = append(vs.SchedFlags, it.str)
			}
		}
	}
	if v := vb.get("one_packet"); v != nil {
		if v.b && vs.Protocol != UDP && vb.ok("protocol") {
			b.errorf(v.rng, "one_packet needs protocol = \"udp\": one-packet scheduling is for UDP only, as in ipvsadm")
		}
		vs.OnePacket = v.b
	}
}

// tunnelSet holds the tunnel attributes one block sets.
type tunnelSet struct {
	typ, port, csum *value
}

func (t *tunnelSet) empty() bool { return t.typ == nil && t.port == nil && t.csum == nil }

// tunnelAttrs reads a block's tunnel attributes, which need method = "tun".
func (b *builder) tunnelAttrs(blk *block, vs *VirtualServer, methodOK bool) *tunnelSet {
	t := &tunnelSet{typ: blk.get("tunnel_type"), port: blk.get("tunnel_port"), csum: blk.get("tunnel_checksum")}
	if t.typ != nil && !b.enum(t.typ, "tunnel_type", []string{string(TunnelIPIP), string(TunnelGUE), string(TunnelGRE)}) {
		t.typ = nil
	}
	if t.csum != nil && !b.enum(t.csum, "tunnel_checksum", []string{string(TunnelNoChecksum), string(TunnelChecksumOn), string(TunnelRemoteChecksum)}) {
		t.csum = nil
	}
	if methodOK && vs.Method != TUN {
		for _, v := range []*value{t.typ, t.port, t.csum} {
			if v != nil {
				b.errorf(v.nameRng, "tunnel settings need method = \"tun\" (the method is %q)", vs.Method)
				return &tunnelSet{}
			}
		}
	}
	return t
}

// serviceTunnel reads and checks a virtual server's tunnel attributes, the
// default of its real servers.
func (b *builder) serviceTunnel(vb *block, vs *VirtualServer, methodOK bool) (*tunnelSet, Tunnel) {
	t := b.tunnelAttrs(vb, vs, methodOK)
	if vs.Method != TUN {
		return t, Tunnel{}
	}
	return t, b.tunnel(t, &tunnelSet{})
}

// realServerTunnel is a real server's tunnel: its own attributes over the
// service's, checked together when it sets any.
func (b *builder) realServerTunnel(rb *block, vs *VirtualServer, methodOK bool, svc *tunnelSet, svcTunnel Tunnel) Tunnel {
	own := b.tunnelAttrs(rb, vs, methodOK)
	if own.empty() || vs.Method != TUN {
		return svcTunnel
	}
	if own.typ != nil {
		// The port and checksum go with the type: a server of another
		// type inherits neither.
		svc = &tunnelSet{}
	}
	return b.tunnel(own, svc)
}

// tunnel combines own over inherited attributes and checks the result as
// keepalived and ipvsadm do: GUE needs a port and only GUE takes one, IPIP
// has no checksum option and GRE no remote checksum offload.
func (b *builder) tunnel(own, inherited *tunnelSet) Tunnel {
	pick := func(a, c *value) *value {
		if a != nil {
			return a
		}
		return c
	}
	typ, port, csum := pick(own.typ, inherited.typ), pick(own.port, inherited.port), pick(own.csum, inherited.csum)
	t := Tunnel{Type: TunnelIPIP, Checksum: TunnelNoChecksum}
	if typ != nil {
		t.Type = TunnelType(typ.str)
	}
	if csum != nil {
		t.Checksum = TunnelChecksum(csum.str)
	}
	switch {
	case t.Type == TunnelGUE && port == nil:
		b.errorf(typ.rng, "tunnel_type = \"gue\" needs tunnel_port (the UDP port the real server decapsulates on)")
	case t.Type != TunnelGUE && port != nil:
		b.errorf(port.nameRng, "tunnel_port is for tunnel_type = \"gue\" only (the type is %q)", t.Type)
	case port != nil:
		t.Port = uint16(port.num)
	}
	switch {
	case t.Type == TunnelIPIP && t.Checksum != TunnelNoChecksum:
		b.errorf(csum.rng, "tunnel_checksum %q: ipip has no checksum option", t.Checksum)
	case t.Type == TunnelGRE && t.Checksum == TunnelRemoteChecksum:
		b.errorf(csum.rng, "tunnel_checksum \"remcsum\" is for gue only; gre takes \"none\" or \"csum\"")
	}
	return t
}

// syncOptions reads the sync daemon's optional multicast settings.
func (b *builder) syncOptions(s *block, sd *SyncDaemon) {
	if v := s.get("maxlen"); v != nil {
		sd.MaxLen = uint16(v.num)
	}
	if v := s.get("port"); v != nil {
		sd.Port = uint16(v.num)
	}
	if v := s.get("ttl"); v != nil {
		sd.TTL = uint8(v.num)
	}
	if v := s.get("mcast_group"); v != nil {
		a, err := netip.ParseAddr(v.str)
		switch {
		case err != nil || a.Zone() != "":
			b.errorf(v.rng, "invalid mcast_group %q (want a multicast address such as \"224.0.0.81\")", v.str)
		case !a.IsMulticast():
			b.errorf(v.rng, "mcast_group %s is not a multicast address", a)
		default:
			sd.McastGroup = a
		}
	}
}
