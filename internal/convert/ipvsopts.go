package convert

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/lvsd/lvsd/config"
	"github.com/lvsd/lvsd/internal/keepalived"
	"github.com/zclconf/go-cty/cty"
)

// vsGroup is what a virtual_server needs to know of the
// virtual_server_group it names.
type vsGroup struct {
	name    string
	hasAddr bool
	ipv6    bool
	// port is the port of every address entry when they share one and
	// there is no fwmark entry, as lvsd gives it to a real server written
	// without one; 0 otherwise.
	port uint16
}

// virtualServerGroups converts every virtual_server_group of the file
// ahead of the virtual servers, which may name a group defined after
// them, as keepalived allows. keepalived programs one IPVS service per
// address of an entry (a range runs over the last byte of an IPv4
// address or the last 16 bits of an IPv6 one) and per fwmark entry: the
// members of lvsd's group.
func (fc *fileConv) virtualServerGroups() {
	for _, s := range fc.f.Stmts {
		if s.Key.Text != "virtual_server_group" || !fc.needBlock(s, true) || !fc.args(s, 1, 1) {
			continue
		}
		name := s.Arg(0)
		if fc.vsGroups[name] != nil {
			fc.c.errorf(s.Pos(), "virtual_server_group %s is defined twice", name)
			continue
		}
		g := &vsGroup{name: name}
		blk := &block{typ: "virtual_server_group", labels: []string{name}, pos: s.Pos()}
		var addrs, marks []cty.Value
		var addrPos, markPos Pos
		ports := map[uint16]bool{}
		for _, e := range s.Block {
			if e.Key.Text == "fwmark" {
				if !fc.args(e, 1, 2) {
					continue
				}
				v, ok := fc.uint(e, 0, 1, 1<<32-1)
				if !ok {
					continue
				}
				if len(e.Args) == 2 {
					fam := e.Arg(1)
					if fam != "inet" && fam != "inet6" {
						fc.c.errorf(e.Args[1].Pos, "fwmark %d: family %q is not inet or inet6", v, fam)
						continue
					}
					if g.hasAddr && (fam == "inet6") != g.ipv6 {
						fc.unsupported(e.Args[1].Pos, "virtual_server_group", "family.mixed", "fwmark "+e.Arg(0)+" "+fam+" beside addresses of the other family")
						continue
					}
				}
				marks = append(marks, cty.NumberIntVal(int64(v)))
				if markPos == (Pos{}) {
					markPos = e.Pos()
				}
				continue
			}
			if e.HasBlock || len(e.Args) > 1 {
				fc.c.errorf(e.Pos(), "virtual_server_group %s: want ADDRESS[-RANGE] [PORT] or fwmark N [inet|inet6]", name)
				continue
			}
			entry, ipv6, ok := fc.groupEntry(e)
			if !ok {
				continue
			}
			if g.hasAddr && ipv6 != g.ipv6 {
				fc.unsupported(e.Pos(), "virtual_server_group", "family.mixed", e.Key.Text+" beside addresses of the other family")
				continue
			}
			g.hasAddr, g.ipv6 = true, ipv6
			p, _ := fc.port(e, 0)
			ports[p] = true
			addrs = append(addrs, cty.StringVal(entry))
			if addrPos == (Pos{}) {
				addrPos = e.Pos()
			}
		}
		if len(ports) == 1 && len(marks) == 0 {
			for p := range ports {
				g.port = p
			}
		}
		if len(addrs) > 0 {
			blk.set("addresses", cty.ListVal(addrs), addrPos)
		}
		if len(marks) > 0 {
			blk.set("fwmarks", cty.ListVal(marks), markPos)
		}
		if len(addrs)+len(marks) == 0 {
			if len(s.Block) == 0 {
				fc.c.errorf(s.Pos(), "virtual_server_group %s has no entries: keepalived drops it", name)
			}
			continue
		}
		fc.vsGroups[name] = g
		fc.services = append(fc.services, blk)
	}
}

// groupEntry converts an address entry of a group (its key, with an
// optional port argument) to lvsd's form: "ADDR:PORT", "ADDR-LAST:PORT",
// "ADDR-END:PORT", IPv6 in brackets. keepalived's ADDR/MASK form becomes
// the range it covers.
func (fc *fileConv) groupEntry(e *keepalived.Stmt) (string, bool, bool) {
	text := e.Key.Text
	port, ok := fc.port(e, 0)
	if !ok {
		return "", false, false
	}
	bad := func(why string) (string, bool, bool) {
		fc.c.errorf(e.Key.Pos, "virtual_server_group entry %q: %s", text, why)
		return "", false, false
	}
	host := text
	if a, m, isMask := strings.Cut(text, "/"); isMask {
		p, err := netip.ParsePrefix(a + "/" + m)
		if err != nil || p.Addr().Zone() != "" {
			return bad("not ADDRESS/MASK")
		}
		if p.Masked() != p {
			return bad("the address has bits outside the mask set; keepalived skips the entry")
		}
		if p.Addr().Is6() && p.Bits() < 112 {
			fc.unsupported(e.Key.Pos, "virtual_server_group", "mask.wide", text)
			return "", false, false
		}
		host = p.Addr().String() + "-" + lastOf(p).String()
	}
	first, _, _ := strings.Cut(host, "-")
	a, err := netip.ParseAddr(first)
	if err != nil || a.Zone() != "" {
		return bad("not an IP address or range")
	}
	if a.Is6() {
		return "[" + host + "]:" + strconv.Itoa(int(port)), true, true
	}
	return host + ":" + strconv.Itoa(int(port)), false, true
}

// lastOf returns the last address of a prefix.
func lastOf(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := range b {
		keep := p.Bits() - 8*i
		switch {
		case keep <= 0:
			b[i] = 0xff
		case keep < 8:
			b[i] |= 0xff >> keep
		}
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// schedFlagBits are the IPVS scheduler flag bits of keepalived's keywords.
var schedFlagBits = map[string]int{
	"flag-1": 1, "sh-fallback": 1, "mh-fallback": 1,
	"flag-2": 2, "sh-port": 2, "mh-port": 2,
	"flag-3": 3,
}

// schedFlag records a scheduler flag keyword in bits as keepalived does
// (lbflags_handler): the flag-N names always, sh-* only after lb_algo sh,
// mh-* only after lb_algo mh; keepalived ignores the others.
func (fc *fileConv) schedFlag(k *keepalived.Stmt, sched string, bits *[4]bool) {
	name := k.Key.Text
	if prefix, _, ok := strings.Cut(name, "-"); ok && prefix != "flag" && prefix != sched {
		fc.c.warnf(k.Pos(), "%s after lb_algo %s: keepalived ignores it, and so does the conversion", name, sched)
		return
	}
	bits[schedFlagBits[name]] = true
}

// schedFlagNames names the flags of bits as lvsd (and ipvsadm) does for
// the final scheduler.
func schedFlagNames(sched string, bits [4]bool) []cty.Value {
	one, two := "flag-1", "flag-2"
	if sched == "sh" || sched == "mh" {
		one, two = sched+"-fallback", sched+"-port"
	}
	var out []cty.Value
	for i, name := range []string{"", one, two, "flag-3"} {
		if bits[i] {
			out = append(out, cty.StringVal(name))
		}
	}
	return out
}

// tunnelOptions converts the options after lvs_method TUN (keepalived's
// svr_forwarding_handler): type ipip|gue|gre, port N, csum|nocsum|remcsum.
// Every lvs_method TUN starts from ipip without checksum, so the result
// names the type even when the line does not, and a real server's line
// replaces the service's settings, as lvsd's tunnel_type does.
func (fc *fileConv) tunnelOptions(k *keepalived.Stmt, blk *block) {
	typ, csum := config.TunnelIPIP, config.TunnelNoChecksum
	var port uint64
	var portPos Pos
	for i := 1; i < len(k.Args); i++ {
		switch w := k.Args[i].Text; w {
		case "type":
			if i+1 >= len(k.Args) {
				fc.c.errorf(k.Args[i].Pos, "%s: type needs ipip, gue or gre", k.Key.Text)
				return
			}
			i++
			switch t := config.TunnelType(k.Args[i].Text); t {
			case config.TunnelIPIP, config.TunnelGUE, config.TunnelGRE:
				typ = t
			default:
				fc.c.errorf(k.Args[i].Pos, "%s: unknown tunnel type %q; keepalived ignores the line", k.Key.Text, k.Args[i].Text)
				return
			}
		case "port":
			v, ok := fc.uint(k, i+1, 1, 65535)
			if !ok {
				return
			}
			port, portPos = v, k.Args[i].Pos
			i++
		case "nocsum":
			csum = config.TunnelNoChecksum
		case "csum":
			csum = config.TunnelChecksumOn
		case "remcsum":
			csum = config.TunnelRemoteChecksum
		default:
			fc.c.errorf(k.Args[i].Pos, "%s: unknown tunnel option %q; keepalived ignores the line", k.Key.Text, w)
			return
		}
	}
	switch {
	case (typ == config.TunnelGUE) != (port != 0):
		fc.c.errorf(k.Pos(), "%s: gue tunnels need a port and only they take one; keepalived ignores the line", k.Key.Text)
		return
	case typ == config.TunnelIPIP && csum != config.TunnelNoChecksum:
		fc.c.errorf(k.Pos(), "%s: ipip tunnels have no checksum option; keepalived ignores the line", k.Key.Text)
		return
	case typ == config.TunnelGRE && csum == config.TunnelRemoteChecksum:
		fc.c.errorf(k.Pos(), "%s: gre tunnels have no remote checksum; keepalived ignores the line", k.Key.Text)
		return
	}
	blk.set("tunnel_type", cty.StringVal(string(typ)), k.Pos())
	if port != 0 {
		blk.set("tunnel_port", cty.NumberIntVal(int64(port)), portPos)
	}
	if csum != config.TunnelNoChecksum {
		blk.set("tunnel_checksum", cty.StringVal(string(csum)), k.Pos())
	}
}
