package config

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// maxGroupMembers bounds the services one virtual_server_group expands to:
// a range such as [2001:db8::0-ffff]:80 is 65,536 IPVS services, which a
// typo makes easily and no director wants.
const maxGroupMembers = 4096

// serverGroup is a virtual_server_group, its ranges expanded.
type serverGroup struct {
	name    string
	members []groupMember
	// hasAddr is set when the group has address members; ipv6 is then
	// their family.
	hasAddr bool
	ipv6    bool
	// port is the port of every address member when they all share one
	// and there is no fwmark member, else 0: the port a real server
	// without one gets, as ipvsadm gives it the service's.
	port uint16
	// zeroPort is the range of an address member on port 0, which needs
	// persistence.
	zeroPort *hcl.Range
}

// groupMember is one IPVS service of a group.
type groupMember struct {
	addr netip.AddrPort // invalid for an fwmark member
	mark uint32
	rng  hcl.Range // the entry it comes from
}

// groups builds every virtual_server_group of the file, by name.
func (b *builder) groups(root *block) map[string]*serverGroup {
	out := map[string]*serverGroup{}
	line := map[string]int{}
	for _, gb := range root.blocks["virtual_server_group"] {
		if l, dup := line[gb.label]; dup {
			b.errorf(gb.labelRng, "duplicate virtual_server_group %q (the first is at line %d)", gb.label, l)
			continue
		}
		line[gb.label] = gb.labelRng.Start.Line
		out[gb.label] = b.group(gb)
	}
	return out
}

func (b *builder) group(gb *block) *serverGroup {
	g := &serverGroup{name: gb.label}
	seen := map[groupMember]int{} // member (without range) -> line
	add := func(m groupMember) bool {
		key := groupMember{addr: m.addr, mark: m.mark}
		if l, dup := seen[key]; dup {
			what := m.addr.String()
			if m.mark != 0 {
				what = "fwmark " + strconv.FormatUint(uint64(m.mark), 10)
			}
			b.errorf(m.rng, "%s is in virtual_server_group %q twice (the first is at line %d)", what, g.name, l)
			return false
		}
		if len(g.members) == maxGroupMembers {
			b.errorf(m.rng, "virtual_server_group %q has more than %d members", g.name, maxGroupMembers)
			return false
		}
		seen[key] = m.rng.Start.Line
		g.members = append(g.members, m)
		return true
	}
	ports := map[uint16]bool{}
	if v := gb.get("addresses"); v != nil {
	entries:
		for _, it := range v.list {
			addrs, ok := b.groupAddresses(it.str, it.rng)
			if !ok {
				continue
			}
			ipv6 := addrs[0].Addr().Is6()
			if g.hasAddr && ipv6 != g.ipv6 {
				b.errorf(it.rng, "%s is %s but the group's first address is %s: a group's members are all of one family", it.str, family(ipv6), family(g.ipv6))
				continue
			}
			g.hasAddr, g.ipv6 = true, ipv6
			if addrs[0].Port() == 0 && g.zeroPort == nil {
				g.zeroPort = &it.rng
			}
			ports[addrs[0].Port()] = true
			for _, a := range addrs {
				if !add(groupMember{addr: a, rng: it.rng}) {
					continue entries
				}
			}
		}
	}
	marks := gb.get("fwmarks")
	if marks != nil {
		for _, it := range marks.list {
			if !add(groupMember{mark: uint32(it.num), rng: it.rng}) {
				break
			}
		}
	}
	if len(ports) == 1 && (marks == nil || len(marks.list) == 0) {
		for p := range ports {
			g.port = p
		}
	}
	if gb.ok("addresses") && gb.ok("fwmarks") && gb.get("addresses") == nil && gb.get("fwmarks") == nil {
		b.errorf(gb.labelRng, "virtual_server_group %q has no members: set addresses or fwmarks", g.name)
	}
	return g
}

// groupAddresses parses one addresses entry: VIP:PORT, or a range with
// the port of all its members. A range ends at a last byte (IPv4, decimal)
// or a last 16 bits (IPv6, hex) of the first address, as keepalived
// writes them, or at a whole address; an IPv6 range stays within its last
// 16 bits, as keepalived's does.
func (b *builder) groupAddresses(s string, rng hcl.Range) ([]netip.AddrPort, bool) {
	bad := func(why string) ([]netip.AddrPort, bool) {
		b.errorf(rng, "invalid group address %q: %s", s, why)
		return nil, false
	}
	var host, portStr string
	if rest, ok := strings.CutPrefix(s, "["); ok {
		i := strings.Index(rest, "]:")
		if i < 0 {
			return bad("want [ADDR6]:PORT or [ADDR6-LAST]:PORT")
		}
		host, portStr = rest[:i], rest[i+2:]
	} else {
		i := strings.LastIndex(s, ":")
		if i < 0 || strings.Count(s, ":") != 1 {
			return bad("want ADDR:PORT, ADDR-LAST:PORT or [ADDR6]:PORT")
		}
		host, portStr = s[:i], s[i+1:]
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil {
		return bad("the port must be a number 0..65535")
	}
	first, last, isRange := strings.Cut(host, "-")
	start, err := netip.ParseAddr(first)
	if err != nil {
		return bad("not an address")
	}
	if _, ok := b.checkAddr(start, s, rng, "group address"); !ok {
		return nil, false
	}
	if !isRange {
		return []netip.AddrPort{netip.AddrPortFrom(start, uint16(port))}, true
	}
	end, err := netip.ParseAddr(last)
	if err != nil {
		// The last byte (decimal) or last 16 bits (hex) of the address.
		var n uint64
		if start.Is4() {
			n, err = strconv.ParseUint(last, 10, 8)
		} else {
			n, err = strconv.ParseUint(last, 16, 16)
		}
		if err != nil {
			return bad("a range ends at an address, or at the last byte (0..255) of an IPv4 or the last 16 bits (hex) of an IPv6 address")
		}
		e := start.As16()
		if start.Is4() {
			e[15] = byte(n)
		} else {
			e[14], e[15] = byte(n>>8), byte(n)
		}
		end = netip.AddrFrom16(e)
		if start.Is4() {
			end = end.Unmap()
		}
	}
	switch {
	case end.Is4() != start.Is4():
		return bad("the range's ends are of two families")
	case end.Less(start):
		return bad("the range ends before it starts")
	case start.Is6() && [14]byte(start.AsSlice()) != [14]byte(end.AsSlice()):
		return bad("an IPv6 range runs over its last 16 bits only")
	}
	var out []netip.AddrPort
	for a := start; ; a = a.Next() {
		if len(out) == maxGroupMembers {
			b.errorf(rng, "the range %s has more than %d addresses", s, maxGroupMembers)
			return nil, false
		}
		out = append(out, netip.AddrPortFrom(a, uint16(port)))
		if a == end {
			break
		}
	}
	return out, true
}

// members expands the virtual server vs of a group into one virtual
// server per member. The members share vs's real servers and their
// checks (the same *HealthCheck), so the daemon checks each real server
// once for all of them.
func members(vs *VirtualServer, g *serverGroup) []VirtualServer {
	out := make([]VirtualServer, 0, len(g.members))
	for _, m := range g.members {
		c := *vs
		c.Group = g.name
		c.Address, c.FWMark = m.addr, m.mark
		c.IPv6 = vs.IPv6
		if m.mark == 0 {
			c.IPv6 = m.addr.Addr().Is6()
		}
		c.Name = MemberName(vs.Name, m.addr, m.mark)
		c.RealServers = append([]RealServer(nil), vs.RealServers...)
		c.SchedFlags = append([]string(nil), vs.SchedFlags...)
		out = append(out, c)
	}
	return out
}

// groupRef resolves a virtual_server's group attribute.
func (b *builder) groupRef(v *value, groups map[string]*serverGroup) *serverGroup {
	g := groups[v.str]
	if g == nil {
		b.errorf(v.rng, "group %q is not a virtual_server_group%s", v.str, didYouMean(v.str, mapKeys(groups)))
		return nil
	}
	if len(g.members) == 0 {
		return nil
	}
	return g
}

// memberClash reports a member whose name is another virtual server's.
func memberClash(name, group string) string {
	return fmt.Sprintf("virtual_server %q is also the name of a member of virtual_server_group %q: rename one (members are named VS/MEMBER in status and metrics)", name, group)
}
