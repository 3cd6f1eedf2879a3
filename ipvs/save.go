package ipvs

import (
	"bufio"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// WriteSave writes services in the syntax and order of `ipvsadm-save -n`
// (ipvsadm 1.31): services sorted by fwmark, family, protocol, address and
// port, each followed by its destinations sorted by address and port. The
// output is what `ipvsadm -S -n` prints for the same kernel table, so it
// can be compared line for line and fed to `ipvsadm-restore`.
//
// Like ipvsadm-save it leaves out what the rule syntax of -S does not
// carry: connection thresholds and counters.
func WriteSave(w io.Writer, services []Service) error {
	bw := bufio.NewWriter(w)
	sorted := slices.Clone(services)
	slices.SortStableFunc(sorted, func(a, b Service) int { return compareServices(&a, &b) })
	for i := range sorted {
		s := &sorted[i]
		name := ruleName(s.ServiceKey)
		fmt.Fprintf(bw, "-A %s -s %s", name, s.Scheduler)
		if s.Persistent() {
			fmt.Fprintf(bw, " -p %d", int64(s.Timeout.Seconds()))
			if s.Family() == familyV6 {
				if s.Netmask != 128 {
					fmt.Fprintf(bw, " -M %d", s.Netmask)
				}
			} else if s.Netmask != 32 {
				fmt.Fprintf(bw, " -M %s", v4Mask(s.Netmask))
			}
		}
		if s.Flags&FlagOnePacket != 0 {
			bw.WriteString(" -o")
		}
		if names := SchedFlagNames(s.Scheduler, s.Flags); len(names) > 0 {
			bw.WriteString(" -b " + strings.Join(names, ","))
		}
		bw.WriteByte('\n')
		dests := slices.Clone(s.Destinations)
		slices.SortStableFunc(dests, func(a, b Destination) int { return compareAddrPort(a.Addr, b.Addr) })
		for _, d := range dests {
			fmt.Fprintf(bw, "-a %s -r %s %s -w %d", name, formatAddrPort(d.Addr), forwardSwitch(d.Forward), d.Weight)
			if d.Forward == Tunnel {
				writeTunnel(bw, &d)
			}
			bw.WriteByte('\n')
		}
	}
	return bw.Flush()
}

// writeTunnel writes a tunnel destination's encapsulation as ipvsadm 1.31
// does: the type always, GUE's port, and for GUE and GRE the checksum mode.
func writeTunnel(bw *bufio.Writer, d *Destination) {
	bw.WriteString(" --tun-type " + d.TunnelType.String())
	switch d.TunnelType {
	case TunnelGUE:
		fmt.Fprintf(bw, " --tun-port %d", d.TunnelPort)
	case TunnelGRE:
	default:
		return
	}
	switch {
	case d.TunnelFlags&TunnelChecksum != 0:
		bw.WriteString(" --tun-csum")
	case d.TunnelFlags&TunnelRemoteChecksum != 0 && d.TunnelType == TunnelGUE:
		bw.WriteString(" --tun-remcsum")
	default:
		bw.WriteString(" --tun-nocsum")
	}
}

// SchedFlagNames returns the scheduler flags of a service as ipvsadm names
// them (-b): sh-fallback and sh-port for sh, mh-fallback and mh-port for
// mh, flag-1 and flag-2 for every other scheduler, and flag-3.
func SchedFlagNames(scheduler string, flags uint32) []string {
	one, two := "flag-1", "flag-2"
	switch scheduler {
	case "sh", "mh":
		one, two = scheduler+"-fallback", scheduler+"-port"
	}
	var out []string
	for _, f := range []struct {
		bit  uint32
		name string
	}{{FlagSchedFlag1, one}, {FlagSchedFlag2, two}, {FlagSchedFlag3, "flag-3"}} {
		if flags&f.bit != 0 {
			out = append(out, f.name)
		}
	}
	return out
}

const (
	familyV4 = 2
	familyV6 = 10
)

// ruleName is the service part of a rule: "-t 10.0.0.1:80", "-f 3 -6", ...
func ruleName(k ServiceKey) string {
	if k.FWMark != 0 {
		if k.IPv6 {
			return "-f " + strconv.FormatUint(uint64(k.FWMark), 10) + " -6"
		}
		return "-f " + strconv.FormatUint(uint64(k.FWMark), 10)
	}
	var sw string
	switch k.Protocol {
	case TCP:
		sw = "-t"
	case UDP:
		sw = "-u"
	case SCTP:
		sw = "--sctp-service"
	default:
		sw = "-q"
	}
	return sw + " " + formatAddrPort(k.Addr)
}

// formatAddrPort prints as ipvsadm -n does: brackets around IPv6.
func formatAddrPort(ap netip.AddrPort) string {
	a := ap.Addr().Unmap()
	if a.Is6() {
		return "[" + a.String() + "]:" + strconv.Itoa(int(ap.Port()))
	}
	return a.String() + ":" + strconv.Itoa(int(ap.Port()))
}

func forwardSwitch(f Forward) string {
	switch f {
	case Masquerade:
		return "-m"
	case Tunnel:
		return "-i"
	case Route:
		return "-g"
	}
	// Local and bypass print as gatewaying in ipvsadm too.
	return "-g"
}

// v4Mask turns a prefix length into a dotted mask.
func v4Mask(bits int) string {
	var m uint32
	if bits > 0 {
		m = ^uint32(0) << (32 - bits)
	}
	return netip.AddrFrom4([4]byte{byte(m >> 24), byte(m >> 16), byte(m >> 8), byte(m)}).String()
}

// compareServices orders as libipvs's ipvs_cmp_services.
func compareServices(a, b *Service) int {
	if a.FWMark != b.FWMark {
		return cmpU32(a.FWMark, b.FWMark)
	}
	if fa, fb := a.Family(), b.Family(); fa != fb {
		return int(fa) - int(fb)
	}
	if a.Protocol != b.Protocol {
		return int(a.Protocol) - int(b.Protocol)
	}
	return compareAddrPort(a.Addr, b.Addr)
}

// compareAddrPort orders as libipvs's ipvs_cmp_dests: address in 32-bit
// words, then port. libipvs subtracts the words as unsigned and reads the
// difference as a signed int, so addresses more than 2^31 apart compare
// "backwards"; the same arithmetic here keeps the order identical.
func compareAddrPort(a, b netip.AddrPort) int {
	aa, ba := a.Addr().Unmap(), b.Addr().Unmap()
	if aa.Is4() && ba.Is4() {
		x, y := aa.As4(), ba.As4()
		if r := int32(be32(x[:]) - be32(y[:])); r != 0 {
			return int(r)
		}
	} else {
		x, y := aa.As16(), ba.As16()
		for i := 0; i < 16; i += 4 {
			if r := int32(be32(x[i:]) - be32(y[i:])); r != 0 {
				return int(r)
			}
		}
	}
	return int(a.Port()) - int(b.Port())
}

func cmpU32(a, b uint32) int { return int(int32(a - b)) }

func be32(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}
