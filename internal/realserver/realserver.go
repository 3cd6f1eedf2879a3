// Package realserver prepares a Linux host to be a real server behind an
// LVS director that forwards by direct routing (DR) or IP tunnelling (TUN),
// and undoes that preparation. It is what `lvsd realserver up|down` runs.
//
// With DR the director rewrites only the destination MAC of a client's
// packet, so the packet reaches the real server with the virtual IP as its
// destination; with TUN the director wraps it in an outer IPv4 header
// (IPIP, RFC 2003) or IPv6 header (RFC 2473) addressed to the real server.
// Either way the real server must accept packets for the VIP and answer
// from it, so the VIP goes on an interface that never answers ARP for it:
// `lo` (DR) or the tunnel's catch-all device (`tunl0` for IPIP, `ip6tnl0`
// for IPv6-in-IPv6), as a host address (/32 or /128; IPv6 with nodad, as
// a VIP is shared with the director and the other real servers by design).
//
// Linux answers ARP for any local address on any interface, so an IPv4 VIP
// on lo would be announced on eth0 and steal the director's traffic. Two
// sysctls stop that:
//
//   - net.ipv4.conf.all.arp_ignore = 1: answer an ARP request only when the
//     target address is configured on the interface it arrived on;
//   - net.ipv4.conf.all.arp_announce = 2: never use the VIP as the sender
//     address of our own ARP requests.
//
// The kernel uses the larger of conf.all and conf.<interface> for both
// (IN_DEV_MAXCONF in include/linux/inetdevice.h), so setting `all` covers
// every interface, including those that appear later; setting them on lo
// as well, as many how-tos do, changes nothing because ARP never arrives on
// lo. Values already above the needed ones (arp_ignore 2 or 3) are left
// alone: they also keep the VIP quiet.
//
// TUN adds reverse-path filtering: a decapsulated packet arrives on tunl0
// with the client's address as source, and strict rp_filter (RFC 3704)
// drops it because the route back to the client does not go through
// tunl0. The kernel again takes the larger of all and the interface, so
// net.ipv4.conf.all.rp_filter and net.ipv4.conf.tunl0.rp_filter are both
// set to 0. IPv6 needs no sysctl: Linux answers neighbour solicitations
// only for addresses of the interface that received them, and IPv6 has no
// rp_filter.
//
// The work is split so the decisions are testable without root: PlanUp
// and PlanDown turn the request and a Snapshot of the namespace into a list
// of Changes; Up and Down apply them through a System (the kernel, or a
// fake in tests) and keep a Record of what was changed, so that `down`
// restores exactly what was there before `up`.
package realserver

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Method is how the director forwards to this real server.
type Method string

// The forwarding methods that need a prepared real server. NAT does not:
// the director rewrites the destination to the real server's own address.
const (
	DR  Method = "dr"
	TUN Method = "tun"
)

// ParseMethod parses "dr" or "tun".
func ParseMethod(s string) (Method, error) {
	switch m := Method(strings.ToLower(strings.TrimSpace(s))); m {
	case DR, TUN:
		return m, nil
	}
	return "", fmt.Errorf("unknown method %q: want dr or tun (a NAT real server needs no preparation)", s)
}

// Device names. tunl0 and ip6tnl0 are the fallback devices that the ipip
// and ip6_tunnel modules create in every namespace: they receive every
// tunnelled packet that no configured tunnel claims, which is what a TUN
// real server wants, since the director's address need not be known.
const (
	Loopback = "lo"
	TunnelV4 = "tunl0"
	TunnelV6 = "ip6tnl0"
)

// Request is what the user asked for: a forwarding method and the VIPs.
type Request struct {
	Method Method
	VIPs   []netip.Addr
}

// ParseVIPs parses a comma-separated list of VIPs. Each is an address,
// optionally with its host prefix length (/32 or /128); duplicates are
// dropped, the order is kept.
func ParseVIPs(s string) ([]netip.Addr, error) {
	var vips []netip.Addr
	for f := range strings.SplitSeq(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		a, err := parseVIP(f)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(vips, a) {
			vips = append(vips, a)
		}
	}
	if len(vips) == 0 {
		return nil, errors.New("no VIP given: --vip ADDR[,ADDR]")
	}
	return vips, nil
}

func parseVIP(s string) (netip.Addr, error) {
	addr, bits, hasBits := strings.Cut(s, "/")
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("VIP %q is not an IP address", s)
	}
	a = a.Unmap()
	if a.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("VIP %q: a zone makes no sense for a VIP", s)
	}
	if hasBits {
		if n, err := strconv.Atoi(bits); err != nil || n != a.BitLen() {
			return netip.Addr{}, fmt.Errorf("VIP %q: a real server holds the VIP as a host address (/%d), not a network", s, a.BitLen())
		}
	}
	if a.IsUnspecified() || a.IsLoopback() || a.IsMulticast() || a.IsLinkLocalUnicast() {
		return netip.Addr{}, fmt.Errorf("VIP %q is not a unicast service address", s)
	}
	return a, nil
}

// Device returns the interface that holds vip for the request's method.
func (r Request) Device(vip netip.Addr) string {
	if r.Method == TUN {
		if vip.Is4() {
			return TunnelV4
		}
		return TunnelV6
	}
	return Loopback
}

// hasIPv4 reports whether any VIP is IPv4: only those need sysctls.
func (r Request) hasIPv4() bool {
	return slices.ContainsFunc(r.VIPs, netip.Addr.Is4)
}

// devices returns the devices the request uses, in the order of the VIPs.
func (r Request) devices() []string {
	var devs []string
	for _, v := range r.VIPs {
		if d := r.Device(v); !slices.Contains(devs, d) {
			devs = append(devs, d)
		}
	}
	return devs
}

// Link is the observed state of one network device.
type Link struct {
	Up    bool // administratively up
	Addrs []netip.Prefix
}

func (l Link) has(p netip.Prefix) bool { return slices.Contains(l.Addrs, p) }

// Snapshot is the part of a namespace's state that realserver reads.
type Snapshot struct {
	// Links holds the devices that exist, by name.
	Links map[string]Link
	// Sysctls holds values by dotted key ("net.ipv4.conf.all.arp_ignore");
	// a key that does not exist (no such device) is absent.
	Sysctls map[string]string
}

// sysctlKey names an IPv4 per-interface setting ("all", "default" and
// "lo" are devices here too).
func sysctlKey(dev, name string) string { return "net.ipv4.conf." + dev + "." + name }

// SysctlKeys lists every sysctl the planner may read or change, so that a
// System knows what to put in a Snapshot.
func SysctlKeys() []string {
	var keys []string
	for _, dev := range []string{"all", "default", Loopback, TunnelV4} {
		for _, name := range []string{"arp_ignore", "arp_announce", "rp_filter"} {
			keys = append(keys, sysctlKey(dev, name))
		}
	}
	return keys
}

// setting is one sysctl a method needs.
type setting struct {
	dev, name string
	value     int
	atLeast   bool // a larger value is just as good
}

func (s setting) key() string { return sysctlKey(s.dev, s.name) }

// ok reports whether the current value meets the setting.
func (s setting) ok(cur string) bool {
	n, err := strconv.Atoi(cur)
	if err != nil {
		return false
	}
	if s.atLeast {
		return n >= s.value
	}
	return n == s.value
}

// settings returns the sysctls the method needs for IPv4 VIPs.
func settings(m Method) []setting {
	s := []setting{
		{dev: "all", name: "arp_ignore", value: 1, atLeast: true},
		{dev: "all", name: "arp_announce", value: 2, atLeast: true},
	}
	if m == TUN {
		s = append(s,
			setting{dev: "all", name: "rp_filter", value: 0},
			setting{dev: TunnelV4, name: "rp_filter", value: 0})
	}
	return s
}

// Kind is what a Change does.
type Kind int

// The kinds of change, in the order Up applies them.
const (
	LinkCreate Kind = iota + 1
	LinkUp
	SysctlSet
	AddrAdd
	AddrDel
	LinkDown
	LinkDelete
)

// Change is one step of a plan.
type Change struct {
	Kind Kind
	Link string       // the device (links and addresses)
	Addr netip.Prefix // AddrAdd, AddrDel
	Key  string       // SysctlSet: dotted key
	From string       // SysctlSet: value before ("" if unknown)
	To   string       // SysctlSet: value after
}

func (c Change) String() string {
	switch c.Kind {
	case LinkCreate:
		return "create " + c.Link + " (" + linkType(c.Link) + ")"
	case LinkUp:
		return "set " + c.Link + " up"
	case LinkDown:
		return "set " + c.Link + " down"
	case LinkDelete:
		return "delete " + c.Link
	case AddrAdd:
		return "add " + c.Addr.String() + " to " + c.Link
	case AddrDel:
		return "remove " + c.Addr.String() + " from " + c.Link
	case SysctlSet:
		if c.From == "" {
			return "set " + c.Key + " to " + c.To
		}
		return "set " + c.Key + " " + c.From + " -> " + c.To
	}
	return fmt.Sprintf("change of unknown kind %d", int(c.Kind))
}

// linkType names the kind of tunnel a device is, as "ip link" does.
func linkType(dev string) string {
	switch dev {
	case TunnelV4:
		return "ipip"
	case TunnelV6:
		return "ip6tnl"
	}
	return "unknown"
}

// hostPrefix is the VIP as a host address.
func hostPrefix(a netip.Addr) netip.Prefix { return netip.PrefixFrom(a, a.BitLen()) }

// PlanUp returns the changes that make the namespace a real server for
// req, in the order to apply them: tunnel devices first (their sysctls
// exist only once they do), then the sysctls, then the addresses, so the
// host never holds a VIP it would still answer ARP for. An empty plan
// means the namespace is already prepared.
func PlanUp(req Request, cur Snapshot) []Change {
	var changes []Change
	created := map[string]bool{}
	for _, dev := range req.devices() {
		l, ok := cur.Links[dev]
		if !ok {
			changes = append(changes, Change{Kind: LinkCreate, Link: dev})
			created[dev] = true
		}
		if !l.Up {
			changes = append(changes, Change{Kind: LinkUp, Link: dev})
		}
	}
	if req.hasIPv4() {
		for _, s := range settings(req.Method) {
			v, ok := cur.Sysctls[s.key()]
			if !ok && created[s.dev] {
				// A new device starts with the values of conf.default.
				v = cur.Sysctls[sysctlKey("default", s.name)]
			}
			if s.ok(v) {
				continue
			}
			changes = append(changes, Change{Kind: SysctlSet, Key: s.key(), From: v, To: strconv.Itoa(s.value)})
		}
	}
	for _, v := range req.VIPs {
		dev, p := req.Device(v), hostPrefix(v)
		if !cur.Links[dev].has(p) {
			changes = append(changes, Change{Kind: AddrAdd, Link: dev, Addr: p})
		}
	}
	return changes
}

// Record is what `up` changed, kept between runs (in the state file) so
// that `down` can undo exactly that and nothing more.
type Record struct {
	// Addrs are the VIPs that up added (not those that were there already).
	Addrs []AddrRecord `json:"addresses,omitempty"`
	// Sysctls holds, by dotted key, the value each sysctl had before up
	// first changed it.
	Sysctls map[string]string `json:"sysctls,omitempty"`
	// Links are the devices up created or brought up.
	Links []LinkRecord `json:"links,omitempty"`
}

// AddrRecord is one VIP that up added.
type AddrRecord struct {
	Link   string       `json:"link"`
	Prefix netip.Prefix `json:"prefix"`
}

// LinkRecord is one device that up created, or found down and brought up.
type LinkRecord struct {
	Name    string `json:"name"`
	Created bool   `json:"created,omitempty"`
}

// Empty reports whether the record holds nothing to undo.
func (r Record) Empty() bool {
	return len(r.Addrs) == 0 && len(r.Sysctls) == 0 && len(r.Links) == 0
}

func (r Record) clone() Record {
	var c Record
	c.Addrs = slices.Clone(r.Addrs)
	c.Links = slices.Clone(r.Links)
	if r.Sysctls != nil {
		c.Sysctls = make(map[string]string, len(r.Sysctls))
		for k, v := range r.Sysctls {
			c.Sysctls[k] = v
		}
	}
	return c
}

// With returns the record with the applied changes of an up added. A
// sysctl keeps the value it had before the first up: a second up that
// finds it already set must not overwrite the original.
func (r Record) With(applied []Change) Record {
	n := r.clone()
	for _, c := range applied {
		switch c.Kind {
		case AddrAdd:
			a := AddrRecord{Link: c.Link, Prefix: c.Addr}
			if !slices.Contains(n.Addrs, a) {
				n.Addrs = append(n.Addrs, a)
			}
		case SysctlSet:
			if _, ok := n.Sysctls[c.Key]; !ok {
				if n.Sysctls == nil {
					n.Sysctls = map[string]string{}
				}
				n.Sysctls[c.Key] = c.From
			}
		case LinkCreate, LinkUp:
			i := slices.IndexFunc(n.Links, func(l LinkRecord) bool { return l.Name == c.Link })
			if i < 0 {
				n.Links = append(n.Links, LinkRecord{Name: c.Link})
				i = len(n.Links) - 1
			}
			if c.Kind == LinkCreate {
				n.Links[i].Created = true
			}
		}
	}
	return n
}

// removeAddrs returns the record without the addresses that the applied
// changes removed: what a down that failed half-way still has to undo.
func (r Record) removeAddrs(applied []Change) Record {
	n := r.clone()
	for _, c := range applied {
		if c.Kind == AddrDel {
			n.Addrs = slices.DeleteFunc(n.Addrs, func(a AddrRecord) bool { return a == AddrRecord{Link: c.Link, Prefix: c.Addr} })
		}
	}
	return n
}

// kernelDefault is the value Linux gives arp_ignore, arp_announce and
// rp_filter in a new namespace (Documentation/networking/ip-sysctl.rst).
const kernelDefault = "0"

// PlanDown returns the changes that undo `up` for req, notes that explain
// what it leaves alone and why, and the record to keep afterwards.
//
// With a record (rec != nil), only VIPs that up added are removed; the
// sysctls are restored to what the record holds once no recorded IPv4 VIP
// is left (they serve them all), and a device once no recorded VIP is left
// on it. Without one, the requested VIPs are removed, and arp_ignore and
// arp_announce are set to the kernel defaults, unless other VIPs still sit
// on lo or a tunnel device. Addresses go first, so no VIP remains once the
// host answers ARP for every local address again.
func PlanDown(req Request, cur Snapshot, rec *Record) (changes []Change, notes []string, next Record) {
	if rec != nil {
		next = rec.clone()
	}
	removed := map[AddrRecord]bool{}
	for _, v := range req.VIPs {
		dev, p := req.Device(v), hostPrefix(v)
		a := AddrRecord{Link: dev, Prefix: p}
		present := cur.Links[dev].has(p)
		if rec != nil {
			if !slices.Contains(next.Addrs, a) {
				if present {
					notes = append(notes, fmt.Sprintf("%s on %s was not added by lvsd realserver up: left in place", p, dev))
				}
				continue
			}
			next.Addrs = slices.DeleteFunc(next.Addrs, func(x AddrRecord) bool { return x == a })
		}
		if present {
			changes = append(changes, Change{Kind: AddrDel, Link: dev, Addr: p})
			removed[a] = true
		}
	}

	if rec != nil {
		// The sysctls serve every IPv4 VIP; a device serves the VIPs on it.
		var v4left []AddrRecord
		for _, a := range next.Addrs {
			if a.Prefix.Addr().Is4() {
				v4left = append(v4left, a)
			}
		}
		if len(v4left) > 0 && len(next.Sysctls) > 0 {
			notes = append(notes, "sysctls kept: still needed by "+addrList(v4left))
		}
		if len(v4left) == 0 {
			for _, k := range sortedKeys(next.Sysctls) {
				if v, ok := cur.Sysctls[k]; ok && v != next.Sysctls[k] && next.Sysctls[k] != "" {
					changes = append(changes, Change{Kind: SysctlSet, Key: k, From: v, To: next.Sysctls[k]})
				}
			}
			next.Sysctls = nil
		}
		var keep []LinkRecord
		for _, l := range slices.Backward(next.Links) {
			if slices.ContainsFunc(next.Addrs, func(a AddrRecord) bool { return a.Link == l.Name }) {
				keep = append([]LinkRecord{l}, keep...)
				continue
			}
			if _, ok := cur.Links[l.Name]; !ok {
				continue
			}
			// A created device is set down before it is deleted: the
			// tunnel modules refuse silently to delete their fallback
			// device, so down is as close to "not there" as it gets.
			if cur.Links[l.Name].Up {
				changes = append(changes, Change{Kind: LinkDown, Link: l.Name})
			}
			if l.Created {
				changes = append(changes, Change{Kind: LinkDelete, Link: l.Name})
			}
		}
		next.Links = keep
		return changes, notes, next
	}

	if !req.hasIPv4() {
		return changes, notes, Record{}
	}
	var others []AddrRecord
	for _, dev := range []string{Loopback, TunnelV4, TunnelV6} {
		for _, p := range cur.Links[dev].Addrs {
			a := AddrRecord{Link: dev, Prefix: p}
			if isVIP(p.Addr()) && !removed[a] {
				others = append(others, a)
			}
		}
	}
	if len(others) > 0 {
		notes = append(notes, "no record of the previous sysctl values, and other VIPs remain ("+addrList(others)+"): sysctls left as they are")
		return changes, notes, Record{}
	}
	var reset []Change
	for _, s := range settings(req.Method) {
		if strconv.Itoa(s.value) == kernelDefault {
			// rp_filter: up set the default; a value seen now was set by
			// someone else since, and is theirs.
			continue
		}
		if v, ok := cur.Sysctls[s.key()]; ok && v != kernelDefault {
			reset = append(reset, Change{Kind: SysctlSet, Key: s.key(), From: v, To: kernelDefault})
		}
	}
	if len(reset) > 0 {
		notes = append(notes, "no record of the previous sysctl values: setting the kernel defaults ("+kernelDefault+")")
	}
	return append(changes, reset...), notes, Record{}
}

// isVIP reports whether an address on lo or a tunnel device looks like a
// service address rather than one the kernel puts there itself.
func isVIP(a netip.Addr) bool {
	return !a.IsLoopback() && !a.IsLinkLocalUnicast()
}

func addrList(as []AddrRecord) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.Prefix.String() + " on " + a.Link
	}
	return strings.Join(s, ", ")
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
